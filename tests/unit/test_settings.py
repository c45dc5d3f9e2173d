"""Settings from CRS_CDS_ environment variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_defaults_run_without_any_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()

    assert settings.fhir_allowlist == ()
    assert settings.catalog_dir.joinpath("services.toml").is_file()


def test_allowlist_is_comma_separated_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_FHIR_ALLOWLIST", "https://EHR.example.org/fhir/, http://127.0.0.1:8081/r4")

    settings = Settings()

    assert settings.fhir_allowlist == ("https://ehr.example.org/fhir", "http://127.0.0.1:8081/r4")
    assert settings.allows_fhir_server("https://ehr.example.org/fhir/")
    assert not settings.allows_fhir_server("https://ehr.example.org/fhir/other")


@pytest.mark.parametrize(
    "entry",
    ["http://ehr.example.org/fhir", "ftp://ehr.example.org", "https://user:pw@ehr.example.org/fhir", "not a url"],
)
def test_allowlist_refuses_plain_http_off_loopback_and_odd_urls(monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    monkeypatch.setenv("CRS_CDS_FHIR_ALLOWLIST", entry)

    with pytest.raises(ValidationError, match="fhir_allowlist"):
        Settings()
