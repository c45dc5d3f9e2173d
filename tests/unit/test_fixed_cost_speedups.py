"""Issue 13 (fixed cost of a call): each cheaper step against the one it replaced, on the same inputs."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Response
from hypothesis import given, settings
from hypothesis import strategies as st

from service.cards.templates import Text, compile_source
from service.cards.uuids import BLOCK, UuidSource, new_uuid
from service.cards.wording import Moment, Wording, zone_name
from service.http_policy import HSTS, HSTS_ITEMS, SECURITY_HEADERS, SECURITY_ITEMS, add_missing

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PRESET_HEADERS = [
    {},
    {"Cache-Control": "max-age=600"},
    {"cache-control": "public", "X-FRAME-OPTIONS": "SAMEORIGIN", "Strict-Transport-Security": "max-age=1"},
    {"Content-Security-Policy": "default-src 'self'", "Referrer-Policy": "origin", "X-Request-ID": "abc"},
]


def setdefault_each(response: Response, hsts: bool) -> None:
    """The hook as it was: a ``setdefault`` per header."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", HSTS)


@pytest.mark.parametrize("preset", PRESET_HEADERS)
@pytest.mark.parametrize("hsts", [False, True])
def test_security_headers_in_one_pass_equal_setdefault_each(preset: dict[str, str], hsts: bool) -> None:
    old, new = Response("{}", mimetype="application/json"), Response("{}", mimetype="application/json")
    for response in (old, new):
        for name, value in preset.items():
            response.headers[name] = value
    setdefault_each(old, hsts)
    add_missing(new, HSTS_ITEMS if hsts else SECURITY_ITEMS)
    assert list(new.headers.items()) == list(old.headers.items())


def test_uuids_from_a_block_are_random_version_4_like_uuid4() -> None:
    source = UuidSource()
    drawn = [source() for _ in range(3 * 64 + 5)]  # across block boundaries
    parsed = [uuid.UUID(text) for text in drawn]
    assert len(set(drawn)) == len(drawn)
    assert all(
        str(item) == text and item.version == 4 and item.variant == uuid.RFC_4122
        for item, text in zip(parsed, drawn, strict=True)
    )
    assert all(len(text) == len(str(uuid.uuid4())) for text in drawn)
    hex_id = source.hex()
    assert len(hex_id) == 32
    assert uuid.UUID(hex_id).version == 4


def test_a_forked_worker_does_not_repeat_its_parents_uuids() -> None:
    new_uuid()  # the parent holds a block with unused uuids
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, " ".join(new_uuid() for _ in range(8)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        in_child = set(pipe.read().split())
    in_parent = {new_uuid() for _ in range(8)}
    assert len(in_child) == 8
    assert not in_child & in_parent


class Shout(str):
    """Equal to its lower-case twin, printed otherwise."""

    def __str__(self) -> str:
        return self.upper()


SOURCE = "{{ v }}|{{ w }}|{% for item in w %}{{ item }};{% endfor %}{% for part in parts %}{{ part }}{% endfor %}"
MEMOISED = Wording({"x": Text.compile(SOURCE)}, "Europe/Paris", NOW)  # one memo across all the examples
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 1e16, float("inf")]),
    st.text("ab", max_size=2),
    st.text("ab", max_size=2).map(Shout),
    st.datetimes(timezones=st.just(UTC)),
)
SEQUENCES = st.one_of(st.tuples(SCALARS, SCALARS), st.lists(SCALARS, max_size=2))


@settings(max_examples=400, deadline=None)
@given(st.one_of(SCALARS, SEQUENCES), SEQUENCES, st.lists(st.text("ab", max_size=2), max_size=2))
def test_memoised_words_equal_words_rendered_afresh(v: Any, w: Any, parts: list[str]) -> None:
    afresh = Wording({"x": Text(compile_source(SOURCE), None, pure=False)}, "Europe/Paris", NOW)
    expected = afresh.text("x", parts, v=v, w=w)
    assert MEMOISED.text("x", parts, v=v, w=w) == expected
    assert MEMOISED.text("x", parts, v=v, w=w) == expected  # the second time from the memo when memoisable


def test_uuids_are_the_uuid_modules_version_4_of_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    block = os.urandom(BLOCK)
    monkeypatch.setattr("service.cards.uuids.os.urandom", lambda size: block[:size])
    source = UuidSource()
    drawn = [source() if index % 2 else source.hex() for index in range(BLOCK // 16)]
    made = [uuid.UUID(bytes=block[start : start + 16], version=4) for start in range(0, BLOCK, 16)]
    assert drawn == [str(item) if index % 2 else item.hex for index, item in enumerate(made)]


def old_clock(moment: Moment) -> str:
    """``Moment.clock`` and ``Moment.full`` as they were, by strftime."""
    local = moment.at.astimezone(moment.zone)
    clock = f"{local:%H:%M} {zone_name(local)}"
    return clock if local.date() == moment.today else f"{local:%d %b} {clock}"


def old_full(moment: Moment) -> str:
    local = moment.at.astimezone(moment.zone)
    return f"{local:%Y-%m-%d %H:%M} {zone_name(local)}"


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "Australia/Lord_Howe"])


@settings(max_examples=400, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)), ZONES)
def test_times_are_spelled_as_strftime_spelled_them(at: datetime, now: datetime, zone: str) -> None:
    wording = Wording({}, zone, now)
    moment = wording.moment(at)
    assert isinstance(moment, Moment)
    assert (moment.clock, moment.full) == (old_clock(moment), old_full(moment))
