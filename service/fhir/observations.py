"""Observation -> timeline records: temperature, blood pressure, oxygen, SpO2, weight, labs, ICANS."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from service.crs.policy import PlausibilityPolicy, Policy, Range
from service.crs.timeline import (
    BaselineLab,
    BloodPressure,
    IcansAssessment,
    ImplausibleValue,
    LabResult,
    OxygenDeviceClass,
    OxygenSupport,
    Spo2,
    Temperature,
    UnrecognisedCode,
    Weight,
)
from service.fhir import units
from service.fhir.fields import (
    FhirResource,
    array_of,
    code_of,
    coding_keys,
    codings,
    effective_start,
    quantity,
    reference_of,
)

USABLE_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})
ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10"})


@dataclass(frozen=True)
class ObservationCodes:
    """The policy's code lists as sets, built once."""

    temperature: frozenset[str]
    bp_panel: frozenset[str]
    systolic: frozenset[str]
    mean_arterial: frozenset[str]
    spo2: frozenset[str]
    flow: frozenset[str]
    fio2: frozenset[str]
    weight: frozenset[str]
    icans_grade: frozenset[str]
    ice_score: frozenset[str]
    icans_icd10: dict[str, int]
    lab_kind: dict[str, str]
    baseline_items: dict[str, tuple[str, ...]]
    devices: dict[str, OxygenDeviceClass]
    invasive: frozenset[str]
    diastolic: frozenset[str]
    plausible: PlausibilityPolicy

    @cached_property
    def reader_rank(self) -> dict[str, int]:
        """Each code's first place in ``READERS``: one look-up per code instead of set unions per Observation."""
        ranks: dict[str, int] = {}
        for rank, code_set in enumerate(_reader_codes(self)):
            for code in code_set:
                ranks.setdefault(code, rank)
        return ranks

    @classmethod
    def from_policy(cls, policy: Policy) -> ObservationCodes:
        codes = policy.codes
        baseline: dict[str, list[str]] = {}
        for item, item_codes in codes.baseline_panel.items():
            for code in item_codes:
                baseline.setdefault(code, []).append(item)
        return cls(
            temperature=frozenset(codes.temperature),
            bp_panel=frozenset(codes.bp_panel),
            systolic=frozenset(codes.systolic),
            mean_arterial=frozenset(codes.mean_arterial),
            spo2=frozenset(codes.spo2),
            flow=frozenset(codes.oxygen_flow),
            fio2=frozenset(codes.fio2),
            weight=frozenset(codes.weight),
            icans_grade=frozenset(codes.icans_grade),
            ice_score=frozenset(codes.ice_score),
            icans_icd10=dict(codes.icans_icd10),
            lab_kind={code: kind for kind, kind_codes in codes.labs.items() for code in kind_codes},
            baseline_items={code: tuple(items) for code, items in baseline.items()},
            devices=dict(codes.oxygen_devices),
            invasive=frozenset(codes.invasive_ventilation),
            diastolic=frozenset(codes.diastolic),
            plausible=policy.plausible,
        )


@dataclass
class ObservationRecords:
    temperatures: list[Temperature] = field(default_factory=list)
    blood_pressures: list[BloodPressure] = field(default_factory=list)
    oxygen: list[OxygenSupport] = field(default_factory=list)
    spo2: list[Spo2] = field(default_factory=list)
    weights: list[Weight] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)
    baseline_labs: list[BaselineLab] = field(default_factory=list)
    icans: list[IcansAssessment] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    unrecognised: list[UnrecognisedCode] = field(default_factory=list)
    implausible: list[ImplausibleValue] = field(default_factory=list)


def read_observation(observation: FhirResource, codes: ObservationCodes, out: ObservationRecords) -> None:
    """Add what one Observation says to ``out``; anything not understood is skipped, never fatal."""
    if code_of(observation.get("status")) not in USABLE_STATUSES:
        return  # entered-in-error, cancelled, registered: not a result
    at = effective_start(observation)
    if at is None:
        return
    keys = coding_keys(observation.get("code"))
    source = reference_of(observation)
    is_device = _read_device(observation, at, source, codes, out)
    baseline = not keys.isdisjoint(codes.baseline_items)
    if baseline:
        for code in keys & codes.baseline_items.keys():
            out.baseline_labs.extend(BaselineLab(at, item, source) for item in codes.baseline_items[code])
    reader = _reader_for(keys, codes)
    if reader is not None:
        reader(observation, at, source, keys, codes, out)
    elif not is_device and not baseline:
        out.unrecognised.extend(_unrecognised(observation))


def _unrecognised(observation: FhirResource) -> list[UnrecognisedCode]:
    """R-UNIDENTIFIED: the codings of an Observation no policy code list names, for the codes report."""
    return [
        UnrecognisedCode(
            "Observation",
            str(coding.get("system")) if isinstance(coding.get("system"), str) else None,
            str(coding.get("code")) if isinstance(coding.get("code"), str) else None,
            str(coding.get("display")) if isinstance(coding.get("display"), str) else None,
        )
        for coding in codings(observation.get("code"))
    ]


