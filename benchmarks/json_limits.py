"""Cost of the JSON limits check (``service/hooks/json_body.py``), as a ratio of orjson.loads of the same body.

    .venv/bin/python -m benchmarks.json_limits                          # this tree
    .venv/bin/python -m benchmarks.json_limits --before OLD/json_body.py  # and an older module, in turns

Under a served worker's garbage-collector settings, for each body: the best time of reading it within the
default limits (depth 64, 200,000 array items), less the best time of ``orjson.loads`` alone, over it. Bodies: a request without prefetch, the ICU charts of 2 h, 1 day, 72 h
(the figure 2 body) and 30 days, the 72 h body with one escaped quote, and hostile 32 MB bodies (deep narrow past
orjson's limit, deep narrow blocks past the setting, blocks exactly at it). With ``--before``, each body is
measured in alternating rounds, old then new, so that a change in load falls on both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from benchmarks.icu_stay import hook_request, icu_stay
from service.hooks import json_body
from service.hooks.errors import BadRequest
from service.server import tune_garbage_collection

DEPTH, ITEMS = 64, 200_000
HOSTILE = 32 * 1024 * 1024


def blocks(depth: int, filler: int) -> bytes:
    """A 32 MB object holding one array of narrow blocks ``depth`` levels deep (the body is depth + 2 deep)."""
    block = b"[" * depth + b'"' + b"x" * filler + b'"' + b"]" * depth
    return b'{"a": [' + b",".join([block] * (HOSTILE // (len(block) + 1))) + b"]}"


def bodies() -> dict[str, bytes]:
    chart = {hours: json.dumps(hook_request(icu_stay(hours))).encode() for hours in (2, 24, 72, 720)}
    request = {"hook": "patient-view", "hookInstance": "x", "context": {"userId": "Practitioner/1", "patientId": "1"}}
    return {
        "no prefetch": json.dumps(request).encode(),
        "2 h": chart[2],
        "1 day": chart[24],
        "72 h": chart[72],
        "30 days": chart[720],
        "72 h + one escaped quote": chart[72].replace(b'"Observation"', b'"Obs\\"ervation"', 1),
        "32 MB deep narrow": b'{"hook": ' + b"[" * (HOSTILE // 2) + b"]" * (HOSTILE // 2) + b"}",
        "32 MB blocks over the depth": blocks(DEPTH, 1000),
        "32 MB blocks at the depth": blocks(DEPTH - 2, 1000),
    }


def reader(module: ModuleType) -> Callable[[bytes], object]:
    """The module's decision on a body: the body, or the refusal's message."""

    def read(data: bytes) -> object:
        try:
            if hasattr(module, "json_object_within"):
                return module.json_object_within(data, DEPTH, ITEMS)
            return _read_before_13h(module, data)
        except BadRequest as error:
            return error.message

    return read


def _read_before_13h(module: Any, data: bytes) -> object:
    """``read_json_object`` as it was at ec22086 (byte passes, ``structure_within``), without Flask."""
    body, by_orjson = module.parse_json(data)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if not (by_orjson and module.structure_within(data, DEPTH, ITEMS)):
        module.check_json_shape(body, DEPTH, ITEMS)
    return body


def best(call: Callable[[], object], budget: float = 0.3) -> float:
    """Best time of one call, in seconds, over about ``budget`` seconds of calls (at least three)."""
    times: list[float] = []
    while len(times) < 3 or sum(times) < budget:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def _parse_or_refusal(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        return str(error)


def measure(readers: dict[str, Callable[[bytes], object]], rounds: int) -> None:
    for name, data in bodies().items():
        first, *others = (read(data) for read in readers.values())
        assert all(other == first for other in others), f"{name}: the readers disagree"
        costs: dict[str, list[float]] = {label: [] for label in readers}
        parse = min(best(partial(_parse_or_refusal, data)) for _ in range(rounds))
        for _ in range(rounds):
            for label, read in readers.items():
                costs[label].append(best(partial(read, data)))
        print(f"{name} ({len(data):,} bytes, orjson.loads {parse * 1e3:.3f} ms):")
        for label, times in costs.items():
            extra = min(times) - parse
            print(f"  {label:7s} limits {extra * 1e6:10.1f} us = {extra / parse:6.2f}x orjson.loads")


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("json_body_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="an older json_body.py to measure in turns with this one")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    readers = {"now": reader(json_body)}
    if arguments.before:
        readers = {"before": reader(load(arguments.before)), **readers}
    tune_garbage_collection()  # as in a served worker: a 32 MB body would otherwise time the collector
    measure(readers, arguments.rounds)


if __name__ == "__main__":
    main()
