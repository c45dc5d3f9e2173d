"""The crs-cds command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main


def test_check_config_accepts_the_bundled_defaults(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output


def test_check_config_names_a_bad_setting(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_FHIR_DEADLINE_SECONDS", "soon")

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "CRS_CDS_FHIR_DEADLINE_SECONDS" in result.output


def test_check_config_names_a_bad_catalog_file(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "services.toml").write_text("[prefetch]\n[[service]]\nid = 'x'\n")
    monkeypatch.setenv("CRS_CDS_CATALOG_DIR", str(tmp_path))

    result = runner.invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "services.toml" in result.output
    assert "service.0.hook" in result.output
