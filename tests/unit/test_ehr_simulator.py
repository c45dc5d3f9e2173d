"""The EHR simulator behind `crs-cds call`: a newcomer's mistakes read as what they are."""

from __future__ import annotations

import pytest
import responses

from service.ehr_simulator import HookCall, SimulatorError, call_service

SERVICE = "http://127.0.0.1:8080"
FHIR = "https://fhir.example.org/r4"


@responses.activate
def test_a_misspelt_patient_id_is_named_not_read_as_out_of_scope() -> None:
    responses.get(f"{SERVICE}/cds-services", json={"services": [{"id": "crs-patient-view", "hook": "patient-view"}]})
    responses.get(f"{FHIR}/Patient/crs-grade3-norepinephrin", status=404, json={"resourceType": "OperationOutcome"})

    with pytest.raises(SimulatorError, match="no Patient/crs-grade3-norepinephrin on the FHIR server"):
        call_service(HookCall(SERVICE, "patient-view", "crs-grade3-norepinephrin", fhir_server=FHIR))

    assert not any(call.request.method == "POST" for call in responses.calls)
