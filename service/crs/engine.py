"""``assess(timeline, policy, now)``: grading, managed grade, and the orders the protocol calls for."""

from __future__ import annotations

from datetime import datetime

from service.crs import fever_unknown, management
from service.crs.assessment import Assessment, EvidenceItem, HlhStatus
from service.crs.episode import Episode
from service.crs.findings import Findings, Situation
from service.crs.grading import GradeResult, grade_at
from service.crs.history import (
    car_t_infusions,
    hlh_first_met,
    in_scope,
    latest_icans,
    organ_finding,
)
from service.crs.hygiene import name_data_problems
from service.crs.indications import indications_of
from service.crs.managed_grade import managed_grade
from service.crs.notes import flag_notes
from service.crs.order_check import OrderCheck
from service.crs.orders import check_orders
from service.crs.policy import Policy
from service.crs.timeline import Order, Timeline


def assess(timeline: Timeline, policy: Policy, now: datetime, *, orders_in_scope: bool = False) -> Assessment:
    """The assessment at ``now``. ``orders_in_scope``: order hooks also count a CAR T product ordered (C0)."""
    return analyse(timeline, policy, now, orders_in_scope=orders_in_scope)[0]


def check_drafts(
    timeline: Timeline, policy: Policy, now: datetime, drafts: tuple[Order, ...]
) -> tuple[Assessment, tuple[OrderCheck, ...]]:
    """The assessment and the O-rule checks of ``drafts`` (the selected or all draft orders of the hook)."""
    assessment, situation = analyse(timeline, policy, now, orders_in_scope=True)
    if situation is None:
        return assessment, ()
    return assessment, check_orders(situation, drafts)


def analyse(
    timeline: Timeline, policy: Policy, now: datetime, *, orders_in_scope: bool
) -> tuple[Assessment, Situation | None]:
    infusions = car_t_infusions(Episode(timeline, policy, None), now)
    ctx = Episode(timeline, policy, infusions[0].at if infusions else None)
    current = grade_at(ctx, now)
    scoped = in_scope(ctx, current.grade, now) or (orders_in_scope and _car_t_ordered(ctx))
    product = policy.drugs[infusions[0].drug].display if infusions else None
    if not scoped:
        out = Assessment(
            as_of=now,
            policy_version=policy.version,
            in_scope=False,
            t0=ctx.t0,
            car_t_product=product,
            time_zone=policy.time_zone,
        )
        return out, None
    findings = Findings()
    _grading_rules(current, findings)
    name_data_problems(ctx, now, findings)  # R-rules
    situation = _situation(ctx, current, now, findings)
    fever_unknown.apply(situation, findings)  # C3-FEVER-UNKNOWN leads the card
    management.apply(situation, findings)
    _unidentified_not_preselected(findings)
    return _assessment(situation, findings, product), situation


def _unidentified_not_preselected(findings: Findings) -> None:
    """R-UNIDENTIFIED reading: an unidentified administration may be tocilizumab or a steroid, so the
    suggestions stay but none is pre-selected until the clinician has checked it."""
    if "unidentified-medications" in findings.flags:
        findings.recommended = [order.model_copy(update={"is_recommended": False}) for order in findings.recommended]


def _car_t_ordered(ctx: Episode) -> bool:
    car_t = ctx.policy.drugs_with_role("car-t")
    return any(order.drug in car_t for order in (*ctx.timeline.orders, *ctx.timeline.draft_orders))


def _grading_rules(current: GradeResult, findings: Findings) -> None:
    findings.fire("C0")
    if current.fever:
        findings.fire("C1")
    if current.waiver_dose is not None:
        findings.fire("C2")
    if current.unknown:
        findings.fire("C3")
    for item in current.evidence:
        findings.fire(item.rule)
    findings.fire("G-GRADE")
    findings.fire("G-ORGAN")  # organ toxicities are shown, never graded
    findings.flags |= current.flags
    findings.evidence.extend(current.evidence)


def _situation(ctx: Episode, current: GradeResult, now: datetime, findings: Findings) -> Situation:
    managed, hlh = managed_grade(ctx, current, now, findings)
    icans = latest_icans(ctx, now)
    first_met = hlh_first_met(ctx, now) if hlh is not None else None
    icans_grade = icans.grade if icans else None
    indications = indications_of(ctx, now, current, managed, icans_grade)
    return Situation(ctx, now, current, managed, icans_grade, hlh, first_met, icans.at if icans else None, indications)


def _hlh_status(situation: Situation, findings: Findings) -> HlhStatus | None:
    if situation.hlh is None:
        return None
    ferritin, organs = situation.hlh
    return HlhStatus(
        suspected=True,
        ferritin_ng_ml=ferritin.value,
        organ_findings=tuple(organ_finding(situation.ctx, lab) for lab in organs),
        first_met_at=situation.hlh_first_met,
        consider_hlh2004=findings.consider_hlh2004,
        ferritin_above_ng_ml=situation.ctx.policy.hlh.ferritin_above_ng_ml,
        hlh2004_after_hours=situation.ctx.policy.hlh.hlh2004_after_hours,
    )


def _assessment(situation: Situation, findings: Findings, product: str | None) -> Assessment:
    ctx, current = situation.ctx, situation.current
    hlh = _hlh_status(situation, findings)
    level = management.indicator(situation, findings)
    return Assessment(
        as_of=situation.now,
        policy_version=ctx.policy.version,
        in_scope=True,
        t0=ctx.t0,
        car_t_product=product,
        grade=current.grade,
        possible_grade=current.possible_grade,
        managed_grade=situation.managed,
        fever=current.fever,
        hypotension_class=current.hypotension,
        hypoxia_class=current.hypoxia,
        unknown_classes=current.unknown,
        icans_grade=situation.icans_grade,
        hlh=hlh,
        rules=tuple(findings.rules),
        flags=tuple(sorted(findings.flags | ctx.timeline.translation_flags)),
        evidence=tuple(
            EvidenceItem(rule=e.rule, key=e.key, params=e.params, at=e.at, sources=e.sources) for e in findings.evidence
        ),
        recommended=tuple(findings.recommended),
        withheld=tuple(findings.withheld),
        next_steps=tuple(findings.next_steps),
        reminders=tuple(findings.reminders),
        data_quality=tuple(findings.data_quality),
        flag_notes=flag_notes(findings.flags | ctx.timeline.translation_flags, ctx.policy),
        indicator=level,
        time_zone=ctx.policy.time_zone,
    )
