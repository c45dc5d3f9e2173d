"""The call record's counts (resources by type, unrecognised codes) are Counter's, in the same order."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.hooks.calls import tally

KINDS = st.sampled_from(["Observation", "Patient", "MedicationAdministration", None, 5, ("Observation", None)])


@given(st.lists(KINDS, max_size=30))
def test_tally_is_counter_in_order(values: list[Any]) -> None:
    assert list(tally(values).items()) == list(Counter(values).items())


@given(st.integers(min_value=1, max_value=50), KINDS)
def test_one_repeated_value_is_counted_once_with_its_number(count: int, kind: Any) -> None:
    assert dict(tally([kind] * count)) == {kind: count}


@pytest.mark.parametrize("values", [[["Observation"]] * 2, ["Observation", ["Observation"]]])
def test_a_value_that_cannot_be_a_key_fails_as_counter_fails(values: list[Any]) -> None:
    with pytest.raises(TypeError):
        Counter(values)
    with pytest.raises(TypeError):
        tally(values)
