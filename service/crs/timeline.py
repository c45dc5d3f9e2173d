"""The patient timeline the engine reads: small frozen records, units in the field names.

Built from FHIR by ``service.fhir.translate``; the engine never sees FHIR JSON. Every record keeps
``source`` (the FHIR reference it came from) so an assessment can show its evidence. The records are built by
the thousand per request: ``quick_init`` gives them a cheaper ``__init__`` and changes nothing else.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Generic, Literal, Protocol, TypeVar

from service.crs.quick_init import quick_init

OxygenDeviceClass = Literal["room-air", "blow-by", "nasal-cannula", "high-flow", "positive-pressure"]
AdministrationStatus = Literal["completed", "in-progress", "on-hold", "stopped"]


class Timed(Protocol):
    @property
    def at(self) -> datetime: ...

    @property
    def source(self) -> str: ...


@quick_init
@dataclass(frozen=True, slots=True)
class Temperature:
    at: datetime
    temp_c: float
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class BloodPressure:
    at: datetime
    systolic_mmhg: float | None
    mean_mmhg: float | None
    source: str
    diastolic_mmhg: float | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class OxygenSupport:
    """What documents oxygen support at one time: a device (or room air), a flow, an FiO2."""

    at: datetime
    device: OxygenDeviceClass | None
    device_name: str | None
    flow_l_min: float | None
    fio2_pct: float | None
    source: str
    invasive: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class Spo2:
    at: datetime
    percent: float
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class Weight:
    at: datetime
    weight_kg: float
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class LabResult:
    """A lab in its canonical unit (ferritin ng/mL, CRP mg/L, ANC 10^9/L, ALT/AST U/L, mg/dL)."""

    at: datetime
    kind: str
    value: float
    upper_limit: float | None
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class BaselineLab:
    at: datetime
    panel_item: str
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class IcansAssessment:
    """ICANS grade, given directly or derived from an ICE score (``from_ice_score``)."""

    at: datetime
    grade: int
    from_ice_score: bool
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class Administration:
    """A MedicationAdministration that counts as given (entered-in-error and not-done never get here)."""

    drug: str
    at: datetime
    end: datetime | None
    status: AdministrationStatus
    dose_mg: float | None
    volume_ml: float | None
    is_infusion: bool
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class Order:
    """A MedicationRequest: active or on-hold from the chart, or a draft of the hook call."""

    drug: str
    status: str
    authored_at: datetime | None
    dose_mg: float | None
    dose_mg_per_kg: float | None
    interval_hours: float | None
    source: str
    resource_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class UnrecognisedCode:
    """A coding that no policy entry recognised (R-UNIDENTIFIED), counted so a site can map its local codes.

    ``resource_type`` is MedicationAdministration, MedicationRequest or Observation.
    """

    resource_type: str
    system: str | None
    code: str | None
    display: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class UnidentifiedMedication:
    """R-UNIDENTIFIED: an administration or active order that no policy drug matches, named on the card."""

    at: datetime | None
    resource_type: str
    name: str
    codes: tuple[UnrecognisedCode, ...]
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class ImplausibleValue:
    """R-PLAUSIBLE: a value outside its plausible range, not used, named on the card as charted."""

    at: datetime | None
    what: str
    code: str
    value: str
    unit: str
    source: str


@quick_init
@dataclass(frozen=True, slots=True)
class DuplicateDose:
    """R-DEDUP: administrations of one drug with the same start and dose, counted as one dose."""

    drug: str
    at: datetime
    sources: tuple[str, ...]


T = TypeVar("T", bound=Timed)


@dataclass(frozen=True)
class Series(Generic[T]):
    """Records sorted by time, with the look-ups the rules need (binary search, no scans of all)."""

    items: tuple[T, ...] = ()
    _times: tuple[datetime, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, records: Sequence[T]) -> Series[T]:
        """Sorted by time, then by source (R-TIES: the order of the input never matters)."""
        ordered = tuple(sorted(records, key=_TIME_THEN_SOURCE))
        return cls(ordered, tuple([record.at for record in ordered]))

    def up_to(self, moment: datetime) -> tuple[T, ...]:
        return self.items[: bisect_right(self._times, moment)]

    def between(self, start: datetime, end: datetime) -> tuple[T, ...]:
        """Records with start <= at <= end."""
        lower = bisect_left(self._times, start)  # the first at >= start (no timedelta built per question)
        return self.items[lower : bisect_right(self._times, end)]

    def latest(
        self, moment: datetime, within: timedelta | None = None, where: Callable[[T], bool] | None = None
    ) -> T | None:
        """The newest record at or before ``moment`` (and not older than ``within``) that passes ``where``."""
        items = self.items
        for index in range(bisect_right(self._times, moment) - 1, -1, -1):  # no copy of the whole past
            record = items[index]
            if within is not None and moment - record.at > within:
                return None
            if where is None or where(record):
                return record
        return None

    def latest_all(
        self, moment: datetime, within: timedelta | None = None, where: Callable[[T], bool] | None = None
    ) -> tuple[T, ...]:
        """Every record at the instant of ``latest`` that passes ``where``: R-TIES, the caller keeps the most
        severe, so that the result never depends on the order of the input."""
        latest = self.latest(moment, within, where)
        if latest is None:
            return ()
        same_time = self.between(latest.at, latest.at)
        return same_time if where is None else tuple(record for record in same_time if where(record))


# Every record kind names its source (a string): the key is read in C, once per record of every request.
_TIME_THEN_SOURCE = attrgetter("at", "source")


@dataclass(frozen=True)
class Timeline:
    """Everything the engine knows about one patient, from FHIR, in canonical units."""

    patient_id: str | None = None
    birth_date: date | None = None
    temperatures: Series[Temperature] = field(default_factory=Series)
    blood_pressures: Series[BloodPressure] = field(default_factory=Series)
    oxygen: Series[OxygenSupport] = field(default_factory=Series)
    spo2: Series[Spo2] = field(default_factory=Series)
    weights: Series[Weight] = field(default_factory=Series)
    labs: Series[LabResult] = field(default_factory=Series)
    baseline_labs: Series[BaselineLab] = field(default_factory=Series)
    icans: Series[IcansAssessment] = field(default_factory=Series)
    administrations: Series[Administration] = field(default_factory=Series)
    orders: tuple[Order, ...] = ()
    draft_orders: tuple[Order, ...] = ()
    translation_flags: frozenset[str] = frozenset()
    unidentified_medications: tuple[UnidentifiedMedication, ...] = ()
    unrecognised_codes: tuple[UnrecognisedCode, ...] = ()
    implausible_values: tuple[ImplausibleValue, ...] = ()
    duplicate_doses: tuple[DuplicateDose, ...] = ()
    # The doses of each drug set asked for, with their times: the grade history asks at every event.
    _given: dict[frozenset[str], Series[Administration]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _oxygen_with: dict[str, Series[OxygenSupport]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def oxygen_with(self, attribute: Literal["device", "flow_l_min", "fio2_pct"]) -> Series[OxygenSupport]:
        """The oxygen records that document ``attribute``, in the same order (asked at every event)."""
        kept = self._oxygen_with.get(attribute)
        if kept is None:
            records = tuple(_DOCUMENTING[attribute](self.oxygen.items))
            kept = self._oxygen_with[attribute] = Series(records, tuple([record.at for record in records]))
        return kept

    def given(self, drugs: frozenset[str], up_to: datetime) -> tuple[Administration, ...]:
        """The doses of ``drugs`` at or before ``up_to``, in time order."""
        doses = self._given.get(drugs)
        if doses is None:
            kept = tuple(dose for dose in self.administrations.items if dose.drug in drugs)
            doses = self._given[drugs] = Series(kept, tuple(dose.at for dose in kept))
        return doses.up_to(up_to)


# Built once per request over the whole stay: plain attribute reads in list comprehensions (no getattr).
_DOCUMENTING: dict[str, Callable[[tuple[OxygenSupport, ...]], list[OxygenSupport]]] = {
    "device": lambda records: [record for record in records if record.device is not None],
    "flow_l_min": lambda records: [record for record in records if record.flow_l_min is not None],
    "fio2_pct": lambda records: [record for record in records if record.fio2_pct is not None],
}
