"""M-CARD-LAYOUT: the one renderer of wording. A note's key is looked up in the catalog's texts and rendered with
its values.

Numbers are written without float noise; times in the site's time zone with the zone named, and relative to
the assessment where it helps ("18:00 CET, in 6 h"). A parameter a note does not carry renders empty.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, cast
from zoneinfo import ZoneInfo

from jinja2.exceptions import TemplateError

from service.cards.templates import Text
from service.crs.assessment import Note, Param
from service.crs.evidence import fmt_number
from service.crs.notes import NOTE_PARAMS

# Wording the card layout uses (not emitted by the engine), with its parameters (docs/cards.md).
LAYOUT_PARAMS: dict[str, tuple[str, ...]] = {
    "managed.M-G1-PERSISTENT": ("hours", "at"),
    "managed.M-G2-ESCALATE": ("hours", "grade_at_dose", "at"),
    "managed.M-HLH": ("ferritin", "above", "organs", "at"),
    "do-now.orders": ("drugs",),
    "do-now.consider": ("drugs",),
    "do-now.keep-monitoring": (),
    "do-now.no-grade": (),
    "flag.partial-data.no-grade": ("hours",),
    "withheld": ("drug", "next_allowed"),
    "order.short": ("drug", "dose_mg", "dose_mg_per_kg", "interval", "interval_max"),
    "order.reason": (),
    "corrected": ("drug", "dose_mg", "dose_mg_per_kg", "interval", "interval_max"),
    "suggestion.update": ("corrected",),
    "suggestion.update.description": ("corrected",),
    "suggestion.delete": (),
    "suggestion.create": ("order",),
    "icans.why": (),
    "bedside": (),
}
WORDING_PARAMS: dict[str, tuple[str, ...]] = {**NOTE_PARAMS, **LAYOUT_PARAMS}
"""Every wording key of the catalog (cards/texts.toml) and the parameters its text receives."""


class Blank(str):
    """A parameter a note does not carry: renders empty, is false in ``{% if %}``, and has the time views."""

    when = relative = full = clock = ""


BLANK = Blank()
BLANKS: dict[str, dict[str, Any]] = {key: dict.fromkeys(params, BLANK) for key, params in WORDING_PARAMS.items()}
"""The values of each key before its parameters are set: every declared parameter blank (built once)."""
NO_BLANKS: dict[str, Any] = {}  # a key that declares no parameters (one dict for all, never written)


MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
"""strftime's ``%b`` in the C locale (the service never sets another), by month number."""


def zone_name(local: datetime) -> str:
    name = local.tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name


@dataclass(frozen=True)
class Moment:
    """A time on a card: ``{{ t }}`` is the clock time in the site's zone (with the date if not the assessment's
    day), ``t.relative`` is "in 6 h" / "4 h ago", ``t.when`` both ("08:00 CET, 4 h ago"), ``t.full`` the date
    and time."""

    at: datetime
    zone: ZoneInfo
    now: datetime
    today: date  # the date of ``now`` in ``zone``

    def __str__(self) -> str:
        return self.clock

    def __bool__(self) -> bool:
        return True

    @cached_property  # a call's times recur (several findings at one instant): each is spelled once
    def clock(self) -> str:
        # strftime's %H:%M, %d and %b (C locale), spelled out: strftime cost more than the rest of a text
        local = self.at.astimezone(self.zone)
        clock = f"{local.hour:02}:{local.minute:02} {zone_name(local)}"
        return clock if local.date() == self.today else f"{local.day:02} {MONTHS[local.month]} {clock}"

    @property
    def full(self) -> str:
        local = self.at.astimezone(self.zone)  # strftime's "%Y-%m-%d %H:%M", spelled out as ``clock`` is
        return f"{local.year}-{local.month:02}-{local.day:02} {local.hour:02}:{local.minute:02} {zone_name(local)}"

    @cached_property
    def relative(self) -> str:
        seconds = (self.at - self.now).total_seconds()
        span = abs(seconds)
        if span < 60:
            return "now"
        if span < 3600:
            amount = f"{round(span / 60)} min"
        elif span < 48 * 3600:
            amount = f"{fmt_number(round(span / 3600, 1 if span < 10 * 3600 else 0))} h"
        else:
            amount = f"{fmt_number(round(span / 86400, 1))} d"
        return f"in {amount}" if seconds > 0 else f"{amount} ago"

    @property
    def when(self) -> str:
        return f"{self.clock}, {self.relative}"


