"""Properties that must hold for every chart (hypothesis): monotone grading, dose caps, limits."""

from __future__ import annotations

from typing import Any

from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from tests.fhir_builders import bp, car_t, chart, device, flow, given, patient, spo2, temp, weight

Resource = dict[str, Any]
SUPPORT_LADDER = ["room air", "nasal cannula", "high-flow nasal cannula", "non-rebreather", "BiPAP mask"]
PRESSORS = ["norepinephrine", "phenylephrine", "epinephrine"]

vitals_strategy = st.fixed_dictionaries(
    {
        "temp_c": st.floats(min_value=35.0, max_value=41.0, allow_nan=False).map(lambda t: round(t, 1)),
        "systolic": st.integers(min_value=50, max_value=160),
        "support": st.integers(min_value=0, max_value=len(SUPPORT_LADDER) - 1),
        "flow_l_min": st.floats(min_value=0.5, max_value=15, allow_nan=False).map(lambda f: round(f, 1)),
        "pressors": st.integers(min_value=0, max_value=len(PRESSORS)),
    }
)


def patient_chart(vitals: dict[str, Any]) -> list[Resource]:
    resources = [
        patient(),
        car_t(hours_ago=96),
        weight(70),
        temp(1, vitals["temp_c"]),
        bp(1, vitals["systolic"]),
        spo2(1, 95),
    ]
    resources.append(device(1, SUPPORT_LADDER[vitals["support"]]))
    if vitals["support"] == 1:
        resources.append(flow(1, vitals["flow_l_min"]))
    resources += [given(drug, 3, running=True) for drug in PRESSORS[: vitals["pressors"]]]
    return resources


@st.composite
def worse_pair(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    base = draw(vitals_strategy)
    worse = dict(base)
    worse["temp_c"] = draw(
        st.floats(min_value=base["temp_c"], max_value=41.5, allow_nan=False).map(lambda t: round(t, 1))
    )
    worse["systolic"] = draw(st.integers(min_value=40, max_value=int(base["systolic"])))
    worse["support"] = draw(st.integers(min_value=int(base["support"]), max_value=len(SUPPORT_LADDER) - 1))
    worse["flow_l_min"] = draw(st.floats(min_value=base["flow_l_min"], max_value=20, allow_nan=False))
    worse["pressors"] = draw(st.integers(min_value=int(base["pressors"]), max_value=len(PRESSORS)))
    worse["temp_c"] = max(worse["temp_c"], base["temp_c"])
    return base, worse


@settings(max_examples=150, deadline=None)
@for_all(worse_pair())
def test_G_GRADE_worse_vitals_or_more_support_never_lower_the_grade(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base, worse = pair

    base_grade, worse_grade = chart(patient_chart(base)).grade, chart(patient_chart(worse)).grade

    assert base_grade is not None
    assert worse_grade is not None
    assert worse_grade >= base_grade


@settings(max_examples=150, deadline=None)
@for_all(st.floats(min_value=0.5, max_value=350, allow_nan=False, allow_infinity=False))
def test_M_TOCI_DOSE_never_exceeds_800_mg_nor_8_mg_per_kg(kg: float) -> None:
    resources = [
        patient(),
        car_t(hours_ago=96),
        weight(kg),
        temp(1, 38.6),
        bp(1, 85),
        spo2(1, 95),
        device(1, "room air"),
    ]

    (suggestion,) = [order for order in chart(resources).recommended if order.drug == "tocilizumab"]

    assert suggestion.dose_mg is not None
    assert suggestion.dose_mg <= 800
    assert suggestion.dose_mg <= 8 * kg + 1e-9


dose_times = st.lists(
    st.floats(min_value=0.5, max_value=90, allow_nan=False).map(lambda h: round(h, 1)), max_size=6, unique=True
)


@settings(max_examples=150, deadline=None)
@for_all(dose_times)
def test_M_TOCI_LIMITS_no_suggestion_when_a_limit_blocks(hours_ago: list[float]) -> None:
    doses = sorted(hours_ago)
    resources = [
        patient(),
        car_t(hours_ago=96),
        weight(70),
        temp(1, 38.6),
        bp(1, 85),
        spo2(1, 95),
        device(1, "room air"),
    ]
    resources += [given("tocilizumab", hours) for hours in doses]

    suggested = [order for order in chart(resources).recommended if order.drug == "tocilizumab"]

    blocked = len(doses) >= 4 or sum(1 for h in doses if h < 24) >= 3 or (bool(doses) and doses[0] < 8)
    if blocked:
        assert suggested == []
