"""``crs-cds timeline BUNDLE.json [--now ISO] --out FILE.html|FILE.svg``: the page or the chart from a Bundle file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("timeline")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--now", "now_text", default=None, help="The chart ends at this ISO 8601 time (default: now).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="FILE.html (the page: chart, description, data table) or FILE.svg (the chart alone).",
)
@click.option(
    "--timezone",
    default=None,
    help="IANA zone of the times shown (default: CRS_CDS_TIMELINE_TIMEZONE, else the policy's).",
)
def timeline(bundle: Path, now_text: str | None, out: Path, timezone: str | None) -> None:
    """Write the CRS timeline of a FHIR Bundle file (any Bundle type; entries are the chart)."""
    from pydantic import ValidationError

    from service.cards.catalog import load_card_catalog
    from service.cards.errors import CatalogError
    from service.cards.wording import Wording
    from service.cli import ConfigProblem, _parse_now, _read_json, load_settings
    from service.fhir.bundles import bundle_resources, is_resource
    from service.fhir.translate import Translator
    from service.policy_file import PolicyError, load_policy
    from service.timeline.chart import chart_svg
    from service.timeline.layers import build_layers
    from service.timeline.page import render_layers
    from service.timeline.settings import TimelineSettings

    if out.suffix.lower() not in (".html", ".svg"):
        raise click.BadParameter("the output file must end in .html or .svg", param_hint="--out")
    try:
        settings = load_settings()
        policy = load_policy(settings.policy)
        zone = (TimelineSettings(timezone=timezone) if timezone else TimelineSettings()).zone(policy.time_zone)
        catalog = load_card_catalog(settings.catalog_dir)
    except (PolicyError, CatalogError) as error:
        raise ConfigProblem(str(error)) from error
    except ValidationError as error:
        raise click.BadParameter(f"{error.errors()[0]['msg']}", param_hint="--timezone") from error
    document = _read_json(bundle)
    if not is_resource(document, "Bundle"):
        raise click.BadParameter("the file is not a FHIR Bundle", param_hint="BUNDLE")
    now = _parse_now(now_text)
    timeline = Translator.from_policy(policy).timeline(bundle_resources(document))
    layers = build_layers(timeline, policy, now, Wording(catalog.texts, str(zone), now))
    text = render_layers(layers, zone).html if out.suffix.lower() == ".html" else chart_svg(layers, zone)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")
