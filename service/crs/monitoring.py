"""M-MONITOR reminders (and C4 vitals-overdue): each only when it applies."""

from __future__ import annotations

from datetime import timedelta

from service.crs.findings import Findings, Situation
from service.crs.history import overdue_vitals

GRADING_EVERY_HOURS = 12  # M-MONITOR: the seed's "CRS grading at least every 12 hours"


def remind(situation: Situation, findings: Findings) -> None:
    _vitals(situation, findings)
    _crp_ferritin(situation, findings)
    if (situation.managed or 0) >= 2:
        findings.remind("M-MONITOR", "M-MONITOR.telemetry")
    _baseline_labs(situation, findings)
    if situation.current.fever:
        findings.remind("M-MONITOR", "M-MONITOR.infection-work-up")
    findings.remind("M-MONITOR", "M-MONITOR.grading", hours=GRADING_EVERY_HOURS)


def _vitals(situation: Situation, findings: Findings) -> None:
    overdue = overdue_vitals(situation.ctx, situation.now)
    if overdue:  # C4
        findings.fire("C4")
        findings.flags.add("vitals-overdue")
        hours = situation.ctx.policy.freshness.vitals_interval_hours
        findings.remind("M-MONITOR", "M-MONITOR.vitals-overdue", overdue=tuple(overdue), hours=hours)


def _crp_ferritin(situation: Situation, findings: Findings) -> None:
    ctx, now = situation.ctx, situation.now
    interval = ctx.hours(ctx.policy.freshness.crp_ferritin_interval_hours)
    fresh = {lab.kind for lab in ctx.timeline.labs.between(now - interval, now)}
    stale = [name for kind, name in (("crp", "CRP"), ("ferritin", "ferritin")) if kind not in fresh]
    if stale:
        hours = ctx.policy.freshness.crp_ferritin_interval_hours
        findings.remind("M-MONITOR", "M-MONITOR.crp-ferritin", stale=tuple(stale), hours=hours)


def _baseline_labs(situation: Situation, findings: Findings) -> None:
    ctx = situation.ctx
    if ctx.t0 is None:
        return
    start = ctx.t0 - timedelta(days=ctx.policy.freshness.baseline_window_days)
    found = {lab.panel_item for lab in ctx.timeline.baseline_labs.between(start, ctx.t0)}
    missing = [item for item in ctx.policy.codes.baseline_panel if item not in found]
    if missing:
        days = ctx.policy.freshness.baseline_window_days
        findings.remind("M-MONITOR", "M-MONITOR.baseline-labs", missing=tuple(missing), days=days)
