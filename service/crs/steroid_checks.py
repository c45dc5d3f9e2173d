"""Order checks of corticosteroid drafts: O-STEROID-PREMED, O-STEROID-GRADE, O-STEROID-HIGH, O-STEROID-DOSE."""

from __future__ import annotations

from service.crs.findings import Situation
from service.crs.history import car_t_infusions
from service.crs.order_check import CorrectedDose, DraftCheck
from service.crs.steroids import Regimen, regimen_note, taper_position
from service.crs.timeline import Order

STEROIDS = ("dexamethasone", "methylprednisolone")


def check_steroid(situation: Situation, check: DraftCheck) -> None:
    premedication = _premedication(situation, check)
    _steroid_grade(situation, check, premedication)
    if check.draft.drug in STEROIDS:
        _steroid_high(situation, check)
        _steroid_dose(situation, check)


def corrected_to(regimen: Regimen) -> CorrectedDose:
    return CorrectedDose(drug=regimen.drug, dose_mg=regimen.dose_mg, interval_hours=regimen.interval_hours)


def _premedication(situation: Situation, check: DraftCheck) -> bool:
    """O-STEROID-PREMED: steroid draft before the CAR T product or within 24 h of it, grade 0, no ICANS.
    True when the draft is in that window (O-STEROID-GRADE then stays silent).

    Reading: before any infusion the grade may be unknown; the warning still applies unless grade >= 1.
    """
    ctx, now = situation.ctx, situation.now
    infusions = car_t_infusions(ctx, now)
    car_t = ctx.policy.drugs_with_role("car-t")
    not_yet_given = not infusions and any(o.drug in car_t for o in (*ctx.timeline.orders, *ctx.timeline.draft_orders))
    recently_given = bool(infusions) and now - infusions[-1].at < ctx.hours(
        ctx.policy.management.premedication_hours_after_infusion
    )
    no_crs = situation.current.grade is None or situation.current.grade == 0
    in_window = not_yet_given or recently_given
    if in_window and no_crs and not situation.icans_grade and not _label_prophylaxis(situation, check.draft):
        check.fire("O-STEROID-PREMED", "warning")
    return in_window


def _label_prophylaxis(situation: Situation, draft: Order) -> bool:
    """O-STEROID-PREMED option (off by default): the product label's prophylactic dexamethasone, at most the
    label dose once daily, on days 0 to ``last_day`` after the infusion (or before an ordered infusion)."""
    ctx, now = situation.ctx, situation.now
    option = ctx.policy.steroids.label_prophylaxis
    if not option.enabled or draft.drug != "dexamethasone" or draft.dose_mg is None or draft.dose_mg > option.dose_mg:
        return False
    if draft.interval_hours is not None and draft.interval_hours < 24:
        return False
    products = set(option.products)
    infusions = car_t_infusions(ctx, now)
    if infusions:
        return infusions[0].drug in products and (now - infusions[0].at).days <= option.last_day
    ordered = (*ctx.timeline.orders, *ctx.timeline.draft_orders)
    return any(order.drug in products for order in ordered)


def _steroid_grade(situation: Situation, check: DraftCheck, premedication_window: bool) -> None:
    """O-STEROID-GRADE: a steroid draft at managed grade <= 1 (or unknown) without ICANS >= 2, outside the
    premedication window and with no taper running: not indicated by the protocol (supportive care only)."""
    managed = situation.managed
    if premedication_window or (managed is not None and managed >= 2) or (situation.icans_grade or 0) >= 2:
        return
    if taper_position(situation.ctx, situation.now) is not None:
        return
    check.fire("O-STEROID-GRADE", "info", **({} if managed is None else {"grade": managed}))


def _steroid_high(situation: Situation, check: DraftCheck) -> None:
    """O-STEROID-HIGH: dexamethasone above 20 mg or methylprednisolone above 1000 mg per dose."""
    steroids = situation.ctx.policy.steroids
    limit = {
        "dexamethasone": steroids.dexamethasone_max_mg_per_dose,
        "methylprednisolone": steroids.methylprednisolone_max_mg_per_dose,
    }[check.draft.drug]
    dose = check.draft.dose_mg
    if dose is None or dose <= limit:
        return
    regimens = situation.indicated.regimens
    if regimens:
        regimen = regimens[0]
        check.corrected = CorrectedDose(
            drug=regimen.drug, dose_mg=regimen.dose_mg, interval_hours=regimen.interval_hours
        )
    check.fire("O-STEROID-HIGH", "warning", drug=check.draft.drug, dose=dose, limit=limit)


def _steroid_dose(situation: Situation, check: DraftCheck) -> None:
    """O-STEROID-DOSE: below the regimen of the managed grade (dexamethasone equivalents per day)."""
    ctx, now = situation.ctx, situation.now
    regimens = situation.indicated.regimens
    draft = check.draft
    if not regimens or draft.dose_mg is None or "O-STEROID-HIGH" in check.rules:
        return
    taper = taper_position(ctx, now)
    if taper is not None and draft.drug == "methylprednisolone" and draft.dose_mg == taper.step.dose_mg:
        return  # matches the running taper step
    regimen = regimens[0]
    policy = ctx.policy
    per_day = 24 / draft.interval_hours if draft.interval_hours else 1
    draft_daily = (policy.dexamethasone_mg(draft.drug, draft.dose_mg) or 0) * per_day
    regimen_daily = (policy.dexamethasone_mg(regimen.drug, regimen.dose_mg) or 0) * (
        24 / regimen.interval_hours if draft.interval_hours else 1
    )
    if draft_daily >= regimen_daily - 1e-9:
        return
    check.corrected = corrected_to(regimen)
    check.fire("O-STEROID-DOSE", "info", (regimen_note(regimen),), managed_grade=situation.managed or 0)
