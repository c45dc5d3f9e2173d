"""Management by managed grade (M-rules of clinical-rules.md): what to give, what to withhold, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.crs import monitoring
from service.crs.assessment import INDICATOR_RANK, Indicator, RecommendedOrder, WithheldOrder
from service.crs.evidence import fmt_number
from service.crs.findings import Findings, Situation
from service.crs.grading import grade_at
from service.crs.history import hlh_first_met, latest_lab
from service.crs.steroids import (
    Regimen,
    candidate_regimens,
    high_dose_running_without_response,
    hypotension_persists,
    running_regimen_source,
    steroid_doses,
    taper_position,
)
from service.crs.tocilizumab import latest_weight, limit_block, tocilizumab_dose, tocilizumab_history

INDICATOR_BY_MANAGED_GRADE: dict[int | None, Indicator] = {None: "warning", 0: "info", 1: "info", 2: "warning"}
STEROID_LABEL = {"dexamethasone": "Dexamethasone", "methylprednisolone": "Methylprednisolone"}


def apply(situation: Situation, findings: Findings) -> None:
    _grade_steps(situation, findings)
    steroid_suggested = _plan_steroids(situation, findings)
    _plan_tocilizumab(situation, findings)
    _hlh_protocol(situation, findings)
    _antifungal(situation, findings, steroid_suggested)
    monitoring.remind(situation, findings)


def icans_veto(situation: Situation) -> bool:
    """M-ICANS: grade 1 CRS with ICANS >= 2 and managed grade < 3: steroids, not tocilizumab."""
    icans = situation.icans_grade or 0
    return situation.current.grade == 1 and icans >= 2 and (situation.managed or 0) < 3


def _grade_steps(situation: Situation, findings: Findings) -> None:
    managed = situation.managed
    if managed == 1:  # M-G1, M-NO-GMCSF
        findings.step(
            "M-G1",
            "Supportive care: acetaminophen for fever, IV hydration, symptomatic care of organ toxicities.",
            key="M-G1.supportive-care",
        )
        findings.step(
            "M-NO-GMCSF",
            "G-CSF may be considered per the product's guidance; GM-CSF (sargramostim) is not recommended.",
        )
        _neutropenia(situation, findings)
    elif managed == 2:  # M-G2-TOCI
        findings.step(
            "M-G2-TOCI",
            "Supportive care: IV fluid boluses and supplemental oxygen as needed.",
            key="M-G2-TOCI.supportive-care",
        )
    elif managed == 3:  # M-G3
        findings.step(
            "M-G3",
            "ICU care; vasopressors as needed; echocardiogram and hemodynamic monitoring; "
            "taper steroids rapidly once improved.",
        )
    elif managed == 4:  # M-G4
        findings.step(
            "M-G4",
            "ICU care; mechanical ventilation as needed; high-dose methylprednisolone with taper.",
            key="M-G4.icu",
        )
        if taper_position(situation.ctx, situation.now) is None:
            findings.step("M-G4", _taper_text(situation, None), key="M-G4.taper", taper=_taper_text(situation, None))


def _neutropenia(situation: Situation, findings: Findings) -> None:
    anc = latest_lab(situation.ctx, "anc", situation.now)
    limit = situation.ctx.policy.management.neutropenia_anc_below
    if anc is None:
        findings.step(
            "M-G1",
            "ANC not available in 48 h: if neutropenic, consider empiric broad-spectrum antibiotics.",
            key="M-G1.anc-unknown",
        )
    elif anc.value < limit:
        findings.step(
            "M-G1",
            f"Neutropenic (ANC {fmt_number(anc.value)} x10^9/L): consider empiric broad-spectrum antibiotics.",
            key="M-G1.neutropenic",
            anc=fmt_number(anc.value),
        )


def _plan_tocilizumab(situation: Situation, findings: Findings) -> None:
    ctx, now = situation.ctx, situation.now
    if (situation.managed or 0) < 2:
        return
    if icans_veto(situation):  # M-ICANS overrides M-G1-PERSISTENT's tocilizumab and M-NO-DELAY
        findings.fire("M-ICANS")
        findings.withheld.append(
            WithheldOrder(
                rule="M-ICANS",
                drug="tocilizumab",
                reason=(
                    "grade 1 CRS with ICANS grade >= 2: corticosteroids instead; "
                    "tocilizumab does not cross the blood-brain barrier effectively"
                ),
            )
        )
        return
    history = tocilizumab_history(ctx, now)
    block, flags = limit_block(ctx, history, situation.current.grade, now)
    findings.flags.update(flags)
    findings.fire("M-TOCI-LIMITS")
    if block is not None:
        findings.withheld.append(
            WithheldOrder(
                rule="M-TOCI-LIMITS", drug="tocilizumab", reason=block.reason, next_allowed_at=block.next_allowed_at
            )
        )
        return
    _suggest_tocilizumab(situation, findings)
    if not history.given:  # M-NO-DELAY
        findings.step(
            "M-NO-DELAY", "Do not delay tocilizumab: each 12 h of delay raised the risk of cardiotoxicity 1.7-fold."
        )


def _suggest_tocilizumab(situation: Situation, findings: Findings) -> None:
    policy = situation.ctx.policy
    dose = tocilizumab_dose(policy, latest_weight(situation.ctx, situation.now))
    findings.flags.update(dose.flags)
    findings.fire("M-TOCI-DOSE")
    rule = "M-G2-TOCI" if situation.managed == 2 else f"M-G{situation.managed}"
    findings.fire(rule)
    toci = policy.tocilizumab
    repeat = (
        f"May repeat every {toci.min_interval_hours:g} h if no improvement; "
        f"at most {toci.max_doses_per_24h} doses in 24 h and {toci.max_total_doses} in total."
    )
    cap = f"max {fmt_number(toci.max_mg)} mg"
    if dose.dose_mg is not None:
        basis = f"{fmt_number(dose.dose_mg_per_kg)} mg/kg x {fmt_number(dose.weight.weight_kg)} kg"  # type: ignore[union-attr]
        text = f"Tocilizumab {fmt_number(dose.dose_mg)} mg IV over 1 h ({basis}, {cap}). {repeat}"
    else:
        text = (
            f"Tocilizumab {fmt_number(dose.dose_mg_per_kg)} mg/kg IV over 1 h ({cap}): no weight in the last "
            f"{policy.freshness.weight_days:g} days, weigh the patient and calculate the dose. {repeat}"
        )
    findings.recommended.append(
        RecommendedOrder(
            rule=rule,
            drug="tocilizumab",
            dose_mg=dose.dose_mg,
            dose_mg_per_kg=None if dose.dose_mg is not None else dose.dose_mg_per_kg,
            infusion_minutes=toci.infusion_minutes,
            text=text,
        )
    )


@dataclass(frozen=True)
class SteroidIndications:
    """Which steroid rules apply, and their regimens most intensive first (shared with the order checks)."""

    icans_with_crs: bool
    early_product: bool
    dex_evidence: bool
    regimens: list[Regimen]


def steroid_indications(situation: Situation) -> SteroidIndications:
    ctx, now = situation.ctx, situation.now
    icans_with_crs = (situation.icans_grade or 0) >= 2 and (situation.current.grade or 0) >= 1  # M-ICANS
    early = _early_steroid_product(situation)  # M-EARLY-STEROID
    dex_evidence = situation.managed == 2 and hypotension_persists(ctx, now)  # M-G2-DEX
    regimens = candidate_regimens(ctx, situation.managed, icans_with_crs, early, dex_evidence)
    return SteroidIndications(icans_with_crs, early, dex_evidence, regimens)


def _plan_steroids(situation: Situation, findings: Findings) -> bool:
    """M-STEROID-SELECT: at most one steroid suggestion. True if one was suggested."""
    ctx, now = situation.ctx, situation.now
    indications = steroid_indications(situation)
    icans_with_crs, regimens = indications.icans_with_crs, indications.regimens
    if situation.managed == 2 and not (indications.dex_evidence or indications.early_product or icans_with_crs):
        findings.step(
            "M-G2-DEX",
            "Next step if hypotension persists after two fluid boluses and 1-2 tocilizumab doses: "
            "dexamethasone 10 mg IV every 12 h for 1-2 doses.",
            key="M-G2-DEX.next-step",
        )
    if icans_with_crs:  # M-ICANS applies; M-STEROID-SELECT may still pick a more intensive regimen
        findings.fire("M-ICANS")
    if icans_with_crs and (situation.icans_grade or 0) >= 3:
        findings.step("M-ICANS", "ICANS grade >= 3: follow the institutional ICANS protocol.", key="M-ICANS.protocol")
    taper = taper_position(ctx, now)
    if taper is not None:  # M-STEROID-SELECT: methylprednisolone given in 24 h
        findings.fire("M-STEROID-SELECT")
        text = _taper_text(situation, taper.step_index)
        findings.step("M-G4", text, key="M-G4.taper-today", taper=text)
    if not regimens:
        _taper_rapidly(situation, findings)
        return False
    if high_dose_running_without_response(ctx, situation.current.grade, now):  # M-G4 escalation
        steroids = ctx.policy.steroids
        regimens = [
            Regimen(
                "M-G4",
                "methylprednisolone",
                steroids.methylprednisolone_escalation_mg,
                steroids.methylprednisolone_taper[0].interval_hours,
                is_escalation=True,
            )
        ]
    chosen = regimens[0]
    findings.fire("M-STEROID-SELECT")
    findings.fire(chosen.rule)
    if taper is not None and chosen.drug == "dexamethasone":
        findings.step(
            "M-STEROID-SELECT",
            "Methylprednisolone is running: follow its taper; no dexamethasone in addition.",
            key="M-STEROID-SELECT.methylprednisolone-running",
        )
        return False
    running = running_regimen_source(ctx, chosen, now)
    if running is not None:  # M-ACTIVE-ORDER
        regimen = _regimen_text(chosen)
        findings.step("M-ACTIVE-ORDER", f"Continue {regimen} (running: {running}).", regimen=regimen, running=running)
        return False
    findings.recommended.append(
        RecommendedOrder(
            rule=chosen.rule,
            drug=chosen.drug,
            dose_mg=chosen.dose_mg,
            interval_hours=chosen.interval_hours,
            interval_max_hours=chosen.interval_max_hours,
            max_doses=chosen.max_doses,
            duration_days=chosen.duration_days,
            text=_regimen_text(chosen) + _regimen_reason(chosen),
            is_recommended=not chosen.is_escalation,
        )
    )
    return True


def _early_steroid_product(situation: Situation) -> bool:
    ctx = situation.ctx
    infusions = [dose for dose in ctx.timeline.given(ctx.policy.drugs_with_role("car-t"), situation.now)]
    return bool(infusions) and ctx.policy.drugs[infusions[0].drug].early_steroid


def _taper_rapidly(situation: Situation, findings: Findings) -> None:
    """M-STEROID-SELECT: a steroid in the last 24 h with managed grade <= 1 and no ICANS >= 2."""
    recent = steroid_doses(situation.ctx, situation.now, timedelta(hours=24))
    if recent and (situation.managed or 0) <= 1 and (situation.icans_grade or 0) < 2 and situation.managed is not None:
        findings.step(
            "M-STEROID-SELECT",
            "A corticosteroid was given in the last 24 h and the grade is <= 1: taper rapidly.",
            key="M-STEROID-SELECT.taper-rapidly",
        )


def _regimen_text(regimen: Regimen) -> str:
    frequency = f"every {regimen.interval_hours:g}"
    if regimen.interval_max_hours:
        frequency += f"-{regimen.interval_max_hours:g}"
    text = f"{STEROID_LABEL[regimen.drug]} {fmt_number(regimen.dose_mg)} mg IV {frequency} h"
    if regimen.max_doses:
        text += f" for 1-{regimen.max_doses} doses"
    return text


REGIMEN_REASONS = {
    "M-G4": ": grade 4 CRS, high-dose methylprednisolone for 3 days, then taper.",
    "M-G3": ": grade 3 CRS management (or an equivalent corticosteroid); taper rapidly once improved.",
    "M-HLH": ": suspected HLH, managed as grade 3 CRS.",
    "M-ICANS": " (repeat every 6-12 h by neurologic status): ICANS grade >= 2 with CRS.",
    "M-EARLY-STEROID": (
        ": earlier steroid use reduces CRS severity with this CAR T product; do not wait for refractory hypotension."
    ),
    "M-G2-DEX": ": hypotension persists after two fluid boluses and tocilizumab.",
}


def _regimen_reason(regimen: Regimen) -> str:
    if regimen.is_escalation:
        return ": 500 mg for >= 24 h without improvement from grade 4 (consider; or alternative therapy)."
    return REGIMEN_REASONS[regimen.rule]


def _taper_text(situation: Situation, step_index: int | None) -> str:
    """The whole methylprednisolone taper, and today's step when it is running."""
    steps = situation.ctx.policy.steroids.methylprednisolone_taper
    parts = [
        f"{fmt_number(s.dose_mg)} mg q{s.interval_hours:g}h x {s.days:g} days"
        if s.days
        else f"{fmt_number(s.dose_mg)} mg q{s.interval_hours:g}h until grade <= 1"
        for s in steps
    ]
    text = f"Methylprednisolone taper: {' -> '.join(parts)}."
    return text if step_index is None else f"{text} Today's step: {parts[step_index]}."