def _reader_for(keys: set[str], codes: ObservationCodes) -> Any:
    """The first reader of the table whose codes the Observation carries (a code in two lists: the earlier)."""
    ranks = [rank for rank in map(codes.reader_rank.get, keys) if rank is not None]
    return READERS[min(ranks)] if ranks else None


def _reader_codes(codes: ObservationCodes) -> tuple[frozenset[str], ...]:
    """The code lists of ``READERS``, in the same order."""
    return (
        codes.temperature,
        codes.bp_panel | codes.systolic | codes.mean_arterial | codes.diastolic,
        codes.spo2,
        codes.flow | codes.fio2,
        codes.weight,
        codes.icans_grade | codes.ice_score,
        frozenset(codes.lab_kind),
    )


def _value(
    observation: FhirResource,
    table: dict[str, units.Converter],
    out: ObservationRecords,
    plausible: tuple[str, Range] | None = None,
) -> float | None:
    """The Observation's valueQuantity in the table's unit; None when absent, in an unknown unit or
    implausible (R-PLAUSIBLE: then named in ``out.implausible``, never silently dropped)."""
    return _checked(observation, observation.get("valueQuantity"), table, out, plausible)


def _checked(
    observation: FhirResource,
    value: object,
    table: dict[str, units.Converter],
    out: ObservationRecords,
    plausible: tuple[str, Range] | None,
) -> float | None:
    measured = quantity(value)
    if measured is None:
        return None
    converted = units.convert(*measured, table)
    if converted is None:
        out.flags.add("unknown-unit")
        return None
    if not math.isfinite(converted) or (plausible is not None and not plausible[1].holds(converted)):
        what = plausible[0] if plausible else "value"
        out.implausible.append(implausible_value(observation, what, measured))
        return None
    return converted


def implausible_value(resource: FhirResource, what: str, measured: tuple[float, str]) -> ImplausibleValue:
    """R-PLAUSIBLE: the value as charted (code, number, unit), for the card's data-quality section."""
    keys = sorted(coding_keys(resource.get("code")))
    number = measured[0]
    shown = f"{number:g}" if math.isfinite(number) else "(too large to read)"
    return ImplausibleValue(
        effective_start(resource), what, keys[0] if keys else "", shown, measured[1], reference_of(resource)
    )


