"""The accumulator the rules write into, and the shared facts they read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.crs.assessment import Note, Param, RecommendedOrder, WithheldOrder
from service.crs.episode import Episode
from service.crs.evidence import Evidence
from service.crs.grading import GradeResult
from service.crs.indications import Indications
from service.crs.timeline import LabResult


@dataclass
class Findings:
    """What the rules found, accumulated in rule order."""

    rules: dict[str, None] = field(default_factory=dict)  # an ordered set: each rule where it first fired
    flags: set[str] = field(default_factory=set)
    evidence: list[Evidence] = field(default_factory=list)
    recommended: list[RecommendedOrder] = field(default_factory=list)
    withheld: list[WithheldOrder] = field(default_factory=list)
    next_steps: list[Note] = field(default_factory=list)
    reminders: list[Note] = field(default_factory=list)
    data_quality: list[Note] = field(default_factory=list)
    consider_hlh2004: bool = False

    def fire(self, rule: str) -> None:
        self.rules[rule] = None  # a rule fired again keeps its place (no scan of a list at each of ~25 fires)

    def step(self, rule: str, key: str | None = None, /, **params: Param) -> None:
        """A next step; ``key`` names the wording (default: the rule ID), ``params`` fill it."""
        self.fire(rule)
        self.next_steps.append(Note(rule=rule, key=key or rule, params=params))

    def data_problem(self, rule: str, flag: str, key: str, /, **params: Param) -> None:
        """R-rules: a data problem named on the card (Data quality), with the flag it sets."""
        self.fire(rule)
        self.flags.add(flag)
        self.data_quality.append(Note(rule=rule, key=key, params=params))

    def remind(self, rule: str, key: str | None = None, /, **params: Param) -> None:
        self.fire(rule)
        self.reminders.append(Note(rule=rule, key=key or rule, params=params))


@dataclass(frozen=True)
class Situation:
    """The facts the management rules share."""

    ctx: Episode
    now: datetime
    current: GradeResult
    managed: int | None
    icans_grade: int | None
    hlh: tuple[LabResult, list[LabResult]] | None = None  # M-HLH: the ferritin and the severe organ labs
    hlh_first_met: datetime | None = None
    icans_at: datetime | None = None
    indications: Indications | None = None  # set by the engine (service.crs.indications), read by both rule sets

    @property
    def indicated(self) -> Indications:
        assert self.indications is not None  # noqa: S101 - the engine always sets it
        return self.indications

    @property
    def hlh_suspected(self) -> bool:
        return self.hlh is not None
