"""Issue 13: the fast way of reading a body within the depth and array limits never passes what the walk refuses.

``read_within_limits`` either returns the body orjson reads or None (the full path decides). It must never pass a
body the walk over the parsed body refuses, nor return a body other than what orjson reads from the bytes alone.
Strings holding quotes, commas, brackets, escapes and non-ASCII text are generated on purpose, with deep narrow
and wide shapes and arrays at exactly the limit.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.hooks import json_body
from service.hooks.errors import BadRequest
from service.hooks.json_body import (
    ORJSON_DEPTH,
    arrays_within,
    checked_in_full,
    json_object_within,
    read_within_limits,
    read_wrapped,
    small_depth_within,
)
from tests.fhir_builders import bp, prefetch, spo2, temp

TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('ab",[]{}\\:\n é\u2028😀')), max_size=8)
SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | TRICKY_TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=40,
)


def narrow(depth: int, leaf: Any) -> Any:
    """``depth`` levels of lists and objects in turn around ``leaf``."""
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


SHAPES = (
    JSON
    | st.builds(narrow, st.integers(0, 12), JSON)
    | st.builds(lambda width, item: [item] * width, st.integers(0, 7), JSON)
)


def verdict(decide: Any, data: bytes, max_depth: int, max_items: int) -> object:
    """The body, or the message of the 400."""
    try:
        return decide(data, max_depth, max_items)
    except BadRequest as error:
        return error.message


def encode(body: Any, indent: bool) -> bytes:
    return json.dumps({"body": body}, indent=2 if indent else None, ensure_ascii=False).encode()


@given(SHAPES, st.integers(1, 14), st.integers(1, 6), st.booleans())
@settings(max_examples=400, deadline=None)
def test_the_fast_way_agrees_with_the_walk(body: Any, max_depth: int, max_items: int, indent: bool) -> None:
    data = encode(body, indent)
    full = verdict(checked_in_full, data, max_depth, max_items)
    fast = read_within_limits(data, max_depth, max_items)
    assert fast is None or fast == full
    assert verdict(json_object_within, data, max_depth, max_items) == full


@given(SHAPES, st.integers(1, 14), st.booleans())
@settings(max_examples=250, deadline=None)
def test_the_wrapping_lists_decide_the_depth_exactly(body: Any, max_depth: int, indent: bool) -> None:
    data = encode(body, indent)
    walk_passes = verdict(checked_in_full, data, max_depth, 10**9) == orjson.loads(data)
    wrapped = read_wrapped(data, ORJSON_DEPTH - max_depth)
    assert wrapped == (orjson.loads(data) if walk_passes else None)


@given(SHAPES, st.integers(1, 14), st.booleans())
@example(['"', narrow(4, 1), '"'], 3, False)  # escaped quotes would shift which brackets look like strings
@settings(max_examples=250, deadline=None)
def test_the_byte_scans_never_pass_a_body_too_deep(body: Any, max_depth: int, indent: bool) -> None:
    data = encode(body, indent)
    walk_passes = verdict(checked_in_full, data, max_depth, 10**9) == orjson.loads(data)
    assert walk_passes or not small_depth_within(data, max_depth)


TOKENS = st.sampled_from(["[", "]", "{", "}", ",", ":", "1", '"a"', '"]"', " "])


@given(st.lists(TOKENS, max_size=12).map("".join), st.sampled_from([1, 2, 3, 960]))
@settings(max_examples=300, deadline=None)
def test_a_body_that_breaks_out_of_the_wrapping_is_never_read(text: str, levels: int) -> None:
    data = text.encode()
    try:
        alone: object = orjson.loads(data)
    except orjson.JSONDecodeError:
        alone = None
    assert read_wrapped(data, levels) == alone


@pytest.mark.parametrize("data", [b"1],[2", b'{"a": 1}],[{"b": 2}', b"]]]  [[[", b'{"a": []}] , [{"b": 1}'])
def test_closing_a_wrapping_list_is_not_json(data: bytes) -> None:
    assert read_wrapped(data, 3) is None


def test_this_orjson_refuses_past_1024_levels() -> None:
    """A new orjson with another limit turns the fast way off: this fails so the pin's upgrade is noticed."""
    assert json_body.WRAPPING_PROVES_DEPTH