def _hlh_protocol(situation: Situation, findings: Findings) -> None:
    """M-HLH: criteria first met >= 48 h ago and the grade not lower: consider HLH-2004 (information)."""
    if not situation.hlh_suspected:
        return
    ctx, now = situation.ctx, situation.now
    first_met = hlh_first_met(ctx, now)
    if first_met is None or now - first_met < ctx.hours(ctx.policy.hlh.hlh2004_after_hours):
        return
    grade_then = grade_at(ctx, first_met).grade
    if situation.current.grade is not None and (grade_then is None or situation.current.grade >= grade_then):
        findings.consider_hlh2004 = True
        findings.step(
            "M-HLH",
            "HLH criteria met for >= 48 h without improvement: consider the HLH-2004 protocol.",
            key="M-HLH.hlh-2004",
        )


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
        findings.step(
            "M-STEROID-ANTIFUNGAL", "Corticosteroids for CRS or ICANS: strongly consider antifungal prophylaxis."
        )


def indicator(situation: Situation, findings: Findings) -> Indicator:
    """M-INDICATOR: info 0-1, warning 2, critical 3-4 and HLH; at least warning for unknown or partial data,
    an M-ICANS steroid, and support-without-fever while a vasopressor or positive pressure is active."""
    level = INDICATOR_BY_MANAGED_GRADE.get(situation.managed, "critical")
    if situation.hlh_suspected:
        level = "critical"
    warning_reasons = (
        "partial-data" in findings.flags,
        any(order.rule == "M-ICANS" for order in findings.recommended),
        "support-without-fever" in findings.flags
        and (bool(situation.current.active_vasopressors) or situation.current.hypoxia == 4),
    )
    if any(warning_reasons) and INDICATOR_RANK[level] < INDICATOR_RANK["warning"]:
        level = "warning"
    findings.fire("M-INDICATOR")
    return level
