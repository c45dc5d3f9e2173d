"""The CRS timeline in a real headless browser (Debian's chromium driven by Playwright), launched end to end:

EHR launch -> SMART conformance double (authorisation) -> the service's callback -> /timeline, whose data
come from the real FHIR server (Medplum) through the double with the token the service received. The page
is screenshotted, what a clinician sees is asserted, and axe-core checks its accessibility.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from service.app import create_app
from service.fixtures import FIXTURES_DIR, FixtureLoader
from service.settings import Settings
from tests.integration.conftest import FHIR_TOKEN, free_port
from tests.smart.conformance_double import SmartConformanceDouble

AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"
FIXTURE = "grade3-norepinephrine"
TIMEOUT_MS = 15_000


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("the browser tests need Debian's chromium (apt-get install chromium); .ci/run installs it")
    return found


@dataclass
class Visit:
    page: Page
    double: SmartConformanceDouble
    patient: str
    urls: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def served_app(
    fhir_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, SmartConformanceDouble]]:
    """The service (SMART registered) on a loopback port, and the EHR's conformance double in front of Medplum."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SmartConformanceDouble("crs-timeline", f"{base}/smart/callback", fhir_server, FHIR_TOKEN) as double:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("CRS_CDS_SMART_CLIENT_ID", "crs-timeline")
            env.setenv("CRS_CDS_SMART_FHIR_SERVERS", double.iss)
            env.setenv("CRS_CDS_TIMELINE_TIMEZONE", "Europe/Paris")
            database = tmp_path_factory.mktemp("browser") / "crs-cds.sqlite3"
            app = create_app(Settings(auth="off", public_base_url=base, database_url=f"sqlite:///{database}"))
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield base, double
        finally:
            server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"], timeout=TIMEOUT_MS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def visit(served_app: tuple[str, SmartConformanceDouble], fhir_server: str, browser: Browser) -> Iterator[Visit]:
    """The clinician opens the card's SMART link: the EHR launches it with iss and a launch handle."""
    base, double = served_app
    (patient,) = (
        FixtureLoader(fhir_server, FHIR_TOKEN).load(FIXTURES_DIR / f"{FIXTURE}.json", datetime.now(UTC)).patient_ids
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    seen = Visit(page, double, patient)
    page.on("request", lambda request: seen.urls.append(request.url))
    page.on("console", lambda message: seen.console.append(message.text))
    page.on("response", lambda response: seen.headers.update(response.headers) if "/timeline" in response.url else None)
    page.goto(f"{base}/smart/launch?iss={double.iss}&launch={double.new_launch(patient)}", timeout=TIMEOUT_MS)
    yield seen
    context.close()


def test_the_launch_lands_on_the_patients_timeline(visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    shot = tmp_path / "timeline-grade3.png"
    page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot)

    assert page.url.endswith("/timeline")
    assert visit.patient in page.locator("h1").inner_text()
    assert page.get_by_text("ASTCT grade 3", exact=True).is_visible()
    assert page.get_by_text("managed as grade 3", exact=True).is_visible()
    for name in ("The last 24 hours", "Episode since the CAR T-cell infusion"):
        chart = page.get_by_role("img", name=re.compile(f"^{name}"))  # the figure's title and caption name it
        box = chart.bounding_box()
        assert chart.is_visible()
        assert box is not None
        assert box["width"] > 700
        assert box["height"] > 500
    for label in ("fever ≥ 38.0 °C", "hypotension: SBP < 90", "norepinephrine running", "Time (Europe/Paris)"):
        assert page.locator("svg text", has_text=label).first.is_visible(), label
    caption = page.locator("#episode-description").inner_text()
    assert "norepinephrine infusion from" in caption
    assert "still running" in caption
    assert page.locator("table tbody tr").count() >= 5
    assert page.get_by_role("cell", name="Vasopressor").first.is_visible()


def test_the_page_is_styled_under_its_csp_and_runs_no_script(visit: Visit) -> None:
    page = visit.page
    border = page.locator(".grade").first.evaluate("element => getComputedStyle(element).borderTopStyle")

    assert border == "solid"  # the stylesheet's hash in the CSP matched: the style applied
    assert not [message for message in visit.console if "Content Security Policy" in message]
    assert page.locator("script").count() == 0
    csp = visit.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert visit.headers["cache-control"] == "no-store"


def test_the_token_stays_on_the_server(visit: Visit) -> None:
    tokens = list(visit.double.state.tokens)
    cookies = visit.page.context.cookies()
    storage = visit.page.evaluate("() => window.localStorage.length + window.sessionStorage.length")

    assert tokens
    assert not [url for url in visit.urls for token in tokens if token in url]
    assert [cookie["name"] for cookie in cookies] == ["crs_cds_smart"]
    assert cookies[0]["httpOnly"]
    assert cookies[0]["value"] not in tokens
    assert storage == 0
    fhir_reads = [seen for seen in visit.double.state.seen if seen["path"].startswith("/fhir/Observation")]
    assert fhir_reads
    assert all(seen["headers"]["Authorization"] == f"Bearer {tokens[0]}" for seen in fhir_reads)


def test_axe_finds_no_serious_accessibility_violation(visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")  # evaluated by the driver, not by the page
    results: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations', 'passes']})"
    )
    violations = [
        {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]), "help": v["help"]}
        for v in results["violations"]
    ]
    report = tmp_path / "axe.json"
    report.write_text(json.dumps({"violations": violations, "passes": len(results["passes"])}, indent=2))
    keep_screenshot(report)

    assert len(results["passes"]) > 10  # axe really ran over the page
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


def keep_screenshot(path: Path) -> None:
    """CRS_CDS_TEST_ARTIFACTS=<folder> keeps the screenshot and the axe report for a person to look at."""
    folder = os.environ.get("CRS_CDS_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)
