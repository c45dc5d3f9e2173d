"""The request body as JSON, within the depth and array limits (settings ``json_max_depth``, ``json_max_array_items``).

orjson parses the body at C speed and proves both limits on the way (``read_within_limits``). A body it cannot
prove them for takes the full path: parsed again as before and walked level by level (``check_json_shape``), which
gives every refusal its message. The fast way only ever passes a body, so no answer changes. Why it is a proof:

- Array length. An array of n items is written with n - 1 commas of its own and at least 2n + 1 bytes. So a body
  of at most 2 * max_items bytes, or with fewer than max_items comma bytes in all (commas in strings only add;
  escapes never hide one), holds no array longer than max_items.
- Depth, small bodies (up to 24 kB: below that, these byte scans cost less than the wrapping lists). Valid UTF-8
  JSON keeps each quote and bracket of its structure as that ASCII byte and, with no escaped quote, every quote
  delimits a string. Dropping all other bytes, then pairs of adjacent quotes (the other quotes keep their
  parity), then what is left between quotes, leaves the brackets outside strings. Each pass that strips the
  innermost pairs strips one level: if at most max_depth passes (and at most 16, the lowest setting, which bounds
  the cost) strip them all, the body is within the depth, and orjson reads it as is.
- Depth, other bodies. orjson refuses any text nested deeper than ``ORJSON_DEPTH`` (1024) levels, each array or
  object one level as the walk counts them (the limit is checked at import, the counting by the tests). Wrapped
  in k = 1024 - max_depth lists (``[`` * k + data + ``]`` * k), the body is read only when it is nested at most
  max_depth levels. If each wrapping list holds exactly one item, the i-th opens at the i-th byte and closes at
  the i-th byte from the end, so the innermost one holds all of ``data`` and nothing else: ``data`` is one JSON
  value (give or take whitespace), read as orjson reads it alone. Otherwise ``data`` closed a wrapping list
  (``1],[2``): it is not JSON on its own, and the full path refuses it.

Costs: the byte scans ~1.5 ns a byte; the wrapping lists ~45 us whatever the size; counting commas (bodies over
2 * max_items bytes) ~0.4 ns a byte. A body the fast way leaves to the full path (too deep, not JSON, NaN) is
parsed twice.
"""

from __future__ import annotations

import json
from itertools import chain, compress, repeat
from operator import is_
from typing import Any

import orjson
from flask import request

from service.hooks.errors import BadRequest
from service.runtime import runtime

ORJSON_DEPTH = 1024
SMALL = 24 * 1024  # where the byte scans (~1.5 ns a byte) cost about what the wrapping lists cost (~45 us)
SMALL_PASSES = 16  # the lowest json_max_depth setting
SQUARE_AS_CURLY = bytes.maketrans(b"[]", b"{}")
NOT_QUOTE_OR_BRACKET = bytes(byte for byte in range(256) if byte not in b'"{}[]')


def _orjson_reads_nested(levels: int) -> bool:
    try:
        orjson.loads(b"[" * levels + b"]" * levels)
    except orjson.JSONDecodeError:
        return False
    return True


# An orjson with another limit turns the fast way off (every body walked) rather than weakening the check.
WRAPPING_PROVES_DEPTH = _orjson_reads_nested(ORJSON_DEPTH) and not _orjson_reads_nested(ORJSON_DEPTH + 1)


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object, or 400 naming what is wrong with it."""
    if not request.is_json:
        raise BadRequest("Content-Type must be application/json")
    settings = runtime().settings
    return json_object_within(request.get_data(cache=False), settings.json_max_depth, settings.json_max_array_items)


def json_object_within(data: bytes, max_depth: int, max_items: int) -> dict[str, Any]:
    """The JSON object in ``data`` within both limits, or 400: the fast way when it proves them, else in full."""
    body = read_within_limits(data, max_depth, max_items)
    return body if body is not None else checked_in_full(data, max_depth, max_items)


def checked_in_full(data: bytes, max_depth: int, max_items: int) -> dict[str, Any]:
    """The full path: parse, then walk every level; each refusal names its limit."""
    body = parse_json(data)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    check_json_shape(body, max_depth, max_items)
    return body


def read_within_limits(data: bytes, max_depth: int, max_items: int) -> dict[str, Any] | None:
    """The JSON object orjson reads from ``data`` when that proves both limits hold; None leaves the body, whatever
    it is (too deep, too long, not JSON, not an object, or just not proved), to the full path."""
    if not arrays_within(data, max_items):
        return None
    if len(data) <= SMALL and small_depth_within(data, max_depth):
        body = _orjson_or_none(data)
    elif WRAPPING_PROVES_DEPTH:
        body = read_wrapped(data, ORJSON_DEPTH - max_depth)
    else:
        return None
    return body if type(body) is dict else None


def small_depth_within(data: bytes, max_depth: int) -> bool:
    """True when the bytes prove the body nested at most ``max_depth`` levels (see the module docstring)."""
    if b"\\" in data and b'\\"' in data:  # one-byte search first: most bodies have no backslash at all
        return False
    skeleton = data.translate(SQUARE_AS_CURLY, NOT_QUOTE_OR_BRACKET).replace(b'""', b"")
    brackets = b"".join(skeleton.split(b'"')[::2])
    for _level in range(min(max_depth, SMALL_PASSES)):
        brackets = brackets.replace(b"{}", b"")
    return not brackets


def arrays_within(data: bytes, max_items: int) -> bool:
    """True when the bytes alone show no array has more than ``max_items`` items (see the module docstring)."""
    return len(data) <= 2 * max_items or data.count(b",") < max_items


def read_wrapped(data: bytes, levels: int) -> Any:
    """What orjson reads from ``data`` inside ``levels`` lists (so nested at most 1024 - levels deep), or None."""
    wrapped = _orjson_or_none(b"".join((b"[" * levels, data, b"]" * levels)))  # one copy of data, not two
    try:
        for _level in range(levels):
            (wrapped,) = wrapped  # exactly one item, or data closed a wrapping list
    except (TypeError, ValueError):  # TypeError: orjson refused the text (None)
        return None
    return wrapped


def _orjson_or_none(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def parse_json(data: bytes) -> Any:
    """The body. orjson (C speed) reads ordinary bodies; what it refuses but the standard library reads (NaN,
    numbers beyond a double, UTF-16) goes to ``json.loads``, so every body reads as it always did."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if str(error).startswith("depth limit exceeded"):  # orjson stops at 1024 levels, past any setting
            raise BadRequest("the JSON body is nested too deeply") from error
    try:
        return json.loads(data)
    except RecursionError as error:
        raise BadRequest("the JSON body is nested too deeply") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("the body is not valid JSON") from error


def check_json_shape(body: object, max_depth: int, max_items: int) -> None:
    """Depth and array limits, level by level (a deep body must not exhaust the stack while being checked).

    Every step is a C iterator (map, compress, chain) over a whole level: a Python loop per value cost more
    than parsing the body.
    """
    dicts: list[Any] = [body] if type(body) is dict else []
    lists: list[Any] = [body] if type(body) is list else []
    depth = 1
    while dicts or lists:
        if depth > max_depth:
            raise BadRequest(f"the JSON body is nested deeper than {max_depth} levels")
        if lists and max(map(len, lists)) > max_items:
            raise BadRequest(f"a JSON array has more than {max_items} items")
        values = list(chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists)))
        kinds = list(map(type, values))
        dicts = list(compress(values, map(is_, kinds, repeat(dict))))
        lists = list(compress(values, map(is_, kinds, repeat(list))))
        depth += 1
