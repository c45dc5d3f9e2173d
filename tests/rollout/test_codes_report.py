"""The codes report lists what the policy did not recognise; its snippet, pasted, makes the next call see it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask

from service.cli import main
from service.settings import BUNDLED_POLICY
from service.storage.call_records import CallRecords
from service.storage.models import CallRecord
from tests.conftest import hook_body, records_written
from tests.fhir_builders import NOW, RXNORM, at, bp, car_t, device, prefetch, qty, spo2, weight
from tests.rollout.conftest import AppFactory

PERIOD = ["--from", NOW.date().isoformat(), "--to", NOW.date().isoformat()]
LOCAL_TEMPERATURE = ("http://hospital.example.org/flowsheet", "T-ORAL", "Temp (oral)")


def local_temperature(hours_ago: float, value: float) -> dict[str, Any]:
    system, code, display = LOCAL_TEMPERATURE
    return {
        "resourceType": "Observation",
        "id": "local-temp-1",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": at(hours_ago),
        "valueQuantity": qty(value, "Cel"),
    }


def local_tocilizumab(hours_ago: float) -> dict[str, Any]:
    """A brand name the policy does not list, with an RxNorm code it does not list either."""
    return {
        "resourceType": "MedicationAdministration",
        "id": "local-toci-1",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "999001", "display": "RoActemra 400 mg"}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": at(hours_ago),
    }


def call(app: Flask, instance: str) -> CallRecord:
    observations = [weight(70), local_temperature(1, 38.9), bp(1, 120), spo2(1, 98), device(1, "room air")]
    body = hook_body(prefetch=prefetch(observations, [car_t(hours_ago=96), local_tocilizumab(30)]))
    body["hookInstance"] = instance
    assert app.test_client().post("/cds-services/crs-patient-view", json=body).status_code == 200
    records_written()
    records = CallRecords(app.extensions["crs_cds"].repository.engine).between(NOW, NOW + timedelta(seconds=1))
    return next(record for record in records if record.hook_instance == instance)


def snippet_lines(output: str, heading: str) -> list[str]:
    """The lines under one heading of the snippet, as a pharmacist copies them."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("# " + heading))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


def paste(policy_text: str, table: str, list_start: str, lines: list[str]) -> str:
    """Paste lines just after the opening bracket of a list in a table, as a pharmacist would in an editor."""
    at = policy_text.index(list_start, policy_text.index(table)) + len(list_start)
    return policy_text[:at] + "\n" + "\n".join(lines) + "\n" + policy_text[at:]


def test_unmapped_codes_are_reported_with_a_snippet_that_makes_the_next_call_recognise_them(
    make_app: AppFactory, runner: CliRunner, tmp_path: Path
) -> None:
    before = call(make_app(), "before-mapping")
    report = runner.invoke(main, ["codes", "report", *PERIOD])
    assert report.exit_code == 0, report.output
    assert "http://hospital.example.org/flowsheet|T-ORAL" in report.output
    assert "Temp (oral)" in report.output
    assert "RoActemra 400 mg" in report.output
    medication = snippet_lines(report.output, "Medication RxNorm codes")
    observation = snippet_lines(report.output, "Observation codes")
    assert [line.split(",")[0].strip() for line in medication] == ['"999001"']
    assert [line.split(",")[0].strip() for line in observation] == ['"http://hospital.example.org/flowsheet|T-ORAL"']

    # The pharmacist decides: the code is tocilizumab's, the flowsheet row is a temperature.
    policy = BUNDLED_POLICY.read_text(encoding="utf-8").replace('version = "2026.1"', 'version = "2026.1-site.1"')
    policy = paste(policy, "[drugs.tocilizumab]", "rxnorm = [", medication)
    policy = paste(policy, "[codes]", "temperature = [", observation)
    (tmp_path / "policy.toml").write_text(policy, encoding="utf-8")
    after = call(make_app(policy=tmp_path / "policy.toml"), "after-mapping")

    assert before.unrecognised_codes
    assert before.grade != 1
    assert after.unrecognised_codes == []
    assert (after.grade, after.policy_version) == (1, "2026.1-site.1")


def test_the_codes_report_counts_calls_and_keeps_example_displays(make_app: AppFactory, runner: CliRunner) -> None:
    app = make_app()
    call(app, "first")
    call(app, "second")

    result = runner.invoke(main, ["codes", "report", *PERIOD, "--format", "json"])

    codes = {(c["resource_type"], c["system"], c["code"]): c for c in json.loads(result.stdout)["codes"]}
    temperature = codes[("Observation", *LOCAL_TEMPERATURE[:2])]
    assert (temperature["times"], temperature["calls"], temperature["displays"]) == (2, 2, ["Temp (oral)"])
    assert codes[("MedicationAdministration", RXNORM, "999001")]["calls"] == 2


def test_no_unrecognised_codes(runner: CliRunner) -> None:
    result = runner.invoke(main, ["codes", "report", *PERIOD])

    assert result.exit_code == 0
    assert "No unrecognised codes" in result.output
