"""M-CARD-LAYOUT: every wording key the engine emits, with the parameters its text may receive, and the flags' wording.

The engine writes no prose: it emits a rule, a key and parameters (numbers and times as values, numbers from
the policy in force). The card catalog holds the text of every key (cards/texts.toml, overridable per site in
cards.toml ``[texts]``); a key not listed here is refused at start-up, and tests check that the engine emits
only these keys with these parameters. ``parts`` (sub-notes a text lists) are noted in docs/cards.md.
"""

from __future__ import annotations

from service.crs.assessment import Note, Param, note
from service.crs.policy import Policy

REGIMEN = ("drug", "dose", "interval", "interval_max", "max_doses", "days")
TOCI_REPEAT = ("mg_per_kg", "max_mg", "minutes", "interval", "per_24h", "window", "total")
BLOOD_PRESSURE = ("systolic", "sbp_below", "map", "map_below", "at")
OXYGEN = ("device", "flow", "fio2", "at")

NOTE_PARAMS: dict[str, tuple[str, ...]] = {
    # Next steps (what to do now), by rule
    "M-G1.supportive-care": (),
    "M-G1.anc-unknown": ("hours",),
    "M-G1.neutropenic": ("anc", "below", "time"),
    "M-NO-GMCSF": (),
    "M-G2-TOCI.supportive-care": (),
    "M-G2-DEX.next-step": ("dose", "interval", "max_doses"),
    "M-G3": (),
    "M-G4.icu": (),
    "M-G4.taper": (),
    "M-G4.taper-step": ("dose", "interval", "days"),
    "M-G4.taper-today": ("day", "dose", "interval", "days"),
    "M-G4.escalated": ("day", "dose", "time"),
    "M-ICANS.protocol": (),
    "M-ICANS.veto": (),
    "M-HLH.hlh-2004": ("hours",),
    "M-HLH.organ": ("lab", "value", "unit", "multiple", "uln", "at"),
    "M-NO-DELAY": ("hours", "fold"),
    "M-STEROID-SELECT.methylprednisolone-running": (),
    "M-STEROID-SELECT.taper-rapidly": ("hours",),
    "M-ACTIVE-ORDER": (),
    "M-ACTIVE-ORDER.less-intensive": (),
    "running-steroid": ("drug", "status", "dose", "interval", "time"),
    "regimen": REGIMEN,
    "M-STEROID-ANTIFUNGAL": (),
    "C3-FEVER-UNKNOWN.measure": ("hours", "threshold", "grade"),
    "support.vasopressors": ("drugs",),
    "support.hypotension": (),
    "support.oxygen": ("device", "flow"),
    "C3-FEVER-UNKNOWN.last-fever": ("temp", "time"),
    "C3-FEVER-UNKNOWN.if-febrile": ("grade",),
    "M-ICANS-ALONE": ("icans_grade", "time"),
    # Monitoring
    "M-MONITOR.vitals-overdue": ("overdue", "hours"),
    "M-MONITOR.crp-ferritin": ("stale", "hours"),
    "M-MONITOR.telemetry": (),
    "M-MONITOR.baseline-labs": ("missing", "days"),
    "M-MONITOR.infection-work-up": (),
    "M-MONITOR.grading": ("hours",),
    # Data quality (R-rules)
    "R-PLAUSIBLE.implausible-value": ("what", "value", "unit", "code", "time"),
    "R-PLAUSIBLE.weight-implausible": ("latest", "latest_time", "other", "other_time", "pct"),
    "R-DEDUP.duplicate-dose": ("drug", "time", "count"),
    "R-UNIDENTIFIED": ("name", "kind", "time"),
    # Tocilizumab: the order, its dose notes, the limits that withhold it
    "order.tocilizumab": ("dose", "weight", *TOCI_REPEAT),
    "order.tocilizumab.no-weight": (*TOCI_REPEAT, "days"),
    "order.tocilizumab.weight-implausible": TOCI_REPEAT,
    "M-TOCI-DOSE.label-under-weight": ("label_mg_per_kg", "weight_below", "mg_per_kg"),
    "M-TOCI-LIMITS.grade-at-last-dose-unknown": (),
    "M-TOCI-LIMITS.total": ("total",),
    "M-TOCI-LIMITS.order-not-given": (),
    "M-TOCI-LIMITS.per-24h": ("per_24h", "hours"),
    "M-TOCI-LIMITS.interval": ("interval", "last"),
    "M-TOCI-LIMITS.grade-unknown": (),
    "M-TOCI-LIMITS.improving": ("grade_then", "grade_now"),
    # Corticosteroid orders, by the rule that calls for them
    "order.M-G4": REGIMEN,
    "order.M-G4.escalation": (*REGIMEN, "after"),
    "order.M-G3": REGIMEN,
    "order.M-HLH": REGIMEN,
    "order.M-ICANS": REGIMEN,
    "order.M-EARLY-STEROID": REGIMEN,
    "order.M-G2-DEX": REGIMEN,
    # Evidence (why); ``at`` is the time of the data
    "C1.highest-temperature": ("temp", "hours", "at"),
    "C2.waiver": ("drug", "dose", "at"),
    "G-VASOPRESSOR.running": ("drug", "at"),
    "G-VASOPRESSOR.paused": ("drug", "at"),
    "G-VASOPRESSOR.inotrope": ("drug", "at"),
    "G-HYPOTENSION.blood-pressure": BLOOD_PRESSURE,
    "G-HYPOTENSION.computed-map": BLOOD_PRESSURE,
    "G-HYPOXIA.oxygen": OXYGEN,
    "G-HYPOXIA.room-air": OXYGEN,
    "M-G1-PERSISTENT": ("hours", "at"),
    "M-G2-ESCALATE": ("hours", "grade_at_dose", "at"),
    "M-HLH": ("ferritin", "above", "organs", "at"),
    # Order checks (one message per O-rule)
    "O-TOCI-DOSE": ("ordered_mg", "ordered_mg_per_kg", "protocol_mg", "protocol_mg_per_kg", "mg_per_kg", "max_mg"),
    "O-TOCI-LIMITS": ("next_allowed",),
    "O-TOCI-ICANS": (),
    "O-TOCI-GRADE": ("grade",),
    "O-GMCSF": (),
    "O-STEROID-PREMED": (),
    "O-STEROID-DOSE": ("managed_grade",),
    "O-STEROID-HIGH": ("drug", "dose", "limit"),
    "O-STEROID-GRADE": ("grade",),
    "O-CART-FILTER": (),
    # Flags with a wording of their own (the others are named one by one above)
    "flag.partial-data": ("hours",),
    "flag.age-unknown": ("sbp_below", "map_below"),
    "flag.weight-missing": ("days",),
    "flag.positive-pressure-without-oxygen": ("fio2",),
    "flag.support-without-fever": (),
    "flag.unknown-unit": (),
    "flag.data-incomplete": (),
}

