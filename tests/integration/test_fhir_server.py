"""Against a real FHIR R4 server: the fixtures are loaded, the service fetches the data itself with the
EHR's bearer token (no prefetch), and each patient's cards match the fixture index a clinician reviewed.
Medplum's own CDS Hooks client also drives the service as an independent EHR."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from service.ehr_simulator import HookCall, Signer, call_service
from service.fixtures import FIXTURES_DIR, FixtureLoader, fixture_paths, read_fixture, resources_of
from tests.integration.conftest import FHIR_SERVER_DIR, FHIR_TOKEN, crs_cds_service, node_command
from tests.jwt_support import ISSUER, KID_EC, EhrKeys, write_clients_file

INDEX = json.loads((FIXTURES_DIR / "index.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def loaded(fhir_server: str) -> str:
    loader = FixtureLoader(fhir_server, FHIR_TOKEN)
    now = datetime.now(UTC)
    methods = {loader.load(path, now).method for path in fixture_paths()}
    assert methods == {"transaction"}
    return fhir_server


@pytest.fixture(scope="module")
def service_url(loaded: str, ehr_keys: EhrKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fhir-service")
    clients = write_clients_file(folder / "clients.toml", ehr_keys, [loaded])
    with crs_cds_service(folder / "db.sqlite3", clients, workers=2) as base_url:
        yield base_url


def drafts_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    if not row["drafts"]:
        return []
    return list(resources_of(read_fixture(FIXTURES_DIR / "drafts" / row["fixture"])))


def expected_summary(row: dict[str, Any]) -> str:
    if row["grade"] == "unknown":
        return "CRS grade unknown"
    managed = f", managed as {row['managed_grade']}" if row["managed_grade"] != row["grade"] else ""
    return f"CRS grade {row['grade']}{managed}"


@pytest.mark.parametrize("row", INDEX, ids=[row["fixture"].removesuffix(".json") for row in INDEX])
def test_fixture_patient_gets_the_cards_of_the_index(
    service_url: str, loaded: str, signer: Signer, row: dict[str, Any]
) -> None:
    call = HookCall(
        service_url,
        row["hook"],
        row["patient"],
        fhir_server=loaded,
        fhir_token=FHIR_TOKEN,
        prefetch=False,
        signer=signer,
        draft_orders=drafts_of(row),
    )

    cards = call_service(call)["cards"]

    if row["hook"] != "patient-view":
        assert [rule for card in cards for rule in card["extension"]["crs-order-check"]["rules"]] == row["order_checks"]
        return
    if row["grade"] == "no card":
        assert cards == []
        return
    assessment = cards[0]
    assert assessment["summary"].startswith(expected_summary(row)), assessment["summary"]
    suggested = " | ".join(s["actions"][0]["description"] for card in cards for s in card.get("suggestions", []))
    for expected in row["suggestions"]:
        drug, dose = expected.split(" ", 1)
        assert f"{drug.capitalize()} {dose.split(' (')[0]}" in suggested, (expected, suggested)
    assert len([s for card in cards for s in card.get("suggestions", [])]) == len(row["suggestions"])


def test_the_service_fetched_with_the_forwarded_token(
    service_url: str, loaded: str, signer: Signer, fhir_server: str
) -> None:
    requests.delete(fhir_server.replace("/fhir", "/__requests"), timeout=5)

    call_service(
        HookCall(
            service_url,
            "patient-view",
            "crs-grade2-hypotension",
            fhir_server=loaded,
            fhir_token=FHIR_TOKEN,
            prefetch=False,
            signer=signer,
        )
    )

    recorded = requests.get(fhir_server.replace("/fhir", "/__requests"), timeout=5).json()
    paths = sorted(r["path"] for r in recorded)
    assert paths == [
        "/fhir/MedicationAdministration",
        "/fhir/MedicationRequest",
        "/fhir/Observation",
        "/fhir/Patient/crs-grade2-hypotension",  # the EHR simulator checks the patient exists
        "/fhir/Patient/crs-grade2-hypotension",  # the service reads it
    ]
    assert all(r["authorized"] for r in recorded)


def test_medplum_cds_client_as_an_independent_ehr(service_url: str, loaded: str, ehr_keys: EhrKeys) -> None:
    command = [
        *node_command("ehr_client.mjs"),
        "--service", service_url, "--fhir", loaded, "--token", FHIR_TOKEN, "--patient", "crs-grade3-norepinephrine",
        "--discovery-jwt", ehr_keys.sign(f"{service_url}/cds-services"),
        "--call-jwt", ehr_keys.sign(f"{service_url}/cds-services/crs-patient-view"),
    ]  # fmt: skip

    result = subprocess.run(command, cwd=FHIR_SERVER_DIR, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr[-2000:]
    output = json.loads(result.stdout)
    assert output["prefetchKeys"] == ["patient", "observations", "medicationAdministrations", "medicationRequests"]
    (card,) = output["response"]["cards"]
    assert card["summary"] == "CRS grade 3: tocilizumab 576 mg IV + dexamethasone 10 mg IV q6h; ICU now"
    assert card["extension"]["crs-assessment"]["grade"] == 3


def test_fixtures_load_falls_back_when_transactions_are_refused(fhir_server: str) -> None:
    """The loader's fallbacks, against the real server: PUTs work where transactions do not."""
    loader = FixtureLoader(fhir_server, FHIR_TOKEN)
    bundle_path = next(p for p in fixture_paths() if p.stem == "grade1-fever")

    loader._transaction = lambda bundle: False  # type: ignore[method-assign]
    loader._batch = lambda bundle: False  # type: ignore[method-assign]
    result = loader.load(bundle_path, datetime.now(UTC))

    assert (result.method, result.patient_ids) == ("put", ("crs-grade1-fever",))
    assert Path(bundle_path).exists()


def test_crs_cds_call_order_sign_with_the_draft_orders_file(
    service_url: str, loaded: str, ehr_keys: EhrKeys, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from service.cli import main

    key = tmp_path / "ehr.pem"
    key.write_bytes(
        ehr_keys.ec_private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    args = [
        "call", "--service", service_url, "--fhir-server", loaded, "--fhir-token", FHIR_TOKEN, "--patient", "crs-orders-grade3",
        "--hook", "order-sign", "--draft-order", str(FIXTURES_DIR / "drafts" / "orders-grade3.json"),
        "--sign-with", str(key), "--issuer", ISSUER, "--kid", KID_EC,
    ]  # fmt: skip

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    assert "[CRITICAL] GM-CSF (sargramostim) is contraindicated" in result.output
    assert "-> Remove this order (recommended)" in result.output
    assert "-> Change to tocilizumab 560 mg IV (recommended)" in result.output


def test_crs_cds_fixtures_load_command(fhir_server: str, tmp_path: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from service.cli import main

    shutil.copy(FIXTURES_DIR / "grade1-fever.json", tmp_path / "grade1-fever.json")

    result = CliRunner().invoke(
        main, ["fixtures", "load", "--fhir-server", fhir_server, "--token", FHIR_TOKEN, "--dir", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    assert "crs-grade1-fever" in result.output
    assert "(transaction)" in result.output
