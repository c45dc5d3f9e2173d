"""Settings from CRS_CDS_ environment variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings
from service.urls import normalise_base_url


def test_defaults_run_without_any_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()

    assert settings.fhir_allowlist == ()
    assert settings.catalog_dir.joinpath("services.toml").is_file()


def test_allowlist_is_comma_separated_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_FHIR_ALLOWLIST", "https://EHR.example.org/fhir/, http://127.0.0.1:8081/r4")

    settings = Settings()

    assert settings.fhir_allowlist == ("https://ehr.example.org/fhir", "http://127.0.0.1:8081/r4")
    assert normalise_base_url("https://ehr.example.org/fhir/") in settings.fhir_allowlist
    assert normalise_base_url("https://ehr.example.org/fhir/other") not in settings.fhir_allowlist


@pytest.mark.parametrize(
    "entry",
    ["http://ehr.example.org/fhir", "ftp://ehr.example.org", "https://user:pw@ehr.example.org/fhir", "not a url"],
)
def test_allowlist_refuses_plain_http_off_loopback_and_odd_urls(monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    monkeypatch.setenv("CRS_CDS_FHIR_ALLOWLIST", entry)

    with pytest.raises(ValidationError, match="fhir_allowlist"):
        Settings()


def test_example_clients_file_is_valid() -> None:
    from pathlib import Path

    from service.security.clients import load_clients

    clients = load_clients(Path(__file__).resolve().parents[2] / "deploy" / "clients.example.toml")

    assert set(clients) == {"https://ehr.hospital.example.org/interconnect", "https://sandbox.cds-hooks.org"}


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ('algorithms = ["HS256"]', "only asymmetric algorithms"),
        ('algorithms = ["none"]', "only asymmetric algorithms"),
        ('fhir_servers = ["http://ehr.example.org/fhir"]', "fhir_servers"),
        ('jwks_url = "http://ehr.example.org/jwks"', "jwks_url"),
        ("", "needs jwks_url, jwks or allowed_jku"),
        ('jwks = { keys = [{ kty = "EC" }] }', "not a usable JWKS"),
    ],
)
def test_invalid_clients_file_is_refused_naming_the_key(tmp_path: object, entry: str, named: str) -> None:
    from pathlib import Path

    from service.security.clients import ClientsError, load_clients

    path = Path(str(tmp_path)) / "clients.toml"
    base = 'issuer = "https://ehr.example.org"\n'
    keys = "" if "jwks" in entry or entry == "" else 'jwks_url = "https://ehr.example.org/jwks"\n'
    path.write_text("[[client]]\n" + base + keys + entry + "\n")

    with pytest.raises(ClientsError, match=named):
        load_clients(path)


def test_clients_file_in_yaml(tmp_path: object) -> None:
    from pathlib import Path

    from service.security.clients import load_clients

    path = Path(str(tmp_path)) / "clients.yaml"
    path.write_text("client:\n  - issuer: https://ehr.example.org\n    jwks_url: https://ehr.example.org/jwks\n")

    assert list(load_clients(path)) == ["https://ehr.example.org"]


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://EHR.example.org:443/fhir/../evil", "https://ehr.example.org/evil"),
        ("https://ehr.example.org/fhir/%2E%2e/evil?page=2", "https://ehr.example.org/evil?page=2"),
        ("http://127.0.0.1:8080/r4/./Patient/", "http://127.0.0.1:8080/r4/Patient/"),
        ("https://ehr.example.org/fhir/a/..", "https://ehr.example.org/fhir/"),
    ],
)
def test_urls_are_compared_in_normal_form(url: str, normal: str) -> None:
    from service.urls import normalise_url

    assert normalise_url(url) == normal


@pytest.mark.parametrize(
    ("url", "within"),
    [
        ("https://ehr.example.org/fhir/Observation?page=2", True),
        ("https://ehr.example.org/fhir", True),
        ("https://ehr.example.org/fhir/../evil", False),
        ("https://ehr.example.org/fhir/%2e%2e/evil", False),
        ("https://ehr.example.org/fhir%2f..%2fevil", False),
        ("https://ehr.example.org/fhir-other/Observation", False),
        ("https://user@ehr.example.org/fhir/Observation", False),
        ("https://ehr.example.org.evil.example/fhir/Observation", False),
    ],
)
def test_a_url_is_within_a_base_only_after_normalisation(url: str, within: bool) -> None:
    from service.urls import is_within

    assert is_within(url, "https://ehr.example.org/fhir") is within
