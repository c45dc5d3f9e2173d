"""JSON text at C speed that means what ``json.dumps`` meant: orjson where the two agree, ``json.dumps`` elsewhere.

Used where every call writes JSON off the clinical path (the access log line, the JSON columns of the audit
and call records); a stdlib ``json.dumps`` there cost a few microseconds per value, several values a call.

orjson reads back as the same values as ``json.dumps`` except on a few inputs, and each of those is given
to ``json.dumps`` so that nothing stored or logged changes in meaning (nor starts or stops failing):
- NaN and infinities: orjson writes ``null``, ``json.dumps`` ``NaN`` / ``Infinity``;
- integers beyond 64 bits, keys that are not strings, strings that are not valid UTF-8 (lone surrogates),
  nesting past orjson's limit: orjson refuses them, ``json.dumps`` writes them;
- datetimes, dataclasses, subclasses of str, int, dict and list: passed through by orjson to ``json.dumps``,
  which writes them or refuses them as it always did.
Two kinds that ``json.dumps`` refuses orjson writes (plain enums as their value, ``uuid.UUID`` as its text);
no record or log line holds either, and where one came it would be stored rather than lost.
The text differs in form only: no spaces after separators, and non-ASCII characters as UTF-8 rather than
``\\u`` escapes (``ascii_dumps`` keeps the escapes, for streams of unknown encoding).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

STDLIB_DECIDES = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(value: Any) -> str:
    """JSON text of ``value`` that reads back as ``json.loads(json.dumps(value))`` does (or json.dumps's error)."""
    try:
        raw = orjson.dumps(value, option=STDLIB_DECIDES)
    except orjson.JSONEncodeError:
        return json.dumps(value)
    # A null is None or a non-finite float: only the second needs json.dumps, and only a null costs the walk.
    if b"null" in raw and has_non_finite(value):
        return json.dumps(value)
    return raw.decode()


def ascii_dumps(value: Any) -> str:
    """As ``dumps``, in ASCII: what any stream encoding writes unchanged (non-ASCII text goes to json.dumps)."""
    text = dumps(value)
    return text if text.isascii() else json.dumps(value)


def has_non_finite(value: Any) -> bool:
    """Whether a NaN or an infinity sits anywhere in ``value`` (values only: orjson refuses float keys)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(has_non_finite, value.values()))
    if isinstance(value, list | tuple):
        return any(map(has_non_finite, value))
    return False
