"""M-MONITOR reminders (and C4 vitals-overdue): each only when it applies."""

from __future__ import annotations

from datetime import timedelta

from service.crs.findings import Findings, Situation
from service.crs.history import overdue_vitals


def remind(situation: Situation, findings: Findings) -> None:
    _vitals(situation, findings)
    _crp_ferritin(situation, findings)
    if (situation.managed or 0) >= 2:
        findings.remind(
            "M-MONITOR", "Continuous cardiac telemetry and pulse oximetry (grade >= 2).", key="M-MONITOR.telemetry"
        )
    _baseline_labs(situation, findings)
    if situation.current.fever:
        findings.remind(
            "M-MONITOR",
            "Febrile: infection work-up with blood and urine cultures and a chest radiograph, if not already sent.",
            key="M-MONITOR.infection-work-up",
        )
    findings.remind(
        "M-MONITOR", "Grade CRS at least every 12 h, and whenever the clinical status changes.", key="M-MONITOR.grading"
    )


def _vitals(situation: Situation, findings: Findings) -> None:
    overdue = overdue_vitals(situation.ctx, situation.now)
    if overdue:  # C4
        findings.fire("C4")
        findings.flags.add("vitals-overdue")
        findings.remind(
            "M-MONITOR",
            f"Vital signs with pulse oximetry every 4 h: {', '.join(overdue)} not documented in the last 4 h.",
            key="M-MONITOR.vitals-overdue",
            overdue=", ".join(overdue),
        )


def _crp_ferritin(situation: Situation, findings: Findings) -> None:
    ctx, now = situation.ctx, situation.now
    interval = ctx.hours(ctx.policy.freshness.crp_ferritin_interval_hours)
    fresh = {lab.kind for lab in ctx.timeline.labs.between(now - interval, now)}
    stale = [name for kind, name in (("crp", "CRP"), ("ferritin", "ferritin")) if kind not in fresh]
    if stale:
        text = f"Daily CRP and ferritin: {' and '.join(stale)} not resulted in the last 24 h."
        findings.remind("M-MONITOR", text, key="M-MONITOR.crp-ferritin", stale=" and ".join(stale))


def _baseline_labs(situation: Situation, findings: Findings) -> None:
    ctx = situation.ctx
    if ctx.t0 is None:
        return
    start = ctx.t0 - timedelta(days=ctx.policy.freshness.baseline_window_days)
    found = {lab.panel_item for lab in ctx.timeline.baseline_labs.between(start, ctx.t0)}
    missing = [item for item in ctx.policy.codes.baseline_panel if item not in found]
    if missing:
        text = f"Baseline labs before the CAR T infusion not found: {', '.join(missing)}."
        findings.remind("M-MONITOR", text, key="M-MONITOR.baseline-labs", missing=", ".join(missing))
