"""Order checks (O-rules): one result per recognised draft order, with the rules that fired on it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from service.crs.assessment import INDICATOR_RANK, Frozen, Indicator, Note
from service.crs.evidence import fmt_number
from service.crs.findings import Situation
from service.crs.history import car_t_infusions
from service.crs.management import icans_veto
from service.crs.steroid_plan import steroid_indications
from service.crs.steroids import taper_position
from service.crs.timeline import Order
from service.crs.tocilizumab import latest_weight, limit_block, tocilizumab_dose, tocilizumab_history

STEROIDS = ("dexamethasone", "methylprednisolone")


class CorrectedDose(Frozen):
    """The protocol dose an ``update`` suggestion writes into the draft."""

    drug: str
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    interval_hours: float | None = None


class OrderCheck(Frozen):
    draft: str
    resource_id: str | None
    drug: str
    rules: tuple[str, ...]
    indicator: Indicator
    messages: tuple[Note, ...]
    corrected: CorrectedDose | None = None
    delete: bool = False
    next_allowed_at: datetime | None = Field(default=None)


class _Check:
    def __init__(self, draft: Order) -> None:
        self.draft = draft
        self.rules: list[str] = []
        self.messages: list[tuple[Indicator, Note]] = []
        self.level: Indicator = "info"
        self.corrected: CorrectedDose | None = None
        self.delete = False
        self.next_allowed_at: datetime | None = None

    def fire(self, rule: str, level: Indicator, text: str, **params: str) -> None:
        self.rules.append(rule)
        self.messages.append((level, Note(rule=rule, key=rule, text=text, params=params)))
        if INDICATOR_RANK[level] > INDICATOR_RANK[self.level]:
            self.level = level

    def result(self) -> OrderCheck | None:
        if not self.rules:
            return None
        return OrderCheck(
            draft=self.draft.source,
            resource_id=self.draft.resource_id,
            drug=self.draft.drug,
            rules=tuple(self.rules),
            indicator=self.level,
            # The most urgent message first: it becomes the card's summary.
            messages=tuple(note for _level, note in sorted(self.messages, key=lambda m: -INDICATOR_RANK[m[0]])),
            corrected=self.corrected,
            delete=self.delete,
            next_allowed_at=self.next_allowed_at,
        )


def check_orders(situation: Situation, drafts: tuple[Order, ...]) -> tuple[OrderCheck, ...]:
    """Checks of the given drafts (order-select: the selected ones; order-sign: all)."""
    results = []
    for draft in drafts:
        check = _Check(draft)
        _check_draft(situation, check)
        result = check.result()
        if result is not None:
            results.append(result)
    return tuple(results)


def _check_draft(situation: Situation, check: _Check) -> None:
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
    elif drug in STEROIDS or policy.has_role(drug, "corticosteroid"):
        _premedication(situation, check)
        if drug in STEROIDS:
            _steroid_dose(situation, check)
    elif policy.has_role(drug, "car-t"):  # O-CART-FILTER
        check.fire(
            "O-CART-FILTER",
            "info",
            "CAR T-cell infusion: do not use leukapheresis (leukodepletion) filters; no routine steroid premedication.",
        )


def _tocilizumab(situation: Situation, check: _Check) -> None:
    ctx, now = situation.ctx, situation.now
    _tocilizumab_dose(situation, check)
    block, _flags = limit_block(ctx, tocilizumab_history(ctx, now), situation.current.grade, now)
    if block is not None:  # O-TOCI-LIMITS
        when = f" Next dose allowed from {block.next_allowed_at:%Y-%m-%d %H:%M} UTC." if block.next_allowed_at else ""
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


def _tocilizumab_dose(situation: Situation, check: _Check) -> None:
    """O-TOCI-DOSE: above 800 mg, or above the allowed mg/kg x weight by more than the tolerance."""
    policy = situation.ctx.policy
    toci = policy.tocilizumab
    weight = latest_weight(situation.ctx, situation.now)
    draft = check.draft
    draft_mg = draft.dose_mg
    if draft_mg is None and draft.dose_mg_per_kg is not None and weight is not None:
        draft_mg = draft.dose_mg_per_kg * weight.weight_kg
    if draft_mg is None:
        return
    too_high = draft_mg > toci.max_mg
    if weight is not None:
        allowed_per_kg = (
            toci.label_mg_per_kg_under_threshold
            if weight.weight_kg < toci.label_weight_threshold_kg
            else toci.mg_per_kg
        )
        too_high = too_high or draft_mg > allowed_per_kg * weight.weight_kg * (1 + toci.order_check_tolerance_pct / 100)
    if not too_high:
        return
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
        f"Tocilizumab {fmt_number(draft_mg)} mg is above the protocol dose; "
        f"the protocol dose is {dose_text} ({fmt_number(toci.mg_per_kg)} mg/kg, max {fmt_number(toci.max_mg)} mg).",
        ordered=f"{fmt_number(draft_mg)} mg",
        protocol_dose=dose_text,
    )


def _premedication(situation: Situation, check: _Check) -> None:
    """O-STEROID-PREMED: steroid draft before the CAR T product or within 24 h of it, grade 0, no ICANS.

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
    if (not_yet_given or recently_given) and no_crs and not situation.icans_grade:
        check.fire(
            "O-STEROID-PREMED",
            "warning",
            "Do not give routine corticosteroid premedication before CAR T-cell infusion.",
        )


def _steroid_dose(situation: Situation, check: _Check) -> None:
    """O-STEROID-DOSE: below the regimen of the managed grade (dexamethasone equivalents per day)."""
    ctx, now = situation.ctx, situation.now
    regimens = steroid_indications(situation).regimens
    draft = check.draft
    if not regimens or draft.dose_mg is None:
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
    check.corrected = CorrectedDose(drug=regimen.drug, dose_mg=regimen.dose_mg, interval_hours=regimen.interval_hours)
    label = regimen.drug.capitalize()
    check.fire(
        "O-STEROID-DOSE",
        "info",
        f"Below the protocol regimen for managed grade {situation.managed}: "
        f"{label} {fmt_number(regimen.dose_mg)} mg IV every {regimen.interval_hours:g} h ({regimen.rule}).",
        managed_grade=str(situation.managed),
        regimen=f"{label} {fmt_number(regimen.dose_mg)} mg IV every {regimen.interval_hours:g} h",
    )
