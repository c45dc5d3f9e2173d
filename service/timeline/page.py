"""The timeline page: the chart's SVG in a figure with its description, and the data table, as one HTML file.

The stylesheet is inline so the same file works offline (the CLI writes it); the served page allows
exactly that stylesheet by its hash in the Content-Security-Policy and runs no script at all.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from service.timeline.describe import description, moment, table_rows
from service.timeline.layers import Layers, recent

VEGA_ARIA = re.compile(r' (?:role="graphics-[a-z]+"|aria-roledescription="[^"]*"|aria-label="[^"]*")')
DETAIL_HOURS = 24
TEMPLATES = Path(__file__).resolve().parent / "templates"
ENVIRONMENT = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class Page:
    html: str
    csp: str


def stylesheet() -> str:
    return (TEMPLATES / "timeline.css").read_text(encoding="utf-8")


def content_security_policy(style: str) -> str:
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def accessible_svg(svg: str, figure: str) -> str:
    """The SVG as one image described by the figure's caption and table.

    Vega still marks some groups and symbols ``graphics-object``/``graphics-symbol`` (kinds of image) that
    would each need a text of their own; inside the one described image they are presentation, so they go.
    """
    described = f'<svg role="img" aria-labelledby="{figure}-title {figure}-description" focusable="false" '
    return VEGA_ARIA.sub("", svg).replace("<svg ", described, 1)


def render_layers(layers: Layers, zone: ZoneInfo, notes: tuple[str, ...] = ()) -> Page:
    """The page; an episode longer than two days also gets the last 24 h enlarged, above the whole episode."""
    # altair and vl-convert cost a served worker about 35 MB: loaded on the first page, not at start-up.
    from service.timeline.chart import chart_svg

    style = stylesheet()
    detail = recent(layers, DETAIL_HOURS) if layers.now - layers.start > timedelta(days=2) else None
    html = ENVIRONMENT.get_template("timeline.html").render(
        layers=layers,
        zone=str(zone),
        as_of=moment(layers.now, zone),
        style=Markup(style),  # noqa: S704 - our own file, hashed into the CSP
        svg=Markup(accessible_svg(chart_svg(layers, zone), "episode")),  # noqa: S704 - vl-convert escapes text
        detail_svg=Markup(accessible_svg(chart_svg(detail, zone), "detail")) if detail else None,  # noqa: S704
        sentences=description(layers, zone),
        rows=table_rows(layers, zone),
        notes=notes,
    )
    return Page(html, content_security_policy(style))
