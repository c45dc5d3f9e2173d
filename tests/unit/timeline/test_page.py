"""The chart (SVG), the page (HTML) and ``crs-cds timeline``, from the fixtures."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from service.cli import main
from service.timeline.chart import chart_spec, chart_svg, local_ms
from service.timeline.describe import table_rows
from service.timeline.page import render_layers, stylesheet
from tests.unit.timeline.timeline_support import FIXTURES, INDEX, chart, layers_of, policy

PARIS = ZoneInfo("Europe/Paris")


class Outline(HTMLParser):
    """What a reader meets: tags seen, table rows, text, and any script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.rows += tag == "tr"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def test_the_chart_shows_thresholds_doses_and_the_next_tocilizumab_time() -> None:
    svg = chart_svg(layers_of(chart("toci-limit-3-in-24h.json")), PARIS)

    assert "fever ≥ 38.0 °C" in svg
    assert "hypotension: SBP &lt; 90" in svg or "hypotension: SBP < 90" in svg
    assert svg.count(">560 mg<") == 1  # the same amount is labelled once; the table has every dose
    assert "next dose not before Fri 20 Nov 14:00" in svg  # 13:00 UTC in Paris
    assert "Time (Europe/Paris)" in svg
    assert "<script" not in svg


@pytest.mark.parametrize("name", ["toci-limit-3-in-24h.json", "grade4-two-vasopressors.json", "no-car-t.json"])
def test_the_chart_is_valid_vega_lite(name: str) -> None:
    chart_spec(layers_of(chart(name)), PARIS, validate=True)  # raises on a schema error


def test_times_are_wall_clock_times_of_the_sites_zone() -> None:
    winter = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

    assert local_ms(winter, PARIS) == datetime(2026, 11, 20, 13, 0, tzinfo=UTC).timestamp() * 1000
    assert local_ms(summer, PARIS) == datetime(2026, 7, 1, 14, 0, tzinfo=UTC).timestamp() * 1000


def test_the_page_has_a_described_figure_and_the_same_data_as_a_table() -> None:
    layers = layers_of(chart("grade3-norepinephrine.json"))
    page = render_layers(layers, PARIS)
    seen = outline(page.html)

    assert "figure" in seen.tags
    assert "figcaption" in seen.tags
    assert "script" not in seen.tags
    assert seen.rows == 1 + len(table_rows(layers, PARIS))
    text = " ".join(seen.text)
    assert "norepinephrine infusion from" in text
    assert "ASTCT grade 3" in text
    assert 'role="img" aria-labelledby="episode-title episode-description"' in page.html
    assert 'role="img" aria-labelledby="detail-title detail-description"' in page.html  # 4 days: the last 24 h too
    assert seen.tags.count("figure") == 2


def test_the_csp_allows_the_pages_own_stylesheet_and_nothing_else() -> None:
    page = render_layers(layers_of(chart("grade1-fever.json")), PARIS)
    digest = base64.b64encode(hashlib.sha256(stylesheet().encode()).digest()).decode()

    assert f"style-src 'sha256-{digest}'" in page.csp
    assert "default-src 'none'" in page.csp
    assert "script-src" not in page.csp
    assert "unsafe-inline" not in page.csp
    assert re.search(r"<style>(.*?)</style>", page.html, re.S).group(1) == stylesheet()


def test_fhir_text_is_escaped_in_the_page_and_the_chart() -> None:
    document = json.loads((FIXTURES / "grade3-high-flow.json").read_text())
    text = json.dumps(document).replace("High flow nasal cannula", "<script>alert(1)</script>")
    layers = layers_of(chart_from(json.loads(text)))

    page = render_layers(layers, PARIS)

    assert "<script>alert(1)</script>" not in page.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html


def chart_from(document: dict[str, object]):  # type: ignore[no-untyped-def]
    from service.fhir.bundles import bundle_resources
    from service.fhir.translate import Translator

    return Translator.from_policy(policy()).timeline(bundle_resources(document))


@pytest.mark.parametrize("name", sorted(INDEX), ids=lambda name: name.removesuffix(".json"))
def test_the_cli_writes_the_page_for_every_fixture(name: str, tmp_path: Path) -> None:
    out = tmp_path / "timeline.html"

    result = CliRunner().invoke(
        main, ["timeline", str(FIXTURES / name), "--now", "2026-11-20T12:00:00Z", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    seen = outline(out.read_text())
    assert {"figure", "figcaption", "svg", "table"} <= set(seen.tags)
    assert seen.rows >= 2


def test_the_cli_writes_the_chart_alone_as_svg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_TIMELINE_TIMEZONE", "America/New_York")
    out = tmp_path / "chart.svg"

    result = CliRunner().invoke(
        main, ["timeline", str(FIXTURES / "grade1-fever.json"), "--now", "2026-11-20T12:00:00Z", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<svg")
    assert "Time (America/New_York)" in out.read_text()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--out", "x.png"], "must end in .html or .svg"),
        (["--out", "x.html", "--timezone", "Mars/Olympus"], "not an IANA time zone"),
        (["--out", "x.html", "--now", "yesterday"], "not an ISO 8601"),
    ],
)
def test_the_cli_names_bad_arguments(arguments: list[str], message: str, tmp_path: Path) -> None:
    arguments = [str(tmp_path / a) if a.startswith("x.") else a for a in arguments]

    result = CliRunner().invoke(main, ["timeline", str(FIXTURES / "grade1-fever.json"), *arguments])

    assert result.exit_code == 2
    assert message in result.output


def test_the_cli_refuses_a_file_that_is_not_a_bundle(tmp_path: Path) -> None:
    source = tmp_path / "patient.json"
    source.write_text('{"resourceType": "Patient"}')

    result = CliRunner().invoke(main, ["timeline", str(source), "--out", str(tmp_path / "x.html")])

    assert result.exit_code == 2
    assert "not a FHIR Bundle" in result.output