def memo_key(params: dict[str, Any], parts: list[str] | None) -> Hashable | None:
    """What a text's words depend on besides the catalog, from the values as the engine gives them (so a text
    seen before costs no conversion), or None when a time is among them (a time's words depend on the moment
    of the call) or a value is not exactly of a plain type (a subclass may print otherwise). Each value with its
    type: ``True`` and ``1`` render differently; a float by its ``repr``: ``-0.0 == 0.0`` but prints "-0"."""
    frozen = []
    for name, value in params.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool:  # most values: no call to freeze them (a text costs ~1 us)
            frozen.append((name, kind, value))
        elif kind is float:
            frozen.append((name, kind, repr(value)))  # as ``_frozen`` freezes a float
        elif value is not None:  # None is not given: renders as its blank
            item = _frozen(value)
            if item is None:
                return None
            frozen.append((name, *item))
    return tuple(parts) if parts else (), tuple(frozen)


def _frozen(value: Any) -> tuple[type, Hashable] | None:
    kind = type(value)
    if kind is float:
        return (kind, repr(value))
    if kind is str or kind is int or kind is bool:
        return (kind, value)
    if kind is tuple or kind is list:
        items = tuple(_frozen(item) for item in value)
        return None if None in items else (kind, items)
    return None


def number_text(value: float) -> str:
    """38.0 -> '38', 666.666 -> '666.7', 18000 -> '18,000' (thousands grouped from 10,000 on)."""
    text = fmt_number(value)
    return f"{float(text):,.0f}" if abs(value) >= 10_000 and float(text).is_integer() else text


class Wording:
    """Renders notes and layout texts with the catalog's templates, for one card at one moment in one zone."""

    def __init__(self, texts: Mapping[str, Text], zone: str, now: datetime) -> None:
        self._texts = texts
        self.zone = ZoneInfo(zone)
        self.now = now
        self._today = now.astimezone(self.zone).date()
        self._moments: dict[tuple[datetime, Any], Moment] = {}

    def moment(self, at: datetime | None) -> Moment | Blank:
        """The time ``at`` on this call's card; the same instant in the same zone object is one Moment."""
        if at is None:
            return BLANK
        key = (at, at.tzinfo)  # equal instants in other zones print otherwise (``{{ t.at }}``)
        found = self._moments.get(key)
        if found is None:
            found = self._moments[key] = Moment(at, self.zone, self.now, self._today)
        return found

    def value(self, value: Param | list[Any]) -> Any:
        kind = type(value)
        if kind is float or kind is int:  # most values: no isinstance against a union (six times the cost)
            return number_text(cast(float, value))
        if isinstance(value, datetime):
            return self.moment(value)
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            return number_text(value)
        return [self.value(item) for item in value]

    def note(self, note: Note) -> str:
        parts = [self.note(part) for part in note.parts] if note.parts else None  # most notes have no parts
        return self.text(note.key, parts, **note.params)

    def text(self, key: str, parts: list[str] | None = None, /, **params: Any) -> str:
        """The text of ``key`` with ``params`` (a declared parameter not given renders empty)."""
        text = self._texts.get(key)
        if text is None:
            raise ValueError(f"texts.{key}: no text for this wording key")
        if text.plain is not None:
            return text.plain
        memo = memo_key(params, parts) if text.pure else None
        found = text.memo.get(memo) if memo is not None else None  # memo is None unless the text is pure
        if found is not None:
            return found
        values = dict(BLANKS.get(key, NO_BLANKS))  # the given values over the blanks, in one dict
        for name, item in params.items():
            if item is not None:
                values[name] = self.value(item)
        values["parts"] = parts or []
        try:
            return text.render(values, memo)
        except TemplateError as error:
            raise ValueError(f"texts.{key}: {error}") from error
