"""Issue 13: the deepest body the settings allow is parsed, checked and re-serialised without a RecursionError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.app import create_app
from service.settings import Settings

FEEDBACK = "/cds-services/crs-patient-view/feedback"


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_feedback_nested_to_the_highest_allowed_depth_is_stored(tmp_path: Path) -> None:
    settings = Settings(auth="off", database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", json_max_depth=500)
    client = create_app(settings).test_client()
    item = {"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719", "outcome": "accepted", "extra": nested(495)}

    response = client.post(FEEDBACK, data=json.dumps({"feedback": [item]}), content_type="application/json")
    too_deep = client.post(
        FEEDBACK, data=json.dumps({"feedback": [{**item, "extra": nested(499)}]}), content_type="application/json"
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["stored"] == 1
    assert too_deep.status_code == 400
    assert "nested deeper than 500" in too_deep.json["message"]


def test_a_depth_limit_beyond_what_can_be_re_serialised_is_refused() -> None:
    with pytest.raises(ValidationError, match="json_max_depth"):
        Settings(json_max_depth=501)
