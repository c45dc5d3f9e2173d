"""A simulated week at a site: three silent days, then four live days with clinicians' feedback.

Calls are the synthetic patients of fhir_fixtures/ at random times of each day, against the real app on
SQLite (authentication off, as on a developer's machine). One call in five leaves its Observations to be
fetched from a FHIR server (mocked on the FHIR base URL), some charts carry a local temperature code the
bundled policy does not know, and one call a day is malformed. Run it, then read the report:

    python -m tests.rollout_week --database-url sqlite:////tmp/week.sqlite3
    CRS_CDS_DATABASE_URL=sqlite:////tmp/week.sqlite3 crs-cds report --from 2026-11-23 --to 2026-11-29
"""

from __future__ import annotations

import argparse
import dataclasses
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import responses
from flask import Flask

from service.app import create_app
from service.settings import Settings
from tests.rollout_support import FixtureCall, fixture_call, fixture_rows

FHIR_BASE = "https://fhir.example.org/r4"
FIRST_DAY = date(2026, 11, 23)
SILENT_DAYS = 3
CALLS_PER_DAY = (8, 12)
LOCAL_TEMPERATURE = {"system": "http://hospital.example.org/flowsheet", "code": "T-TYMP", "display": "Temp (tympanic)"}


@dataclasses.dataclass
class Week:
    rng: random.Random
    silent: Flask
    live: Flask
    counter: int = 0


def simulate(database_url: str, seed: int = 15, first_day: date = FIRST_DAY) -> int:
    """Make the week's calls and feedback; returns how many hook calls were made."""
    base = Settings(auth="off", database_url=database_url, fhir_allowlist=(FHIR_BASE,))
    week = Week(random.Random(seed), create_app(base.model_copy(update={"silent": ("all",)})), create_app(base))
    with _fhir_server() as fhir:
        for day in range(7):
            app = week.silent if day < SILENT_DAYS else week.live
            start = datetime.combine(first_day + timedelta(days=day), datetime.min.time(), UTC)
            for moment in sorted(start + timedelta(minutes=week.rng.randrange(6 * 60, 22 * 60)) for _ in _today(week)):
                _one_call(week, app, moment, fhir)
            _malformed_call(app, start + timedelta(hours=23))
            week.counter += 1
    return week.counter


def _today(week: Week) -> range:
    return range(week.rng.randint(*CALLS_PER_DAY))


def _one_call(week: Week, app: Flask, moment: datetime, fhir: responses.RequestsMock) -> None:
    week.counter += 1
    call = fixture_call(week.rng.choice(fixture_rows()), moment, f"week-{week.counter:04d}")
    if week.rng.random() < 0.3:
        _add_local_temperature(call, moment)
    if week.rng.random() < 0.2:
        _leave_observations_to_fetch(call, fhir)
    client = _at(app, moment).test_client()
    cards = client.post(f"/cds-services/{call.service_id}", json=call.body).json["cards"]
    feedback = [item for card in cards if (item := _feedback(week.rng, card, moment)) is not None]
    if feedback:
        client.post(f"/cds-services/{call.service_id}/feedback", json={"feedback": feedback})


def _at(app: Flask, moment: datetime) -> Flask:
    app.extensions["crs_cds"] = dataclasses.replace(app.extensions["crs_cds"], clock=lambda: moment)
    return app


def _add_local_temperature(call: FixtureCall, moment: datetime) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [LOCAL_TEMPERATURE]},
        "effectiveDateTime": (moment - timedelta(hours=1)).isoformat(),
        "valueQuantity": {"value": 37.2, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"},
    }
    call.body["prefetch"]["observations"]["entry"].append({"resource": observation})


def _leave_observations_to_fetch(call: FixtureCall, fhir: responses.RequestsMock) -> None:
    bundle = call.body["prefetch"].pop("observations")
    fhir.add(responses.GET, f"{FHIR_BASE}/Observation", json=bundle)  # answered once, in registration order
    call.body.update(fhirServer=FHIR_BASE, fhirAuthorization={"access_token": "t", "token_type": "Bearer"})


def _feedback(rng: random.Random, card: dict[str, Any], moment: datetime) -> dict[str, Any] | None:
    """What the clinician did: accept (55 %), override with a reason or none (30 %), or nothing recorded."""
    draw = rng.random()
    item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": (moment + timedelta(minutes=2)).isoformat()}
    if draw < 0.55:
        return item | {"outcome": "accepted"}
    if draw < 0.85:
        reasons = card.get("overrideReasons") or []
        if reasons and rng.random() < 0.8:
            item["overrideReason"] = {"reason": rng.choice(reasons)}
        return item | {"outcome": "overridden"}
    return None


def _malformed_call(app: Flask, moment: datetime) -> None:
    _at(app, moment).test_client().post("/cds-services/crs-patient-view", json={"hook": "patient-view"})


@contextmanager
def _fhir_server() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=15)
    arguments = parser.parse_args()
    print(f"{simulate(arguments.database_url, arguments.seed)} hook calls made")  # noqa: T201


if __name__ == "__main__":
    main()
