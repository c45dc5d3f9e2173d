"""Fixtures as timelines, and their layers, for the timeline tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from service.cards.catalog import load_card_catalog
from service.cards.wording import Wording
from service.crs.policy import Policy
from service.crs.timeline import Timeline
from service.fhir.bundles import bundle_resources
from service.fhir.translate import Translator
from service.policy_file import load_policy
from service.settings import BUNDLED_CATALOG_DIR, BUNDLED_POLICY
from service.timeline.layers import Layers, build_layers

FIXTURES = Path(__file__).resolve().parents[3] / "fhir_fixtures"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INDEX = {row["fixture"]: row for row in json.loads((FIXTURES / "index.json").read_text())}


@cache
def policy() -> Policy:
    return load_policy(BUNDLED_POLICY)


def chart(name: str) -> Timeline:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return Translator.from_policy(policy()).timeline(bundle_resources(document))


def layers_of(timeline: Timeline, now: datetime = NOW) -> Layers:
    """The layers as the page builds them, with the bundled card texts in UTC."""
    texts = load_card_catalog(BUNDLED_CATALOG_DIR).texts
    return build_layers(timeline, policy(), now, Wording(texts, "UTC", now))
