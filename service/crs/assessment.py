"""The engine's answer: one Assessment per call, serialisable to JSON for cards, audit and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Indicator = Literal["info", "warning", "critical"]
INDICATOR_RANK: dict[Indicator, int] = {"info": 0, "warning": 1, "critical": 2}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EvidenceItem(Frozen):
    rule: str
    text: str
    at: datetime | None = None
    sources: tuple[str, ...] = ()


class RecommendedOrder(Frozen):
    """An order to suggest: dose in mg, or mg/kg when the weight is missing (never a guessed mg dose)."""

    rule: str
    drug: str
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    interval_hours: float | None = Field(default=None, description="None: a single dose")
    interval_max_hours: float | None = None
    max_doses: int | None = None
    duration_days: float | None = Field(default=None, description="first step of a course, e.g. 3 days")
    infusion_minutes: int | None = None
    text: str
    is_recommended: bool = True


class WithheldOrder(Frozen):
    rule: str
    drug: str
    reason: str
    next_allowed_at: datetime | None = None


class Note(Frozen):
    """A next step, a reminder or a warning: text a clinician reads, traced to its rule.

    ``key`` names the wording so that the card catalog can replace it; ``params`` are its values.
    """

    rule: str
    key: str = ""
    text: str
    params: dict[str, str] = Field(default_factory=dict)


class HlhStatus(Frozen):
    suspected: bool
    ferritin_ng_ml: float | None = None
    organ_findings: tuple[str, ...] = ()
    first_met_at: datetime | None = None
    consider_hlh2004: bool = False


class Assessment(Frozen):
    as_of: datetime
    policy_version: str
    in_scope: bool
    t0: datetime | None = None
    car_t_product: str | None = None
    grade: int | None = None
    possible_grade: int | None = Field(default=None, description="C3-FEVER-UNKNOWN: the grade if febrile")
    managed_grade: int | None = None
    fever: bool | None = None
    hypotension_class: int | None = None
    hypoxia_class: int | None = None
    unknown_classes: tuple[str, ...] = ()
    icans_grade: int | None = None
    hlh: HlhStatus | None = None
    rules: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    evidence: tuple[EvidenceItem, ...] = ()
    recommended: tuple[RecommendedOrder, ...] = ()
    withheld: tuple[WithheldOrder, ...] = ()
    next_steps: tuple[Note, ...] = ()
    reminders: tuple[Note, ...] = ()
    data_quality: tuple[Note, ...] = ()
    indicator: Indicator = "info"
