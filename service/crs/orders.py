"""Order checks (O-rules): one result per recognised draft order, with the rules that fired on it."""

from __future__ import annotations

from service.crs.evidence import fmt_number, fmt_time
from service.crs.findings import Situation
from service.crs.grading import age_in_years
from service.crs.management import icans_veto
from service.crs.order_check import CorrectedDose, DraftCheck, OrderCheck
from service.crs.policy import Policy
from service.crs.steroid_checks import check_steroid
from service.crs.timeline import Order, Weight
from service.crs.tocilizumab import dosing_weight, limit_block, tocilizumab_dose, tocilizumab_history


def check_orders(situation: Situation, drafts: tuple[Order, ...]) -> tuple[OrderCheck, ...]:
    """Checks of the given drafts (order-select: the selected ones; order-sign: all)."""
    results = []
    for draft in drafts:
        check = DraftCheck(draft)
        _check_draft(situation, check)
        result = check.result()
        if result is not None:
            results.append(result)
    return tuple(results)


def _check_draft(situation: Situation, check: DraftCheck) -> None:
    policy = situation.ctx.policy
    drug = check.draft.drug
    if policy.has_role(drug, "tocilizumab"):
        _tocilizumab(situation, check)
    elif policy.has_role(drug, "gm-csf"):  # O-GMCSF
        check.fire(
            "O-GMCSF",
            "critical",
            "GM-CSF (sargramostim) is contraindicated after CAR T-cell therapy; G-CSF is permissible.",
        )
        check.delete = True
    elif policy.has_role(drug, "corticosteroid"):
        check_steroid(situation, check)
    elif policy.has_role(drug, "car-t"):  # O-CART-FILTER
        check.fire(
            "O-CART-FILTER",
            "info",
            "CAR T-cell infusion: do not use leukapheresis (leukodepletion) filters; no routine steroid premedication.",
        )


def _tocilizumab(situation: Situation, check: DraftCheck) -> None:
    ctx, now = situation.ctx, situation.now
    _tocilizumab_dose(situation, check)
    block, _flags = limit_block(ctx, tocilizumab_history(ctx, now), situation.current.comparable, now)
    if block is not None:  # O-TOCI-LIMITS: every limit that blocks, and the earliest time all hold
        when = f" Next dose allowed from {fmt_time(block.next_allowed_at)}." if block.next_allowed_at else ""
        text = f"Tocilizumab limit reached: {block.reason}.{when}"
        check.fire("O-TOCI-LIMITS", "critical", text, reason=block.reason, next_allowed=when.strip())
        check.next_allowed_at = block.next_allowed_at
    if icans_veto(situation):  # O-TOCI-ICANS
        check.fire(
            "O-TOCI-ICANS",
            "warning",
            "Grade 1 CRS with ICANS grade >= 2: give corticosteroids instead of tocilizumab, "
            "which does not cross the blood-brain barrier effectively.",
        )
    elif situation.managed is None or situation.managed <= 1:  # O-TOCI-GRADE (reading: unknown grade too)
        grade = "could not be determined from recent data" if situation.managed is None else f"is {situation.managed}"
        check.fire(
            "O-TOCI-GRADE",
            "info",
            f"Tocilizumab is not indicated by the protocol at this grade: the managed CRS grade {grade}.",
            grade=grade,
        )


def _tocilizumab_dose(situation: Situation, check: DraftCheck) -> None:
    """O-TOCI-DOSE: above 800 mg, or above the allowed mg/kg x weight by more than the tolerance.

    No usable weight (none, or R-PLAUSIBLE's weight-implausible): an mg draft is checked against the cap, an
    mg/kg draft against the allowed mg/kg (8 for an adult; 12 under 18, who may weigh under 30 kg).
    """
    policy = situation.ctx.policy
    toci = policy.tocilizumab
    weight, _flags = dosing_weight(situation.ctx, situation.now)
    draft = check.draft
    if weight is None and draft.dose_mg is None and draft.dose_mg_per_kg is not None:
        too_high = draft.dose_mg_per_kg > _allowed_per_kg_without_weight(situation) * _tolerance(policy)
        ordered = f"{fmt_number(draft.dose_mg_per_kg)} mg/kg"
    else:
        draft_mg = draft.dose_mg
        if draft_mg is None and draft.dose_mg_per_kg is not None and weight is not None:
            draft_mg = draft.dose_mg_per_kg * weight.weight_kg
        if draft_mg is None:
            return
        too_high = draft_mg > toci.max_mg or (
            weight is not None
            and draft_mg > _allowed_per_kg(policy, weight.weight_kg) * weight.weight_kg * _tolerance(policy)
        )
        ordered = f"{fmt_number(draft_mg)} mg"
    if too_high:
        _correct_tocilizumab(situation, check, weight, ordered)


def _tolerance(policy: Policy) -> float:
    return 1 + policy.tocilizumab.order_check_tolerance_pct / 100


def _allowed_per_kg(policy: Policy, weight_kg: float) -> float:
    toci = policy.tocilizumab
    return toci.label_mg_per_kg_under_threshold if weight_kg < toci.label_weight_threshold_kg else toci.mg_per_kg


def _allowed_per_kg_without_weight(situation: Situation) -> float:
    policy = situation.ctx.policy
    age = age_in_years(situation.ctx.timeline.birth_date, situation.now)
    child = age is not None and age < policy.hypotension.adult_age_years
    return policy.tocilizumab.label_mg_per_kg_under_threshold if child else policy.tocilizumab.mg_per_kg


def _correct_tocilizumab(situation: Situation, check: DraftCheck, weight: Weight | None, ordered: str) -> None:
    policy = situation.ctx.policy
    toci = policy.tocilizumab
    protocol = tocilizumab_dose(policy, weight)
    dose_text = (
        f"{fmt_number(protocol.dose_mg)} mg"
        if protocol.dose_mg is not None
        else f"{fmt_number(protocol.dose_mg_per_kg)} mg/kg"
    )
    check.corrected = CorrectedDose(
        drug=check.draft.drug,
        dose_mg=protocol.dose_mg,
        dose_mg_per_kg=None if protocol.dose_mg is not None else protocol.dose_mg_per_kg,
    )
    check.fire(
        "O-TOCI-DOSE",
        "warning",
        f"Tocilizumab {ordered} is above the protocol dose; "
        f"the protocol dose is {dose_text} ({fmt_number(toci.mg_per_kg)} mg/kg, max {fmt_number(toci.max_mg)} mg).",
        ordered=ordered,
        protocol_dose=dose_text,
    )
