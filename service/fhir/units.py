"""UCUM unit conversion to the engine's canonical units. None means "unit not understood"."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

Converter = Callable[[float], float]


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def fahrenheit_to_celsius(value: float) -> float:
    """Exact decimal arithmetic: 100.4 [degF] is 38.0 Cel, not 37.99999999 (C1 boundary)."""
    return float(((_decimal(value) - 32) * 5 / 9).quantize(Decimal("0.000001")))


def _scale(factor: float) -> Converter:
    return lambda value: float((_decimal(value) * _decimal(factor)).quantize(Decimal("0.000001")))


def _divide(divisor: float) -> Converter:
    return lambda value: float((_decimal(value) / _decimal(divisor)).quantize(Decimal("0.000001")))


SAME: Converter = float

TEMPERATURE: dict[str, Converter] = {
    "Cel": SAME, "cel": SAME, "°C": SAME, "C": SAME, "degC": SAME,
    "[degF]": fahrenheit_to_celsius, "degF": fahrenheit_to_celsius,
    "°F": fahrenheit_to_celsius, "F": fahrenheit_to_celsius,
}  # fmt: skip
PRESSURE: dict[str, Converter] = {"mm[Hg]": SAME, "mmHg": SAME, "mm Hg": SAME}
FLOW: dict[str, Converter] = {
    "L/min": SAME,
    "l/min": SAME,
    "L/min{O2}": SAME,
    "mL/min": _divide(1000),
    "ml/min": _divide(1000),
}
WEIGHT: dict[str, Converter] = {"kg": SAME, "[lb_av]": _scale(0.45359237), "lb": _scale(0.45359237), "g": _divide(1000)}
PERCENT: dict[str, Converter] = {"%": SAME}
FRACTION_UNITS = {"1", "{ratio}", "{fraction}", ""}

LABS: dict[str, dict[str, Converter]] = {
    "ferritin": {"ng/mL": SAME, "ug/L": SAME, "µg/L": SAME, "ng/ml": SAME, "pmol/L": _divide(2.247)},
    "crp": {"mg/L": SAME, "mg/dL": _scale(10), "mg/dl": _scale(10)},
    "anc": {
        "10*9/L": SAME, "10^9/L": SAME, "10*3/uL": SAME, "10^3/uL": SAME, "K/uL": SAME,
        "/uL": _divide(1000), "{cells}/uL": _divide(1000), "/mm3": _divide(1000),
    },
    "alt": {"U/L": SAME, "[IU]/L": SAME, "IU/L": SAME},
    "ast": {"U/L": SAME, "[IU]/L": SAME, "IU/L": SAME},
    "bilirubin": {"mg/dL": SAME, "mg/dl": SAME, "umol/L": _divide(17.1), "µmol/L": _divide(17.1)},
    "creatinine": {"mg/dL": SAME, "mg/dl": SAME, "umol/L": _divide(88.4), "µmol/L": _divide(88.4)},
}  # fmt: skip

MASS_MG: dict[str, Converter] = {
    "mg": SAME,
    "g": _scale(1000),
    "ug": _divide(1000),
    "mcg": _divide(1000),
    "µg": _divide(1000),
}
VOLUME_ML: dict[str, Converter] = {"mL": SAME, "ml": SAME, "L": _scale(1000), "l": _scale(1000)}


ABSURD = 1e12  # beyond any clinical value in any unit used here; also keeps Decimal quantize in range


def convert(value: float, unit: str, table: dict[str, Converter]) -> float | None:
    """``value`` in the table's canonical unit; None for a unit not understood.

    A number that is not finite or absurdly large (a 400-digit integer, ``1e400``, ``NaN``) comes back as
    ``inf`` so that R-PLAUSIBLE names it instead of a conversion failing on it.
    """
    converter = table.get(unit)
    if converter is None:
        return None
    if not math.isfinite(value) or abs(value) >= ABSURD:
        return math.inf
    return converter(value)


def fio2_percent(value: float, unit: str) -> float | None:
    """FiO2 in percent: a '%' value as is; a fraction 0.21-1.0 (unit '1' or none) times 100."""
    if not math.isfinite(value):
        return None
    if unit == "%":
        return value if 21 <= value <= 100 else None
    if unit in FRACTION_UNITS and 0.21 <= value <= 1.0:
        return float((_decimal(value) * 100).quantize(Decimal("0.01")))
    return None
