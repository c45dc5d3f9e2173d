"""Tocilizumab: the dose (M-TOCI-DOSE) and the limits on giving one now (M-TOCI-LIMITS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from service.crs.grading import Context, grade_at
from service.crs.policy import Policy
from service.crs.timeline import Administration, Order, Weight


@dataclass(frozen=True)
class TociDose:
    """Either an absolute dose in mg (weight known) or mg/kg with a warning (weight missing)."""

    dose_mg: float | None
    dose_mg_per_kg: float
    weight: Weight | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LimitBlock:
    """Why a dose may not be given now, and when one may (None: not by these limits)."""

    reason: str
    next_allowed_at: datetime | None


@dataclass(frozen=True)
class TociHistory:
    given: tuple[Administration, ...]
    pending_orders: tuple[Order, ...]

    @property
    def count(self) -> int:
        return len(self.given) + len(self.pending_orders)


def latest_weight(ctx: Context, now: datetime) -> Weight | None:
    return ctx.timeline.weights.latest(now, ctx.hours(24 * ctx.policy.freshness.weight_days))


def tocilizumab_dose(policy: Policy, weight: Weight | None) -> TociDose:
    """M-TOCI-DOSE: 8 mg/kg x latest weight, max 800 mg, not rounded; no weight -> mg/kg, never a guess."""
    toci = policy.tocilizumab
    if weight is None:
        return TociDose(None, toci.mg_per_kg, None, ("weight-missing",))
    under = weight.weight_kg < toci.label_weight_threshold_kg
    mg_per_kg = (
        toci.label_mg_per_kg_under_threshold if under and toci.use_label_dose_under_threshold else toci.mg_per_kg
    )
    dose = min(weight_based_mg(mg_per_kg, weight.weight_kg), toci.max_mg)
    if toci.vial_rounding:
        dose = largest_vial_combination(dose, toci.vial_sizes_mg)
    flags = ("tocilizumab-label-12-mg-per-kg-under-30-kg",) if under else ()
    return TociDose(dose, mg_per_kg, weight, flags)


def weight_based_mg(mg_per_kg: float, weight_kg: float) -> float:
    """mg/kg x kg in exact decimals, cut (never rounded up) to 0.1 mg so float noise cannot exceed the dose."""
    exact = Decimal(repr(mg_per_kg)) * Decimal(repr(weight_kg))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def largest_vial_combination(dose_mg: float, vial_sizes: tuple[int, ...]) -> float:
    """The largest amount made of whole vials that does not exceed the dose (rounding down only)."""
    reachable = {0}
    for amount in range(1, int(dose_mg) + 1):
        if any(amount - size in reachable for size in vial_sizes):
            reachable.add(amount)
    return float(max(reachable))


def tocilizumab_history(ctx: Context, now: datetime) -> TociHistory:
    """Doses since t0, plus active orders not yet given (M-ACTIVE-ORDER: they count as doses)."""
    drugs = ctx.policy.drugs_with_role("tocilizumab")
    start = ctx.start
    given = tuple(dose for dose in ctx.timeline.given(drugs, now) if dose.at >= start)
    last_given = given[-1].at if given else None
    pending = tuple(
        order
        for order in ctx.timeline.orders
        if order.drug in drugs and (last_given is None or order.authored_at is None or order.authored_at > last_given)
    )
    return TociHistory(given, pending)


def limit_block(
    ctx: Context, history: TociHistory, grade_now: int | None, now: datetime
) -> tuple[LimitBlock | None, tuple[str, ...]]:
    """M-TOCI-LIMITS: the first limit that blocks a dose now (with the flags the check raised)."""
    toci = ctx.policy.tocilizumab
    if history.count >= toci.max_total_doses:
        reason = (
            f"{toci.max_total_doses} doses since the CAR T infusion: "
            "follow the institutional protocol for alternative agents"
        )
        return LimitBlock(reason, None), ()
    if history.pending_orders:
        return LimitBlock("an active tocilizumab order has not been given yet", None), ()
    if not history.given:
        return None, ()
    day_ago = now - ctx.hours(24)
    in_window = [dose for dose in history.given if dose.at > day_ago]
    if len(in_window) >= toci.max_doses_per_24h:
        reason = f"{toci.max_doses_per_24h} doses in the last 24 h"
        return LimitBlock(reason, in_window[0].at + ctx.hours(24)), ()
    last = history.given[-1]
    if now - last.at < ctx.hours(toci.min_interval_hours):
        return LimitBlock(
            f"less than {toci.min_interval_hours:g} h since the last dose", last.at + ctx.hours(toci.min_interval_hours)
        ), ()
    return _improvement_block(ctx, last, grade_now)


def _improvement_block(
    ctx: Context, last: Administration, grade_now: int | None
) -> tuple[LimitBlock | None, tuple[str, ...]]:
    """A repeat dose only without improvement: the grade now not lower than at the last dose."""
    grade_then = grade_at(ctx, last.at).grade
    if grade_then is None:
        return None, ("grade-at-last-dose-unknown",)
    if grade_now is None:
        return LimitBlock("the current grade cannot be determined, so improvement cannot be excluded", None), ()
    if grade_now < grade_then:
        return LimitBlock(f"improving since the last dose (grade {grade_then} then, {grade_now} now)", None), ()
    return None, ()
