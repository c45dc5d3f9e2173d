"""The result of one order check (O-rules) and the accumulator each check writes into."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from service.crs.assessment import INDICATOR_RANK, Indicator, Note, Param
from service.crs.frozen import FrozenModel
from service.crs.timeline import Order


class CorrectedDose(FrozenModel):
    """The protocol dose an ``update`` suggestion writes into the draft."""

    drug: str
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    interval_hours: float | None = None


class OrderCheck(FrozenModel):
    draft: str
    resource_id: str | None
    drug: str
    rules: tuple[str, ...]
    indicator: Indicator
    messages: tuple[Note, ...]
    corrected: CorrectedDose | None = None
    delete: bool = False
    next_allowed_at: datetime | None = Field(default=None)
    as_of: datetime
    time_zone: str = "UTC"
    policy_version: str


class DraftCheck:
    def __init__(self, draft: Order, as_of: datetime, time_zone: str, policy_version: str) -> None:
        self.draft = draft
        self.as_of, self.time_zone, self.policy_version = as_of, time_zone, policy_version
        self.rules: list[str] = []
        self.messages: list[tuple[Indicator, Note]] = []
        self.level: Indicator = "info"
        self.corrected: CorrectedDose | None = None
        self.delete = False
        self.next_allowed_at: datetime | None = None

    def fire(self, rule: str, level: Indicator, parts: tuple[Note, ...] = (), /, **params: Param) -> None:
        """The rule fired on this draft; its message is the wording key ``rule`` with ``params``."""
        self.rules.append(rule)
        self.messages.append((level, Note(rule=rule, key=rule, params=params, parts=parts)))
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
            as_of=self.as_of,
            time_zone=self.time_zone,
            policy_version=self.policy_version,
        )
