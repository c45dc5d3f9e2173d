"""FHIR R4 JSON -> the engine's Timeline. The only place that knows codes, units and statuses."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast

from service.crs.policy import Policy
from service.crs.timeline import (
    Administration,
    AdministrationStatus,
    DuplicateDose,
    Order,
    Series,
    Timeline,
    UnidentifiedMedication,
    UnrecognisedCode,
)
from service.fhir import units
from service.fhir.fields import (
    FhirResource,
    code_of,
    codings,
    concept_texts,
    effective_end,
    effective_start,
    parse_date,
    parse_instant,
    quantity,
    reference_of,
)
from service.fhir.medications import DrugMatcher, medication_concept
from service.fhir.observations import ObservationCodes, ObservationRecords, implausible_value, read_observation
from service.fhir.plain_observations import PlainReaders

GIVEN_STATUSES = frozenset({"completed", "in-progress", "on-hold", "stopped"})
CHART_ORDER_STATUSES = frozenset({"active", "on-hold"})
HOURS_PER_UNIT = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0, "wk": 168.0}


@dataclass(frozen=True)
class Translator:
    """Built once per policy; translates any number of requests."""

    matcher: DrugMatcher
    codes: ObservationCodes
    plain: PlainReaders

    @classmethod
    def from_policy(cls, policy: Policy) -> Translator:
        codes = ObservationCodes.from_policy(policy)
        return cls(DrugMatcher.from_policy(policy), codes, PlainReaders(codes))

    def timeline(
        self,
        resources: Iterable[FhirResource],
        draft_orders: Iterable[FhirResource] = (),
        medications: Mapping[str, FhirResource] | None = None,
    ) -> Timeline:
        """Resources of any type in any order; those the engine does not use are ignored.

        ``medications`` maps ``Medication/{id}`` to Medications fetched from the FHIR server for
        ``medicationReference`` values that are not contained.
        """
        chart = unique_resources(resources)
        reading = _Reading(self, {**included_medications(chart), **(medications or {})})
        read_plain, observations = self.plain.read, reading.observations  # looked up once: hundreds of calls
        for resource in chart:
            if resource.get("resourceType") != "Observation" or not read_plain(resource, observations):
                reading.add(resource)
        drafts = [order for resource in draft_orders for order in self.order(resource, reading.medications)]
        return reading.assemble(drafts)

    def administration(self, resource: FhirResource, medications: Mapping[str, FhirResource]) -> list[Administration]:
        """A MedicationAdministration of a policy drug that counts as given; dose time = start."""
        status = code_of(resource.get("status"))
        drug = self.matcher.match_medication(resource, medications)
        at = effective_start(resource)
        if status not in GIVEN_STATUSES or drug is None or at is None:
            return []  # entered-in-error, not-done, unknown drug or no usable time: ignored
        dosage: FhirResource = resource["dosage"] if isinstance(resource.get("dosage"), dict) else {}
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

    def order(self, resource: FhirResource, medications: Mapping[str, FhirResource] | None = None) -> list[Order]:
        drug = self.matcher.match_medication(resource, medications)
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


@dataclass
class _Reading:
    """What one request's resources have said so far."""

    translator: Translator
    medications: Mapping[str, FhirResource]
    observations: ObservationRecords = field(default_factory=ObservationRecords)
    administrations: list[Administration] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    unidentified: list[UnidentifiedMedication] = field(default_factory=list)
    patient: FhirResource | None = None

    def add(self, resource: FhirResource) -> None:
        """A resource the short path (``PlainReaders``) has not read."""
        kind = resource.get("resourceType")
        if kind == "Observation":
            read_observation(resource, self.translator.codes, self.observations)
        elif kind == "MedicationAdministration":
            given = [
                self._plausible(resource, dose) for dose in self.translator.administration(resource, self.medications)
            ]
            self.administrations.extend(given)
            self._note_unidentified(resource, matched=bool(given))
        elif kind == "MedicationRequest" and code_of(resource.get("status")) in CHART_ORDER_STATUSES:
            active = self.translator.order(resource, self.medications)
            self.orders.extend(active)
            self._note_unidentified(resource, matched=bool(active))
        elif kind == "Patient" and self.patient is None:
            self.patient = resource

    def _note_unidentified(self, resource: FhirResource, matched: bool) -> None:
        if not matched and _counts_as_given_or_active(resource):
            concept = medication_concept(resource, self.medications)
            if self.translator.matcher.match_concept(concept) is None:  # R-UNIDENTIFIED
                self.unidentified.append(_unidentified(resource, concept))

    def _plausible(self, resource: FhirResource, dose: Administration) -> Administration:
        """R-PLAUSIBLE: a dose or volume too large to be real is named and not used."""
        amounts = (dose.dose_mg, dose.volume_ml)
        if all(amount is None or math.isfinite(amount) for amount in amounts):
            return dose
        measured = quantity(resource["dosage"].get("dose")) or (math.inf, "")
        self.observations.implausible.append(implausible_value(resource, f"{dose.drug} dose", measured))
        return replace(dose, dose_mg=None, volume_ml=None)

    def assemble(self, drafts: list[Order]) -> Timeline:
        administrations, duplicates = one_dose_each(self.administrations)
        self.administrations = administrations
        return _assemble(self, drafts, duplicates)


