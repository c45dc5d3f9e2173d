"""Speed of the CRS timeline page, as ratios measured in one run (compare within a run).

    .venv/bin/python -m benchmarks.timeline

On the 7-day ICU stay of benchmarks/icu_stay.py (hourly vitals, vasopressors, doses):
1. Data layers (the engine's grade history at every event time, managed grade from assess) / one assess.
2. Chart (Altair spec + vl-convert SVG) / one assess.
3. The whole page (layers + chart + HTML) in seconds: target under 2 s on this machine.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from benchmarks.icu_stay import icu_stay
from benchmarks.run import median_seconds
from service.cards.catalog import load_card_catalog
from service.cards.wording import Wording
from service.crs.engine import assess
from service.fhir.translate import Translator
from service.policy_file import load_policy
from service.settings import BUNDLED_CATALOG_DIR, BUNDLED_POLICY
from service.timeline.chart import chart_svg
from service.timeline.layers import build_layers
from service.timeline.page import render_layers
from tests.fhir_builders import NOW

ZONE = ZoneInfo("Europe/Paris")


def main() -> None:
    policy = load_policy(BUNDLED_POLICY)
    timeline = Translator.from_policy(policy).timeline(icu_stay())
    wording = Wording(load_card_catalog(BUNDLED_CATALOG_DIR).texts, "UTC", NOW)
    layers = build_layers(timeline, policy, NOW, wording)
    one_assess = median_seconds(lambda: assess(timeline, policy, NOW), 20)
    layered = median_seconds(lambda: build_layers(timeline, policy, NOW, wording), 3)
    charted = median_seconds(lambda: chart_svg(layers, ZONE), 3)
    page = median_seconds(lambda: render_layers(build_layers(timeline, policy, NOW, wording), ZONE), 3)
    print(f"7-day stay: {len(layers.grades)} grade steps, {len(layers.temperatures)} temperatures")
    print(f"  1. data layers / one assess: {layered / one_assess:.0f}x ({layered * 1000:.0f} ms)")
    print(f"  2. chart / one assess: {charted / one_assess:.0f}x ({charted * 1000:.0f} ms)")
    print(f"  3. whole page: {page:.2f} s (target < 2 s)")
    assert layers.start <= NOW - timedelta(days=7)


if __name__ == "__main__":
    main()
