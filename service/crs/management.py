"""Management by managed grade (M-rules of clinical-rules.md): what to give, what to withhold, and why."""

from __future__ import annotations

from datetime import timedelta

from service.crs import monitoring
from service.crs.assessment import INDICATOR_RANK, Indicator, Note, Param, RecommendedOrder, WithheldOrder, note
from service.crs.findings import Findings, Situation
from service.crs.grading import grade_at
from service.crs.history import latest_lab
from service.crs.steroid_plan import plan_steroids, taper_steps
from service.crs.steroids import steroid_doses, taper_position
from service.crs.tocilizumab import (
    LIMIT_WINDOW_HOURS,
    TociDose,
    dosing_weight,
    limit_block,
    tocilizumab_dose,
    tocilizumab_history,
)
from service.crs.vitals import current_oxygen

INDICATOR_BY_MANAGED_GRADE: dict[int | None, Indicator] = {None: "warning", 0: "info", 1: "info", 2: "warning"}
NO_DELAY_HOURS, NO_DELAY_RISK = 12, 1.7  # M-NO-DELAY: the seed's figures (each 12 h of delay: 1.7-fold risk)


def apply(situation: Situation, findings: Findings) -> None:
    plan_treatment(situation, findings)
    _icans_alone(situation, findings)
    _hlh_protocol(situation, findings)
    steroids = situation.ctx.policy.drugs_with_role("corticosteroid")
    _antifungal(situation, findings, any(order.drug in steroids for order in findings.recommended))
    monitoring.remind(situation, findings)


def plan_treatment(situation: Situation, findings: Findings) -> None:
    """The managed grade's steps, steroid and tocilizumab (also run on a febrile what-if: C3-FEVER-UNKNOWN)."""
    _grade_steps(situation, findings)
    plan_steroids(situation, findings)
    _plan_tocilizumab(situation, findings)


def _grade_steps(situation: Situation, findings: Findings) -> None:
    managed = situation.managed
    if managed == 1:  # M-G1
        findings.step("M-G1", "M-G1.supportive-care")
    _grade_specific_steps(situation, findings)
    if (managed or 0) >= 1:  # M-G1: supportive care continues at every managed grade >= 1
        _neutropenia(situation, findings)
        findings.step("M-NO-GMCSF")


def _grade_specific_steps(situation: Situation, findings: Findings) -> None:
    managed = situation.managed
    if managed == 2:  # M-G2-TOCI
        findings.step("M-G2-TOCI", "M-G2-TOCI.supportive-care")
    elif managed == 3:  # M-G3
        findings.step("M-G3")
    elif managed == 4:  # M-G4
        findings.step("M-G4", "M-G4.icu")
        if taper_position(situation.ctx, situation.now) is None:
            findings.next_steps.append(note("M-G4", "M-G4.taper", taper_steps(situation)))


def _neutropenia(situation: Situation, findings: Findings) -> None:
    anc = latest_lab(situation.ctx, "anc", situation.now)
    limit = situation.ctx.policy.management.neutropenia_anc_below
    if anc is None:
        findings.step("M-G1", "M-G1.anc-unknown", hours=situation.ctx.policy.freshness.labs_hours)
    elif anc.value < limit:
        findings.step("M-G1", "M-G1.neutropenic", anc=anc.value, below=limit, time=anc.at)


def _plan_tocilizumab(situation: Situation, findings: Findings) -> None:
    ctx, now = situation.ctx, situation.now
    if (situation.managed or 0) < 2:
        return
    if situation.indicated.icans_veto:  # M-ICANS overrides M-G1-PERSISTENT's tocilizumab and M-NO-DELAY
        findings.fire("M-ICANS")
        findings.withheld.append(
            WithheldOrder(rule="M-ICANS", drug="tocilizumab", reasons=(note("M-ICANS", "M-ICANS.veto"),))
        )
        return
    history = tocilizumab_history(ctx, now)
    block, flags = limit_block(ctx, history, situation.current.comparable, now)
    findings.flags.update(flags)
    findings.fire("M-TOCI-LIMITS")
    if block is not None:
        findings.withheld.append(
            WithheldOrder(
                rule="M-TOCI-LIMITS", drug="tocilizumab", reasons=block.reasons, next_allowed_at=block.next_allowed_at
            )
        )
        return
    _suggest_tocilizumab(situation, findings, flags)
    # M-NO-DELAY. Reading: "no tocilizumab given yet" cannot be said while a medication given is unidentified
    # (R-UNIDENTIFIED): it may be tocilizumab, and the card asks to check it first.
    if not history.given and "unidentified-medications" not in findings.flags:
        findings.step("M-NO-DELAY", hours=NO_DELAY_HOURS, fold=NO_DELAY_RISK)


def _suggest_tocilizumab(situation: Situation, findings: Findings, limit_flags: tuple[str, ...]) -> None:
    policy = situation.ctx.policy
    weight, weight_flags = dosing_weight(situation.ctx, situation.now)
    dose = tocilizumab_dose(policy, weight)
    findings.flags.update(weight_flags or dose.flags)
    findings.fire("M-TOCI-DOSE")
    rule = "M-G2-TOCI" if situation.managed == 2 else f"M-G{situation.managed}"
    findings.fire(rule)
    key, params = tocilizumab_wording(situation, dose, weight_flags)
    findings.recommended.append(
        RecommendedOrder(
            rule=rule,
            drug="tocilizumab",
            dose_mg=dose.dose_mg,
            dose_mg_per_kg=None if dose.dose_mg is not None else dose.dose_mg_per_kg,
            infusion_minutes=policy.tocilizumab.infusion_minutes,
            key=key,
            params=params,
            notes=dose_notes(situation, (*dose.flags, *limit_flags)),
        )
    )


