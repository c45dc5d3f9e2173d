"""M-CARD-LAYOUT: every number in a card comes from the policy in force.

Each row edits one policy value that appears in a text, renders the cards of a chart that shows it, and checks
that the card states the edited value (and no longer the default). A second check fails on any number written
into a default text (cards/texts.toml, cards.toml, orders.toml): numbers are parameters, never words.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import pytest

from service.cards.render import CardRenderer
from service.crs.engine import assess, check_drafts
from service.crs.policy import Policy, TaperStep
from service.settings import BUNDLED_CATALOG_DIR
from tests.fhir_builders import (
    NOW,
    POLICY,
    TRANSLATOR,
    baseline_panel,
    bp,
    car_t,
    device,
    fio2,
    given,
    icans,
    lab,
    order,
    patient,
    spo2,
    temp,
    weight,
)
from tests.golden_cases import vitals
from tests.wording_support import CATALOG

Resource = dict[str, Any]
RENDERER = CardRenderer(CATALOG, new_uuid=lambda: "uuid")


def adult(
    *items: Resource, kg: float | None = 70, labs: bool = True, birth: str | None = "1970-01-01"
) -> list[Resource]:
    base = [patient(birth), car_t(hours_ago=96), *baseline_panel(24, 96)]
    base += [lab("crp", 40), lab("ferritin", 900), lab("anc", 1.2)] if labs else []
    return [*base, *([weight(kg)] if kg else []), *items]


GRADE_2 = adult(*vitals(systolic=85))
GRADE_3 = adult(*vitals(), given("norepinephrine", 4, running=True))
GRADE_4 = adult(*vitals(o2="BiPAP mask"), given("norepinephrine", 4, running=True))
GRADE_4_ON_METHYLPREDNISOLONE = adult(
    *vitals(),
    given("norepinephrine", 80, running=True),
    given("phenylephrine", 80, running=True),
    *(given("methylprednisolone", h, dose=(500, "mg")) for h in (32, 20, 8)),
    given("tocilizumab", 70),
)
FEVER_UNKNOWN = adult(bp(1, 100), device(1, "mechanical ventilator"), given("norepinephrine", 5, running=True))
HLH = adult(
    *vitals(),
    *(lab(kind, value, hours_ago=h) for h in (50, 2) for kind, value in (("ferritin", 18000), ("ast", 450))),
    labs=False,
)
CHILD_22_KG = [
    patient("2018-05-01"),
    car_t(hours_ago=96),
    *baseline_panel(24, 96),
    weight(22),
    *vitals(systolic=60),
]
PERSISTENT_FEVER = adult(*(temp(h, 38.5) for h in (90, 70, 50, 30, 10)), bp(1, 120), spo2(1, 95), device(1, "room air"))
NO_IMPROVEMENT = adult(
    temp(31, 38.6), bp(31, 85), spo2(31, 95), device(31, "room air"), *vitals(systolic=85), given("tocilizumab", 30)
)


def edit(policy: Policy, path: str, value: Any) -> Policy:
    """The policy with one value replaced (``section.key``)."""
    section, key = path.split(".")
    return policy.model_copy(update={section: getattr(policy, section).model_copy(update={key: value})})


def taper_first_dose(mg: float) -> Any:
    first, *rest = POLICY.steroids.methylprednisolone_taper
    return (TaperStep(dose_mg=mg, interval_hours=first.interval_hours, days=first.days), *rest)


@dataclass
class Row:
    path: str
    value: Any
    chart: list[Resource]
    says: str
    no_longer: str = ""
    drafts: list[Resource] = field(default_factory=list)


ROWS = [
    Row("tocilizumab.mg_per_kg", 6, GRADE_2, "Tocilizumab 420 mg IV over 60 min (6 mg/kg x 70 kg", "8 mg/kg"),
    Row("tocilizumab.max_mg", 500, GRADE_2, "tocilizumab 500 mg IV", "max 800 mg"),
    Row("tocilizumab.min_interval_hours", 6, GRADE_2, "Repeat every 6 h if no improvement", "every 8 h"),
    Row("tocilizumab.max_doses_per_24h", 2, GRADE_2, "at most 2 doses in 24 h", "3 doses"),
    Row("tocilizumab.max_total_doses", 5, GRADE_2, "and 5 in total", "4 in total"),
    Row("tocilizumab.infusion_minutes", 90, GRADE_2, "IV over 90 min", "over 60 min"),
    Row("tocilizumab.label_mg_per_kg_under_threshold", 10, CHILD_22_KG, "label dose is 10 mg/kg", "12 mg/kg"),
    Row("tocilizumab.label_weight_threshold_kg", 25, CHILD_22_KG, "under 25 kg the tocilizumab label", "30 kg"),
    Row("steroids.dexamethasone_mg", 12, GRADE_3, "dexamethasone 12 mg IV q6h", "10 mg"),
    Row("steroids.dexamethasone_grade3_interval_hours", 8, GRADE_3, "Dexamethasone 10 mg IV every 8 h", "q6h"),
    Row(
        "steroids.dexamethasone_grade2_interval_hours",
        10,
        GRADE_2,
        "dexamethasone 10 mg IV every 10 h",
        "every 12 h for",
    ),
    Row("steroids.dexamethasone_grade2_max_doses", 3, GRADE_2, "for up to 3 doses", "up to 2"),
    Row("steroids.methylprednisolone_taper", taper_first_dose(400), GRADE_4, "methylprednisolone 400 mg IV q12h"),
    Row("steroids.methylprednisolone_escalation_mg", 900, GRADE_4_ON_METHYLPREDNISOLONE, "Methylprednisolone 900 mg"),
    Row("steroids.methylprednisolone_escalation_after_hours", 20, GRADE_4_ON_METHYLPREDNISOLONE, "after 20 h of"),
    Row("steroids.dexamethasone_icans_interval_hours", 4, adult(*vitals(), icans(1, 2)), "every 4-12 h", "6-12"),
    Row("steroids.dexamethasone_icans_interval_max_hours", 10, adult(*vitals(), icans(1, 2)), "every 6-10 h"),
    Row("fever.threshold_c", 38.3, FEVER_UNKNOWN, "if 38.3 °C or more", "38 °C"),
    Row("fever.window_hours", 20, GRADE_3, "Highest temperature in 20 h", "in 24 h:"),
    Row("freshness.vitals_hours", 20, adult(temp(1, 38.6), bp(1, 120)), "documented in the last 20 h"),
    Row("freshness.weight_days", 20, adult(*vitals(systolic=85), kg=None), "no weight in the last 20 days"),
    Row("freshness.labs_hours", 36, adult(*vitals(), labs=False), "No ANC in the last 36 h", "48 h"),
    Row("freshness.vitals_interval_hours", 6, FEVER_UNKNOWN, "pulse oximetry every 6 h", "every 4 h"),
    Row("freshness.crp_ferritin_interval_hours", 12, adult(*vitals(), labs=False), "CRP and ferritin every 12 h"),
    Row("freshness.baseline_window_days", 10, [patient(), car_t(hours_ago=96), *vitals()], "in the 10 days before"),
    Row("plausible.weight_change_pct", 25, adult(*vitals(systolic=85), weight(40, 2)), "by more than 25 %"),
    Row("management.persistent_fever_hours", 60, PERSISTENT_FEVER, "fever for more than 60 h", "72 h"),
    Row(
        "management.no_improvement_hours",
        20,
        NO_IMPROVEMENT,
        "no improvement 20 h after tocilizumab",
        "improvement 24 h after",
    ),
    Row("management.neutropenia_anc_below", 1.5, adult(*vitals(), lab("anc", 1.2)), "ANC 1.2 x10^9/L"),
    Row("hlh.ferritin_above_ng_ml", 15000, HLH, "above 15,000", "10,000"),
    Row("hlh.hlh2004_after_hours", 36, HLH, "No improvement after 36 h: consider the HLH-2004", "after 48 h"),
    Row("hlh.transaminase_uln_multiple", 4, HLH, "above 4 x the upper limit", "5 x"),
    Row("hypotension.adult_sbp_below", 95, GRADE_2, "hypotension if below 95", "below 90"),
    Row("hypotension.adult_map_below", 60, GRADE_2, "hypotension if below 60", "below 65"),
    Row("support.room_air_fio2_max_pct", 22, adult(*vitals(o2="CPAP unit"), fio2(1, 21)), "FiO2 22 % or less"),
    Row(
        "steroids.dexamethasone_max_mg_per_dose",
        15,
        GRADE_3,
        "Dexamethasone 18 mg is above 15 mg per dose",
        drafts=[order("dexamethasone", status="draft", dose=(18, "mg"))],
    ),
    Row(
        "tocilizumab.max_mg",
        520,
        GRADE_2,
        "the protocol dose is 520 mg (8 mg/kg, max 520 mg)",
        "800 mg",
        drafts=[order("tocilizumab", status="draft", dose=(1000, "mg"))],
    ),
]


def rendered(resources: list[Resource], policy: Policy, drafts: list[Resource]) -> str:
    """Every word a clinician reads on the cards: summaries, details, suggestion labels and descriptions."""
    timeline = TRANSLATOR.timeline(resources, drafts)
    if drafts:
        _assessment, checks = check_drafts(timeline, policy, NOW, timeline.draft_orders)
        by_reference = {f"MedicationRequest/{draft['id']}": draft for draft in drafts}
        cards = RENDERER.order_checks(checks, by_reference)
    else:
        cards = RENDERER.patient_view(assess(timeline, policy, NOW), "pat-1")
    return "\n".join(text for card in cards for text in words(card.card))


def words(card: dict[str, Any]) -> list[str]:
    offers = [(s["label"], s["actions"][0].get("description", "")) for s in card.get("suggestions", [])]
    return [card["summary"], card["detail"], *(text for offer in offers for text in offer)]


@pytest.mark.parametrize("row", ROWS, ids=[row.path for row in ROWS])
def test_M_CARD_LAYOUT_the_card_follows_each_policy_value(row: Row) -> None:
    before = rendered(row.chart, POLICY, row.drafts)
    after = rendered(row.chart, edit(POLICY, row.path, row.value), row.drafts)

    assert row.says not in before, "the row must show a change"
    assert row.says in after, after
    if row.no_longer:
        assert row.no_longer in before
        assert row.no_longer not in after.replace(row.says, ""), after


def test_the_time_zone_of_the_policy_names_every_time() -> None:
    chart = adult(*vitals(systolic=85), *(given("tocilizumab", h) for h in (23, 15, 8.5)))

    berlin = rendered(chart, POLICY.model_copy(update={"time_zone": "Europe/Berlin"}), [])

    assert "Next dose allowed from 14:00 CET, in 1 h" in berlin
    assert "tocilizumab not now (from 14:00 CET, in 1 h)" in berlin
    assert "UTC" not in berlin
    assert re.findall(r"\d\d:\d\d(?! CET)", berlin) == []


NUMBER = re.compile(r"(?<![\w.^-])\d+(?:[.,]\d+)?(?![\w^])")
NOT_POLICY = [
    r"\{\{.*?\}\}",  # parameters
    r"\{%.*?%\}",  # template logic
    r"\b[Gg]rade \d( or (more|less))?",  # ASTCT and ICANS grades are the scale, not policy values
    r"x10\^9/L",  # a unit
    r"HLH-2004",  # a protocol's name
    r"FiO2|SpO2|G92\.0\d",  # names
    r"Lee et al\. 2019|10\.1016/j\.bbmt\.2018\.12\.758|articles/\d+",  # the references
]


def literal_numbers(template: str) -> list[str]:
    for pattern in NOT_POLICY:
        template = re.sub(pattern, " ", template, flags=re.DOTALL)
    return NUMBER.findall(template)


def test_no_default_text_writes_a_number() -> None:
    """Numbers are parameters taken from the policy in force or the chart, never words of a text."""
    texts = tomllib.loads((BUNDLED_CATALOG_DIR / "texts.toml").read_text(encoding="utf-8"))["texts"]
    cards = tomllib.loads((BUNDLED_CATALOG_DIR / "cards.toml").read_text(encoding="utf-8"))
    orders = tomllib.loads((BUNDLED_CATALOG_DIR / "orders.toml").read_text(encoding="utf-8"))
    sources = {f"texts.{key}": text for key, text in texts.items()}
    for name, kind in cards["kinds"].items():
        sources |= {f"kinds.{name}.summary": kind["summary"], f"kinds.{name}.detail": kind["detail"]}
    sources |= {f"drugs.{name}.note": drug.get("note", "") for name, drug in orders["drugs"].items()}
    sources["defaults.source_label"] = cards["defaults"]["source_label"]

    found = {where: literal_numbers(text) for where, text in sources.items() if literal_numbers(text)}

    assert found == {}


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Tocilizumab 8 mg/kg IV", ["8"]),
        ("every {{ interval }} h, at most 3 doses in 24 h", ["3", "24"]),
        ("ICANS grade 3 or more; ANC x10^9/L; HLH-2004", []),
        ("Ferritin above 10,000 ng/mL", ["10,000"]),
    ],
)
def test_the_number_check_finds_numbers_written_into_a_text(text: str, numbers: list[str]) -> None:
    assert literal_numbers(text) == numbers
