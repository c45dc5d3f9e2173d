"""Engine notes rendered with the bundled card catalog, so that engine tests read what a clinician reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from service.cards.catalog import load_card_catalog
from service.cards.wording import Wording
from service.crs.assessment import EvidenceItem, Note, RecommendedOrder, WithheldOrder
from service.settings import BUNDLED_CATALOG_DIR
from tests.fhir_builders import NOW

CATALOG = load_card_catalog(BUNDLED_CATALOG_DIR)


def wording(now: datetime = NOW, zone: str = "UTC") -> Wording:
    return Wording(CATALOG.texts, zone, now)


def say(note: Note, now: datetime = NOW) -> str:
    """The default text of a note, times in UTC relative to ``now``."""
    return wording(now).note(note)


def said(notes: Iterable[Note], now: datetime = NOW) -> str:
    return " | ".join(say(note, now) for note in notes)


def reasons(item: WithheldOrder) -> str:
    return "; ".join(say(reason) for reason in item.reasons)


def order_text(order: RecommendedOrder) -> str:
    return say(order.wording())


def evidence_text(item: EvidenceItem) -> str:
    return wording().text(item.key, **{**item.params, "at": item.at})
