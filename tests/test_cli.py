"""The crs-cds command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from service.cli import main
from service.settings import BUNDLED_POLICY
from tests.fhir_builders import bp, car_t, device, patient, temp, weight


def test_check_config_accepts_the_bundled_defaults(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_PUBLIC_BASE_URL", "https://crs-cds.hospital.example.org")

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output


def test_check_config_refuses_auth_without_a_public_base_url(runner: CliRunner) -> None:
    """Issue 12 item 8: the JWT audience must never come from the Host header."""
    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "CRS_CDS_PUBLIC_BASE_URL is not set" in result.output
    assert "Set it to the https URL the EHR calls" in result.output


def test_check_config_names_a_bad_setting(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_FHIR_DEADLINE_SECONDS", "soon")

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "CRS_CDS_FHIR_DEADLINE_SECONDS" in result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://crs:secret@db/crs", "postgres:// is not supported: write postgresql+psycopg://"),
        ("mysql://crs@db/crs", "mysql:// is not supported: use SQLite (sqlite:///...) or PostgreSQL"),
        ("not a url", "not a database URL"),
    ],
)
def test_check_config_explains_an_unsupported_database_url(runner: CliRunner, url: str, says: str) -> None:
    result = runner.invoke(main, ["check-config"], env={"CRS_CDS_AUTH": "off", "CRS_CDS_DATABASE_URL": url})

    assert result.exit_code == 2
    assert f"CRS_CDS_DATABASE_URL: {says}" in result.output
    assert "Traceback" not in result.output


def test_check_config_warns_of_settings_that_do_nothing(runner: CliRunner) -> None:
    env = {
        "CRS_CDS_PUBLIC_BASE_URL": "https://crs-cds.hospital.example.org",
        "CRS_CDS_POLICYY": "/etc/crs/policy.toml",
        "CRS_CDS_FHIR_ALLOWLIST": "https://fhir.example.org/r4",
    }

    result = runner.invoke(main, ["check-config"], env=env)

    assert result.exit_code == 0, result.output
    assert "warning: CRS_CDS_POLICYY is not a crs-cds setting and is ignored (misspelt?)" in result.output
    assert "warning: CRS_CDS_FHIR_ALLOWLIST is ignored with CRS_CDS_AUTH=on" in result.output


def test_check_config_names_a_bad_catalog_file(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "services.toml").write_text("[prefetch]\n[[service]]\nid = 'x'\n")
    monkeypatch.setenv("CRS_CDS_CATALOG_DIR", str(tmp_path))

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "services.toml" in result.output
    assert "service.0.hook" in result.output


def write_bundle(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]})
    )
    return path


def test_assess_prints_the_assessment_of_a_bundle(runner: CliRunner, tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "chart.json",
        [patient(), car_t(hours_ago=96), weight(80), temp(1, 38.4), bp(1, 86), device(1, "room air")],
    )

    result = runner.invoke(main, ["assess", str(bundle), "--now", "2026-11-20T12:00:00Z"])

    assert result.exit_code == 0, result.output
    assessment = json.loads(result.stdout)
    assert (assessment["grade"], assessment["managed_grade"]) == (2, 2)
    assert [(o["drug"], o["dose_mg"]) for o in assessment["recommended"]] == [("tocilizumab", 640.0)]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("{not json", [], "cannot read JSON"),
        ('{"resourceType": "Patient"}', [], "not a FHIR Bundle"),
        ('{"resourceType": "Bundle"}', ["--now", "yesterday"], "not an ISO 8601"),
    ],
)
def test_assess_refuses_bad_input_readably(
    runner: CliRunner, tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)

    result = runner.invoke(main, ["assess", str(path), *args])

    assert result.exit_code == 2
    assert message in result.output


def test_check_config_names_a_bad_policy_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(BUNDLED_POLICY.read_text().replace("max_mg = 800", "max_mg = 0"))
    monkeypatch.setenv("CRS_CDS_POLICY", str(policy))

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "tocilizumab.max_mg" in result.output


def test_assess_on_the_grade_3_fixture(runner: CliRunner) -> None:
    fixture = Path(__file__).resolve().parent.parent / "fhir_fixtures" / "grade3-norepinephrine.json"

    result = runner.invoke(main, ["assess", str(fixture), "--now", "2026-11-20T12:00:00Z"])

    assessment = json.loads(result.stdout)
    assert (assessment["grade"], assessment["managed_grade"], assessment["indicator"]) == (3, 3, "critical")
    suggested = {(o["drug"], o["dose_mg"], o["interval_hours"]) for o in assessment["recommended"]}
    assert suggested == {("tocilizumab", 576.0, None), ("dexamethasone", 10.0, 6.0)}


def test_serve_refuses_a_bad_policy_readably(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRS_CDS_POLICY", "/nonexistent/policy.toml")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))  # serve sets it; restored after

    result = runner.invoke(main, ["serve", "--port", "8999"])

    assert result.exit_code == 2
    assert "/nonexistent/policy.toml: cannot read" in result.output
