"""Builds the synthetic patients of fhir_fixtures/ (realistic US Core shapes) and their index.

    python -m tests.fixture_factory     # rewrite fhir_fixtures/*.json, index.json and README.md

A test checks that the committed files are what this builds, so the two cannot drift.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
VITALS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
OUT = Path(__file__).resolve().parent.parent / "fhir_fixtures"
Resource = dict[str, Any]

# (RxNorm code, display): ingredient codes, and SCD-level product codes as real EHRs send them.
MEDS = {
    "tocilizumab": ("612865", "tocilizumab"),
    "tocilizumab-scd": ("1441526", "tocilizumab 20 MG/ML Injectable Solution"),
    "dexamethasone": ("3264", "dexamethasone"),
    "dexamethasone-scd": ("1116927", "dexamethasone phosphate 4 MG/ML Injectable Solution"),
    "methylprednisolone": ("6902", "methylprednisolone"),
    "methylprednisolone-scd": ("1743779", "methylprednisolone sodium succinate 1000 MG Injection"),
    "acetaminophen": ("161", "acetaminophen"),
    "norepinephrine": ("7512", "norepinephrine"),
    "norepinephrine-scd": ("242969", "norepinephrine 1 MG/ML Injectable Solution"),
    "vasopressin": ("11149", "vasopressin"),
    "phenylephrine": ("8163", "phenylephrine"),
    "saline": ("313002", "sodium chloride 0.9 % Injectable Solution"),
    "filgrastim": ("68442", "filgrastim"),
    "posaconazole": ("282446", "posaconazole"),
}
PRODUCTS = {
    "tisagenlecleucel": "Kymriah (tisagenlecleucel) suspension for IV infusion",
    "axicabtagene": "Yescarta (axicabtagene ciloleucel) suspension for IV infusion",
    "lisocabtagene": "Breyanzi (lisocabtagene maraleucel) suspension for IV infusion",
    "idecabtagene": "Abecma (idecabtagene vicleucel) suspension for IV infusion",
    "brexucabtagene": "Tecartus (brexucabtagene autoleucel) suspension for IV infusion",
}
DEVICES = {
    "room air": (SNOMED, "722742002", "Room air"),
    "nasal cannula": (SNOMED, "336623009", "Nasal cannula"),
    "high-flow nasal cannula": (SNOMED, "426854004", "High flow nasal cannula"),
    "non-rebreather": (SNOMED, "427591007", "Non-rebreather mask"),
    "BiPAP": (SNOMED, "704718009", "BiPAP mask"),
}


def qty(value: float, unit: str, code: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


@dataclass
class Chart:
    key: str
    birth_date: str
    gender: str = "female"
    resources: list[Resource] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.resources.append(
            {
                "resourceType": "Patient",
                "id": self.patient_id,
                "meta": {"profile": [US_CORE + "us-core-patient"]},
                "identifier": [
                    {"system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": f"MRN-{self.key.upper()}"}
                ],
                "name": [{"family": "Synthetic", "given": [self.key.replace("-", " ").title()]}],
                "gender": self.gender,
                "birthDate": self.birth_date,
            }
        )

    @property
    def patient_id(self) -> str:
        return f"crs-{self.key}"

    def _id(self, prefix: str) -> str:
        return f"{self.key}-{prefix}-{next(self._ids)}"

    @staticmethod
    def at(hours_ago: float) -> str:
        return (ANCHOR - timedelta(hours=hours_ago)).isoformat(timespec="seconds").replace("+00:00", "Z")

    def _obs(
        self, hours: float, code: dict[str, Any], category: dict[str, Any], profile: str | None, **fields: Any
    ) -> Resource:
        resource: Resource = {
            "resourceType": "Observation",
            "id": self._id("obs"),
            "status": "final",
            "category": [category],
            "code": code,
        }
        if profile:
            resource["meta"] = {"profile": [US_CORE + profile]}
        resource.update(subject={"reference": f"Patient/{self.patient_id}"}, effectiveDateTime=self.at(hours), **fields)
        self.resources.append(resource)
        return resource

    def temperature(self, hours: float, value: float, fahrenheit: bool = False) -> Chart:
        code = {"coding": [{"system": LOINC, "code": "8310-5", "display": "Body temperature"}], "text": "Temp"}
        unit = qty(value, "degF", "[degF]") if fahrenheit else qty(value, "C", "Cel")
        self._obs(hours, code, VITALS, "us-core-body-temperature", valueQuantity=unit)
        return self

    def bp(self, hours: float, systolic: float, diastolic: float) -> Chart:
        def component(code: str, display: str, value: float) -> dict[str, Any]:
            return {
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "valueQuantity": qty(value, "mmHg", "mm[Hg]"),
            }

        code = {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}], "text": "BP"}
        components = [
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ]
        self._obs(hours, code, VITALS, "us-core-blood-pressure", component=components)
        return self

    def pulse_ox(self, hours: float, spo2: float, flow: float | None = None, fio2: float | None = None) -> Chart:
        code = {
            "coding": [
                {"system": LOINC, "code": "59408-5", "display": "Oxygen saturation by pulse oximetry"},
                {"system": LOINC, "code": "2708-6"},
            ]
        }
        components = []
        if flow is not None:
            components.append(
                {
                    "code": {"coding": [{"system": LOINC, "code": "3151-8", "display": "Inhaled oxygen flow rate"}]},
                    "valueQuantity": qty(flow, "L/min"),
                }
            )
        if fio2 is not None:
            components.append(
                {
                    "code": {
                        "coding": [{"system": LOINC, "code": "3150-0", "display": "Inhaled oxygen concentration"}]
                    },
                    "valueQuantity": qty(fio2, "%"),
                }
            )
        extra = {"component": components} if components else {}
        self._obs(hours, code, VITALS, "us-core-pulse-oximetry", valueQuantity=qty(spo2, "%"), **extra)
        return self

    def device(self, hours: float, name: str) -> Chart:
        """A flowsheet row: the site's own code, the device as a SNOMED CT value."""
        system, code, display = DEVICES[name]
        row = {
            "coding": [
                {
                    "system": "http://hospital.example.org/flowsheet",
                    "code": "O2-DELIVERY",
                    "display": "O2 delivery method",
                }
            ]
        }
        self._obs(
            hours,
            row,
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]},
            None,
            valueCodeableConcept={"coding": [{"system": system, "code": code, "display": display}]},
        )
        return self

    def vitals(
        self,
        hours: float,
        temp: float = 36.9,
        systolic: float = 122,
        o2: str = "room air",
        flow: float | None = None,
        fahrenheit: bool = False,
    ) -> Chart:
        self.temperature(hours, round(temp * 9 / 5 + 32, 1) if fahrenheit else temp, fahrenheit)
        self.bp(hours, systolic, 72 if systolic >= 90 else 48)
        self.pulse_ox(hours, 96 if o2 == "room air" else 93, flow=flow)
        return self.device(hours, o2)

    def weight(self, value: float, pounds: bool = False, hours: float = 20) -> Chart:
        code = {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]}
        self._obs(
            hours,
            code,
            VITALS,
            "us-core-body-weight",
            valueQuantity=qty(value, "lb", "[lb_av]") if pounds else qty(value, "kg"),
        )
        return self

    def lab(self, hours: float, code: str, display: str, value: float, unit: str, high: float | None = None) -> Chart:
        extra = {"referenceRange": [{"high": qty(high, unit)}]} if high is not None else {}
        self._obs(
            hours,
            {"coding": [{"system": LOINC, "code": code, "display": display}]},
            LAB,
            "us-core-observation-lab",
            valueQuantity=qty(value, unit),
            **extra,
        )
        return self

    def daily_labs(self, hours: float = 6, crp: float = 40, ferritin: float = 900) -> Chart:
        self.lab(hours, "1988-5", "C reactive protein", crp, "mg/L", 5)
        return self.lab(hours, "2276-4", "Ferritin", ferritin, "ng/mL", 300)

    def baseline(self, infusion_hours: float) -> Chart:
        for code, display, value, unit in (
            ("6690-2", "Leukocytes", 5.2, "10*3/uL"), ("2160-0", "Creatinine", 0.9, "mg/dL"), ("19123-9", "Magnesium", 2.0, "mg/dL"),
            ("2777-1", "Phosphate", 3.4, "mg/dL"), ("1988-5", "C reactive protein", 3, "mg/L"), ("2276-4", "Ferritin", 250, "ng/mL"),
            ("2532-0", "LDH", 210, "U/L"), ("3084-1", "Urate", 5.1, "mg/dL"), ("3255-7", "Fibrinogen", 320, "mg/dL"),
            ("5902-2", "Prothrombin time", 12.1, "s"), ("3173-2", "aPTT", 30, "s"),
        ):  # fmt: skip
            self.lab(infusion_hours + 30, code, display, value, unit)
        return self

    def icans(self, hours: float, grade: int) -> Chart:
        self._obs(
            hours,
            {"coding": [{"system": "urn:crs-cds:codes", "code": "icans-grade", "display": "ICANS grade"}]},
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "exam"}]},
            None,
            valueInteger=grade,
        )
        return self

    def given(
        self,
        med: str,
        hours: float,
        dose: tuple[float, str] | None = None,
        *,
        running: bool = False,
        ended: float | None = None,
        rate: tuple[float, str] | None = None,
        status: str = "completed",
    ) -> Resource:
        code, display = MEDS[med] if med in MEDS else ("", PRODUCTS[med])
        concept: dict[str, Any] = {"text": display}
        if code:
            concept["coding"] = [{"system": RXNORM, "code": code, "display": display}]
        resource: Resource = {
            "resourceType": "MedicationAdministration",
            "id": self._id("ma"),
            "status": "in-progress" if running else status,
            "medicationCodeableConcept": concept,
            "subject": {"reference": f"Patient/{self.patient_id}"},
        }
        if running or ended is not None:
            resource["effectivePeriod"] = {
                "start": self.at(hours),
                **({"end": self.at(ended)} if ended is not None else {}),
            }
        else:
            resource["effectiveDateTime"] = self.at(hours)
        dosage: dict[str, Any] = {
            "route": {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]}
        }
        if dose:
            dosage["dose"] = qty(dose[0], dose[1])
        if rate:
            dosage["rateQuantity"] = qty(rate[0], rate[1])
        resource["dosage"] = dosage
        self.resources.append(resource)
        return resource

    def car_t(self, product: str, hours: float) -> Chart:
        self.given(product, hours)
        return self

    def bolus(self, hours: float, ml: float = 500) -> Chart:
        self.given("saline", hours, (ml, "mL"), ended=hours - 0.5)
        return self

    def order(
        self,
        drug: str,
        *,
        status: str = "active",
        hours: float = 2,
        dose: tuple[float, str] | None = None,
        every: float | None = None,
    ) -> Resource:
        code, display = MEDS.get(drug, ("", PRODUCTS.get(drug, drug)))
        concept: dict[str, Any] = {
            "text": display,
            **({"coding": [{"system": RXNORM, "code": code, "display": display}]} if code else {}),
        }
        dosage: dict[str, Any] = {}
        if dose:
            dosage["doseAndRate"] = [{"doseQuantity": qty(dose[0], dose[1])}]
        if every:
            dosage["timing"] = {"repeat": {"frequency": 1, "period": every, "periodUnit": "h"}}
        resource = {
            "resourceType": "MedicationRequest",
            "id": self._id("mr"),
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": concept,
            "subject": {"reference": f"Patient/{self.patient_id}"},
            "authoredOn": self.at(hours),
            "dosageInstruction": [dosage] if dosage else [],
        }
        self.resources.append(resource)
        return resource

    def entered_in_error(self, resource: Resource) -> Chart:
        resource["status"] = "entered-in-error"
        return self

    def bundle(self) -> Resource:
        entries = [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in self.resources
        ]
        return {
            "resourceType": "Bundle",
            "id": self.patient_id,
            "type": "transaction",
            "timestamp": ANCHOR.isoformat().replace("+00:00", "Z"),
            "entry": entries,
        }


