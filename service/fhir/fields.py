"""Typed readers for FHIR R4 fields kept as plain dicts, each naming the quirk it handles."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

FhirResource = dict[str, Any]  # FHIR JSON stays a plain dict, read through the helpers below
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(value: object) -> datetime | None:
    """An aware UTC datetime from a FHIR dateTime/instant, or None.

    Partial dates (``2026``, ``2026-11``, ``2026-11-20``) have no time of day and cannot be placed in
    hour windows, so they give None. A time without an offset is invalid FHIR but sent by some
    systems; it is read as UTC.
    """
    return _instant(value) if isinstance(value, str) else None


@lru_cache(maxsize=8192)
def _instant(value: str) -> datetime | None:
    """Vital signs taken together share their timestamp: each distinct text is parsed once (datetimes are
    immutable, so sharing one is safe)."""
    if "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# ``parse_instant`` of a value that must be text, for the short path of ``plain_observations`` (one call less per
# Observation): a value of another type raises TypeError there, and that Observation is read in full.
instant_text = _instant


def parse_date(value: object) -> date | None:
    """A full FHIR date (``YYYY-MM-DD``); a partial date (year or year-month) gives None."""
    if not isinstance(value, str) or not FULL_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def effective_start(resource: FhirResource) -> datetime | None:
    """``effective[x]`` start: effectiveDateTime, effectiveInstant or effectivePeriod.start."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in resource:
            return parse_instant(resource[key])
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        return parse_instant(period.get("start")) or parse_instant(period.get("end"))
    return None


def effective_end(resource: FhirResource) -> datetime | None:
    period = resource.get("effectivePeriod")
    return parse_instant(period.get("end")) if isinstance(period, dict) else None


def code_of(value: object) -> str | None:
    """A FHIR ``code`` value (a status, a unit) as text; None for anything else. A list or object sent in its
    place is unhashable and must never reach a set or dict look-up."""
    return value if isinstance(value, str) else None


def array_of(value: object) -> list[Any]:
    """A FHIR array field; empty when absent or when something else (a number, an object) came in its place."""
    return value if isinstance(value, list) else []


def codings(concept: object) -> list[FhirResource]:
    """The codings of a CodeableConcept, skipping anything that is not a dict."""
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [coding for coding in concept["coding"] if isinstance(coding, dict)]


def coding_keys(concept: object) -> set[str]:
    """``system|code`` for each coding; system and code are trimmed (some exports pad them)."""
    if not isinstance(concept, dict):
        return set()
    coding_list = concept.get("coding")
    if not isinstance(coding_list, list):
        return set()
    return {
        f"{system.strip()}|{code.strip()}"
        for coding in coding_list
        if isinstance(coding, dict)
        and isinstance(system := coding.get("system"), str)
        and isinstance(code := coding.get("code"), str)
    }


def concept_texts(concept: object) -> list[str]:
    """The text and every coding display of a CodeableConcept, for name matching."""
    if not isinstance(concept, dict):
        return []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    texts += [c["display"] for c in codings(concept) if isinstance(c.get("display"), str)]
    return texts


def quantity(value: object) -> tuple[float, str] | None:
    """(value, unit) of a Quantity; the UCUM ``code`` wins over the display ``unit``.

    Quantities with a comparator (``<5``) are not exact values and give None. JSON allows integers of any
    length: one too large for a float gives ``inf``, which the readers report as implausible (R-PLAUSIBLE).
    """
    if not isinstance(value, dict) or value.get("comparator"):
        return None
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    unit = value.get("code") if isinstance(value.get("code"), str) else value.get("unit")
    return _float(number), unit.strip() if isinstance(unit, str) else ""


def _float(number: int | float) -> float:
    try:
        return float(number)
    except OverflowError:
        return math.inf


def reference_of(resource: FhirResource) -> str:
    """``Type/id`` of a resource, or ``Type/(no id)`` for resources without an id."""
    return f"{resource.get('resourceType', 'Resource')}/{resource.get('id', '(no id)')}"
