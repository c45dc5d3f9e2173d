"""Issue 13: the speed-ups of card rendering change no rendered byte.

The oracle is the straightforward rendering the speed-ups replaced, kept here: every text compiled by a plain
sandboxed Jinja environment (globals as Jinja makes them) and rendered at each call, no plain-text words kept,
no memo; the card assembled field by field from the catalog; the old clean-up of a card's detail;
``copy.deepcopy`` of a draft. Cards are compared as the bytes of their JSON (key order included). Every fixture in ``fhir_fixtures/``
and every golden chart are rendered with a cold catalog, again warm, after another catalog (a site override),
and under a second policy (another zone, another dose limit); each must equal the oracle card for card.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from service.cards import medication_request
from service.cards.catalog import CardCatalog, CompiledKind, load_card_catalog
from service.cards.errors import CatalogError
from service.cards.medication_request import json_copy
from service.cards.render import CardRenderer, RenderedCard, _at_least, render_detail, render_summary
from service.cards.templates import MEMO_SIZE, Text, compile_source
from service.cards.validate import validate_catalog
from service.cards.wording import WORDING_PARAMS, Blank, Wording
from service.crs.assessment import Indicator
from service.crs.engine import assess, check_drafts
from service.crs.policy import Policy
from service.fixtures import FIXTURES_DIR, fixture_paths, read_fixture, resources_of, shifted
from service.settings import BUNDLED_CATALOG_DIR
from tests.fhir_builders import NOW, POLICY, TRANSLATOR
from tests.golden_cases import CASES
from tests.wording_support import CATALOG

REFERENCE = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
SECOND_POLICY = POLICY.model_copy(
    update={"time_zone": "Asia/Kolkata", "tocilizumab": POLICY.tocilizumab.model_copy(update={"max_mg": 520})}
)
SITE_TEXTS = {
    "M-NO-DELAY": "Give tocilizumab now: each {{ hours }} h of delay matters.",
    "bedside": "Confirm at the bedside:\n  ICU admission,   cultures.",
    "withheld": "{{ drug | upper }} held: {{ parts | join(' / ') }}{% if next_allowed %} until {{ next_allowed.full }}"
    " ({{ next_allowed.when }}){% endif %}.",
    "order.short": "{{ drug | title }} {{ dose_mg or dose_mg_per_kg }}{% if interval %} every {{ interval }} h{% endif %}",
}


def reference_compile(source: str) -> Template:
    return REFERENCE.from_string(source.strip("\n"))


class ReferenceWording(Wording):
    """Every text rendered by Jinja at each call, as before issue 13."""

    def __init__(self, sources: dict[str, Template], zone: str, now: datetime) -> None:
        super().__init__({}, zone, now)
        self.sources = sources

    def text(self, key: str, parts: list[str] | None = None, /, **params: Any) -> str:
        values: dict[str, Any] = {name: Blank() for name in WORDING_PARAMS.get(key, ())}
        values.update({name: self.value(item) for name, item in params.items() if item is not None})
        values["parts"] = parts or []
        return " ".join(self.sources[key].render(**values).split())


class ReferenceRenderer(CardRenderer):
    def __init__(self, catalog: CardCatalog) -> None:
        assert catalog.texts_path is not None
        sources = tomllib.loads(catalog.texts_path.read_text(encoding="utf-8"))["texts"]
        sources |= tomllib.loads(catalog.cards_path.read_text(encoding="utf-8")).get("texts", {})
        self.templates = {key: reference_compile(source) for key, source in sources.items()}
        kinds = {
            name: dataclasses.replace(
                kind, summary=reference_compile(kind.entry.summary), detail=reference_compile(kind.entry.detail)
            )
            for name, kind in catalog.kinds.items()
        }
        label = reference_compile(catalog.defaults.source_label)
        super().__init__(dataclasses.replace(catalog, kinds=kinds, source_label=label), new_uuid=lambda: "uuid")

    def wording(self, zone: str, now: datetime) -> Wording:
        return ReferenceWording(self.templates, zone, now)

    def _card(
        self,
        kind_name: str,
        context: dict[str, Any],
        level: tuple[Indicator, str],
        rules: tuple[str, ...],
        suggestions: list[dict[str, Any]],
        extension: dict[str, Any],
    ) -> RenderedCard:
        kind = self.catalog.kinds[kind_name]
        indicator, policy_version = level
        defaults = self.catalog.defaults
        card: dict[str, Any] = {
            "uuid": self._new_uuid(),
            "summary": render_summary(kind, context),
            "indicator": _at_least(indicator, kind.entry.indicator),
            "detail": reference_detail(kind.detail.render(**context), kind.entry.topic.display),
            "source": {
                "label": " ".join(self.catalog.source_label.render(policy_version=policy_version).split()),
                "url": defaults.source_url,
                "topic": kind.entry.topic.as_fhir(),
                **({"icon": defaults.source_icon} if defaults.source_icon else {}),
            },
        }
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = defaults.selection_behavior
        reasons = kind.entry.override_reasons or defaults.override_reasons
        if reasons:
            card["overrideReasons"] = [reason.as_fhir() for reason in reasons]
        links = [*(kind.entry.links or defaults.links), *filter(None, [defaults.smart_app])]
        if links:
            card["links"] = [link.as_cds() for link in links]
        if extension:
            card["extension"] = extension
        return RenderedCard(kind_name, tuple(rules), card, tuple(s["uuid"] for s in suggestions))


def site_catalog(tmp_path: Path) -> CardCatalog:
    site = tmp_path / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, site)
    cards = site / "cards.toml"
    texts = "\n".join(f"{json.dumps(key)} = {json.dumps(source)}" for key, source in SITE_TEXTS.items())
    cards.write_text(cards.read_text(encoding="utf-8").replace("[texts]", f"[texts]\n{texts}"), encoding="utf-8")
    catalog = load_card_catalog(site)
    assert catalog.overridden == set(SITE_TEXTS)
    return catalog


def charts() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(chart, drafts) of every fixture at NOW and every golden case."""
    found = []
    for path in fixture_paths(FIXTURES_DIR):
        drafts_path = FIXTURES_DIR / "drafts" / path.name
        drafts = list(resources_of(shifted(read_fixture(drafts_path), NOW))) if drafts_path.exists() else []
        found.append((list(resources_of(shifted(read_fixture(path), NOW))), drafts))
    return found + [(case.chart, case.drafts) for case in CASES]


