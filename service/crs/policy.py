"""The clinical policy: every threshold, dose, window and code list of clinical-rules.md.

A frozen pydantic model that forbids unknown keys and impossible values, so that a typo in a site's
policy file fails at start-up with the key's name instead of silently changing a dose. Loaded from
TOML by ``service.policy_file``; the engine only ever sees this model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from service.crs.frozen import FrozenModel

Hours = Annotated[float, Field(gt=0, le=24 * 60)]
Coding = Annotated[str, Field(pattern=r"^\S+\|\S+$")]  # "system|code"


T = TypeVar("T")


class FeverPolicy(FrozenModel):
    threshold_c: float = Field(ge=37.0, le=40.0)
    window_hours: Hours


class WaiverPolicy(FrozenModel):
    """C2: how long after a dose fever is not required."""

    antipyretic_hours: Hours
    corticosteroid_hours: Hours
    il6_blocker_hours: Hours
    anakinra_hours: Hours


class FreshnessPolicy(FrozenModel):
    """C3 and C4."""

    vitals_hours: Hours
    weight_days: PositiveFloat
    labs_hours: Hours
    vitals_interval_hours: Hours
    crp_ferritin_interval_hours: Hours
    baseline_window_days: PositiveFloat


class HypotensionPolicy(FrozenModel):
    adult_age_years: PositiveInt
    adult_sbp_below: PositiveFloat
    adult_map_below: PositiveFloat
    infant_sbp_below: PositiveFloat
    child_sbp_base: PositiveFloat
    child_sbp_per_year: float = Field(ge=0, le=10)
    child_max_age_years: PositiveInt
    adolescent_sbp_below: PositiveFloat


class SupportPolicy(FrozenModel):
    vasopressor_recent_end_hours: float = Field(ge=0, le=24)
    low_flow_max_l_min: PositiveFloat
    room_air_fio2_max_pct: float = Field(ge=21, le=30)


class Range(FrozenModel):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


class PlausibilityPolicy(FrozenModel):
    """R-PLAUSIBLE: values outside these ranges (canonical units) are not used and are named on the card."""

    temperature_c: Range
    systolic_mmhg: Range
    mean_mmhg: Range
    weight_kg: Range
    flow_l_min: Range
    weight_change_pct: float = Field(gt=0, le=100)
    weight_change_days: PositiveFloat


class ManagementPolicy(FrozenModel):
    febrile_run_gap_hours: Hours
    persistent_fever_hours: Hours
    no_improvement_hours: Hours
    scope_days_after_last_infusion: PositiveFloat
    scope_recent_treatment_hours: Hours
    premedication_hours_after_infusion: Hours
    active_order_grace_hours: float = Field(ge=0, le=24)
    antifungal_steroid_lookback_days: PositiveFloat
    antifungal_lookback_hours: Hours
    neutropenia_anc_below: PositiveFloat = Field(description="10^9/L")


class BolusPolicy(FrozenModel):
    min_volume_ml: PositiveFloat
    child_min_ml_per_kg: PositiveFloat
    max_duration_minutes: PositiveFloat


class HlhPolicy(FrozenModel):
    ferritin_above_ng_ml: PositiveFloat
    transaminase_uln_multiple: PositiveFloat
    bilirubin_uln_multiple: PositiveFloat
    creatinine_uln_multiple: PositiveFloat
    hlh2004_after_hours: Hours
    default_uln: dict[Literal["alt", "ast", "bilirubin", "creatinine"], PositiveFloat]


class TocilizumabPolicy(FrozenModel):
    mg_per_kg: PositiveFloat
    max_mg: PositiveFloat
    label_mg_per_kg_under_threshold: PositiveFloat
    label_weight_threshold_kg: PositiveFloat
    use_label_dose_under_threshold: bool
    max_total_doses: PositiveInt
    max_doses_per_24h: PositiveInt
    min_interval_hours: Hours
    infusion_minutes: PositiveInt
    vial_rounding: bool
    vial_sizes_mg: tuple[PositiveInt, ...]
    order_check_tolerance_pct: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _limits_consistent(self) -> TocilizumabPolicy:
        if self.max_doses_per_24h > self.max_total_doses:
            raise ValueError("max_doses_per_24h cannot exceed max_total_doses")
        if self.mg_per_kg > 12:
            raise ValueError("mg_per_kg above 12 is outside any tocilizumab label")
        return self


class TaperStep(FrozenModel):
    dose_mg: PositiveFloat
    interval_hours: Hours
    days: PositiveFloat | None = Field(default=None, description="unset: until grade <= 1")


class LabelProphylaxis(FrozenModel):
    """O-STEROID-PREMED option: a product label's prophylactic dexamethasone (axicabtagene ciloleucel:
    10 mg orally once daily on days 0-2) raises nothing when enabled. Off by default (the seed)."""

    enabled: bool
    products: tuple[str, ...]
    dose_mg: PositiveFloat
    last_day: int = Field(ge=0, le=14)


class SteroidPolicy(FrozenModel):
    dexamethasone_mg: PositiveFloat
    dexamethasone_grade2_interval_hours: Hours
    dexamethasone_grade2_max_doses: PositiveInt
    dexamethasone_grade3_interval_hours: Hours
    dexamethasone_icans_interval_hours: Hours
    dexamethasone_icans_interval_max_hours: Hours
    methylprednisolone_taper: tuple[TaperStep, ...] = Field(min_length=1)
    methylprednisolone_escalation_mg: PositiveFloat
    methylprednisolone_escalation_after_hours: Hours
    dexamethasone_equivalents: dict[str, PositiveFloat] = Field(
        description="mg of each corticosteroid (drug key) equivalent to 1 mg dexamethasone"
    )
    dexamethasone_max_mg_per_dose: PositiveFloat
    methylprednisolone_max_mg_per_dose: PositiveFloat
    label_prophylaxis: LabelProphylaxis

    @model_validator(mode="after")
    def _taper_ends_open(self) -> SteroidPolicy:
        *fixed, last = self.methylprednisolone_taper
        if last.days is not None or any(step.days is None for step in fixed):
            raise ValueError("methylprednisolone_taper: only the last step runs until grade <= 1 (days unset)")
        return self


DrugRole = Literal[
    "car-t",
    "tocilizumab",
    "siltuximab",
    "anakinra",
    "corticosteroid",
    "antipyretic",
    "vasopressor",
    "vasopressin",
    "inotrope",
    "g-csf",
    "gm-csf",
    "antifungal",
    "crystalloid",
]


class DrugDefinition(FrozenModel):
    """One drug (or CAR T product) and how to recognise it in MedicationAdministration/Request."""

    display: str = Field(min_length=1)
    roles: tuple[DrugRole, ...] = Field(min_length=1)
    rxnorm: tuple[str, ...] = ()
    rxnorm_unverified: tuple[str, ...] = Field(default=(), description="matched by name only until verified")
    names: tuple[str, ...] = Field(min_length=1)
    early_steroid: bool = Field(default=False, description="M-EARLY-STEROID product")


LabKind = Literal["ferritin", "crp", "anc", "alt", "ast", "bilirubin", "creatinine"]
OxygenDeviceClass = Literal["room-air", "blow-by", "nasal-cannula", "high-flow", "positive-pressure"]


class CodePolicy(FrozenModel):
    temperature: tuple[Coding, ...] = Field(min_length=1)
    bp_panel: tuple[Coding, ...]
    systolic: tuple[Coding, ...] = Field(min_length=1)
    diastolic: tuple[Coding, ...]
    mean_arterial: tuple[Coding, ...]
    spo2: tuple[Coding, ...]
    oxygen_flow: tuple[Coding, ...]
    fio2: tuple[Coding, ...]
    oxygen_device_observation: tuple[Coding, ...]
    weight: tuple[Coding, ...] = Field(min_length=1)
    icans_grade: tuple[Coding, ...]
    ice_score: tuple[Coding, ...]
    icans_icd10: dict[str, Annotated[int, Field(ge=1, le=4)]] = Field(description="ICD-10-CM code -> ICANS grade")
    labs: dict[LabKind, tuple[Coding, ...]]
    baseline_panel: dict[str, tuple[Coding, ...]]
    oxygen_devices: dict[Coding, OxygenDeviceClass]
    invasive_ventilation: tuple[Coding, ...] = Field(
        description="devices of invasive ventilation (G-HYPOXIA: positive pressure without oxygen stays a warning)"
    )


class Policy(FrozenModel):
    version: str = Field(min_length=1, max_length=40)
    fever: FeverPolicy
    waiver: WaiverPolicy
    freshness: FreshnessPolicy
    hypotension: HypotensionPolicy
    support: SupportPolicy
    plausible: PlausibilityPolicy
    management: ManagementPolicy
    bolus: BolusPolicy
    hlh: HlhPolicy
    tocilizumab: TocilizumabPolicy
    steroids: SteroidPolicy
    codes: CodePolicy
    drugs: dict[str, DrugDefinition] = Field(min_length=1)
    time_zone: str = Field(default="UTC", description="IANA name: times on cards are shown in it")

    def derived(self, key: object, compute: Callable[[Policy], T]) -> T:
        """``compute(self)`` once per policy: for values the rules would otherwise re-derive at every event.

        Kept beside the policy it came from (an id alone could be reused by a later policy); a few policies
        live at a time (the served one, tests' variants), so the table is simply emptied when it grows.
        """
        entry = _DERIVED.get((id(self), key))
        if entry is None or entry[0] is not self:
            if len(_DERIVED) > 4096:
                _DERIVED.clear()
            entry = _DERIVED[(id(self), key)] = (self, compute(self))
        return cast(T, entry[1])

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        """M-CARD-LAYOUT: an IANA zone name the system's tz database knows (e.g. Europe/Berlin), never an offset."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin)") from error
        if value not in available_timezones() and value != "UTC":
            raise ValueError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin)")
        return value

    @model_validator(mode="after")
    def _equivalents_name_steroids(self) -> Policy:
        steroids = self.drugs_with_role("corticosteroid")
        unknown = set(self.steroids.dexamethasone_equivalents) - steroids
        missing = steroids - set(self.steroids.dexamethasone_equivalents) - {"dexamethasone"}
        if unknown or missing:
            raise ValueError(
                "steroids.dexamethasone_equivalents must name every corticosteroid drug except dexamethasone: "
                f"unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        return self

    def dexamethasone_mg(self, drug: str, dose_mg: float) -> float | None:
        """The dexamethasone-equivalent dose of a corticosteroid dose (None for a drug without an equivalence)."""
        if drug == "dexamethasone":
            return dose_mg
        per_dex = self.steroids.dexamethasone_equivalents.get(drug)
        return dose_mg / per_dex if per_dex else None

    def drugs_with_role(self, role: DrugRole) -> frozenset[str]:
        # The rules ask this thousands of times per grade history; a frozen policy answers the same each time.
        return self.derived("roles", _drugs_by_role).get(role, _NO_DRUGS)

    def has_role(self, drug_key: str, role: DrugRole) -> bool:
        drug = self.drugs.get(drug_key)
        return drug is not None and role in drug.roles


_DERIVED: dict[tuple[int, object], tuple[Policy, object]] = {}

_NO_DRUGS: frozenset[str] = frozenset()


def _drugs_by_role(policy: Policy) -> dict[str, frozenset[str]]:
    """Every role's drug keys at once (one table lookup per question, no closure built per question)."""
    roles = {role for drug in policy.drugs.values() for role in drug.roles}
    return {role: frozenset(k for k, drug in policy.drugs.items() if role in drug.roles) for role in roles}
