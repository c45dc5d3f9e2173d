"""json_text writes JSON at C speed that reads back as what json.dumps wrote, or fails as json.dumps failed.

Its users: the JSON columns of the audit and call records (through the engine's json_serializer) and the
access log line. The tests compare with json.dumps on the inputs where orjson differs and on generated values.
"""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import json_text


class Text(str):
    pass


@dataclass
class Point:
    x: int


Pair = collections.namedtuple("Pair", "a b")


def same_values(ours: str, stdlib: str) -> bool:
    """Equal as values: both read back and written again by json.dumps (NaN is not equal to itself)."""
    return json.dumps(json.loads(ours)) == json.dumps(json.loads(stdlib))


AWKWARD = [
    float("nan"),
    [1.5, float("inf"), None],
    {"x": -math.inf},
    None,
    [None, "°C", "≥ 38 °C"],
    2**70,
    {1: "int key", None: "null key", False: "bool key", 2.5: "float key"},
    "\ud800 a lone surrogate",
    Text("a str subclass"),
    Pair(1, "two"),
    {"nested": [{"deep": (1, 2.5, False)}]},
    -0.0,
    1e300,
]


@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_values_where_orjson_differs_read_back_as_json_dumps_wrote_them(value: Any) -> None:
    assert same_values(json_text.dumps(value), json.dumps(value))
    assert same_values(json_text.ascii_dumps(value), json.dumps(value))


@pytest.mark.parametrize("value", [datetime(2026, 1, 1, tzinfo=UTC), Point(1), {"when": datetime(2026, 1, 1)}])
def test_what_json_dumps_refuses_is_refused_the_same_way(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        json_text.dumps(value)


def test_non_ascii_is_utf8_in_dumps_and_escaped_in_ascii_dumps() -> None:
    value = {"display": "Température ≥ 38 °C", "hook_instance": "日本"}

    assert json_text.dumps(value) == '{"display":"Température ≥ 38 °C","hook_instance":"日本"}'
    assert json_text.ascii_dumps(value) == json.dumps(value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_generated_values_read_back_as_json_dumps_wrote_them(value: Any) -> None:
    ours = json_text.ascii_dumps(value)

    assert same_values(json_text.dumps(value), json.dumps(value))
    assert same_values(ours, json.dumps(value))
    assert ours.isascii()