def included_medications(resources: Iterable[FhirResource]) -> dict[str, FhirResource]:
    """Medications that came with the chart (a search with ``_include=...:medication`` returns them in the same
    Bundle), by ``Medication/{id}``, so that a ``medicationReference`` to them is read like a contained one."""
    return {
        f"Medication/{r['id']}": r
        for r in resources
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }


def unique_resources(resources: Iterable[FhirResource]) -> list[FhirResource]:
    """R-DEDUP: a resource (type and id) reached under two prefetch keys or two pages counts once.

    When the two copies differ, the later ``meta.lastUpdated`` wins and then the larger JSON text, so
    the choice never depends on the order of the input (R-TIES).
    """
    chosen: dict[tuple[str, str], FhirResource] = {}
    anonymous: list[FhirResource] = []
    for resource in resources:
        rid = resource.get("id")
        if not isinstance(rid, str):
            anonymous.append(resource)
            continue
        key = (str(resource.get("resourceType")), rid)
        earlier = chosen.get(key)
        chosen[key] = resource if earlier is None or earlier is resource else _newer(earlier, resource)
    return [*chosen.values(), *anonymous]


def _newer(first: FhirResource, second: FhirResource) -> FhirResource:
    if first == second:
        return first
    return max(first, second, key=lambda r: (_last_updated(r), json.dumps(r, sort_keys=True, default=str)))


def _last_updated(resource: FhirResource) -> str:
    meta = resource.get("meta")
    updated = meta.get("lastUpdated") if isinstance(meta, dict) else None
    return updated if isinstance(updated, str) else ""


def one_dose_each(doses: list[Administration]) -> tuple[list[Administration], tuple[DuplicateDose, ...]]:
    """R-DEDUP: administrations of one drug with the same start and dose are one dose (the first source)."""
    groups: dict[tuple[str, datetime, float | None], list[Administration]] = {}
    for dose in doses:
        groups.setdefault((dose.drug, dose.at, dose.dose_mg), []).append(dose)
    kept, duplicates = [], []
    for (drug, at, _dose), group in groups.items():
        group.sort(key=lambda dose: dose.source)
        kept.append(group[0])
        if len(group) > 1:
            duplicates.append(DuplicateDose(drug, at, tuple(dose.source for dose in group)))
    return kept, tuple(sorted(duplicates, key=lambda d: (d.at, d.drug)))


def _counts_as_given_or_active(resource: FhirResource) -> bool:
    if resource.get("resourceType") == "MedicationAdministration":
        return code_of(resource.get("status")) in GIVEN_STATUSES
    return code_of(resource.get("status")) in CHART_ORDER_STATUSES


def _unidentified(resource: FhirResource, concept: FhirResource) -> UnidentifiedMedication:
    """R-UNIDENTIFIED: the drug named as the chart names it (text, display or code) with its time."""
    kind = str(resource.get("resourceType"))
    found = tuple(
        UnrecognisedCode(kind, _text(coding.get("system")), _text(coding.get("code")), _text(coding.get("display")))
        for coding in codings(concept)
    ) or (UnrecognisedCode(kind, None, None, _text(concept.get("text"))),)
    names = concept_texts(concept) or [f"{code.system}|{code.code}" for code in found if code.code]
    at = effective_start(resource) if kind == "MedicationAdministration" else parse_instant(resource.get("authoredOn"))
    return UnidentifiedMedication(at, kind, names[0] if names else "(no name or code)", found, reference_of(resource))


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _first(value: object) -> FhirResource:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def interval_hours(timing: object) -> float | None:
    """Hours between doses from ``timing.repeat`` (frequency per period); None for a single dose or unknown."""
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict) or repeat.get("count") == 1:
        return None
    period, unit = repeat.get("period"), code_of(repeat.get("periodUnit"))
    frequency = repeat.get("frequency", 1)
    if (
        not isinstance(period, int | float)
        or unit not in HOURS_PER_UNIT
        or not isinstance(frequency, int)
        or frequency < 1
    ):
        return None
    return float(period) * HOURS_PER_UNIT[str(unit)] / frequency


def _assemble(reading: _Reading, drafts: list[Order], duplicates: tuple[DuplicateDose, ...]) -> Timeline:
    patient, obs = reading.patient, reading.observations
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
        administrations=Series.of(reading.administrations),
        orders=tuple(reading.orders),
        draft_orders=tuple(drafts),
        translation_flags=frozenset(obs.flags),
        unidentified_medications=tuple(reading.unidentified),
        unrecognised_codes=tuple(code for item in reading.unidentified for code in item.codes)
        + tuple(obs.unrecognised),
        implausible_values=tuple(obs.implausible),
        duplicate_doses=duplicates,
    )