def tocilizumab_wording(
    situation: Situation, dose: TociDose, weight_flags: tuple[str, ...]
) -> tuple[str, dict[str, Param]]:
    """M-TOCI-DOSE: the order's wording key and its values (dose basis, cap, infusion time, repeat criteria)."""
    policy = situation.ctx.policy
    toci = policy.tocilizumab
    params: dict[str, Param] = {
        "mg_per_kg": dose.dose_mg_per_kg,
        "max_mg": toci.max_mg,
        "minutes": toci.infusion_minutes,
        "interval": toci.min_interval_hours,
        "per_24h": toci.max_doses_per_24h,
        "window": LIMIT_WINDOW_HOURS,
        "total": toci.max_total_doses,
    }
    if dose.dose_mg is not None and dose.weight is not None:
        return "order.tocilizumab", params | {"dose": dose.dose_mg, "weight": dose.weight.weight_kg}
    if weight_flags:
        return "order.tocilizumab.weight-implausible", params
    return "order.tocilizumab.no-weight", params | {"days": policy.freshness.weight_days}


def dose_notes(situation: Situation, flags: tuple[str, ...]) -> tuple[Note, ...]:
    """Notes that sit with the tocilizumab dose: the label's dose under the weight threshold, and a repeat
    dose whose improvement cannot be judged from the chart."""
    toci = situation.ctx.policy.tocilizumab
    notes = []
    if "tocilizumab-label-12-mg-per-kg-under-30-kg" in flags:
        notes.append(
            note(
                "M-TOCI-DOSE",
                "M-TOCI-DOSE.label-under-weight",
                label_mg_per_kg=toci.label_mg_per_kg_under_threshold,
                weight_below=toci.label_weight_threshold_kg,
                mg_per_kg=toci.mg_per_kg,
            )
        )
    if "grade-at-last-dose-unknown" in flags:
        notes.append(note("M-TOCI-LIMITS", "M-TOCI-LIMITS.grade-at-last-dose-unknown"))
    return tuple(notes)


def _hlh_protocol(situation: Situation, findings: Findings) -> None:
    """M-HLH: criteria first met >= 48 h ago and the grade not lower: consider HLH-2004 (information)."""
    if not situation.hlh_suspected:
        return
    ctx, now = situation.ctx, situation.now
    first_met = situation.hlh_first_met
    if first_met is None or now - first_met < ctx.hours(ctx.policy.hlh.hlh2004_after_hours):
        return
    grade_then = grade_at(ctx, first_met).grade
    if situation.current.grade is not None and (grade_then is None or situation.current.grade >= grade_then):
        findings.consider_hlh2004 = True
        findings.step("M-HLH", "M-HLH.hlh-2004", hours=ctx.policy.hlh.hlh2004_after_hours)


def _antifungal(situation: Situation, findings: Findings, steroid_suggested: bool) -> None:
    """M-STEROID-ANTIFUNGAL: steroid in 7 days or suggested now, no antifungal in 48 h."""
    ctx, now = situation.ctx, situation.now
    management = ctx.policy.management
    steroids = steroid_doses(ctx, now, timedelta(days=management.antifungal_steroid_lookback_days))
    antifungals = [
        d
        for d in ctx.timeline.given(ctx.policy.drugs_with_role("antifungal"), now)
        if now - d.at <= ctx.hours(management.antifungal_lookback_hours)
    ]
    if (steroids or steroid_suggested) and not antifungals:
        findings.step("M-STEROID-ANTIFUNGAL")


def _icans_alone(situation: Situation, findings: Findings) -> None:
    """M-ICANS-ALONE: ICANS without current CRS is outside this protocol; say so, order nothing.

    Reading: "without current CRS" is a grade of 0 with fever known (no ``possibleGrade``) or an unknown grade.
    """
    icans = situation.icans_grade or 0
    grade = situation.current
    if icans < 1 or (grade.grade or 0) >= 1 or grade.possible_grade is not None:
        return
    when = {"time": situation.icans_at} if situation.icans_at is not None else {}
    findings.step("M-ICANS-ALONE", icans_grade=icans, **when)


def indicator(situation: Situation, findings: Findings) -> Indicator:
    """M-INDICATOR: the managed grade's level, raised by the floors of the rules (never lowered)."""
    level = INDICATOR_BY_MANAGED_GRADE.get(situation.managed, "critical")
    for floor in _floors(situation, findings):
        if INDICATOR_RANK[floor] > INDICATOR_RANK[level]:
            level = floor
    findings.fire("M-INDICATOR")
    return level


def _floors(situation: Situation, findings: Findings) -> list[Indicator]:
    current, flags = situation.current, findings.flags
    floors: list[Indicator] = []
    if situation.hlh_suspected:
        floors.append("critical")
    if ({"support-without-fever", "fever-unknown"} & flags) and current.support_class >= 3:
        floors.append("critical")
    warning_reasons = (
        current.grade is None,
        bool({"partial-data", "fever-unknown", "unidentified-medications", "implausible-value"} & flags),
        any(order.rule == "M-ICANS" for order in findings.recommended),
        "positive-pressure-without-oxygen" in flags and invasive_support(situation),
    )
    if any(warning_reasons):
        floors.append("warning")
    if "M-ICANS-ALONE" in findings.rules:
        floors.append("critical" if (situation.icans_grade or 0) >= 3 else "warning")
    return floors


def invasive_support(situation: Situation) -> bool:
    support = current_oxygen(situation.ctx, situation.now)
    return support is not None and support.invasive
