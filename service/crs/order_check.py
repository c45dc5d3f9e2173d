"""The result of one order check (O-rules) and the accumulator each check writes into."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from service.crs.assessment import INDICATOR_RANK, Frozen, Indicator, Note
from service.crs.timeline import Order


class CorrectedDose(Frozen):
    """The protocol dose an ``update`` suggestion writes into the draft."""

    drug: str
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    interval_hours: float | None = None


class OrderCheck(Frozen):
    draft: str
    resource_id: str | None
    drug: str
    rules: tuple[str, ...]
    indicator: Indicator
    messages: tuple[Note, ...]
    corrected: CorrectedDose | None = None
    delete: bool = False
    next_allowed_at: datetime | None = Field(default=None)


class DraftCheck:
    def __init__(self, draft: Order) -> None:
        self.draft = draft
        self.rules: list[str] = []
        self.messages: list[tuple[Indicator, Note]] = []
        self.level: Indicator = "info"
        self.corrected: CorrectedDose | None = None
        self.delete = False
        self.next_allowed_at: datetime | None = None

    def fire(self, rule: str, level: Indicator, text: str, **params: str) -> None:
        self.rules.append(rule)
        self.messages.append((level, Note(rule=rule, key=rule, text=text, params=params)))
        if INDICATOR_RANK[level] > INDICATOR_RANK[self.level]:
            self.level = level

    def result(self) -> OrderCheck | None:
        if not self.rules:
            return None
        return OrderCheck(
            draft=self.draft.source,
            resource_id=self.draft.resource_id,
            drug=self.draft.drug,
            rules=tuple(self.rules),
            indicator=self.level,
            # The most urgent message first: it becomes the card's summary.
            messages=tuple(note for _level, note in sorted(self.messages, key=lambda m: -INDICATOR_RANK[m[0]])),
            corrected=self.corrected,
            delete=self.delete,
            next_allowed_at=self.next_allowed_at,
        )