FLAG_RULES = {
    "partial-data": "C3",
    "age-unknown": "G-HYPOTENSION",
    "weight-missing": "M-TOCI-DOSE",
    "positive-pressure-without-oxygen": "G-HYPOXIA",
    "support-without-fever": "G-GRADE",
    "unknown-unit": "C3",
    "data-incomplete": "C3",
}


def flag_params(flag: str, policy: Policy) -> dict[str, Param]:
    """The policy values a flag's text states (so that the card follows the policy in force)."""
    by_flag: dict[str, dict[str, Param]] = {
        "partial-data": {"hours": policy.freshness.vitals_hours},
        "age-unknown": {
            "sbp_below": policy.hypotension.adult_sbp_below,
            "map_below": policy.hypotension.adult_map_below,
        },
        "weight-missing": {"days": policy.freshness.weight_days},
        "positive-pressure-without-oxygen": {"fio2": policy.support.room_air_fio2_max_pct},
    }
    return by_flag.get(flag, {})


def flag_notes(flags: set[str] | frozenset[str], policy: Policy) -> tuple[Note, ...]:
    """The wording of each flag that has one, in a stable order."""
    return tuple(
        note(FLAG_RULES[flag], f"flag.{flag}", **flag_params(flag, policy))
        for flag in sorted(flags)
        if flag in FLAG_RULES
    )
