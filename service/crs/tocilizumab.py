"""Tocilizumab: the dose (M-TOCI-DOSE) and the limits on giving one now (M-TOCI-LIMITS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from service.crs.assessment import Note, note
from service.crs.episode import Episode
from service.crs.grading import grade_at
from service.crs.policy import Policy
from service.crs.timeline import Administration, Order, Weight

LIMIT_WINDOW_HOURS = 24  # M-TOCI-LIMITS: the seed's "maximum 3 doses in 24 hours" (the count is policy)


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

    reasons: tuple[Note, ...]
    next_allowed_at: datetime | None


@dataclass(frozen=True)
class TociHistory:
    given: tuple[Administration, ...]
    pending_orders: tuple[Order, ...]

    @property
    def count(self) -> int:
        return len(self.given) + len(self.pending_orders)


def latest_weight(ctx: Episode, now: datetime) -> Weight | None:
    """C3: the latest weight in 30 days; two at the same instant: the lower (R-TIES; never a larger dose)."""
    same_time = ctx.timeline.weights.latest_all(now, ctx.hours(24 * ctx.policy.freshness.weight_days))
    return min(same_time, key=lambda weight: weight.weight_kg) if same_time else None


def dosing_weight(ctx: Episode, now: datetime) -> tuple[Weight | None, tuple[str, ...]]:
    """The weight a dose may be calculated from (M-TOCI-DOSE, O-TOCI-DOSE) and the flag that withholds it.

    R-PLAUSIBLE: a latest weight that differs by more than 20 % from another weight in the 30 days before it
    (a typo such as 7 kg for 70 kg) is not used: the dose is then given per kg, as if no weight were known.
    Reading: the difference is measured against the other weight.
    """
    latest = latest_weight(ctx, now)
    if latest is not None and implausible_weight_change(ctx, latest) is not None:
        return None, ("weight-implausible",)
    return latest, ()


def implausible_weight_change(ctx: Episode, latest: Weight) -> Weight | None:
    """R-PLAUSIBLE: another weight in the 30 days before ``latest`` from which it differs by more than 20 %."""
    plausible = ctx.policy.plausible
    earlier = ctx.timeline.weights.between(latest.at - ctx.hours(24 * plausible.weight_change_days), latest.at)
    limit = plausible.weight_change_pct / 100
    return next((w for w in earlier if abs(latest.weight_kg - w.weight_kg) > limit * w.weight_kg), None)


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


def tocilizumab_history(ctx: Episode, now: datetime) -> TociHistory:
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
    ctx: Episode, history: TociHistory, grade_now: int | None, now: datetime
) -> tuple[LimitBlock | None, tuple[str, ...]]:
    """M-TOCI-LIMITS: every limit that blocks a dose now, and the next allowed time (with the check's flags).

    ``grade_now`` is the comparable grade (``GradeResult.comparable``): unknown while fever is unknown.
    """
    toci = ctx.policy.tocilizumab
    if history.count >= toci.max_total_doses:
        return LimitBlock((note("M-TOCI-LIMITS", "M-TOCI-LIMITS.total", total=toci.max_total_doses),), None), ()
    reasons = _timing_reasons(ctx, history.given, now)
    next_allowed = next_allowed_at(ctx, history.given) if reasons else None
    if history.pending_orders:
        reasons.insert(0, note("M-TOCI-LIMITS", "M-TOCI-LIMITS.order-not-given"))
        next_allowed = None
    improvement, flags = _improvement_block(ctx, history.given[-1], grade_now) if history.given else (None, ())
    if improvement is not None:
        reasons.append(improvement)
    return (LimitBlock(tuple(reasons), next_allowed) if reasons else None), flags


def _timing_reasons(ctx: Episode, given: tuple[Administration, ...], now: datetime) -> list[Note]:
    """The count-in-24-h and interval limits that block a dose at ``now``."""
    toci = ctx.policy.tocilizumab
    reasons = []
    if len([dose for dose in given if dose.at > now - ctx.hours(LIMIT_WINDOW_HOURS)]) >= toci.max_doses_per_24h:
        reasons.append(
            note("M-TOCI-LIMITS", "M-TOCI-LIMITS.per-24h", per_24h=toci.max_doses_per_24h, hours=LIMIT_WINDOW_HOURS)
        )
    if given and now - given[-1].at < ctx.hours(toci.min_interval_hours):
        interval = toci.min_interval_hours
        reasons.append(note("M-TOCI-LIMITS", "M-TOCI-LIMITS.interval", interval=interval, last=given[-1].at))
    return reasons


def next_allowed_at(ctx: Episode, given: tuple[Administration, ...]) -> datetime | None:
    """M-TOCI-LIMITS: the earliest time at which the count and interval limits hold together.

    A dose at t needs fewer than N doses in (t - 24 h, t], so the N-th latest dose must be 24 h old, and the
    last dose must be 8 h old: the later of the two (doses at -22, -14, -2 h: +2 h by the window, +6 h by the
    interval, so +6 h).
    """
    if not given:
        return None
    toci = ctx.policy.tocilizumab
    candidates = [given[-1].at + ctx.hours(toci.min_interval_hours)]
    if len(given) >= toci.max_doses_per_24h:
        candidates.append(given[-toci.max_doses_per_24h].at + ctx.hours(LIMIT_WINDOW_HOURS))
    return max(candidates)


def _improvement_block(
    ctx: Episode, last: Administration, grade_now: int | None
) -> tuple[Note | None, tuple[str, ...]]:
    """A repeat dose only without improvement: the grade now not lower than at the last dose.

    The grade at the dose is computed like any grade: with fever unknown then, it is unknown (not 0).
    """
    grade_then = grade_at(ctx, last.at).comparable
    if grade_then is None:
        return None, ("grade-at-last-dose-unknown",)
    if grade_now is None:
        return note("M-TOCI-LIMITS", "M-TOCI-LIMITS.grade-unknown"), ()
    if grade_now < grade_then:
        return note("M-TOCI-LIMITS", "M-TOCI-LIMITS.improving", grade_then=grade_then, grade_now=grade_now), ()
    return None, ()
