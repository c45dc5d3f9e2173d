"""Builders of realistic FHIR R4 resources for test tables, with times in hours before NOW.

A case reads like a chart: ``temp(2, 38.4)`` is a temperature of 38.4 Cel two hours ago.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from service.crs.assessment import Assessment
from service.crs.engine import assess
from service.crs.policy import Policy
from service.fhir.translate import Translator
from service.policy_file import load_policy

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CRS = "urn:crs-cds:codes"
POLICY: Policy = load_policy()
TRANSLATOR = Translator.from_policy(POLICY)
_ids = itertools.count(1)
Resource = dict[str, Any]

RXNORM_CODES = {
    "tocilizumab": "612865",
    "dexamethasone": "3264",
    "methylprednisolone": "6902",
    "acetaminophen": "161",
    "norepinephrine": "7512",
    "epinephrine": "3992",
    "phenylephrine": "8163",
    "dopamine": "3628",
    "vasopressin": "11149",
    "dobutamine": "3616",
    "filgrastim": "68442",
    "anakinra": "72435",
}
DEVICES = {
    "room air": (SNOMED, "722742002"),
    "nasal cannula": (SNOMED, "336623009"),
    "blow-by": (SNOMED, "425478008"),
    "high-flow nasal cannula": (SNOMED, "426854004"),
    "simple mask": (SNOMED, "336602003"),
    "non-rebreather": (SNOMED, "427591007"),
    "Venturi mask": (SNOMED, "428285009"),
    "BiPAP mask": (SNOMED, "704718009"),
    "CPAP unit": (SNOMED, "37874008"),
    "mechanical ventilator": (SNOMED, "449071006"),
}
LAB_CODES = {
    "ferritin": ("2276-4", "ng/mL"),
    "crp": ("1988-5", "mg/L"),
    "anc": ("751-8", "10*9/L"),
    "alt": ("1742-6", "U/L"),
    "ast": ("1920-8", "U/L"),
    "bilirubin": ("1975-2", "mg/dL"),
    "creatinine": ("2160-0", "mg/dL"),
}


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")


def _obs(code: tuple[str, str], hours_ago: float, **fields: Any) -> Resource:
    return {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": code[0], "code": code[1]}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": at(hours_ago),
        **fields,
    }


def qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def temp(hours_ago: float, value: float, unit: str = "Cel") -> Resource:
    return _obs((LOINC, "8310-5"), hours_ago, valueQuantity=qty(value, unit))


def bp(hours_ago: float, systolic: float, diastolic: float = 60) -> Resource:
    components = [
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": qty(systolic, "mm[Hg]")},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": qty(diastolic, "mm[Hg]")},
    ]
    return _obs((LOINC, "85354-9"), hours_ago, component=components)


def mean_pressure(hours_ago: float, value: float) -> Resource:
    return _obs((LOINC, "8478-0"), hours_ago, valueQuantity=qty(value, "mm[Hg]"))


def device(hours_ago: float, name: str) -> Resource:
    system, code = DEVICES[name]
    concept = {"coding": [{"system": system, "code": code, "display": name}]}
    return _obs((CRS, "oxygen-device"), hours_ago, valueCodeableConcept=concept)


def spo2(hours_ago: float, percent: float, flow_l_min: float | None = None, fio2: float | None = None) -> Resource:
    components = []
    if flow_l_min is not None:
        components.append(
            {"code": {"coding": [{"system": LOINC, "code": "3151-8"}]}, "valueQuantity": qty(flow_l_min, "L/min")}
        )
    if fio2 is not None:
        components.append({"code": {"coding": [{"system": LOINC, "code": "3150-0"}]}, "valueQuantity": qty(fio2, "%")})
    extra = {"component": components} if components else {}
    return _obs((LOINC, "59408-5"), hours_ago, valueQuantity=qty(percent, "%"), **extra)


def flow(hours_ago: float, value: float, unit: str = "L/min") -> Resource:
    return _obs((LOINC, "3151-8"), hours_ago, valueQuantity=qty(value, unit))


def fio2(hours_ago: float, value: float, unit: str = "%") -> Resource:
    return _obs((LOINC, "3150-0"), hours_ago, valueQuantity=qty(value, unit))


def weight(kg: float, hours_ago: float = 24, unit: str = "kg") -> Resource:
    return _obs((LOINC, "29463-7"), hours_ago, valueQuantity=qty(kg, unit))


def lab(kind: str, value: float, hours_ago: float = 2, unit: str | None = None, uln: float | None = None) -> Resource:
    code, default_unit = LAB_CODES[kind]
    extra: dict[str, Any] = {"referenceRange": [{"high": qty(uln, unit or default_unit)}]} if uln else {}
    return _obs((LOINC, code), hours_ago, valueQuantity=qty(value, unit or default_unit), **extra)


BASELINE_UNITS = {"2160-0": (0.9, "mg/dL"), "1988-5": (3, "mg/L"), "2276-4": (250, "ng/mL"), "6690-2": (5.1, "10*9/L")}


def baseline_panel(hours_before_infusion: float, infusion_hours_ago: float) -> list[Resource]:
    """CBC, CMP, Mg, phosphorus, CRP, ferritin, LDH, uric acid, fibrinogen, PT, PTT before the infusion."""
    when = infusion_hours_ago + hours_before_infusion
    codes = [
        "6690-2",
        "2160-0",
        "19123-9",
        "2777-1",
        "1988-5",
        "2276-4",
        "2532-0",
        "3084-1",
        "3255-7",
        "5902-2",
        "3173-2",
    ]
    return [_obs((LOINC, code), when, valueQuantity=qty(*BASELINE_UNITS.get(code, (1, "1")))) for code in codes]


def icans(hours_ago: float, grade: int) -> Resource:
    return _obs((CRS, "icans-grade"), hours_ago, valueInteger=grade)


def ice_score(hours_ago: float, score: int) -> Resource:
    return _obs((CRS, "ice-score"), hours_ago, valueInteger=score)


def _medication(drug: str) -> dict[str, Any]:
    code = RXNORM_CODES.get(drug)
    if code:
        return {"coding": [{"system": RXNORM, "code": code, "display": drug}], "text": drug}
    return {"text": drug}


def given(
    drug: str,
    hours_ago: float,
    *,
    dose: tuple[float, str] | None = None,
    ended_hours_ago: float | None = None,
    running: bool = False,
    status: str = "completed",
) -> Resource:
    """A MedicationAdministration; ``running`` is an infusion with no end (effectivePeriod.start only)."""
    resource: Resource = {
        "resourceType": "MedicationAdministration",
        "id": f"ma-{next(_ids)}",
        "status": "in-progress" if running else status,
        "medicationCodeableConcept": _medication(drug),
        "subject": {"reference": "Patient/pat-1"},
    }
    if running or ended_hours_ago is not None:
        period = {"start": at(hours_ago)}
        if ended_hours_ago is not None:
            period["end"] = at(ended_hours_ago)
        resource["effectivePeriod"] = period
    else:
        resource["effectiveDateTime"] = at(hours_ago)
    if dose is not None:
        resource["dosage"] = {"dose": qty(*dose), "route": {"text": "intravenous"}}
    return resource


def car_t(product: str = "tisagenlecleucel", hours_ago: float = 96) -> Resource:
    return given(product, hours_ago)


def bolus(hours_ago: float, ml: float = 500, minutes: float = 30) -> Resource:
    return given("sodium chloride 0.9 %", hours_ago, dose=(ml, "mL"), ended_hours_ago=hours_ago - minutes / 60)


def order(
    drug: str,
    *,
    status: str = "active",
    hours_ago: float = 1,
    dose: tuple[float, str] | None = None,
    every_hours: float | None = None,
) -> Resource:
    dosage: dict[str, Any] = {}
    if dose:
        dosage["doseAndRate"] = [{"doseQuantity": qty(*dose)}]
    if every_hours:
        dosage["timing"] = {"repeat": {"frequency": 1, "period": every_hours, "periodUnit": "h"}}
    return {
        "resourceType": "MedicationRequest",
        "id": f"mr-{next(_ids)}",
        "status": status,
        "intent": "order",
        "authoredOn": at(hours_ago),
        "medicationCodeableConcept": _medication(drug),
        "subject": {"reference": "Patient/pat-1"},
        "dosageInstruction": [dosage] if dosage else [],
    }


def patient(birth_date: str | None = "1970-01-01") -> Resource:
    resource: Resource = {"resourceType": "Patient", "id": "pat-1"}
    if birth_date:
        resource["birthDate"] = birth_date
    return resource


def grade3_observations() -> list[Resource]:
    """Weight, fever, a low systolic pressure and a non-rebreather an hour ago: grade 3 with a CAR T infusion."""
    return [weight(70), temp(1, 38.9), bp(1, 84), spo2(1, 92), device(1, "non-rebreather")]


GRADE3_OBSERVATIONS = grade3_observations()


def searchset(*resources: Resource) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def prefetch(
    observations: list[Resource], administrations: list[Resource], requests: list[Resource] | None = None
) -> dict[str, Any]:
    """The four prefetch keys of the patient-view service for a chart of pat-1."""
    return {
        "patient": patient(),
        "observations": searchset(*observations),
        "medicationAdministrations": searchset(*administrations),
        "medicationRequests": searchset(*(requests or [])),
    }


def monitored(hours_ago: float = 1) -> list[Resource]:
    """Up-to-date vitals of a well patient: normal temperature, BP, SpO2 on room air, fresh CRP/ferritin."""
    return [
        temp(hours_ago, 36.8),
        bp(hours_ago, 120, 75),
        spo2(hours_ago, 98),
        device(hours_ago, "room air"),
        lab("crp", 5),
        lab("ferritin", 300),
    ]


def chart(
    *items: Resource | list[Resource],
    drafts: list[Resource] | None = None,
    now: datetime = NOW,
    orders_in_scope: bool = False,
) -> Assessment:
    """Assess a chart: resources (or lists of them) translated and graded at ``now``."""
    resources: list[Resource] = []
    for item in items:
        resources.extend(item if isinstance(item, list) else [item])
    timeline = TRANSLATOR.timeline(resources, drafts or [])
    return assess(timeline, POLICY, now, orders_in_scope=orders_in_scope)
