"""The golden cases: each is a chart, a hook and what the clinician sees, kept as a request/response pair.

``tests/golden/README.md`` lists them (Description | Request | Expected response); ``make golden`` rewrites the
pairs and the table from these cases. A changed expected response is a clinical change: review the diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.conftest import hook_body
from tests.fhir_builders import (
    baseline_panel,
    bp,
    car_t,
    device,
    given,
    icans,
    lab,
    order,
    patient,
    spo2,
    temp,
    weight,
)

Resource = dict[str, Any]


@dataclass
class Case:
    name: str
    description: str
    hook: str
    chart: list[Resource]
    cards: list[tuple[str, str, list[str]]]  # (summary starts with, indicator, suggestion labels)
    drafts: list[Resource] = field(default_factory=list)
    selected: int | None = None  # order-select: index of the selected draft


def after(product: str = "tisagenlecleucel", kg: float | None = 70, *items: Resource) -> list[Resource]:
    base = [patient(), car_t(product, hours_ago=96), *baseline_panel(24, 96), lab("crp", 40), lab("ferritin", 900)]
    return [*base, *([weight(kg)] if kg else []), *items]


def vitals(temp_c: float = 38.6, systolic: float = 120, o2: str = "room air") -> list[Resource]:
    return [temp(1, temp_c), bp(1, systolic), spo2(1, 95), device(1, o2)]


def draft(drug: str, dose: tuple[float, str] | None = None, every_hours: float | None = None) -> Resource:
    return order(drug, status="draft", dose=dose, every_hours=every_hours)


def unlisted_code(hours_ago: float) -> Resource:
    resource = given("x", hours_ago, dose=(560, "mg"))
    resource["medicationCodeableConcept"] = {
        "coding": [{"system": "urn:oid:1.2.3", "code": "T-400", "display": "TCZ 400"}]
    }
    return resource


CASES = [
    Case(
        "out-of-scope",
        "Febrile patient who never received CAR T cells: out of scope (C0), no card",
        "patient-view",
        [patient(), *vitals()],
        [],
    ),
    Case(
        "fever-unknown-grade-4-if-febrile",
        "No temperature in 24 h on two vasopressors and a ventilator: grade 0, or 4 if febrile; measure now, no order (C3-FEVER-UNKNOWN)",
        "patient-view",
        after(
            "tisagenlecleucel",
            70,
            bp(1, 100),
            device(1, "mechanical ventilator"),
            given("norepinephrine", 5, running=True),
            given("epinephrine", 3, running=True),
        ),
        [("CRS grade 0, or 4 if febrile: measure temperature now", "critical", [])],
    ),
    Case(
        "unidentified-medications",
        "Grade 2 with three administrations of an unlisted code: tocilizumab suggested but not pre-selected, each record named (R-UNIDENTIFIED)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(systolic=85), *(unlisted_code(h) for h in (20, 12, 3))),
        [("CRS grade 2: consider tocilizumab 560 mg IV", "warning", ["Order tocilizumab 560 mg IV"])],
    ),
    Case(
        "icans-alone",
        "ICANS grade 3 without CRS: follow the institutional ICANS protocol, no order (M-ICANS-ALONE)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(temp_c=37), icans(2, 3)),
        [("CRS grade 0; ICANS grade 3: follow the ICANS protocol", "critical", [])],
    ),
    Case(
        "grade-0",
        "Afebrile, normal vitals: grade 0, keep monitoring",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(temp_c=37)),
        [("CRS grade 0: no CRS treatment now; keep monitoring", "info", [])],
    ),
    Case(
        "grade-1",
        "Fever only: grade 1, supportive care (M-G1)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals()),
        [("CRS grade 1: supportive care", "info", [])],
    ),
    Case(
        "grade-2-tocilizumab",
        "Fever and systolic 85 mmHg, 70 kg: tocilizumab 560 mg IV (M-G2-TOCI)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(systolic=85)),
        [("CRS grade 2: tocilizumab 560 mg IV", "warning", ["Order tocilizumab 560 mg IV"])],
    ),
    Case(
        "grade-2-no-weight",
        "Grade 2 without a weight: tocilizumab 8 mg/kg, never a guessed mg dose (M-TOCI-DOSE)",
        "patient-view",
        after("tisagenlecleucel", None, *vitals(systolic=85)),
        [("CRS grade 2: tocilizumab 8 mg/kg IV", "warning", ["Order tocilizumab 8 mg/kg IV"])],
    ),
    Case(
        "grade-3-vasopressor",
        "Fever on norepinephrine: ICU now, tocilizumab + dexamethasone 10 mg IV q6h immediately (M-G3)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(), given("norepinephrine", 4, running=True)),
        [
            (
                "CRS grade 3: tocilizumab 560 mg IV + dexamethasone 10 mg IV q6h; ICU now",
                "critical",
                ["Order tocilizumab 560 mg IV", "Order dexamethasone 10 mg IV q6h"],
            )
        ],
    ),
    Case(
        "grade-4-methylprednisolone",
        "Fever on norepinephrine and BiPAP: ICU, tocilizumab + methylprednisolone 500 mg IV q12h with taper (M-G4)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(o2="BiPAP mask"), given("norepinephrine", 4, running=True)),
        [
            (
                "CRS grade 4: tocilizumab 560 mg IV + methylprednisolone 500 mg IV q12h; ICU now",
                "critical",
                ["Order tocilizumab 560 mg IV", "Order methylprednisolone 500 mg IV q12h"],
            )
        ],
    ),
    Case(
        "hlh-suspicion",
        "Ferritin 18,000 and AST 450: managed as grade 3, HLH card (M-HLH)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(), lab("ferritin", 18000), lab("ast", 450)),
        [
            (
                "CRS grade 1, managed as 3: tocilizumab 560 mg IV + dexamethasone 10 mg IV q6h; ICU now",
                "critical",
                ["Order tocilizumab 560 mg IV", "Order dexamethasone 10 mg IV q6h"],
            ),
            ("Suspected HLH/MAS", "critical", []),
        ],
    ),
    Case(
        "icans-veto",
        "Grade 1 CRS with ICANS grade 2: dexamethasone, NOT tocilizumab, on the ICANS card (M-ICANS)",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(), icans(1, 2)),
        # M-INDICATOR: at least warning with an M-ICANS steroid, on the CRS card too (reading: the higher one).
        [
            ("CRS grade 1: supportive care", "warning", []),
            (
                "ICANS grade 2 with CRS grade 1: dexamethasone 10 mg IV q6-12h",
                "warning",
                ["Order dexamethasone 10 mg IV q6-12h"],
            ),
        ],
    ),
    Case(
        "tocilizumab-limit",
        "Grade 2 after three tocilizumab doses in 24 h: not suggested now, every limit and the next allowed time (M-TOCI-LIMITS)",
        "patient-view",
        after(
            "tisagenlecleucel",
            70,
            *vitals(systolic=85),
            given("tocilizumab", 23),
            given("tocilizumab", 15),
            given("tocilizumab", 8.5),
        ),
        [("CRS grade 2: tocilizumab not now (from 13:00 UTC, in 1 h)", "warning", [])],
    ),
    Case(
        "order-select-gm-csf",
        "order-select of sargramostim: contraindicated, remove (O-GMCSF)",
        "order-select",
        after("tisagenlecleucel", 70, *vitals()),
        [("GM-CSF (sargramostim) is contraindicated", "critical", ["Remove this order"])],
        drafts=[draft("sargramostim"), draft("ondansetron", (4, "mg"))],
        selected=0,
    ),
    Case(
        "order-select-tocilizumab-overdose",
        "order-select of tocilizumab 1000 mg at 70 kg: change to 560 mg (O-TOCI-DOSE)",
        "order-select",
        after("tisagenlecleucel", 70, *vitals(systolic=85)),
        [("Tocilizumab 1000 mg is above the protocol dose", "warning", ["Change to tocilizumab 560 mg IV"])],
        drafts=[draft("tocilizumab", (1000, "mg"))],
        selected=0,
    ),
    Case(
        "order-sign-grade-3-low-dexamethasone",
        "order-sign of dexamethasone 4 mg q12h at grade 3: change to 10 mg q6h (O-STEROID-DOSE)",
        "order-sign",
        after("tisagenlecleucel", 70, *vitals(), given("norepinephrine", 4, running=True)),
        [("Below the protocol regimen for managed grade 3", "info", ["Change to dexamethasone 10 mg IV every 6 h"])],
        drafts=[draft("dexamethasone", (4, "mg"), every_hours=12), draft("ondansetron", (4, "mg"))],
    ),
    Case(
        "order-sign-car-t-premedication",
        "order-sign of dexamethasone with the CAR T product: no premedication, no leukodepletion filter (O-STEROID-PREMED, O-CART-FILTER)",
        "order-sign",
        [patient(), *vitals(temp_c=37), order("tisagenlecleucel")],
        [
            ("Do not give routine corticosteroid premedication", "warning", []),
            ("CAR T-cell infusion: do not use leukapheresis", "info", []),
        ],
        drafts=[draft("dexamethasone", (10, "mg")), draft("Kymriah (tisagenlecleucel)")],
    ),
]


def request_for(case: Case) -> dict[str, Any]:
    prefetch = {
        "patient": next(r for r in case.chart if r["resourceType"] == "Patient"),
        "observations": searchset([r for r in case.chart if r["resourceType"] == "Observation"]),
        "medicationAdministrations": searchset(
            [r for r in case.chart if r["resourceType"] == "MedicationAdministration"]
        ),
        "medicationRequests": searchset([r for r in case.chart if r["resourceType"] == "MedicationRequest"]),
    }
    body = hook_body(case.hook, prefetch=prefetch)
    if case.drafts:
        body["context"]["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in case.drafts],
        }
    if case.hook == "order-select":
        body["context"]["selections"] = [f"MedicationRequest/{case.drafts[case.selected or 0]['id']}"]
    return body


def searchset(resources: list[Resource]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
