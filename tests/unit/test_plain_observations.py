"""Issue 13: the short path for plain Observations adds exactly what the general path adds.

``PlainReaders.read`` reads the shape most vital signs come in and hands everything else to
``read_observation``. The oracle is the general path alone. Every fixture, and generated Observations that mix
plain and odd shapes (padded codes, two codings, coded values, device components, unknown units, comparators,
implausible and huge numbers, booleans, missing fields, baseline-panel codes), are read both ways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.fhir.fields import array_of
from service.fhir.observations import ObservationCodes, ObservationRecords, read_observation
from service.fhir.plain_observations import PlainReaders
from service.fhir.translate import Translator
from service.fixtures import fixture_paths, read_fixture, resources_of
from tests import fhir_builders as b

CODES = ObservationCodes.from_policy(b.POLICY)
PLAIN = PlainReaders(CODES)


def read_both_ways(observations: list[dict[str, Any]]) -> tuple[ObservationRecords, ObservationRecords]:
    short, general = ObservationRecords(), ObservationRecords()
    for observation in observations:
        if not PLAIN.read(observation, short):
            read_observation(observation, CODES, short)
        read_observation(observation, CODES, general)
    return short, general


DEVICE_PART = [
    {
        "code": {"coding": [{"system": b.CRS, "code": "x"}]},
        "valueCodeableConcept": b.device(1, "nasal cannula")["valueCodeableConcept"],
    }
]


@pytest.mark.parametrize(
    ("name", "observation", "short"),
    [
        ("temperature", b.temp(1, 38.4), True),
        ("temperature in Fahrenheit", b.temp(1, 101.2, "[degF]"), True),
        ("blood-pressure panel", b.bp(1, 88, 55), True),
        ("SpO2 with an oxygen-flow component", b.spo2(1, 93, flow_l_min=4), True),
        ("weight", b.weight(70), True),
        ("lab (general reader)", b.lab("ast", 60), True),
        ("lab that is also a baseline-panel code", b.lab("crp", 80), True),
        (
            "lab with a reference range",
            {**b.lab("ferritin", 900), "referenceRange": [{"high": b.qty(400, "ng/mL")}]},
            True,
        ),
        (
            "lab with an implausible reference range",
            {**b.lab("alt", 9), "referenceRange": [{"high": b.qty(1e400, "U/L")}]},
            True,
        ),
        ("temperature with an oxygen device in a component", {**b.temp(1, 38.4), "component": DEVICE_PART}, False),
        ("weight with an oxygen device in a component", {**b.weight(70), "component": DEVICE_PART}, False),
        ("lab with an oxygen device in a component", {**b.lab("ast", 60), "component": DEVICE_PART}, False),
        (
            "R-UNIDENTIFIED heart rate (not a policy code)",
            b._obs((b.LOINC, "8867-4"), 1, valueQuantity=b.qty(112, "/min")),
            True,
        ),
        ("G-HYPOXIA oxygen device (coded value)", b.device(1, "nasal cannula"), True),
        (
            "coded value that is no device",
            b._obs((b.CRS, "oxygen-device"), 1, valueCodeableConcept={"text": "?"}),
            False,
        ),
        ("SpO2 with an FiO2 component", b.spo2(1, 93, fio2=40), False),
        ("R-PLAUSIBLE implausible temperature", b.temp(1, 55), False),
        ("temperature in an unknown unit", b.temp(1, 38.4, "K"), False),
        ("padded code", b._obs((" http://loinc.org", "8310-5"), 1, valueQuantity=b.qty(38.4, "Cel")), False),
    ],
)
def test_the_short_path_takes_the_plain_shapes_only(name: str, observation: dict[str, Any], short: bool) -> None:
    """The comparison below would prove nothing if the short path never ran: it reads these, and only these."""
    assert PLAIN.read(observation, ObservationRecords()) is short, name
    only_short, general = read_both_ways([observation])
    assert only_short == general, name


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda path: Path(path).stem)
def test_every_fixture_translates_the_same_without_the_short_path(path: Path) -> None:
    resources = list(resources_of(read_fixture(path)))
    translator = Translator.from_policy(b.POLICY)
    fast = translator.timeline(resources)
    with mock.patch.object(PlainReaders, "read", return_value=False):
        general = translator.timeline(resources)
    assert fast == general


POLICY_KEYS = sorted(CODES.reader_rank) + sorted(CODES.baseline_items)
SYSTEM_CODE = st.sampled_from([tuple(key.split("|", 1)) for key in POLICY_KEYS]) | st.tuples(
    st.sampled_from(["http://loinc.org", " http://loinc.org", "http://loinc.org ", b.CRS]),
    st.sampled_from(["8310-5", " 8310-5", "8867-4", "8480-6", "x"]),
)
UNITS = st.sampled_from(["Cel", "[degF]", "K", "mm[Hg]", "%", "L/min", "mL/min", "kg", "[lb_av]", "mg/L", " Cel", "1"])
NUMBERS = st.one_of(
    st.integers(-10, 300),
    st.floats(-10, 300, allow_nan=False),
    st.just(10**400),
    st.just(True),
    st.just("38.4"),
)


@st.composite
def quantities(draw: st.DrawFn) -> Any:
    quantity: dict[str, Any] = {"value": draw(NUMBERS)}
    unit_field = draw(st.sampled_from(["code", "unit", "both", "none"]))
    if unit_field in ("code", "both"):
        quantity["code"] = draw(UNITS)
    if unit_field in ("unit", "both"):
        quantity["unit"] = draw(UNITS)
    if draw(st.booleans()) and draw(st.booleans()):
        quantity["comparator"] = draw(st.sampled_from(["<", ""]))
    return draw(st.sampled_from([quantity, quantity, quantity, None, "38.4"]))


def codings(draw: st.DrawFn) -> list[Any]:
    count = draw(st.sampled_from([1, 1, 1, 2, 0]))
    return [dict(zip(("system", "code"), draw(SYSTEM_CODE), strict=True)) for _ in range(count)]


DEVICE_CODINGS = [dict(zip(("system", "code"), key.split("|", 1), strict=True)) for key in sorted(CODES.devices)]
assert not CODES.invasive.isdisjoint(CODES.devices)  # invasive devices are among those drawn


@st.composite
def coded_values(draw: st.DrawFn) -> Any:
    """A coded value: a device (invasive or not, with or without a display), two codings, odd codings."""
    device: dict[str, Any] = dict(draw(st.sampled_from(DEVICE_CODINGS)))
    if draw(st.booleans()):
        device["display"] = draw(st.sampled_from(["nasal cannula", "", 7]))
    odd = draw(st.sampled_from([{"system": b.SNOMED, "code": "26412008"}, {"code": "x"}, {"system": 1, "code": "2"}]))
    coding = draw(st.sampled_from([[device], [device], [odd], [odd, device], [device, odd], ["x"], []]))
    return draw(st.sampled_from([{"coding": coding}, {"coding": coding}, {"text": "?"}, [coding], "x"]))


@st.composite
def components(draw: st.DrawFn) -> list[Any]:
    parts: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        part: dict[str, Any] = {"code": {"coding": codings(draw)}, "valueQuantity": draw(quantities())}
        if draw(st.integers(0, 9)) == 0:
            part["valueCodeableConcept"] = draw(coded_values())
        parts.append(part)
    return parts


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{draw(st.integers(0, 5))}",
        "status": draw(st.sampled_from(["final", "final", "amended", "entered-in-error"])),
        "code": {"coding": codings(draw)},
    }
    effective = draw(st.sampled_from(["effectiveDateTime", "effectiveDateTime", "effectivePeriod", "bad"]))
    moment = b.at(draw(st.integers(0, 48)))
    observation[effective] = {"start": moment} if effective == "effectivePeriod" else moment
    if draw(st.booleans()):
        observation["valueQuantity"] = draw(quantities())
    if draw(st.integers(0, 3)) == 0:
        observation["component"] = draw(components())
    if draw(st.integers(0, 4)) == 0:
        observation["valueCodeableConcept"] = draw(coded_values())
    return observation


VALUES = st.floats(-5, 250, allow_nan=False) | st.integers(-5, 250)


@st.composite
def vital_signs(draw: st.DrawFn) -> dict[str, Any]:
    """Vital signs as the builders chart them (mostly plain), sometimes with one field changed."""
    hours, value = draw(st.integers(0, 48)), draw(VALUES)
    observation: dict[str, Any] = draw(
        st.sampled_from(
            [
                b.temp(hours, value, draw(st.sampled_from(["Cel", "[degF]"]))),
                b.bp(hours, value, draw(VALUES)),
                b.spo2(hours, value, flow_l_min=draw(st.none() | VALUES)),
                b.weight(value, hours, draw(st.sampled_from(["kg", "[lb_av]", "g"]))),
                b.lab("ast", value, hours),
                b.mean_pressure(hours, value),
                b.flow(hours, value),
                b._obs((b.LOINC, "8867-4"), hours, valueQuantity=b.qty(value, "/min")),
                b.device(hours, draw(st.sampled_from(sorted(b.DEVICES)))),
            ]
        )
    )
    if draw(st.integers(0, 3)) == 0:
        field = draw(st.sampled_from(["status", "code", "effectiveDateTime", "valueQuantity", "component"]))
        observation[field] = draw(st.sampled_from([None, "x", [], {}, {"coding": []}]))
    elif draw(st.integers(0, 5)) == 0:  # G-HYPOXIA: a device in a component, whatever the Observation's code
        observation["component"] = [*DEVICE_PART, *array_of(observation.get("component"))]
    return observation


@given(st.lists(observations() | vital_signs(), max_size=12))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_observations_read_the_same_both_ways(chart: list[dict[str, Any]]) -> None:
    short, general = read_both_ways(chart)
    assert short == general
