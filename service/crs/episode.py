"""The episode every clinical rule reads: one patient's timeline under one policy, from the first CAR T
infusion (t0), with the facts computed once per assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from service.crs.policy import Policy
from service.crs.timeline import Temperature, Timeline

if TYPE_CHECKING:
    from service.crs.grading import GradeResult

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)

LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Episode:
    """The CAR T episode every rule reads: the data, the policy and the first infusion (t0, None if not given).

    Facts computed once per assessment (fevers since t0, febrile runs, grades by moment) are cached here.
    """

    timeline: Timeline
    policy: Policy
    t0: datetime | None

    def hours(self, value: float) -> timedelta:
        return _hours(value)

    @property
    def start(self) -> datetime:
        """t0, or the earliest time the engine considers when no CAR T infusion is recorded."""
        return self.t0 or EARLIEST

    @cached_property
    def fevers(self) -> tuple[Temperature, ...]:
        """Every temperature >= the threshold since t0, in time order (computed once per assessment)."""
        threshold = self.policy.fever.threshold_c
        return tuple(
            t
            for t in self.timeline.temperatures.between(self.start, datetime.max.replace(tzinfo=UTC))
            if t.temp_c >= threshold
        )

    @cached_property
    def grades(self) -> dict[tuple[datetime, object], GradeResult]:
        """``grade_at`` by moment (``grade_at`` reads only the frozen timeline and policy)."""
        return {}

    @cached_property
    def fever_times(self) -> tuple[datetime, ...]:
        return tuple(t.at for t in self.fevers)

    @cached_property
    def febrile_run_starts(self) -> tuple[int, ...]:
        """For each fever, the index of the first fever of its run (M-G1-PERSISTENT: gaps < 24 h keep a run)."""
        gap = timedelta(hours=self.policy.management.febrile_run_gap_hours)
        starts: list[int] = []
        for index, fever in enumerate(self.fevers):
            continues = index > 0 and fever.at - self.fevers[index - 1].at < gap
            starts.append(starts[-1] if continues else index)
        return tuple(starts)


@lru_cache(maxsize=64)
def _hours(value: float) -> timedelta:
    """The policy's few windows, asked for at every event of the grade history."""
    return timedelta(hours=value)