@pytest.mark.parametrize("max_depth", [16, 64, 500])
@pytest.mark.parametrize("shape", ["lists", "objects and lists"])
@pytest.mark.parametrize("size", ["small", "over 24 kB"])
def test_exactly_at_the_depth_limit_and_one_over(max_depth: int, shape: str, size: str) -> None:
    def body(depth: int) -> Any:  # the outer object is one level; the filler takes a body past the byte scans
        inner = narrow(depth - 1, "x") if shape != "lists" else json.loads("[" * (depth - 1) + "]" * (depth - 1))
        return {"a": inner, "filler": "[" * (json_body.SMALL if size != "small" else 10)}

    at_limit = json.dumps(body(max_depth)).encode()
    assert read_within_limits(at_limit, max_depth, 1000) == json.loads(at_limit)
    assert small_depth_within(at_limit, max_depth) == (max_depth <= json_body.SMALL_PASSES)
    over = json.dumps(body(max_depth + 1)).encode()
    assert not small_depth_within(over, max_depth)
    assert read_within_limits(over, max_depth, 1000) is None
    with pytest.raises(BadRequest, match=f"nested deeper than {max_depth} levels"):
        json_object_within(over, max_depth, 1000)


@pytest.mark.parametrize("max_items", [1000, 1001])
def test_arrays_exactly_at_the_item_limit_and_one_over(max_items: int) -> None:
    at_limit = json.dumps({"a": [0] * max_items}, separators=(",", ":")).encode()
    assert arrays_within(at_limit, max_items)
    assert json_object_within(at_limit, 64, max_items) == json.loads(at_limit)
    over = json.dumps({"a": [0] * (max_items + 1)}, separators=(",", ":")).encode()
    assert not arrays_within(over, max_items)
    with pytest.raises(BadRequest, match=f"more than {max_items} items"):
        json_object_within(over, 64, max_items)


def test_the_shortest_array_over_the_limit_is_longer_than_the_byte_bound() -> None:
    shortest = b"[" + b",".join([b"0"] * 1001) + b"]"
    assert len(shortest) > 2 * 1000
    assert not arrays_within(shortest, 1000)


PREFETCH = {"prefetch": prefetch([temp(1, 38.4), bp(1, 88), spo2(1, 93, 4)], [])}


@pytest.mark.parametrize(
    ("name", "body", "max_depth", "read_fast"),
    [
        ("a FHIR prefetch (units like mm[Hg] hold brackets)", PREFETCH, 11, True),
        ("the same prefetch against a lower limit", PREFETCH, 10, False),
        ("nested one level too deep", {"a": [[[{"b": []}]]]}, 5, False),
        ("exactly at the depth limit", {"a": [[[{"b": 1}]]]}, 5, True),
        ("brackets only inside strings", {"a": "[[[[[[[[{{{{"}, 5, True),
        ("escaped quotes around brackets", {"a": 'say "[[[[[["', "b": '\\"]]]'}, 5, True),
        ("escaped quotes around a part too deep", {"a": '"', "b": [[[[[1]]]]], "c": '"'}, 5, False),
        ("more commas than the array limit allows", {"a": list(range(2000))}, 5, False),
        ("commas inside strings only", {"a": "," * 5000}, 5, False),
    ],
)
def test_what_the_fast_way_reads(name: str, body: Any, max_depth: int, read_fast: bool) -> None:
    data = json.dumps(body).encode()
    assert (read_within_limits(data, max_depth, max_items=1000) is not None) == read_fast, name
    assert verdict(json_object_within, data, max_depth, 1000) == verdict(checked_in_full, data, max_depth, 1000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 2000 + b"]" * 2000, "the JSON body is nested too deeply"),
        (b'{"a": ' + b"[" * 1030 + b"]" * 1030 + b"}", "the JSON body is nested too deeply"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b"null", "the body must be a JSON object"),
        (b'{"a": NaN}', None),
        (b'{"a": 1e400}', None),
        (b'{"a": 1', "the body is not valid JSON"),
        (b"1],[2", "the body is not valid JSON"),
    ],
)
def test_what_the_fast_way_leaves_to_the_full_path(data: bytes, message: str | None) -> None:
    assert read_within_limits(data, 64, 1000) is None
    result = verdict(json_object_within, data, 64, 1000)
    assert result == message if message else isinstance(result, dict)


def test_the_walk_still_refuses_what_it_finds_first() -> None:
    """A body over both limits: the full path answers with the first limit the walk meets, as before."""
    data = json.dumps({"a": [0] * 1001, "b": narrow(80, 1)}).encode()
    assert read_within_limits(data, 64, 1000) is None
    assert verdict(json_object_within, data, 64, 1000) == "a JSON array has more than 1000 items"
