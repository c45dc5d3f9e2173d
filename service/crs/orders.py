"""Order checks (O-rules): one result per recognised draft order, with the rules that fired on it."""

from __future__ import annotations

from service.crs.assessment import Param
from service.crs.findings import Situation
from service.crs.order_check import CorrectedDose, DraftCheck, OrderCheck
from service.crs.policy import Policy
from service.crs.steroid_checks import check_steroid
from service.crs.timeline import Order, Weight
from service.crs.tocilizumab import dosing_weight, limit_block, tocilizumab_dose, tocilizumab_history
from service.crs.vitals import age_in_years


def check_orders(situation: Situation, drafts: tuple[Order, ...]) -> tuple[OrderCheck, ...]:
    """Checks of the given drafts (order-select: the selected ones; order-sign: all)."""
    results = []
    for draft in drafts:
        policy = situation.ctx.policy
        check = DraftCheck(draft, situation.now, policy.time_zone, policy.version)
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
        check.fire("O-GMCSF", "critical")
        check.delete = True
    elif policy.has_role(drug, "corticosteroid"):
        check_steroid(situation, check)
    elif policy.has_role(drug, "car-t"):  # O-CART-FILTER
        check.fire("O-CART-FILTER", "info")


def _tocilizumab(situation: Situation, check: DraftCheck) -> None:
    ctx, now = situation.ctx, situation.now
    _tocilizumab_dose(situation, check)
    block, _flags = limit_block(ctx, tocilizumab_history(ctx, now), situation.current.comparable, now)
    if block is not None:  # O-TOCI-LIMITS: every limit that blocks, and the earliest time all hold
        when = {"next_allowed": block.next_allowed_at} if block.next_allowed_at else {}
        check.fire("O-TOCI-LIMITS", "critical", block.reasons, **when)
        check.next_allowed_at = block.next_allowed_at
    if situation.indicated.icans_veto:  # O-TOCI-ICANS
        check.fire("O-TOCI-ICANS", "warning")
    elif situation.managed is None or situation.managed <= 1:  # O-TOCI-GRADE (reading: unknown grade too)
        check.fire("O-TOCI-GRADE", "info", **_grade(situation.managed))


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
        ordered: dict[str, Param] = {"ordered_mg_per_kg": draft.dose_mg_per_kg}
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
        ordered = {"ordered_mg": draft_mg}
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


def _correct_tocilizumab(
    situation: Situation, check: DraftCheck, weight: Weight | None, ordered: dict[str, Param]
) -> None:
    policy = situation.ctx.policy
    toci = policy.tocilizumab
    protocol = tocilizumab_dose(policy, weight)
    dose: dict[str, Param] = (
        {"protocol_mg": protocol.dose_mg}
        if protocol.dose_mg is not None
        else {"protocol_mg_per_kg": protocol.dose_mg_per_kg}
    )
    check.corrected = CorrectedDose(
        drug=check.draft.drug,
        dose_mg=protocol.dose_mg,
        dose_mg_per_kg=None if protocol.dose_mg is not None else protocol.dose_mg_per_kg,
    )
    check.fire("O-TOCI-DOSE", "warning", **ordered, **dose, mg_per_kg=toci.mg_per_kg, max_mg=toci.max_mg)


def _grade(managed: int | None) -> dict[str, Param]:
    """O-TOCI-GRADE, O-STEROID-GRADE: the managed grade, absent when recent data could not determine it."""
    return {} if managed is None else {"grade": managed}
