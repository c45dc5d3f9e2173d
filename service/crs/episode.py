"""The episode every clinical rule reads: one patient's timeline under one policy, from the first CAR T
infusion (t0), with the facts computed once per assessment."""

from __future__ import annotations

from bisect import bisect_right
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

    Facts computed once per assessment (fevers since t0, grades by moment) are cached here.
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
        since = self.timeline.temperatures.between(self.start, datetime.max.replace(tzinfo=UTC))
        return tuple([t for t in since if t.temp_c >= threshold])  # a list first: a patch charts one a minute

    @cached_property
    def grades(self) -> dict[tuple[datetime, object], GradeResult]:
        """``grade_at`` by moment (``grade_at`` reads only the frozen timeline and policy)."""
        return {}

    @cached_property
    def fever_times(self) -> tuple[datetime, ...]:
        return tuple([t.at for t in self.fevers])

    def febrile_run_start(self, last: int) -> int:
        """The index of the first fever of the run holding fever ``last`` (M-G1-PERSISTENT: gaps < 24 h keep
        a run going).

        Every fever less than a gap before a fever of the run is in the run too (each gap between them is
        shorter), so the walk back jumps a whole gap at a time instead of visiting each fever of a long run.
        """
        gap = _hours(self.policy.management.febrile_run_gap_hours)
        times = self.fever_times
        index = last
        while (earliest := bisect_right(times, times[index] - gap)) < index:
            index = earliest
        return index


@lru_cache(maxsize=64)
def _hours(value: float) -> timedelta:
    """The policy's few windows, asked for at every event of the grade history."""
    return timedelta(hours=value)
