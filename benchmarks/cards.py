"""Cost of rendering the cards (M-CARD-LAYOUT: every text a catalog key rendered by one renderer), as ratios
measured in one run.

    .venv/bin/python -m benchmarks.cards

1. Rendering the patient-view cards of a 7-day ICU stay / assessing it (the engine): the renderer should be a
   small part of a call (target <= 0.5x).
2. The same rendering in a site time zone (Europe/Berlin) / in UTC: zone conversion is cheap (target <= 1.2x).
3. Rendering with one text overridden by the site / with the bundled texts (target <= 1.2x).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.icu_stay import icu_stay
from benchmarks.run import median_seconds
from service.cards.catalog import load_card_catalog
from service.cards.render import CardRenderer
from service.crs.engine import assess
from service.settings import BUNDLED_CATALOG_DIR
from tests.fhir_builders import NOW, POLICY, TRANSLATOR


def warmed_median(action: Callable[[], object], repeat: int = 30) -> float:
    for _ in range(3):
        action()
    return median_seconds(action, repeat)


def overridden_catalog() -> Path:
    site = Path(tempfile.mkdtemp()) / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, site)
    cards = site / "cards.toml"
    override = '[texts]\n"M-NO-DELAY" = "Give tocilizumab now: each {{ hours }} h of delay matters."'
    cards.write_text(cards.read_text(encoding="utf-8").replace("[texts]", override), encoding="utf-8")
    return site


def main() -> None:
    timeline = TRANSLATOR.timeline(icu_stay(24 * 7), [])
    assessment = assess(timeline, POLICY, NOW)
    berlin = assessment.model_copy(update={"time_zone": "Europe/Berlin"})
    bundled = CardRenderer(load_card_catalog(BUNDLED_CATALOG_DIR))
    site = CardRenderer(load_card_catalog(overridden_catalog()))

    engine = warmed_median(lambda: assess(timeline, POLICY, NOW))
    render = warmed_median(lambda: bundled.patient_view(assessment, "pat-1"))
    zoned = warmed_median(lambda: bundled.patient_view(berlin, "pat-1"))
    override = warmed_median(lambda: site.patient_view(assessment, "pat-1"))

    print("crs-cds card rendering benchmark (ratios are within this run)\n")
    print("| Figure | Result | Target |\n| --- | --- | --- |")
    print(
        f"| 1. render / assess, 7-day ICU stay | {render / engine:.3f}x "
        f"(median {render * 1000:.2f} ms vs {engine * 1000:.1f} ms) | <= 0.5x |"
    )
    print(f"| 2. render in Europe/Berlin / in UTC | {zoned / render:.2f}x | <= 1.2x |")
    print(f"| 3. render with a site override / bundled texts | {override / render:.2f}x | <= 1.2x |")


if __name__ == "__main__":
    main()
