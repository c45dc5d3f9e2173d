"""Issue 13: the depth and array limits proved on the raw bytes agree with the walk over the parsed body.

``structure_within`` may answer "cannot tell" (False: the walk decides) but must never pass a body the walk
refuses, and refuses only what the walk refuses, with the same message. Strings holding quotes, commas,
brackets and escapes are generated on purpose: they are what a byte-level reading could mistake for structure.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.hooks.errors import BadRequest
from service.hooks.json_body import check_json_shape, structure_within
from tests.fhir_builders import bp, prefetch, spo2, temp

TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('ab",[]{}\\:\n é')), max_size=8)
SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | TRICKY_TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=40,
)


def walk_verdict(body: Any, max_depth: int, max_items: int) -> str | None:
    try:
        check_json_shape(body, max_depth, max_items)
    except BadRequest as error:
        return error.message
    return None


def bytes_verdict(data: bytes, max_depth: int, max_items: int) -> str | None:
    """None: passes; the message: refused; "cannot tell": the walk would decide."""
    try:
        return None if structure_within(data, max_depth, max_items) else "cannot tell"
    except BadRequest as error:
        return error.message


@given(JSON, st.integers(1, 6), st.integers(1, 4), st.booleans())
@settings(max_examples=600, deadline=None)
def test_the_bytes_agree_with_the_walk(body: Any, max_depth: int, max_items: int, indent: bool) -> None:
    data = json.dumps({"body": body}, indent=2 if indent else None, ensure_ascii=False).encode()
    walk = walk_verdict(orjson.loads(data), max_depth, max_items)
    on_bytes = bytes_verdict(data, max_depth, max_items)
    assert on_bytes in ("cannot tell", walk)


@pytest.mark.parametrize(
    ("name", "body", "max_depth", "expected"),
    [
        (
            "a FHIR prefetch (units like mm[Hg] hold brackets)",
            {"prefetch": prefetch([temp(1, 38.4), bp(1, 88), spo2(1, 93, 4)], [])},
            11,
            None,
        ),
        (
            "the same prefetch against a lower limit",
            {"prefetch": prefetch([temp(1, 38.4), bp(1, 88), spo2(1, 93, 4)], [])},
            10,
            "the JSON body is nested deeper than 10 levels",
        ),
        ("nested one level too deep", {"a": [[[{"b": []}]]]}, 5, "the JSON body is nested deeper than 5 levels"),
        ("exactly at the depth limit", {"a": [[[{"b": 1}]]]}, 5, None),
        ("brackets only inside strings", {"a": "[[[[[[[[{{{{"}, 5, None),
        ("an escaped quote: the walk decides", {"a": 'say "[[[[[["'}, 5, "cannot tell"),
        ("more commas than the array limit allows: the walk decides", {"a": list(range(2000))}, 5, "cannot tell"),
    ],
)
def test_what_the_bytes_prove(name: str, body: Any, max_depth: int, expected: str | None) -> None:
    assert bytes_verdict(json.dumps(body).encode(), max_depth, max_items=1000) == expected, name
