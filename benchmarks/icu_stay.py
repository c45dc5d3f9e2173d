"""Synthetic prefetch of a long ICU stay, shared by the benchmarks."""

from __future__ import annotations

from typing import Any

from tests.fhir_builders import LOINC, _obs, bp, car_t, device, given, lab, patient, qty, spo2, temp, weight


def icu_stay(hours: int = 24 * 7) -> list[dict[str, Any]]:
    """Hourly vitals (temperature, BP panel, SpO2 with flow, device), daily labs, running vasopressors, doses."""
    resources = [patient(), car_t(hours_ago=hours + 24), weight(70)]
    for hour in range(hours):
        resources += [
            temp(hour, 38.4 if hour % 3 else 37.6),
            bp(hour, 88 if hour < 48 else 110),
            spo2(hour, 93, flow_l_min=4),
            device(hour, "nasal cannula"),
        ]
        resources.append(_obs((LOINC, "8867-4"), hour, valueQuantity=qty(112, "/min")))  # heart rate: read, not graded
    for day in range(hours // 24):
        resources += [
            lab(kind, value, day * 24 + 2)
            for kind, value in (("crp", 80), ("ferritin", 1500), ("alt", 60), ("creatinine", 1.1), ("anc", 1.2))
        ]
    resources += [
        given("norepinephrine", min(60, hours - 1), running=True),
        given("vasopressin", min(40, hours - 1), running=True),
    ]
    resources += [given("tocilizumab", h, dose=(560, "mg")) for h in (100, 80) if h < hours]
    resources += [given("dexamethasone", h, dose=(10, "mg")) for h in range(4, min(60, hours), 6)]
    resources += [given("acetaminophen", h, dose=(650, "mg")) for h in range(2, hours - 8, 8)]
    return resources


def with_temperature_patch(resources: list[dict[str, Any]], hours: int) -> list[dict[str, Any]]:
    """A continuous temperature patch: one reading a minute over the last ``hours`` (a wearable's stream)."""
    return resources + [temp(minute / 60, 37.2 + (minute % 90) / 60) for minute in range(hours * 60)]


def with_medication_references(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The administrations name their drug by ``medicationReference`` (as many EHRs do), plus the Medications.

    A FHIR server that honours the service's ``_include`` returns the Medications with the search; one that
    does not leaves them to ``fetch_medications``.
    """
    medications: dict[str, dict[str, Any]] = {}
    out = []
    for resource in resources:
        concept = resource.get("medicationCodeableConcept")
        if resource["resourceType"] != "MedicationAdministration" or concept is None:
            out.append(resource)
            continue
        key = "med-" + "".join(c if c.isalnum() else "-" for c in concept["text"])
        medications[key] = {"resourceType": "Medication", "id": key, "code": concept}
        rest = {k: v for k, v in resource.items() if k != "medicationCodeableConcept"}
        out.append({**rest, "medicationReference": {"reference": f"Medication/{key}"}})
    return out + list(medications.values())


def searchset(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources if r["resourceType"] == kind],
    }


def hook_request(resources: list[dict[str, Any]], with_prefetch: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "benchmark",
        "context": {"userId": "Practitioner/benchmark", "patientId": "pat-1"},
    }
    if with_prefetch:
        body["prefetch"] = {
            "patient": resources[0],
            "observations": searchset(resources, "Observation"),
            "medicationAdministrations": searchset(resources, "MedicationAdministration"),
            "medicationRequests": searchset(resources, "MedicationRequest"),
        }
    return body