def read_temperature(
    obs: FhirResource, at: datetime, source: str, _k: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    temp_c = _value(obs, units.TEMPERATURE, out, ("temperature", codes.plausible.temperature_c))
    if temp_c is not None:
        out.temperatures.append(Temperature(at, temp_c, source))


Components = list[tuple[set[str], FhirResource]]


def _components(obs: FhirResource) -> Components:
    """The components with their codes, read once for all the values an Observation's reader takes."""
    return [(coding_keys(c.get("code")), c) for c in array_of(obs.get("component")) if isinstance(c, dict)]


def _component_value(
    obs: FhirResource,
    components: Components,
    wanted: frozenset[str],
    table: dict[str, units.Converter],
    out: ObservationRecords,
    plausible: tuple[str, Range] | None = None,
) -> float | None:
    for keys, component in components:
        if keys & wanted:
            return _checked(obs, component.get("valueQuantity"), table, out, plausible)
    return None


def read_blood_pressure(
    obs: FhirResource, at: datetime, source: str, keys: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    sbp = ("systolic blood pressure", codes.plausible.systolic_mmhg)
    mean = ("mean arterial pressure", codes.plausible.mean_mmhg)
    if keys & codes.bp_panel:
        parts = _components(obs)
        values = (
            _component_value(obs, parts, codes.systolic, units.PRESSURE, out, sbp),
            _component_value(obs, parts, codes.mean_arterial, units.PRESSURE, out, mean),
            _component_value(obs, parts, codes.diastolic, units.PRESSURE, out),
        )
    else:
        kind = sbp if keys & codes.systolic else (mean if keys & codes.mean_arterial else None)
        value = _value(obs, units.PRESSURE, out, kind)
        values = (
            value if keys & codes.systolic else None,
            value if keys & codes.mean_arterial else None,
            value if keys & codes.diastolic else None,
        )
    if any(value is not None for value in values):
        out.blood_pressures.append(BloodPressure(at, values[0], values[1], source, values[2]))


def read_spo2(
    obs: FhirResource, at: datetime, source: str, _k: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    percent = _value(obs, units.PERCENT, out)
    if percent is not None:
        out.spo2.append(Spo2(at, percent, source))
    parts = _components(obs)
    flow = _component_value(obs, parts, codes.flow, units.FLOW, out, ("oxygen flow", codes.plausible.flow_l_min))
    fio2 = _component_fio2(parts, codes.fio2)
    if flow is not None or fio2 is not None:
        out.oxygen.append(OxygenSupport(at, None, None, flow, fio2, source))


def _component_fio2(components: Components, wanted: frozenset[str]) -> float | None:
    for keys, component in components:
        if keys & wanted:
            measured = quantity(component.get("valueQuantity"))
            if measured is not None:
                return units.fio2_percent(*measured)
    return None


def _read_oxygen_numbers(
    obs: FhirResource, at: datetime, source: str, keys: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    measured = quantity(obs.get("valueQuantity"))
    if measured is None:
        return
    if keys & codes.flow:
        flow = _value(obs, units.FLOW, out, ("oxygen flow", codes.plausible.flow_l_min))
        if flow is None:
            return
        fio2 = None
    else:
        flow, fio2 = None, units.fio2_percent(*measured)
        if fio2 is None:
            out.flags.add("unknown-unit")
            return
    out.oxygen.append(OxygenSupport(at, None, None, flow, fio2, source))


def _read_device(
    obs: FhirResource, at: datetime, source: str, codes: ObservationCodes, out: ObservationRecords
) -> bool:
    """G-HYPOXIA: a value that is a known device or room-air code counts, whatever the Observation's code."""
    concepts = [obs.get("valueCodeableConcept")]
    if "component" in obs:  # most Observations have neither: a measured value, no coded one
        concepts += [c.get("valueCodeableConcept") for c in array_of(obs.get("component")) if isinstance(c, dict)]
    elif concepts[0] is None:
        return False
    support = device_support(concepts, at, source, codes)
    if support is not None:
        out.oxygen.append(support)
    return support is not None


def device_support(concepts: list[Any], at: datetime, source: str, codes: ObservationCodes) -> OxygenSupport | None:
    """The first coding of the concepts that names an oxygen device or room air, as oxygen support."""
    for concept in concepts:
        for coding in codings(concept):
            support = coded_device(
                f"{coding.get('system')}|{coding.get('code')}", coding.get("display"), at, source, codes
            )
            if support is not None:
                return support
    return None


def coded_device(key: str, display: object, at: datetime, source: str, codes: ObservationCodes) -> OxygenSupport | None:
    """G-HYPOXIA: the oxygen support that ``system|code`` names (a device or room air), shown by its display
    when the coding has one; None for any other code."""
    device = codes.devices.get(key)
    if device is None:
        return None
    name = display if isinstance(display, str) else device
    return OxygenSupport(at, device, name, None, None, source, key in codes.invasive)


def read_weight(
    obs: FhirResource, at: datetime, source: str, _k: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    weight_kg = _value(obs, units.WEIGHT, out, ("weight", codes.plausible.weight_kg))
    if weight_kg is not None:
        out.weights.append(Weight(at, weight_kg, source))


def ice_score_to_grade(score: int) -> int:
    """ICE 10: no ICANS; 7-9: grade 1; 3-6: grade 2; 0-2: grade 3 (0 is a lower bound)."""
    if score >= 10:
        return 0
    if score >= 7:
        return 1
    return 2 if score >= 3 else 3


def _read_icans(
    obs: FhirResource, at: datetime, source: str, keys: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    value = obs.get("valueInteger")
    if keys & codes.icans_grade:
        grade = value if isinstance(value, int) and 0 <= value <= 4 else _icd10_grade(obs, codes)
        if grade is not None:
            out.icans.append(IcansAssessment(at, grade, False, source))
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10:
        out.icans.append(IcansAssessment(at, ice_score_to_grade(value), True, source))


def _icd10_grade(obs: FhirResource, codes: ObservationCodes) -> int | None:
    for coding in codings(obs.get("valueCodeableConcept")):
        if coding.get("system") in ICD10_SYSTEMS and isinstance(coding.get("code"), str):
            grade = codes.icans_icd10.get(coding["code"])
            if grade is not None:
                return grade
    return None


def read_lab(
    obs: FhirResource, at: datetime, source: str, keys: set[str], codes: ObservationCodes, out: ObservationRecords
) -> None:
    kind = next(codes.lab_kind[code] for code in keys if code in codes.lab_kind)
    table = units.LABS[kind]
    value = _value(obs, table, out)
    if value is not None:
        upper = upper_limit(obs, table)
        out.labs.append(LabResult(at, kind, value, upper if upper and math.isfinite(upper) else None, source))


READERS = (
    read_temperature,
    read_blood_pressure,
    read_spo2,
    _read_oxygen_numbers,
    read_weight,
    _read_icans,
    read_lab,
)


def upper_limit(obs: FhirResource, table: dict[str, units.Converter]) -> float | None:
    """``referenceRange.high`` in the lab's canonical unit, when the lab sent one."""
    for reference_range in array_of(obs.get("referenceRange")):
        if isinstance(reference_range, dict):
            high = quantity(reference_range.get("high"))
            if high is not None:
                return units.convert(*high, table)
    return None