@dataclass
class Scenario:
    chart: Chart
    situation: str
    grade: str  # as the card states it
    managed: str
    suggestions: list[str]
    hook: str = "patient-view"
    drafts: list[Resource] = field(default_factory=list)
    expected_checks: list[str] = field(default_factory=list)

    def index_row(self) -> dict[str, Any]:
        return {
            "fixture": f"{self.chart.key}.json",
            "patient": self.chart.patient_id,
            "hook": self.hook,
            "situation": self.situation,
            "grade": self.grade,
            "managed_grade": self.managed,
            "suggestions": self.suggestions,
            "drafts": [d["id"] for d in self.drafts],
            "order_checks": self.expected_checks,
        }


def adult(
    key: str,
    product: str = "tisagenlecleucel",
    infusion_hours: float = 96,
    birth: str = "1968-03-14",
    gender: str = "female",
) -> Chart:
    return Chart(key, birth, gender).baseline(infusion_hours).car_t(product, infusion_hours)


def scenarios() -> list[Scenario]:
    s: list[Scenario] = []

    c = Chart("no-car-t", "1971-06-02").vitals(1, temp=38.7).weight(81)
    s.append(Scenario(c, "Febrile patient who never received CAR T cells: out of scope", "no card", "-", []))

    c = adult("day30-out-of-window", infusion_hours=31 * 24).vitals(1).weight(70).daily_labs()
    s.append(
        Scenario(c, "31 days after the infusion, afebrile, no recent CRS treatment: out of scope", "no card", "-", [])
    )

    c = adult("grade0-afebrile").vitals(1).weight(68).daily_labs()
    c.entered_in_error(c.given("acetaminophen", 3, (650, "mg")))
    c.temperature(2, 40.1)
    c.entered_in_error(c.resources[-1])
    s.append(
        Scenario(
            c,
            "Day 4, normal vitals; an entered-in-error 40.1 C temperature and acetaminophen dose must be ignored",
            "0",
            "0",
            [],
        )
    )

    c = adult("grade1-fever").vitals(1, temp=38.4, fahrenheit=True).weight(74).daily_labs()
    s.append(Scenario(c, "Fever 101.1 degF only (site documents Fahrenheit)", "1", "1", []))

    c = (
        adult("grade1-neutropenic-fever")
        .vitals(1, temp=38.9)
        .weight(61)
        .daily_labs()
        .lab(6, "751-8", "Neutrophils", 0.2, "10*3/uL", 7.5)
    )
    s.append(Scenario(c, "Fever with ANC 0.2: empiric antibiotics reminder", "1", "1", []))

    c = adult("persistent-fever-80h").weight(77).daily_labs()
    for hours in (80, 62, 44, 26, 8):
        c.temperature(hours, 38.6)
    c.vitals(2, temp=38.3)
    s.append(
        Scenario(
            c,
            "Fever for more than 72 h without hypotension or hypoxia: managed as grade 2",
            "1",
            "2",
            ["tocilizumab 616 mg"],
        )
    )

    c = adult("grade2-hypotension").vitals(1, temp=38.8, systolic=86).weight(180, pounds=True).daily_labs()
    s.append(Scenario(c, "Fever and systolic 86 mmHg, weight in pounds (180 lb)", "2", "2", ["tocilizumab 653.1 mg"]))

    c = adult("grade2-low-flow-oxygen", product="lisocabtagene").weight(82).daily_labs()
    c.temperature(1, 101.5, fahrenheit=True).bp(1, 118, 70).device(3, "nasal cannula").pulse_ox(1, 94, flow=3)
    s.append(
        Scenario(
            c,
            "Fever and nasal cannula 3 L/min (flow documented on the pulse oximetry row)",
            "2",
            "2",
            ["tocilizumab 656 mg"],
        )
    )

    c = adult("grade2-refractory-hypotension").weight(70).daily_labs().vitals(14).bp(12, 84, 46).temperature(12, 38.9)
    c.bolus(11).bolus(10).given("tocilizumab-scd", 7, (560, "mg"))
    c.vitals(1, temp=38.6, systolic=85)
    s.append(
        Scenario(
            c,
            "Hypotension persists after two boluses and tocilizumab 7 h ago: dexamethasone; next tocilizumab not before 8 h",
            "2",
            "2",
            ["dexamethasone 10 mg IV every 12 h"],
        )
    )

    c = (
        adult("grade2-axicel-early-steroid", product="axicabtagene")
        .vitals(1, temp=38.7, systolic=88)
        .weight(90)
        .daily_labs()
    )
    s.append(
        Scenario(
            c,
            "Axicabtagene ciloleucel, grade 2: early dexamethasone with tocilizumab",
            "2",
            "2",
            ["dexamethasone 10 mg IV every 12 h", "tocilizumab 720 mg"],
        )
    )

    c = adult("grade3-norepinephrine").vitals(1, temp=39.1, systolic=95).weight(72).daily_labs()
    c.given("norepinephrine-scd", 5, running=True, rate=(0.08, "ug/kg/min"))
    s.append(
        Scenario(
            c,
            "Fever on a running norepinephrine infusion (no end time)",
            "3",
            "3",
            ["dexamethasone 10 mg IV every 6 h", "tocilizumab 576 mg"],
        )
    )

    c = (
        adult("grade3-high-flow")
        .weight(65)
        .daily_labs()
        .temperature(1, 38.5)
        .bp(1, 112, 66)
        .device(2, "high-flow nasal cannula")
        .pulse_ox(1, 92, flow=40, fio2=50)
    )
    s.append(
        Scenario(
            c,
            "Fever on high-flow nasal cannula 40 L/min, FiO2 50 %",
            "3",
            "3",
            ["dexamethasone 10 mg IV every 6 h", "tocilizumab 520 mg"],
        )
    )

    c = adult("grade2-no-improvement-24h").weight(75).daily_labs()
    for hours in (34, 28, 20, 12, 4):
        c.vitals(hours, temp=38.6, systolic=87)
    c.given("tocilizumab", 27, (600, "mg"))
    c.vitals(1, temp=38.5, systolic=86)
    s.append(
        Scenario(
            c,
            "Still grade 2 more than 24 h after tocilizumab: managed as grade 3",
            "2",
            "3",
            ["dexamethasone 10 mg IV every 6 h", "tocilizumab 600 mg"],
        )
    )

    c = adult("grade4-two-vasopressors", gender="male").vitals(1, temp=39.4, systolic=92).weight(84).daily_labs()
    c.given("norepinephrine", 6, running=True, rate=(0.2, "ug/kg/min"))
    c.given("phenylephrine", 3, running=True, rate=(1.0, "ug/kg/min"))
    s.append(
        Scenario(
            c,
            "Fever on norepinephrine and phenylephrine",
            "4",
            "4",
            ["methylprednisolone 500 mg IV every 12 h", "tocilizumab 672 mg"],
        )
    )

    c = (
        adult("grade4-bipap-methylpred-30h")
        .weight(58)
        .daily_labs()
        .temperature(1, 38.4)
        .bp(1, 104, 60)
        .device(2, "BiPAP")
        .pulse_ox(1, 93, fio2=60)
    )
    for hours in (30, 18, 6):
        c.given("methylprednisolone-scd", hours, (500, "mg"))
    c.given("tocilizumab", 40, (464, "mg"))
    s.append(
        Scenario(
            c,
            "BiPAP at FiO2 60 % after 30 h of methylprednisolone 500 mg: consider 1000 mg",
            "4",
            "4",
            ["methylprednisolone 1000 mg IV every 12 h (not pre-selected)", "tocilizumab 464 mg"],
        )
    )

    c = adult("hlh-suspicion").vitals(1, temp=38.6).weight(66).daily_labs(ferritin=18000)
    c.lab(6, "1742-6", "ALT", 410, "U/L", 45)
    s.append(
        Scenario(
            c,
            "Ferritin 18,000 ng/mL with ALT 410 U/L (over 5 x ULN 45): suspected HLH, managed as grade 3",
            "1",
            "3",
            ["dexamethasone 10 mg IV every 6 h", "tocilizumab 528 mg"],
        )
    )

    c = adult("icans-with-grade1-crs", product="idecabtagene").vitals(1, temp=38.5).weight(79).daily_labs().icans(1, 2)
    s.append(
        Scenario(
            c,
            "Grade 1 CRS with ICANS grade 2: dexamethasone, not tocilizumab",
            "1",
            "1",
            ["dexamethasone 10 mg IV every 6-12 h"],
        )
    )

    c = adult("toci-limit-3-in-24h").weight(70).daily_labs()
    for dose_hours in (23, 15, 8.5):
        c.vitals(dose_hours + 0.5, temp=38.7, systolic=85)
        c.given("tocilizumab", dose_hours, (560, "mg"))
    c.vitals(1, temp=38.6, systolic=86)
    s.append(
        Scenario(
            c, "Three tocilizumab doses in 24 h: a fourth is withheld until the first leaves the window", "2", "2", []
        )
    )

    c = adult("toci-limit-4-total").weight(70).daily_labs()
    for hours in (70, 50, 30, 10):
        c.vitals(hours + 0.5, temp=38.7, systolic=85)
        c.given("tocilizumab", hours, (560, "mg"))
    error_dose = c.given("tocilizumab", 60, (560, "mg"))
    c.entered_in_error(error_dose)
    c.vitals(1, temp=38.6, systolic=86)
    s.append(
        Scenario(
            c,
            "Four tocilizumab doses (a fifth entered in error is ignored): no more tocilizumab, institutional protocol; "
            "grade 2 for over 24 h after the first dose, so managed as grade 3 with dexamethasone",
            "2",
            "3",
            ["dexamethasone 10 mg IV every 6 h"],
        )
    )

    c = adult("missing-weight").vitals(1, temp=38.8, systolic=84).daily_labs()
    s.append(
        Scenario(
            c,
            "Grade 2 with no weight in 30 days: tocilizumab per kg, never a guessed dose",
            "2",
            "2",
            ["tocilizumab 8 mg/kg"],
        )
    )

    c = Chart("pediatric-22kg", "2019-05-10", "male").baseline(96).car_t("tisagenlecleucel", 96).weight(22).daily_labs()
    c.temperature(1, 38.9).bp(1, 78, 40).pulse_ox(1, 97).device(1, "room air")
    s.append(
        Scenario(
            c,
            "Child of 7, 22 kg, systolic 78 (below 70 + 2 x age): tocilizumab 8 mg/kg; label's 12 mg/kg flagged",
            "2",
            "2",
            ["tocilizumab 176 mg"],
        )
    )

    c = adult("stale-data").vitals(30, temp=39.0, systolic=84).weight(70).daily_labs(hours=30)
    s.append(
        Scenario(
            c, "Last vital signs 30 h ago: insufficient recent data, grade unknown (never 0)", "unknown", "unknown", []
        )
    )

    c = (
        adult("support-without-fever")
        .weight(70)
        .daily_labs()
        .temperature(1, 37.1)
        .bp(1, 118, 70)
        .device(2, "non-rebreather")
        .pulse_ox(1, 91)
    )
    s.append(
        Scenario(c, "Non-rebreather mask without fever: CRS criteria not met, evaluate other causes", "0", "0", [])
    )

    c = adult("orders-grade3").vitals(1, temp=39.0, systolic=96).weight(70).daily_labs()
    c.given("norepinephrine", 4, running=True, rate=(0.05, "ug/kg/min"))
    drafts = [
        c.order("tocilizumab", status="draft", hours=0, dose=(1000, "mg")),
        c.order("dexamethasone", status="draft", hours=0, dose=(4, "mg"), every=12),
        c.order("sargramostim", status="draft", hours=0, dose=(250, "ug")),
        c.order("filgrastim", status="draft", hours=0, dose=(480, "ug")),
    ]
    c.resources = [r for r in c.resources if r not in drafts]
    s.append(
        Scenario(
            c,
            "Grade 3 with draft orders: tocilizumab 1000 mg, dexamethasone 4 mg q12h, GM-CSF, G-CSF",
            "3",
            "3",
            [],
            hook="order-sign",
            drafts=drafts,
            expected_checks=["O-TOCI-DOSE", "O-STEROID-DOSE", "O-GMCSF"],
        )
    )

    c = Chart("pre-infusion-premedication", "1975-09-21").vitals(1).weight(70).daily_labs()
    c.order("axicabtagene", hours=20)
    drafts = [c.order("dexamethasone", status="draft", hours=0, dose=(10, "mg"))]
    c.resources = [r for r in c.resources if r not in drafts]
    s.append(
        Scenario(
            c,
            "CAR T ordered, not yet infused; dexamethasone drafted as premedication",
            "0",
            "0",
            [],
            hook="order-sign",
            drafts=drafts,
            expected_checks=["O-STEROID-PREMED"],
        )
    )
    return s