Job = tuple[Any, ...]


def jobs(policy: Policy) -> list[Job]:
    """What the renderer is given for each chart: an assessment, and the order checks of its drafts."""
    found: list[Job] = []
    for chart, drafts in charts():
        timeline = TRANSLATOR.timeline(chart, drafts)
        found.append(("patient-view", assess(timeline, policy, NOW)))
        if drafts:
            checks = check_drafts(timeline, policy, NOW, timeline.draft_orders)[1]
            found.append(("order", checks, {f"MedicationRequest/{draft['id']}": draft for draft in drafts}))
    return found


JOBS = jobs(POLICY) + jobs(SECOND_POLICY)


def render_all(renderer: CardRenderer) -> list[list[tuple[str, RenderedCard]]]:
    """Each card as the bytes of its JSON (key order included) and as rendered."""
    return [
        [(json.dumps(card.card, ensure_ascii=False), card) for card in cards]
        for cards in (
            renderer.patient_view(job[1], "pat-1") if job[0] == "patient-view" else renderer.order_checks(*job[1:])
            for job in JOBS
        )
    ]


def test_every_card_is_the_same_cold_warm_after_a_site_override_and_under_a_second_policy(tmp_path: Path) -> None:
    drafts = copy.deepcopy([job[2] for job in JOBS if job[0] == "order"])
    bundled, site = load_card_catalog(BUNDLED_CATALOG_DIR), site_catalog(tmp_path)  # fresh: every memo cold
    with mock.patch.object(medication_request, "json_copy", copy.deepcopy):
        expected = {id(catalog): render_all(ReferenceRenderer(catalog)) for catalog in (bundled, site)}
    cards = sum(len(rendered) for rendered in expected[id(bundled)])

    for catalog in (bundled, site, bundled, site):  # cold, cold, warm after the other catalog, warm
        assert render_all(CardRenderer(catalog, new_uuid=lambda: "uuid")) == expected[id(catalog)]

    assert cards >= 100
    assert expected[id(site)] != expected[id(bundled)]  # the override shows
    assert [job[2] for job in JOBS if job[0] == "order"] == drafts  # a corrected draft is a copy


