"""The browser's part of a SMART EHR launch, for the launch and page tests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from flask.testing import FlaskClient

from tests.smart.conformance_double import SmartConformanceDouble
from tests.smart.conftest import APP_BASE


def launch(client: FlaskClient, double: SmartConformanceDouble, patient: str = "pat-1") -> dict[str, str]:
    response = client.get("/smart/launch", query_string={"iss": double.iss, "launch": double.new_launch(patient)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def authorise(query: dict[str, str], double: SmartConformanceDouble) -> dict[str, str]:
    """The browser at the EHR's authorisation endpoint: where it is sent back to."""
    answer = requests.get(f"{double.state.base}/auth/authorize", params=query, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{APP_BASE}/smart/callback"
    return {key: values[0] for key, values in parse_qs(location.query).items()}
