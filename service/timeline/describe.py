"""The words beside the chart: a description of the episode and the data table (the same data as the chart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from service.timeline.layers import GradeStep, Infusion, Layers, Reading

OXYGEN_NAMES = {0: "room air (class 0)", 2: "low-flow oxygen (class 2)", 3: "high-flow oxygen (class 3)"}


@dataclass(frozen=True)
class TableRow:
    at: datetime
    time: str
    kind: str
    value: str


def moment(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%a %d %b %Y %H:%M}"


def grade_text(grade: int | None) -> str:
    return "unknown" if grade is None else str(grade)


def oxygen_text(support_class: int | None) -> str:
    if support_class is None:
        return "support not classifiable"
    return OXYGEN_NAMES.get(support_class, f"positive pressure (class {support_class})")


def description(layers: Layers, zone: ZoneInfo) -> list[str]:
    """Sentences a clinician (or a screen reader) reads instead of looking at the chart."""
    sentences = [_opening(layers, zone)]
    sentences.append(_current_grade(layers))
    sentences.extend(_fever(layers, zone))
    sentences.extend(_hypotension(layers, zone))
    sentences.extend(_treatments(layers, zone))
    sentences.append(_tocilizumab(layers, zone))
    return sentences


def _opening(layers: Layers, zone: ZoneInfo) -> str:
    if layers.t0 is None:
        return f"No CAR T-cell infusion recorded; the chart shows the 7 days to {moment(layers.now, zone)}."
    product = layers.product or "CAR T cells"
    return f"{product} infused {moment(layers.t0, zone)}; the chart runs to {moment(layers.now, zone)}."


def _current_grade(layers: Layers) -> str:
    current = layers.grades[-1] if layers.grades else None
    if current is None or not layers.in_scope:
        return "Not in the CRS assessment window: no grade."
    peak = max((step.grade for step in layers.grades if step.grade is not None), default=None)
    text = f"ASTCT CRS grade now {grade_text(current.grade)}, managed as grade {grade_text(current.managed_grade)}"
    return text + (f"; highest grade in the episode {peak}." if peak is not None else ".")


def _fever(layers: Layers, zone: ZoneInfo) -> list[str]:
    fevers = [r for r in layers.temperatures if r.value >= layers.fever_threshold_c]
    if not fevers:
        return [f"No temperature at or above {layers.fever_threshold_c:.1f} °C."]
    hottest = max(fevers, key=lambda reading: reading.value)
    return [f"First fever {moment(fevers[0].at, zone)}; highest {hottest.value:.1f} °C at {moment(hottest.at, zone)}."]


def _hypotension(layers: Layers, zone: ZoneInfo) -> list[str]:
    low = [r for r in layers.systolic if r.value < layers.sbp_below]
    low += [r for r in layers.mean_pressure if layers.map_below is not None and r.value < layers.map_below]
    if not low:
        return [f"No systolic pressure below {layers.sbp_below:g} mmHg."]
    first = min(low, key=lambda reading: reading.at)
    return [f"Blood pressure first below the threshold {moment(first.at, zone)} ({first.label} {first.value:g} mmHg)."]


def _treatments(layers: Layers, zone: ZoneInfo) -> list[str]:
    sentences = []
    for infusion in layers.vasopressors:
        state = "still running" if infusion.running else f"until {moment(infusion.end, zone)}"
        sentences.append(f"{infusion.drug} infusion from {moment(infusion.start, zone)}, {state}.")
    doses = [f"{dose.label} at {moment(dose.at, zone)}" for dose in layers.doses]
    if doses:
        sentences.append("Doses: " + "; ".join(doses) + ".")
    peak = max(layers.oxygen, key=lambda step: step.support_class or 0, default=None)
    if peak is not None and (peak.support_class or 0) > 0:
        sentences.append(f"Most oxygen support: {oxygen_text(peak.support_class)} from {moment(peak.at, zone)}.")
    return sentences


def _tocilizumab(layers: Layers, zone: ZoneInfo) -> str:
    limits = layers.tocilizumab
    text = (
        f"Tocilizumab: {limits.doses_last_24h} of at most {limits.max_per_24h} doses in the last 24 h, "
        f"{limits.doses_since_t0} of at most {limits.max_total} since the infusion"
    )
    if limits.next_allowed_at is not None:
        return text + f"; next dose not before {moment(limits.next_allowed_at, zone)}."
    if limits.blocked_reason is not None:
        return text + f"; not now: {limits.blocked_reason}."
    return text + "."


def table_rows(layers: Layers, zone: ZoneInfo) -> list[TableRow]:
    """Every point of the chart, in time order."""
    rows: list[tuple[datetime, str, str]] = []
    rows += [(r.at, "Temperature", f"{r.value:.1f} °C") for r in layers.temperatures]
    rows += [(r.at, "Blood pressure", f"{r.label} {r.value:g} mmHg") for r in (*layers.systolic, *layers.mean_pressure)]
    rows += [(s.at, "Oxygen", f"{s.label or 'documented'}: {oxygen_text(s.support_class)}") for s in layers.oxygen]
    rows += [(i.start, "Vasopressor", f"{i.drug} {_infusion_state(i, zone)}") for i in layers.vasopressors]
    rows += [(d.at, "Dose", d.label) for d in layers.doses]
    rows += [(r.at, "ICANS", _icans_text(r)) for r in layers.icans]
    rows += [
        (s.start, "CRS grade", f"ASTCT grade {grade_text(s.grade)}, managed as {grade_text(s.managed_grade)}")
        for s in _grade_changes(layers)
    ]
    if layers.t0 is not None:
        rows.append((layers.t0, "CAR T infusion", layers.product or "CAR T cells"))
    return [TableRow(at, moment(at, zone), kind, value) for at, kind, value in sorted(rows, key=lambda row: row[0])]


def _infusion_state(infusion: Infusion, zone: ZoneInfo) -> str:
    return "running" if infusion.running else f"until {moment(infusion.end, zone)}"


def _icans_text(reading: Reading) -> str:
    return f"{reading.label} {reading.value:g}"


def _grade_changes(layers: Layers) -> list[GradeStep]:
    changes: list[GradeStep] = []
    for step in layers.grades:
        if not changes or (step.grade, step.managed_grade) != (changes[-1].grade, changes[-1].managed_grade):
            changes.append(step)
    return changes