class Shout(str):
    """A string equal to its lower-case twin that prints otherwise (what an enum member can do)."""

    def __str__(self) -> str:
        return self.upper()


def test_the_memo_tells_equal_values_of_different_types_apart_and_stays_bounded() -> None:
    wording = Wording({"x": Text.compile("{{ v }} {{ w | join(',') }}")}, "UTC", NOW)
    said = [wording.text("x", v=value, w=("a",)) for value in (True, 1, 1.0, "1", "a", Shout("a"), False, 0)]
    assert said == ["True a", "1 a", "1 a", "1 a", "a a", "A a", "False a", "0 a"]
    assert [wording.text("x", v="v", w=(value,)) for value in ("b", Shout("b"), True)] == ["v b", "v B", "v True"]
    for number in range(MEMO_SIZE * 2):
        assert wording.text("x", v=number, w=("a",)) == f"{number} a"
    assert len(wording._texts["x"].memo) <= MEMO_SIZE


def test_words_with_a_time_follow_the_moment_of_the_call() -> None:
    text = Text.compile("{{ time.when }}")
    at = datetime(2026, 11, 20, 8, tzinfo=UTC)
    said = [Wording({"x": text}, "UTC", NOW + timedelta(hours=h)).text("x", time=at) for h in (0, 1)]
    assert said == ["08:00 UTC, 4 h ago", "08:00 UTC, 5 h ago"]
    assert text.memo == {}


@pytest.mark.parametrize(
    ("source", "plain", "pure"),
    [
        ("No placeholder {# a comment #}here,\n  none.", "No placeholder here, none.", True),
        ("{{ 'x' }}", None, True),
        ("{% if v %}v{% endif %}", None, True),
        ("{{ [v, w] | random }}", None, False),
        ("{{ joiner() }} {{ lipsum(1) }}", None, False),
    ],
)
def test_plain_and_pure_texts_are_found_from_the_template(source: str, plain: str | None, pure: bool) -> None:
    text = Text.compile(source)
    assert (text.plain, text.pure) == (plain, pure)


@pytest.mark.parametrize(
    "source",
    ["{{ parts.__class__ }}", "{{ next_allowed.at.__class__.__mro__ }}", "{{ drug.__class__ }}", "{{ drug.__len__ }}"],
)
def test_a_site_text_still_reaches_no_internal_attribute(tmp_path: Path, source: str) -> None:
    site = tmp_path / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, site)
    cards = site / "cards.toml"
    cards.write_text(cards.read_text(encoding="utf-8").replace("[texts]", f'[texts]\n"withheld" = "{source}"'))

    with pytest.raises(CatalogError, match=r"texts\.withheld: access to attribute '__\w+__' of '\w+' object is unsafe"):
        validate_catalog(load_card_catalog(site), POLICY)


def reference_detail(text: str, topic: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = next((later for later in lines[index + 1 :] if later), "")
        between_items = not line and kept and kept[-1].startswith("- ") and following.startswith("- ")
        if not between_items and not (not line and kept and not kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip() or topic


ENTRY = CATALOG.kinds["icans"].entry
DETAIL = CompiledKind("icans", ENTRY, compile_source("x"), compile_source("{{ text }}"))
LINES = st.sampled_from(["", " ", "- item", "-  item ", "- ", "-item", "text", "**Do now**", "  - nested"])


@settings(max_examples=300, deadline=None)
@for_all(st.lists(LINES, max_size=14))
def test_the_detail_clean_up_is_the_old_one(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert render_detail(DETAIL, {"text": text}) == reference_detail(text, ENTRY.topic.display)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


def containers(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [id(value), *(found for item in value.values() for found in containers(item))]
    if isinstance(value, list):
        return [id(value), *(found for item in value for found in containers(item))]
    return []


@settings(max_examples=200, deadline=None)
@for_all(JSON)
def test_a_draft_is_copied_as_deepcopy_copies_it(value: Any) -> None:
    copied = json_copy(value)
    assert copied == copy.deepcopy(value)
    assert not set(containers(copied)) & set(containers(value))
