"""Evidence: which data a rule used, with values and times, for the card and the audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    rule: str
    text: str
    at: datetime | None
    sources: tuple[str, ...] = ()


def fmt_number(value: float) -> str:
    """A clinical number without float noise: 38.0 -> '38', 38.25 -> '38.25', 666.6666 -> '666.7'."""
    rounded = round(value, 1) if abs(value) >= 100 else round(value, 2)
    return f"{rounded:g}" if abs(rounded) < 1e6 else f"{rounded:.0f}"


def fmt_time(moment: datetime | None) -> str:
    """A time for a sentence in an engine text (UTC; cards re-render times in the site's zone)."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "time unknown"
