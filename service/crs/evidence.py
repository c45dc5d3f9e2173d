"""Evidence: which data a rule used, with values and times, for the card and the audit.

The wording is a catalog key with parameters (numbers and times as values); the sources are the FHIR
references for the audit, never printed on a card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.crs.assessment import Param


@dataclass(frozen=True, slots=True)
class Evidence:
    rule: str
    key: str
    at: datetime | None
    sources: tuple[str, ...] = ()
    params: dict[str, Param] = field(default_factory=dict)


def fmt_number(value: float) -> str:
    """A clinical number without float noise: 38.0 -> '38', 38.25 -> '38.25', 666.6666 -> '666.7'."""
    if type(value) is int and -1_000_000 < value < 1_000_000:
        return str(value)  # what the float formatting below gives for such an int, at a third of its cost
    rounded = round(value, 1) if abs(value) >= 100 else round(value, 2)
    return f"{rounded:g}" if abs(rounded) < 1e6 else f"{rounded:.0f}"