def write_fixtures(out: Path = OUT) -> None:
    all_scenarios = scenarios()
    for scenario in all_scenarios:
        write_json(out / f"{scenario.chart.key}.json", scenario.chart.bundle())
        if scenario.drafts:
            write_json(
                out / "drafts" / f"{scenario.chart.key}.json",
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "timestamp": ANCHOR.isoformat().replace("+00:00", "Z"),
                    "entry": [{"resource": d} for d in scenario.drafts],
                },
            )
    write_json(out / "index.json", [scenario.index_row() for scenario in all_scenarios])
    (out / "README.md").write_text(readme(all_scenarios), encoding="utf-8")


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")


def readme(all_scenarios: list[Scenario]) -> str:
    rows = "\n".join(
        f"| `{s.chart.key}.json` | {s.chart.patient_id} | {s.hook} | {s.situation} | {s.grade} | {s.managed} | "
        f"{'; '.join(s.suggestions) or ('checks: ' + ', '.join(s.expected_checks) if s.expected_checks else 'none')} |"
        for s in all_scenarios
    )
    return f"""# FHIR fixtures: synthetic patients, one clinical situation each

Transaction Bundles of realistic FHIR R4 data (US Core vital-sign profiles, blood pressure panels, pulse
oximetry with a flow component, temperatures in [degF] at some sites, SCD-level RxNorm product codes as
well as ingredients, running vasopressor infusions without an end time, a CAR T infusion per patient, labs
with reference ranges, weights in kg and lb, entered-in-error resources that must be ignored).

Times are written relative to the Bundle's `timestamp` ({ANCHOR.isoformat().replace("+00:00", "Z")}); the
loader moves every date-time so that this anchor becomes "now" (`crs-cds fixtures load`). Draft orders for
the order hooks are in `drafts/`. Generated by `python -m tests.fixture_factory`; a test keeps the files,
this table and `index.json` in step, and another checks each patient's cards against the table.

| Fixture | Patient | Hook | Situation | Grade | Managed as | Expected suggestions |
| --- | --- | --- | --- | --- | --- | --- |
{rows}

Load them into a FHIR server and call the service as an EHR:

```sh
crs-cds fixtures load --fhir-server http://127.0.0.1:8081/fhir --token TOKEN
crs-cds call --service http://127.0.0.1:8080 --fhir-server http://127.0.0.1:8081/fhir --fhir-token TOKEN \\
  --patient crs-grade3-norepinephrine --sign-with var/dev-ehr/ehr-private-key.pem
```
"""


if __name__ == "__main__":
    write_fixtures()
