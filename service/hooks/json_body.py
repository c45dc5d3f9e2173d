"""The request body as JSON, within the depth and array limits (settings ``json_max_depth``, ``json_max_array_items``).

A large prefetch is parsed by orjson at C speed; the limits are then proved on the raw bytes with a few
C-speed byte operations (``structure_within``), and only a body they cannot prove is walked level by level.
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

# JSON's structure without its strings' contents: quotes, commas and brackets, ``[]`` written as ``{}``
SQUARE_AS_CURLY = bytes.maketrans(b"[]", b"{}")
NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"{}[],')
NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"{}")
SMALL = 4096


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object, or 400 naming what is wrong with it."""
    if not request.is_json:
        raise BadRequest("Content-Type must be application/json")
    data = request.get_data(cache=False)
    body, by_orjson = parse_json(data)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    settings = runtime().settings
    if not (by_orjson and structure_within(data, settings.json_max_depth, settings.json_max_array_items)):
        check_json_shape(body, settings.json_max_depth, settings.json_max_array_items)
    return body


def parse_json(data: bytes) -> tuple[Any, bool]:
    """(the body, whether orjson read it). orjson (C speed) reads ordinary bodies; what it refuses but the
    standard library reads (NaN, numbers beyond a double, UTF-16) goes to ``json.loads``, so every body reads
    as it always did."""
    try:
        return orjson.loads(data), True
    except orjson.JSONDecodeError as error:
        if str(error).startswith("depth limit exceeded"):  # orjson stops at 1024 levels, past any setting
            raise BadRequest("the JSON body is nested too deeply") from error
    try:
        return json.loads(data), False
    except RecursionError as error:
        raise BadRequest("the JSON body is nested too deeply") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("the body is not valid JSON") from error


def structure_within(data: bytes, max_depth: int, max_items: int) -> bool:
    """True when the bytes of a JSON text orjson has read prove both limits hold; False when they cannot tell.

    Valid UTF-8 JSON keeps every quote, comma and bracket of its structure as that ASCII byte, and, with no
    escaped quote in it, every quote delimits a string. Dropping all other bytes, then the empty strings
    (``""``), then what is left between quotes, leaves the structure alone: the array limit holds when it has
    fewer commas than the limit (an array of n items has n - 1), and the depth is the number of passes that
    strip every innermost bracket pair.
    """
    if b"\\" in data and b'\\"' in data:  # one-byte search first: most bodies have no backslash at all
        return False
    skeleton = data.translate(SQUARE_AS_CURLY, NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:  # strings holding commas or brackets, e.g. the unit mm[Hg]
        skeleton = b"".join(skeleton.split(b'"')[::2])
    if skeleton.count(b",") >= max_items:
        return False
    return _depth_within(skeleton.translate(None, NOT_BRACKET), max_depth)


def _depth_within(brackets: bytes, max_depth: int) -> bool:
    """Each pass strips the innermost pairs, one level. On a large body, a pass that strips less than an eighth
    is a deep, narrow structure (perhaps hostile), which the walk checks for less: False hands it over, so the
    passes never read more than eight times the brackets (or ``SMALL`` bytes per level)."""
    for _level in range(max_depth):
        if not brackets:
            return True
        stripped = brackets.replace(b"{}", b"")
        if len(brackets) > SMALL and len(stripped) > len(brackets) - len(brackets) // 8:
            return False
        brackets = stripped
    if brackets:
        raise BadRequest(f"the JSON body is nested deeper than {max_depth} levels")
    return True


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
