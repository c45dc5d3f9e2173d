"""R-SUBJECT over HTTP: another patient's data is never graded and no order is written for the wrong patient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import hook_body
from tests.fhir_builders import GRADE3_OBSERVATIONS, car_t, prefetch, temp

Resource = dict[str, Any]


def foreign(resource: Resource, reference: str) -> Resource:
    return resource | {"subject": {"reference": reference}}


@pytest.mark.parametrize(
    ("case", "body"),
    [
        (
            "R-SUBJECT context.patientId differs from the prefetched Patient",
            hook_body(
                prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]),
                context={"userId": "Practitioner/doc-1", "patientId": "someone-else"},
            ),
        ),
        (
            "R-SUBJECT an Observation of another patient (relative reference)",
            hook_body(prefetch=prefetch([*GRADE3_OBSERVATIONS, foreign(temp(1, 40.1), "Patient/p2")], [car_t()])),
        ),
        (
            "R-SUBJECT an Observation of another patient (absolute reference)",
            hook_body(
                prefetch=prefetch(
                    [*GRADE3_OBSERVATIONS, foreign(temp(1, 40.1), "https://ehr.example/fhir/Patient/p2")], [car_t()]
                )
            ),
        ),
    ],
)
def test_R_SUBJECT_patient_mismatch_is_400_with_no_card(
    call_hook: Callable[..., Any], case: str, body: dict[str, Any]
) -> None:
    response = call_hook(body)

    assert response.status_code == 400, case
    assert response.json["error"] == "patient_mismatch"
    assert "cards" not in response.json
    assert response.json["mismatches"][0]["key"] in ("patient", "observations")


def test_R_SUBJECT_absolute_reference_to_the_same_patient_is_accepted(call_hook: Callable[..., Any]) -> None:
    own = foreign(temp(1, 38.9), "https://ehr.example/fhir/Patient/pat-1")
    response = call_hook(hook_body(prefetch=prefetch([*GRADE3_OBSERVATIONS, own], [car_t(hours_ago=96)])))

    assert response.status_code == 200
