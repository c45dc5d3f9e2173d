"""Management (C0, M-rules): one row per clinical case, named by the rule it proves.

Each row is a chart and what the assessment must say: the managed grade, the orders suggested (drug
and dose), the orders withheld and why, the next steps and reminders, the indicator, the flags.
Unless a row says otherwise the patient is an adult 4 days after tisagenlecleucel weighing 70 kg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from service.crs.assessment import Assessment
from tests.fhir_builders import (
    baseline_panel,
    bolus,
    bp,
    car_t,
    chart,
    device,
    given,
    icans,
    ice_score,
    lab,
    order,
    patient,
    spo2,
    temp,
    weight,
)
from tests.wording_support import reasons, said

Resource = dict[str, Any]


@dataclass
class Expect:
    managed: int | str | None = "any"
    suggests: dict[str, float | None] | None = None  # drug -> mg (None: mg/kg); exactly these drugs
    interval_hours: dict[str, float] = field(default_factory=dict)
    not_preselected: set[str] = field(default_factory=set)
    withheld: dict[str, str] = field(default_factory=dict)  # drug -> text in the reason
    steps: list[str] = field(default_factory=list)  # texts that must appear in next steps or reminders
    no_steps: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)
    no_rules: set[str] = field(default_factory=set)
    flags: set[str] = field(default_factory=set)
    indicator: str | None = None


def chart_of(
    *items: Resource, product: str = "tisagenlecleucel", kg: float | None = 70, daily_labs: bool = True
) -> list[Resource]:
    base = [patient(), car_t(product, hours_ago=96), *baseline_panel(24, 96)]
    if daily_labs:
        base += [lab("crp", 50), lab("ferritin", 800)]
    if kg is not None:
        base.append(weight(kg))
    return [*base, *items]


def vitals(temp_c: float = 38.6, systolic: float = 120, o2: str = "room air", hours_ago: float = 1) -> list[Resource]:
    return [temp(hours_ago, temp_c), bp(hours_ago, systolic), spo2(hours_ago, 96), device(hours_ago, o2)]


GRADE2 = vitals(systolic=85)
GRADE3 = [*vitals(), given("norepinephrine", 5, running=True)]
GRADE4 = [*vitals(), given("norepinephrine", 5, running=True), given("phenylephrine", 4, running=True)]


def fevers(*hours_ago: float) -> list[Resource]:
    return [temp(hours, 38.5) for hours in hours_ago]


CASES: list[tuple[str, list[Resource], Expect]] = [
    # C0 scope
    ("C0 grade 1 within 30 days of CAR T is in scope", chart_of(*vitals()), Expect(managed=1, rules={"C0"})),
    # M-G1
    (
        "M-G1 fever only: supportive care, no tocilizumab or steroid",
        chart_of(*vitals()),
        Expect(managed=1, suggests={}, steps=["Supportive care", "No ANC in the last"], indicator="info"),
    ),
    (
        "M-G1 neutropenic: consider empiric antibiotics",
        chart_of(*vitals(), lab("anc", 0.3)),
        Expect(managed=1, steps=["Neutropenic (ANC 0.3"]),
    ),
    (
        "M-G1 ANC 0.5 is not neutropenic",
        chart_of(*vitals(), lab("anc", 0.5)),
        Expect(managed=1, no_steps=["Neutropenic", "No ANC in the last"]),
    ),
    (
        "M-NO-GMCSF grade 1 says GM-CSF is not recommended",
        chart_of(*vitals()),
        Expect(steps=["GM-CSF (sargramostim) is NOT recommended"]),
    ),
    # M-G1-PERSISTENT
    (
        "M-G1-PERSISTENT fever for 78 h: manage as grade 2 with tocilizumab",
        chart_of(*fevers(80, 60, 40, 20), *vitals(hours_ago=2)),
        Expect(managed=2, suggests={"tocilizumab": 560}, rules={"M-G1-PERSISTENT"}, indicator="warning"),
    ),
    (
        "M-G1-PERSISTENT exactly 72 h does not qualify",
        chart_of(*fevers(74, 54, 34, 14), *vitals(hours_ago=2)),
        Expect(managed=1, suggests={}, no_rules={"M-G1-PERSISTENT"}),
    ),
    (
        "M-G1-PERSISTENT a 24 h gap starts a new run",
        chart_of(*fevers(80, 56, 40, 20), *vitals(hours_ago=2)),
        Expect(managed=1, no_rules={"M-G1-PERSISTENT"}),
    ),
    # M-G2-TOCI and M-TOCI-DOSE
    (
        "M-G2-TOCI grade 2: tocilizumab 8 mg/kg and supportive care",
        chart_of(*GRADE2),
        Expect(
            managed=2, suggests={"tocilizumab": 560}, steps=["IV fluid boluses"], rules={"M-G2-TOCI", "M-TOCI-DOSE"}
        ),
    ),
    (
        "M-TOCI-DOSE 25 kg: 200 mg with the label's 12 mg/kg flagged",
        chart_of(*GRADE2, kg=25),
        Expect(suggests={"tocilizumab": 200}, flags={"tocilizumab-label-12-mg-per-kg-under-30-kg"}),
    ),
    ("M-TOCI-DOSE 120 kg: capped at 800 mg", chart_of(*GRADE2, kg=120), Expect(suggests={"tocilizumab": 800})),
    (
        "M-TOCI-DOSE weight in pounds",
        chart_of(*GRADE2, weight(154, unit="[lb_av]"), kg=None),
        Expect(suggests={"tocilizumab": 558.8}),
    ),
    (
        "M-TOCI-DOSE no weight: 8 mg/kg, never a guessed mg dose",
        chart_of(*GRADE2, kg=None),
        Expect(suggests={"tocilizumab": None}, flags={"weight-missing"}),
    ),
    (
        "M-TOCI-DOSE a weight older than 30 days is missing",
        chart_of(*GRADE2, weight(70, hours_ago=31 * 24), kg=None),
        Expect(suggests={"tocilizumab": None}, flags={"weight-missing"}),
    ),
    # M-TOCI-LIMITS
    (
        "M-TOCI-LIMITS 3 doses in 24 h block a fourth",
        chart_of(*GRADE2, given("tocilizumab", 23), given("tocilizumab", 15), given("tocilizumab", 8.5)),
        Expect(suggests={}, withheld={"tocilizumab": "3 doses in the last 24 h"}),
    ),
    (
        "M-TOCI-LIMITS 4 doses in total: institutional protocol",
        chart_of(*GRADE2, *(given("tocilizumab", h) for h in (70, 50, 30, 10))),
        Expect(suggests={}, withheld={"tocilizumab": "institutional protocol for alternative agents"}),
    ),
    (
        "M-TOCI-LIMITS 7.9 h since the last dose",
        chart_of(*vitals(systolic=85, hours_ago=9), given("tocilizumab", 7.9), *GRADE2),
        Expect(suggests={}, withheld={"tocilizumab": "less than 8 h since the last dose"}),
    ),
    (
        "M-TOCI-LIMITS exactly 8 h since the last dose is allowed without improvement",
        chart_of(*vitals(systolic=85, hours_ago=9), given("tocilizumab", 8), *GRADE2),
        Expect(suggests={"tocilizumab": 560}, withheld={}, no_steps=["Do not delay"]),
    ),
    (
        "M-TOCI-LIMITS no repeat dose while improving",
        chart_of(
            *vitals(hours_ago=12), given("norepinephrine", 14, ended_hours_ago=6), given("tocilizumab", 11), *GRADE2
        ),
        Expect(managed=2, suggests={}, withheld={"tocilizumab": "improving since the last dose (grade 3 then, 2 now)"}),
    ),
    (
        "M-TOCI-LIMITS grade at the last dose unknown: repeat allowed and flagged",
        chart_of(given("tocilizumab", 10), *GRADE2),
        Expect(suggests={"tocilizumab": 560}, flags={"grade-at-last-dose-unknown"}),
    ),
    (
        "M-TOCI-LIMITS an active tocilizumab order not yet given blocks a new one",
        chart_of(*GRADE2, order("tocilizumab", dose=(560, "mg"))),
        Expect(suggests={}, withheld={"tocilizumab": "active tocilizumab order"}),
    ),
    # M-G2-DEX
    (
        "M-G2-DEX hypotension persists after two boluses and tocilizumab: dexamethasone q12h",
        chart_of(bp(12, 118), temp(12, 38.4), bp(10, 85), bolus(9), bolus(8), given("tocilizumab", 7), *GRADE2),
        Expect(managed=2, suggests={"dexamethasone": 10}, interval_hours={"dexamethasone": 12}, rules={"M-G2-DEX"}),
    ),
    (
        "M-G2-DEX one bolus only: the step is stated, not ordered",
        chart_of(bp(12, 118), bp(10, 85), bolus(9), given("tocilizumab", 7), *GRADE2),
        Expect(suggests={}, steps=["If hypotension persists after two fluid boluses"]),
    ),
    (
        "M-G2-DEX no hypotensive reading since tocilizumab: persistence not shown",
        chart_of(
            bp(12, 118),
            bp(10, 85),
            bolus(9),
            bolus(8),
            given("tocilizumab", 7),
            temp(1, 38.6),
            spo2(1, 95),
            device(1, "room air"),
        ),
        Expect(managed=2, suggests={}, steps=["If hypotension persists"]),
    ),
    (
        "M-G2-DEX maintenance fluid over 8 h is not a bolus",
        chart_of(bp(12, 118), bp(10, 85), bolus(9), bolus(8.9, minutes=480), given("tocilizumab", 7), *GRADE2),
        Expect(suggests={}, no_rules={"M-STEROID-SELECT"}),
    ),
    # M-G2-ESCALATE
    (
        "M-G2-ESCALATE no improvement 24 h after tocilizumab: manage as grade 3",
        chart_of(
            *vitals(systolic=85, hours_ago=30), given("tocilizumab", 25), *vitals(systolic=86, hours_ago=12), *GRADE2
        ),
        Expect(
            managed=3,
            suggests={"dexamethasone": 10, "tocilizumab": 560},
            interval_hours={"dexamethasone": 6},
            rules={"M-G2-ESCALATE", "M-G3"},
        ),
    ),
    (
        "M-G2-ESCALATE 23 h after tocilizumab is too early",
        chart_of(*vitals(systolic=85, hours_ago=30), given("tocilizumab", 23), *GRADE2),
        Expect(managed=2, no_rules={"M-G2-ESCALATE"}),
    ),
    (
        "M-G2-ESCALATE improved to grade 1: no escalation",
        chart_of(*vitals(systolic=85, hours_ago=30), given("tocilizumab", 25), *vitals()),
        Expect(managed=1, no_rules={"M-G2-ESCALATE"}),
    ),
    # M-G3
    (
        "M-G3 vasopressor: dexamethasone 10 mg q6h, tocilizumab, ICU care",
        chart_of(*GRADE3),
        Expect(
            managed=3,
            suggests={"dexamethasone": 10, "tocilizumab": 560},
            interval_hours={"dexamethasone": 6},
            steps=["Immediate ICU admission required"],
            indicator="critical",
        ),
    ),
    # M-EARLY-STEROID
    (
        "M-EARLY-STEROID axicabtagene ciloleucel at grade 2: dexamethasone q12h now",
        chart_of(*GRADE2, product="axicabtagene ciloleucel"),
        Expect(
            managed=2,
            suggests={"dexamethasone": 10, "tocilizumab": 560},
            interval_hours={"dexamethasone": 12},
            rules={"M-EARLY-STEROID"},
        ),
    ),
    (
        "M-EARLY-STEROID brexucabtagene autoleucel at grade 2",
        chart_of(*GRADE2, product="brexucabtagene autoleucel"),
        Expect(suggests={"dexamethasone": 10, "tocilizumab": 560}, rules={"M-EARLY-STEROID"}),
    ),
    (
        "M-EARLY-STEROID not for tisagenlecleucel",
        chart_of(*GRADE2),
        Expect(suggests={"tocilizumab": 560}, no_rules={"M-EARLY-STEROID"}),
    ),
    # M-G4
    (
        "M-G4 two vasopressors: methylprednisolone 500 mg q12h and the whole taper",
        chart_of(*GRADE4),
        Expect(
            managed=4,
            suggests={"methylprednisolone": 500, "tocilizumab": 560},
            interval_hours={"methylprednisolone": 12},
            steps=[
                "500 mg every 12 h x 3 days -> 250 mg every 12 h x 2 days -> 125 mg every 12 h x 2 days -> 60 mg every 12 h until CRS grade 1 or less"
            ],
            indicator="critical",
        ),
    ),
    (
        "M-G4 methylprednisolone 500 mg for 30 h with grade still 4: consider 1000 mg, not pre-selected",
        chart_of(*GRADE4, *(given("methylprednisolone", h, dose=(500, "mg")) for h in (30, 18, 6))),
        Expect(
            suggests={"methylprednisolone": 1000, "tocilizumab": 560},
            not_preselected={"methylprednisolone"},
            steps=["day 2 of the course: today's step is 500 mg every 12 h"],
        ),
    ),
    (
        "M-G4 taper step on day 4 is 250 mg",
        chart_of(
            *vitals(),
            *(given("methylprednisolone", h, dose=(500, "mg")) for h in (80, 68, 56, 44, 32, 20)),
            given("methylprednisolone", 8, dose=(250, "mg")),
        ),
        Expect(steps=["day 4 of the course: today's step is 250 mg every 12 h"]),
    ),
    # M-HLH
    (
        "M-HLH ferritin 10,001 with ALT above 5 x ULN: manage as grade 3, critical",
        chart_of(*vitals(), lab("ferritin", 10001), lab("alt", 201)),
        Expect(managed=3, suggests={"dexamethasone": 10, "tocilizumab": 560}, rules={"M-HLH"}, indicator="critical"),
    ),
    (
        "M-HLH ferritin 10,000 does not qualify",
        chart_of(*vitals(), lab("ferritin", 10000), lab("alt", 400)),
        Expect(managed=1, no_rules={"M-HLH"}),
    ),
    (
        "M-HLH ALT exactly 5 x ULN does not qualify",
        chart_of(*vitals(), lab("ferritin", 20000), lab("alt", 200)),
        Expect(managed=1, no_rules={"M-HLH"}),
    ),
    (
        "M-HLH the lab's own upper limit of normal is used",
        chart_of(*vitals(), lab("ferritin", 20000), lab("alt", 250, uln=60)),
        Expect(managed=1, no_rules={"M-HLH"}),
    ),
    (
        "M-HLH creatinine above 3 x ULN counts",
        chart_of(*vitals(), lab("ferritin", 20000), lab("creatinine", 3.7)),
        Expect(managed=3, rules={"M-HLH"}),
    ),
    (
        "M-HLH criteria for 50 h without improvement: consider HLH-2004",
        chart_of(
            *vitals(hours_ago=50),
            lab("ferritin", 15000, hours_ago=50),
            lab("alt", 300, hours_ago=50),
            *vitals(),
            lab("ferritin", 16000),
            lab("alt", 320),
        ),
        Expect(managed=3, steps=["consider the HLH-2004 protocol"]),
    ),
    # M-ICANS
    (
        "M-ICANS grade 1 CRS with ICANS 2: dexamethasone, indicator at least warning",
        chart_of(*vitals(), icans(1, 2)),
        Expect(
            managed=1,
            suggests={"dexamethasone": 10},
            interval_hours={"dexamethasone": 6},
            rules={"M-ICANS"},
            indicator="warning",
        ),
    ),
    (
        "M-ICANS vetoes tocilizumab of a persistent fever and the no-delay warning",
        chart_of(*fevers(80, 60, 40, 20), *vitals(hours_ago=2), icans(1, 2)),
        Expect(
            managed=2,
            suggests={"dexamethasone": 10},
            withheld={"tocilizumab": "blood-brain barrier"},
            no_steps=["Do not delay"],
        ),
    ),
    (
        "M-ICANS ICE score 5 is ICANS grade 2",
        chart_of(*vitals(), ice_score(1, 5)),
        Expect(suggests={"dexamethasone": 10}, rules={"M-ICANS"}),
    ),
    (
        "M-ICANS grade 3 adds the institutional ICANS protocol",
        chart_of(*vitals(), icans(1, 3)),
        Expect(steps=["institutional ICANS protocol"]),
    ),
    (
        "M-ICANS without CRS does not apply",
        chart_of(*vitals(temp_c=37), icans(1, 2)),
        Expect(managed=0, suggests={}, no_rules={"M-ICANS"}),
    ),
    (
        "M-ICANS grade 2 CRS keeps tocilizumab",
        chart_of(*GRADE2, icans(1, 2)),
        Expect(suggests={"tocilizumab": 560, "dexamethasone": 10}, rules={"M-ICANS"}),
    ),
    # M-STEROID-SELECT
    (
        "M-STEROID-SELECT grade 4 with ICANS: one steroid, the most intensive",
        chart_of(*GRADE4, icans(1, 2)),
        Expect(suggests={"methylprednisolone": 500, "tocilizumab": 560}),
    ),
    (
        "M-STEROID-SELECT methylprednisolone in 24 h: its taper step, no dexamethasone",
        chart_of(*GRADE3, given("methylprednisolone", 10, dose=(500, "mg"))),
        Expect(suggests={"tocilizumab": 560}, steps=["Methylprednisolone is running"]),
    ),
    (
        "M-STEROID-SELECT a steroid in 24 h at grade 1: taper rapidly, no order",
        chart_of(*vitals(), given("dexamethasone", 10, dose=(10, "mg"))),
        Expect(managed=1, suggests={}, steps=["taper it rapidly"]),
    ),
    # M-ACTIVE-ORDER
    (
        "M-ACTIVE-ORDER active dexamethasone q6h order: continue, no duplicate",
        chart_of(*GRADE3, order("dexamethasone", dose=(10, "mg"), every_hours=6)),
        Expect(
            suggests={"tocilizumab": 560},
            steps=["Continue dexamethasone 10 mg every 6 h, ordered 11:00 UTC, 1 h ago"],
        ),
    ),
    (
        "M-ACTIVE-ORDER a q12h order is less than the grade 3 regimen: q6h suggested",
        chart_of(*GRADE3, order("dexamethasone", dose=(10, "mg"), every_hours=12)),
        Expect(suggests={"dexamethasone": 10, "tocilizumab": 560}, interval_hours={"dexamethasone": 6}),
    ),
    (
        "M-ACTIVE-ORDER dexamethasone given 7 h ago runs q6h + 2 h",
        chart_of(*GRADE3, given("dexamethasone", 7)),
        Expect(
            suggests={"tocilizumab": 560},
            steps=["Continue dexamethasone (dose not documented), last given 05:00 UTC, 7 h ago"],
        ),
    ),
    (
        "M-ACTIVE-ORDER dexamethasone given 9 h ago is not running",
        chart_of(*GRADE3, given("dexamethasone", 9)),
        Expect(suggests={"dexamethasone": 10, "tocilizumab": 560}),
    ),
    # M-STEROID-ANTIFUNGAL
    (
        "M-STEROID-ANTIFUNGAL steroid suggested, no antifungal",
        chart_of(*GRADE3),
        Expect(steps=["antifungal prophylaxis"]),
    ),
    (
        "M-STEROID-ANTIFUNGAL posaconazole in 48 h",
        chart_of(*GRADE3, given("posaconazole", 12)),
        Expect(no_steps=["antifungal prophylaxis"]),
    ),
    (
        "M-STEROID-ANTIFUNGAL dexamethasone 5 days ago",
        chart_of(*vitals(), given("dexamethasone", 120)),
        Expect(steps=["antifungal prophylaxis"]),
    ),
    ("M-STEROID-ANTIFUNGAL no steroid, no reminder", chart_of(*GRADE2), Expect(no_steps=["antifungal prophylaxis"])),
    # M-NO-DELAY
    ("M-NO-DELAY grade 2 without tocilizumab yet", chart_of(*GRADE2), Expect(steps=["Do NOT delay tocilizumab"])),
    (
        "M-NO-DELAY not once tocilizumab was given",
        chart_of(*GRADE2, given("tocilizumab", 10)),
        Expect(no_steps=["Do not delay"]),
    ),
    # M-MONITOR
    (
        "M-MONITOR grade 2: telemetry and pulse oximetry",
        chart_of(*GRADE2),
        Expect(steps=["Continuous cardiac telemetry"]),
    ),
    (
        "M-MONITOR grade 1: no telemetry reminder",
        chart_of(*vitals()),
        Expect(no_steps=["Continuous cardiac telemetry"]),
    ),
    (
        "M-MONITOR baseline labs present: no reminder",
        chart_of(*vitals()),
        Expect(no_steps=["Baseline labs"], steps=["Grade CRS at least every 12 h", "infection work-up"]),
    ),
    (
        "M-MONITOR baseline labs missing are listed",
        [patient(), car_t(hours_ago=96), weight(70), *vitals(), lab("crp", 50), lab("ferritin", 900)],
        Expect(steps=["Baseline labs in the 7 days before the CAR T infusion not found: CBC, CMP"]),
    ),
    (
        "M-MONITOR CRP older than 24 h: daily CRP and ferritin",
        chart_of(*vitals(), lab("crp", 50, hours_ago=30), lab("ferritin", 800), daily_labs=False),
        Expect(steps=["CRP and ferritin every 24 h: CRP not resulted in the last 24 h"]),
    ),
    ("M-MONITOR CRP and ferritin fresh: no reminder", chart_of(*vitals()), Expect(no_steps=["Daily CRP and ferritin"])),
    ("M-MONITOR afebrile: no infection work-up", chart_of(*vitals(temp_c=37)), Expect(no_steps=["infection work-up"])),
    # M-INDICATOR
    ("M-INDICATOR grade 0 is info", chart_of(*vitals(temp_c=37)), Expect(managed=0, indicator="info")),
    ("M-INDICATOR grade 2 is warning", chart_of(*GRADE2), Expect(indicator="warning")),
    ("M-INDICATOR grade 4 is critical", chart_of(*GRADE4), Expect(indicator="critical")),
    ("M-INDICATOR null grade is at least warning", chart_of(), Expect(managed=None, indicator="warning")),
    (
        "M-INDICATOR partial data is at least warning",
        chart_of(temp(1, 38.6), bp(1, 120)),
        Expect(managed=1, indicator="warning"),
    ),
    (
        "M-INDICATOR support without fever on a vasopressor (class 3) is critical",
        chart_of(*vitals(temp_c=37), given("norepinephrine", 3, running=True)),
        Expect(managed=0, flags={"support-without-fever"}, indicator="critical"),
    ),
    (
        "M-INDICATOR support without fever on a non-rebreather (class 3) is critical",
        chart_of(*vitals(temp_c=37, o2="non-rebreather")),
        Expect(managed=0, flags={"support-without-fever"}, indicator="critical"),
    ),
    (
        "M-INDICATOR support without fever on nasal cannula (class 2) stays info",
        chart_of(*vitals(temp_c=37, o2="nasal cannula")),
        Expect(managed=0, flags={"support-without-fever"}, indicator="info"),
    ),
]


def check(assessment: Assessment, expect: Expect) -> None:
    assert assessment.in_scope
    if expect.managed != "any":
        assert assessment.managed_grade == expect.managed
    suggested = {order.drug: order for order in assessment.recommended}
    if expect.suggests is not None:
        assert {drug: order.dose_mg for drug, order in suggested.items()} == expect.suggests
    for drug, hours in expect.interval_hours.items():
        assert suggested[drug].interval_hours == hours
    for drug in expect.not_preselected:
        assert suggested[drug].is_recommended is False
    withheld = {item.drug: reasons(item) for item in assessment.withheld}
    for drug, reason in expect.withheld.items():
        assert reason in withheld.get(drug, ""), withheld
    texts = said((*assessment.next_steps, *assessment.reminders))
    for text in expect.steps:
        assert text in texts
    for text in expect.no_steps:
        assert text not in texts
    assert expect.rules <= set(assessment.rules)
    assert not expect.no_rules & set(assessment.rules)
    assert expect.flags <= set(assessment.flags)
    if expect.indicator:
        assert assessment.indicator == expect.indicator


@pytest.mark.parametrize(("case", "resources", "expect"), CASES, ids=[row[0] for row in CASES])
def test_management(case: str, resources: list[Resource], expect: Expect) -> None:
    check(chart(resources), expect)


@pytest.mark.parametrize(
    ("case", "resources", "in_scope"),
    [
        ("C0 no CAR T infusion: out of scope", [patient(), *vitals()], False),
        (
            "C0 31 days after CAR T at grade 0: out of scope",
            [patient(), car_t(hours_ago=31 * 24), *vitals(temp_c=37)],
            False,
        ),
        (
            "C0 29 days after CAR T at grade 0: in scope",
            [patient(), car_t(hours_ago=29 * 24), *vitals(temp_c=37)],
            True,
        ),
        ("C0 31 days after CAR T at grade 1: in scope", [patient(), car_t(hours_ago=31 * 24), *vitals()], True),
        (
            "C0 31 days after CAR T with dexamethasone 48 h ago: in scope",
            [patient(), car_t(hours_ago=31 * 24), *vitals(temp_c=37), given("dexamethasone", 48)],
            True,
        ),
        (
            "C0 split dosing: the window runs from the last infusion",
            [patient(), car_t(hours_ago=40 * 24), car_t(hours_ago=20 * 24), *vitals(temp_c=37)],
            True,
        ),
    ],
)
def test_scope(case: str, resources: list[Resource], in_scope: bool) -> None:
    assessment = chart(resources)

    assert assessment.in_scope is in_scope
    if not in_scope:
        assert assessment.recommended == ()


def test_C0_split_dosing_keeps_the_first_infusion_as_t0() -> None:
    assessment = chart([patient(), car_t(hours_ago=72), car_t(hours_ago=24), *vitals()])

    assert assessment.t0 is not None
    assert assessment.t0.isoformat() == "2026-11-17T12:00:00+00:00"


def test_C0_order_hooks_count_an_ordered_car_t_product() -> None:
    resources = [patient(), *vitals(temp_c=37), order("tisagenlecleucel")]

    assert not chart(resources).in_scope
    assert chart(resources, orders_in_scope=True).in_scope


def test_M_NO_GMCSF_never_suggested_in_any_case() -> None:
    for _case, resources, _expect in CASES:
        assert all(order.drug != "sargramostim" for order in chart(resources).recommended)


def test_every_note_has_a_registered_wording_key_and_parameters() -> None:
    from service.crs.notes import NOTE_PARAMS

    for _case, resources, _expect in CASES:
        assessment = chart(resources)
        for note in (*assessment.next_steps, *assessment.reminders):
            assert note.key in NOTE_PARAMS, note.key
            assert set(note.params) <= set(NOTE_PARAMS[note.key]), note.key
