"""FHIR R4 JSON -> the engine's Timeline. The only place that knows codes, units and statuses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from service.crs.policy import Policy
from service.crs.timeline import Administration, AdministrationStatus, Order, Series, Timeline
from service.fhir import units
from service.fhir.fields import (
    FhirDict,
    effective_end,
    effective_start,
    parse_date,
    parse_instant,
    quantity,
    reference_of,
)
from service.fhir.medications import DrugMatcher
from service.fhir.observations import ObservationCodes, ObservationRecords, read_observation

GIVEN_STATUSES = frozenset({"completed", "in-progress", "on-hold", "stopped"})
CHART_ORDER_STATUSES = frozenset({"active", "on-hold"})
HOURS_PER_UNIT = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0, "wk": 168.0}


@dataclass(frozen=True)
class Translator:
    """Built once per policy; translates any number of requests."""

    matcher: DrugMatcher
    codes: ObservationCodes

    @classmethod
    def from_policy(cls, policy: Policy) -> Translator:
        return cls(DrugMatcher.from_policy(policy), ObservationCodes.from_policy(policy))

    def timeline(self, resources: Iterable[FhirDict], draft_orders: Iterable[FhirDict] = ()) -> Timeline:
        """Resources of any type in any order; those the engine does not use are ignored."""
        observations = ObservationRecords()
        administrations: list[Administration] = []
        orders: list[Order] = []
        patient: FhirDict | None = None
        for resource in resources:
            kind = resource.get("resourceType")
            if kind == "Observation":
                read_observation(resource, self.codes, observations)
            elif kind == "MedicationAdministration":
                administrations.extend(self.administration(resource))
            elif kind == "MedicationRequest" and resource.get("status") in CHART_ORDER_STATUSES:
                orders.extend(self.order(resource))
            elif kind == "Patient" and patient is None:
                patient = resource
        drafts = [order for resource in draft_orders for order in self.order(resource)]
        return _assemble(patient, observations, administrations, orders, drafts)

    def administration(self, resource: FhirDict) -> list[Administration]:
        """A MedicationAdministration of a policy drug that counts as given; dose time = start."""
        status = resource.get("status")
        drug = self.matcher.match_medication(resource)
        at = effective_start(resource)
        if status not in GIVEN_STATUSES or drug is None or at is None:
            return []  # entered-in-error, not-done, unknown drug or no usable time: ignored
        dosage: FhirDict = resource["dosage"] if isinstance(resource.get("dosage"), dict) else {}
        dose = quantity(dosage.get("dose"))
        is_infusion = "effectivePeriod" in resource or "rateQuantity" in dosage or "rateRatio" in dosage
        return [
            Administration(
                drug=drug,
                at=at,
                end=effective_end(resource),
                status=cast(AdministrationStatus, status),
                dose_mg=units.convert(*dose, units.MASS_MG) if dose else None,
                volume_ml=units.convert(*dose, units.VOLUME_ML) if dose else None,
                is_infusion=is_infusion,
                source=reference_of(resource),
            )
        ]

    def order(self, resource: FhirDict) -> list[Order]:
        drug = self.matcher.match_medication(resource)
        if drug is None:
            return []
        dosage = _first(resource.get("dosageInstruction"))
        dose = quantity(_first(dosage.get("doseAndRate")).get("doseQuantity"))
        return [
            Order(
                drug=drug,
                status=str(resource.get("status")),
                authored_at=parse_instant(resource.get("authoredOn")),
                dose_mg=units.convert(*dose, units.MASS_MG) if dose else None,
                dose_mg_per_kg=dose[0] if dose and dose[1] == "mg/kg" else None,
                interval_hours=interval_hours(dosage.get("timing")),
                source=reference_of(resource),
                resource_id=resource.get("id") if isinstance(resource.get("id"), str) else None,
            )
        ]


def _first(value: object) -> FhirDict:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def interval_hours(timing: object) -> float | None:
    """Hours between doses from ``timing.repeat`` (frequency per period); None for a single dose or unknown."""
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict) or repeat.get("count") == 1:
        return None
    period, unit = repeat.get("period"), repeat.get("periodUnit")
    frequency = repeat.get("frequency", 1)
    if (
        not isinstance(period, int | float)
        or unit not in HOURS_PER_UNIT
        or not isinstance(frequency, int)
        or frequency < 1
    ):
        return None
    return float(period) * HOURS_PER_UNIT[str(unit)] / frequency


def _assemble(
    patient: FhirDict | None,
    obs: ObservationRecords,
    administrations: list[Administration],
    orders: list[Order],
    drafts: list[Order],
) -> Timeline:
    return Timeline(
        patient_id=patient.get("id") if patient and isinstance(patient.get("id"), str) else None,
        birth_date=parse_date(patient.get("birthDate")) if patient else None,
        temperatures=Series.of(obs.temperatures),
        blood_pressures=Series.of(obs.blood_pressures),
        oxygen=Series.of(obs.oxygen),
        spo2=Series.of(obs.spo2),
        weights=Series.of(obs.weights),
        labs=Series.of(obs.labs),
        baseline_labs=Series.of(obs.baseline_labs),
        icans=Series.of(obs.icans),
        administrations=Series.of(administrations),
        orders=tuple(orders),
        draft_orders=tuple(drafts),
        translation_flags=frozenset(obs.flags),
    )
