"""Every wording key the engine emits, with the parameters its text receives.

The card catalog may replace the text of any key (``[texts]`` in cards.toml); a key not listed here is
refused at start-up, and a test checks that the engine emits only these keys with these parameters.
"""

from __future__ import annotations

NOTE_PARAMS: dict[str, tuple[str, ...]] = {
    "M-G1.supportive-care": (),
    "M-G1.anc-unknown": (),
    "M-G1.neutropenic": ("anc",),
    "M-NO-GMCSF": (),
    "M-G2-TOCI.supportive-care": (),
    "M-G2-DEX.next-step": (),
    "M-G3": (),
    "M-G4.icu": (),
    "M-G4.taper": ("taper",),
    "M-G4.taper-today": ("taper",),
    "M-ICANS.protocol": (),
    "M-HLH.hlh-2004": (),
    "M-NO-DELAY": (),
    "M-STEROID-SELECT.methylprednisolone-running": (),
    "M-STEROID-SELECT.taper-rapidly": (),
    "M-ACTIVE-ORDER": ("regimen",),
    "M-ACTIVE-ORDER.less-intensive": ("running", "regimen"),
    "M-STEROID-ANTIFUNGAL": (),
    "M-MONITOR.vitals-overdue": ("overdue",),
    "M-MONITOR.crp-ferritin": ("stale",),
    "M-MONITOR.telemetry": (),
    "M-MONITOR.baseline-labs": ("missing",),
    "M-MONITOR.infection-work-up": (),
    "M-MONITOR.grading": (),
    "C3-FEVER-UNKNOWN.measure": ("support", "threshold", "grade"),
    "C3-FEVER-UNKNOWN.last-fever": ("temp", "time"),
    "C3-FEVER-UNKNOWN.if-febrile": ("action",),
    "M-ICANS-ALONE": ("icans_grade", "time"),
    "R-PLAUSIBLE.implausible-value": ("what", "value", "unit", "code", "time"),
    "R-PLAUSIBLE.weight-implausible": ("latest", "latest_time", "other", "other_time", "pct"),
    "R-DEDUP.duplicate-dose": ("drug", "time", "count"),
    "R-UNIDENTIFIED": ("name", "kind", "time"),
    "O-TOCI-DOSE": ("ordered", "protocol_dose"),
    "O-TOCI-LIMITS": ("reason", "next_allowed"),
    "O-TOCI-ICANS": (),
    "O-TOCI-GRADE": ("grade",),
    "O-GMCSF": (),
    "O-STEROID-PREMED": (),
    "O-STEROID-DOSE": ("managed_grade", "regimen"),
    "O-STEROID-HIGH": ("drug", "dose", "limit"),
    "O-STEROID-GRADE": ("grade",),
    "O-CART-FILTER": (),
}
