"""The CRS card's links to the timeline: a SMART launch link, and an ``absolute`` one only if the site sets one.

The page shows PHI, so it is reached only through the SMART launch (or a site page that authorises the
user itself); an EHR without SMART gets no link unless the site configures ``CRS_CDS_TIMELINE_ABSOLUTE_URL``.
"""

from __future__ import annotations

from typing import Any

from service.settings import Settings
from service.smart.settings import SmartSettings
from service.timeline.config import smart_settings, timeline_settings
from service.timeline.settings import TimelineSettings

LABEL = "CRS timeline: the episode at a glance"
Link = dict[str, str]


def timeline_links(
    settings: Settings, smart: SmartSettings | None = None, timeline: TimelineSettings | None = None
) -> tuple[Link, ...]:
    smart = smart or smart_settings()
    timeline = timeline or timeline_settings()
    links: list[Link] = []
    if smart.enabled and settings.public_base_url:
        links.append({"label": LABEL, "url": f"{settings.public_base_url}/smart/launch", "type": "smart"})
    if timeline.absolute_url:
        links.append({"label": LABEL, "url": timeline.absolute_url, "type": "absolute"})
    return tuple(links)


def add_links(card: dict[str, Any], links: tuple[Link, ...]) -> None:
    """Append to the card's links (CDS Hooks forbids an empty array, so none is added without links)."""
    if links:
        card["links"] = [*card.get("links", []), *(dict(link) for link in links)]
