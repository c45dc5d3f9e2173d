"""The Observation shape that makes up most of a chart, read on a short path.

A week in the ICU is hundreds of vital signs charted the same way: a usable status, one coding, an
``effectiveDateTime`` and a ``valueQuantity`` with a UCUM ``code`` (or a blood-pressure panel's components).
``PlainReaders.read`` reads exactly that shape (labs too, with the baseline-panel items their code stands for)
and answers False for anything else (two codings, padded codes, a coded value, an ``effectivePeriod``, a
component beside a single value, a baseline-panel code that is no lab, an unknown unit, an implausible value,
...), which ``observations.read_observation`` then reads in full, flags and data-quality notes included. The
short path never adds a record the general path would not: tests/unit/test_plain_observations.py compares both
on every fixture and on generated Observations.

It runs once per Observation of every request, so it is written for speed where that stays readable (issue 13,
measured): plausible ranges as two numbers, each component code's slot with its unit table and range found in
one look-up, the timestamp cache called directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from service.crs.policy import Range
from service.crs.timeline import (
    BaselineLab,
    BloodPressure,
    LabResult,
    OxygenSupport,
    Spo2,
    Temperature,
    UnrecognisedCode,
    Weight,
)
from service.fhir import observations, units
from service.fhir.fields import FhirResource, instant_text
from service.fhir.observations import (
    READERS,
    USABLE_STATUSES,
    ObservationCodes,
    ObservationRecords,
    coded_device,
)
from service.fhir.units import ABSURD

PADDED = re.compile(r"^\s|\s$|\s\||\|\s")  # coding_keys strips system and code: such a key is read in full
NUMBERS = (int, float)
Reader = Callable[[FhirResource, datetime, str, ObservationRecords], None]
Bounds = tuple[float, float]  # a plausible range as two numbers: compared inline, no method call per value
ANY_VALUE: Bounds = (-math.inf, math.inf)  # no plausible range (values are finite here: see _plain_number)
Slot = tuple[int, dict[str, units.Converter], Bounds]  # a component value's place, unit table and plausible range
Roles = dict[str, tuple[Slot, ...]]  # a component code's slots


class NotPlain(Exception):
    """A value the short path does not read: the whole Observation is read in full instead."""


class PlainReaders:
    """Built once per policy: for each policy code the short path reads, the reader that reads it."""

    def __init__(self, codes: ObservationCodes) -> None:
        self.codes = codes
        self.known = {key for key in codes.reader_rank if not PADDED.search(key)}
        readable = [(key, READERS[rank]) for key, rank in codes.reader_rank.items() if key in self.known]
        self.special = {key: found for key, reader in readable if (found := self._special(key, reader))}
        self.general = {key: (reader, {key}) for key, reader in readable if self._plain_key(key, self.special)}
        self.listed = codes.reader_rank.keys() | codes.baseline_items.keys()
        plausible = codes.plausible
        self.temperature_c, self.weight_kg = _bounds(plausible.temperature_c), _bounds(plausible.weight_kg)
        pressure = (units.PRESSURE, units.PRESSURE, units.PRESSURE)
        bp_bounds = (_bounds(plausible.systolic_mmhg), _bounds(plausible.mean_mmhg), ANY_VALUE)
        self.bp_roles = self._roles((codes.systolic, codes.mean_arterial, codes.diastolic), pressure, bp_bounds)
        self.flow_roles = self._roles((codes.flow,), (units.FLOW,), (_bounds(plausible.flow_l_min),), codes.fio2)

    def _roles(
        self,
        slot_codes: tuple[frozenset[str], ...],
        tables: tuple[dict[str, units.Converter], ...],
        bounds: tuple[Bounds, ...],
        unread: frozenset[str] = frozenset(),
    ) -> Roles:
        """Each component code's slots, with the unit table and range of each (-1: a component the short path
        does not read)."""
        roles: Roles = {}
        slots = [(index, tables[index], bounds[index]) for index in range(len(slot_codes))]
        for (index, table, valid), slot_keys in [*zip(slots, slot_codes, strict=True), ((-1, {}, ANY_VALUE), unread)]:
            for key in slot_keys & self.known:
                roles[key] = (*roles.get(key, ()), (index, table, valid))
        return roles

    def _plain_key(self, key: str, special: dict[str, Reader]) -> bool:
        return key not in special and key not in self.codes.baseline_items

    def _special(self, key: str, general: Callable[..., None]) -> Reader | None:
        """The short reader of the vital signs charted most often, and of labs (a baseline-panel code among them:
        a lab is often one); the others keep their general reader."""
        if general is observations.read_lab:
            return partial(self._lab, self.codes.lab_kind[key], self.codes.baseline_items.get(key, ()))
        if key in self.codes.baseline_items:
            return None  # read in full: the general path adds the baseline-panel item too
        if general is observations.read_blood_pressure:
            return self._bp_panel if key in self.codes.bp_panel else None
        short: dict[Callable[..., None], Reader] = {
            observations.read_temperature: self._temperature,
            observations.read_spo2: self._spo2,
            observations.read_weight: self._weight,
        }
        return short.get(general)

    def read(self, obs: FhirResource, out: ObservationRecords) -> bool:
        """Add what a plain Observation says to ``out`` and answer True; False: nothing added, read it in full."""
        try:
            if obs["status"] not in USABLE_STATUSES:  # an unhashable status raises TypeError: read in full
                return False  # not a result: the general path skips it
            (coding,) = obs["code"]["coding"]
            key = coding["system"] + "|" + coding["code"]
            at = instant_text(obs["effectiveDateTime"])
            if at is None:
                return False
            source = f"Observation/{obs.get('id', '(no id)')}"
            if "valueCodeableConcept" in obs:
                return self._device(obs, coding, key, at, source, out)
            special = self.special.get(key)
            if special is not None:
                special(obs, at, source, out)  # adds its record last: nothing is added when it raises
                return True
        except (KeyError, TypeError, ValueError, NotPlain):
            return False
        if key not in self.general:
            return self._unrecognised(obs, coding, key, out)
        if "component" in obs and _coded_component(obs["component"]):
            return False
        general, keys = self.general[key]
        general(obs, at, source, keys, self.codes, out)
        return True

    def _unlisted(self, obs: FhirResource, coding: FhirResource, key: str) -> bool:
        """No policy list names the code, as the general path reads it (system and code trimmed: a padded
        code is left to it); no components."""
        system, code = coding["system"], coding["code"]
        trimmed = system == system.strip() and code == code.strip()
        return trimmed and key not in self.listed and "component" not in obs

    def _device(
        self, obs: FhirResource, coding: FhirResource, key: str, at: datetime, source: str, out: ObservationRecords
    ) -> bool:
        """G-HYPOXIA: an oxygen device or room air charted as the one coding of the coded value of an otherwise
        unlisted code, read as ``observations.device_support`` reads it."""
        (value,) = obs["valueCodeableConcept"]["coding"]
        value_key = value["system"] + "|" + value["code"]
        support = coded_device(value_key, value.get("display"), at, source, self.codes)
        if support is None or not self._unlisted(obs, coding, key):
            return False
        out.oxygen.append(support)
        return True

    def _unrecognised(self, obs: FhirResource, coding: FhirResource, key: str, out: ObservationRecords) -> bool:
        """R-UNIDENTIFIED for a code no policy list names; a padded or baseline-panel code is read in full."""
        if not self._unlisted(obs, coding, key):
            return False
        display = coding.get("display")
        text = display if isinstance(display, str) else None
        out.unrecognised.append(UnrecognisedCode("Observation", coding["system"], coding["code"], text))
        return True

    def _temperature(self, obs: FhirResource, at: datetime, source: str, out: ObservationRecords) -> None:
        out.temperatures.append(Temperature(at, _lone_number(obs, units.TEMPERATURE, self.temperature_c), source))

    def _weight(self, obs: FhirResource, at: datetime, source: str, out: ObservationRecords) -> None:
        out.weights.append(Weight(at, _lone_number(obs, units.WEIGHT, self.weight_kg), source))

    def _lab(
        self, kind: str, items: tuple[str, ...], obs: FhirResource, at: datetime, source: str, out: ObservationRecords
    ) -> None:
        """As ``observations.read_lab`` reads it, with the baseline-panel items the code stands for."""
        table = units.LABS[kind]
        value = _lone_number(obs, table, ANY_VALUE)
        upper = observations.upper_limit(obs, table)
        out.baseline_labs.extend([BaselineLab(at, item, source) for item in items])
        out.labs.append(LabResult(at, kind, value, upper if upper and math.isfinite(upper) else None, source))

    def _bp_panel(self, obs: FhirResource, at: datetime, source: str, out: ObservationRecords) -> None:
        systolic, mean, diastolic = self._component_values(obs.get("component"), self.bp_roles, 3)
        if systolic is not None or mean is not None or diastolic is not None:
            out.blood_pressures.append(BloodPressure(at, systolic, mean, source, diastolic))

    def _spo2(self, obs: FhirResource, at: datetime, source: str, out: ObservationRecords) -> None:
        percent = _plain_number(obs.get("valueQuantity"), units.PERCENT, ANY_VALUE)
        (flow,) = self._component_values(obs.get("component"), self.flow_roles, 1)
        out.spo2.append(Spo2(at, percent, source))
        if flow is not None:
            out.oxygen.append(OxygenSupport(at, None, None, flow, None, source))

    def _component_values(self, components: object, roles: Roles, count: int) -> list[float | None]:
        """One pass over the components: a slot takes the value of the first component with one of its codes,
        as ``observations.component_value`` does. A component that is not plain raises NotPlain."""
        values: list[float | None] = [None] * count
        taken = [False] * count
        for part in components if isinstance(components, list) else ():
            if "valueCodeableConcept" in part:
                raise NotPlain  # perhaps an oxygen device (G-HYPOXIA): read in full
            (coding,) = part["code"]["coding"]
            key = coding["system"] + "|" + coding["code"]
            slots = roles.get(key)
            if slots is None:
                if key not in self.known and PADDED.search(key):
                    raise NotPlain
                continue
            for slot, table, bounds in slots:
                if slot < 0:
                    raise NotPlain
                if not taken[slot]:
                    taken[slot] = True
                    quantity = part.get("valueQuantity")
                    values[slot] = None if quantity is None else _plain_number(quantity, table, bounds)
        return values


def _plain_number(quantity: object, table: dict[str, units.Converter], bounds: Bounds) -> float:
    """The Quantity's value in the table's unit when it is plain: a number, a known UCUM ``code``, no
    comparator, plausible. Anything else raises NotPlain: the general readers read and report it (R-PLAUSIBLE:
    an implausible value is named on the card by them, never dropped here). (A ``code``
    that is not text is in no table; an unhashable one raises TypeError, which ``read`` takes as not plain.)"""
    if type(quantity) is not dict or "comparator" in quantity:
        raise NotPlain
    number: Any = quantity.get("value")
    if type(number) not in NUMBERS or not -ABSURD < number < ABSURD:
        raise NotPlain
    unit: Any = quantity.get("code")
    converter = table.get(unit)
    if converter is None:
        raise NotPlain
    value = float(number) if converter is units.SAME else converter(float(number))  # most units are canonical
    if not bounds[0] <= value <= bounds[1]:
        raise NotPlain
    return value


def _lone_number(obs: FhirResource, table: dict[str, units.Converter], bounds: Bounds) -> float:
    """The plain value of an Observation without components: a component may hold an oxygen device
    (G-HYPOXIA), which the general path reads whatever the Observation's code."""
    if "component" in obs:
        raise NotPlain
    return _plain_number(obs.get("valueQuantity"), table, bounds)


def _bounds(valid: Range) -> Bounds:
    return (valid.low, valid.high)


def _coded_component(components: object) -> bool:
    """A component with a coded value may name an oxygen device (G-HYPOXIA): the general path reads it."""
    if not isinstance(components, list):
        return True
    return any(not isinstance(part, dict) or "valueCodeableConcept" in part for part in components)
