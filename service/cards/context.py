"""Template variables of each card kind, built from the engine's results (documented in docs/cards.md).

M-CARD-LAYOUT: the detail leads with what to do now, then why (evidence), then monitoring, then "Data quality"
with data problems only; suggested orders appear once, as suggestions, with their dose notes. Every text comes
from the catalog through :class:`Wording`; this module only decides where each text goes.
"""

from __future__ import annotations

from typing import Any

from service.cards.wording import Wording
from service.crs.assessment import Assessment, Note, RecommendedOrder, WithheldOrder
from service.crs.order_check import CorrectedDose, OrderCheck

LEAD_RULES = ("C3-FEVER-UNKNOWN", "M-ICANS-ALONE")
LEAD_FLAGS = ("flag.support-without-fever",)
WHY_FLAGS = ("flag.positive-pressure-without-oxygen",)
IF_FEBRILE = "C3-FEVER-UNKNOWN.if-febrile"
URGENT_STEPS = ("M-G3", "M-G4.icu", "M-G2-TOCI.supportive-care", "M-G1.supportive-care")
MANAGED_RULES = ("M-G1-PERSISTENT", "M-G2-ESCALATE", "M-HLH")


def is_icans_order(order: RecommendedOrder) -> bool:
    return order.rule == "M-ICANS"


def icans_card_applies(assessment: Assessment) -> bool:
    """M-ICANS: ICANS grade >= 2 with CRS is a separate concern with its own card."""
    return "M-ICANS" in assessment.rules


def crs_orders(assessment: Assessment) -> list[RecommendedOrder]:
    """The CRS card's suggestions: the ICANS steroid goes on the ICANS card when that card applies."""
    icans_card = icans_card_applies(assessment)
    orders = [order for order in assessment.recommended if not (icans_card and is_icans_order(order))]
    return sorted(orders, key=lambda order: order.drug != "tocilizumab")  # the seed's order: tocilizumab, then steroid


def order_short(order: RecommendedOrder, wording: Wording) -> str:
    """ "tocilizumab 560 mg IV", "dexamethasone 10 mg IV q6h": the summary's and the suggestion label's form."""
    return dose_words(wording, "order.short", order, order.interval_max_hours)


def dose_words(wording: Wording, key: str, dose: RecommendedOrder | CorrectedDose, interval_max: float | None) -> str:
    """A drug and its dose in words (``order.short`` for a suggestion, ``corrected`` for an order check)."""
    return wording.text(
        key,
        drug=dose.drug,
        dose_mg=dose.dose_mg,
        dose_mg_per_kg=dose.dose_mg_per_kg,
        interval=dose.interval_hours,
        interval_max=interval_max,
    )


def withheld_text(item: WithheldOrder, wording: Wording) -> str:
    reasons = [wording.note(reason) for reason in item.reasons]
    return wording.text("withheld", reasons, drug=item.drug, next_allowed=item.next_allowed_at)


def assessment_context(assessment: Assessment, wording: Wording) -> dict[str, Any]:
    """Variables of the crs-assessment card (docs/cards.md)."""
    icans_card = icans_card_applies(assessment)
    orders = crs_orders(assessment)
    withheld = [w for w in assessment.withheld if not (icans_card and w.rule == "M-ICANS")]
    flag_texts = {note.key: wording.note(_no_grade(note, assessment)) for note in assessment.flag_notes}
    return {
        "grade": assessment.grade,
        "managed_grade": assessment.managed_grade,
        "possible_grade": assessment.possible_grade,
        "unknown": list(assessment.unknown_classes),
        "lower_bound": bool(assessment.unknown_classes) and assessment.grade is not None,
        "product": assessment.car_t_product or "",
        "infused": wording.moment(assessment.t0),
        "managed_reasons": _managed_reasons(assessment, wording),
        "orders": [
            {"short": order_short(order, wording), "drug": order.drug, "recommended": order.is_recommended}
            for order in orders
        ],
        "withheld": [{"drug": w.drug, "next_allowed": wording.moment(w.next_allowed_at)} for w in withheld],
        "continuing": _continuing(assessment),
        "icu": (assessment.managed_grade or 0) >= 3,
        "lead": _lead(assessment, wording, flag_texts),
        "do_now": _do_now(assessment, wording, orders, withheld, icans_card),
        **_if_febrile(assessment, wording),
        "evidence": [_evidence(item, wording) for item in assessment.evidence]
        + [text for key, text in flag_texts.items() if key in WHY_FLAGS],
        "reminders": [wording.note(note) for note in assessment.reminders],
        "data_quality": [wording.note(note) for note in assessment.data_quality]
        + [text for key, text in flag_texts.items() if key not in (*LEAD_FLAGS, *WHY_FLAGS)],
        "support_without_fever": "support-without-fever" in assessment.flags,
        "icans_alone": "M-ICANS-ALONE" in assessment.rules,
        "icans_grade": assessment.icans_grade,
        "flags": list(assessment.flags),
        "as_of": wording.moment(assessment.as_of),
        "policy_version": assessment.policy_version,
        "bedside": wording.text("bedside"),
    }


def _no_grade(note: Note, assessment: Assessment) -> Note:
    """With no grade at all, partial data is not a lower bound: the data problem is worded as such."""
    if note.key == "flag.partial-data" and assessment.grade is None:
        return note.model_copy(update={"key": "flag.partial-data.no-grade"})
    return note


def _evidence(item: Any, wording: Wording) -> str:
    return wording.text(item.key, **{**item.params, "at": item.at})


def _managed_reasons(assessment: Assessment, wording: Wording) -> list[str]:
    """Why the managed grade is above the grade: the managing rule's short wording, with its evidence's values."""
    items = {item.rule: item for item in assessment.evidence if item.rule in MANAGED_RULES}
    return [wording.text(f"managed.{rule}", **{**item.params, "at": item.at}) for rule, item in items.items()]


def _lead(assessment: Assessment, wording: Wording, flag_texts: dict[str, str]) -> list[str]:
    """C3-FEVER-UNKNOWN and M-ICANS-ALONE statements, and support without fever: what the card leads with."""
    notes = [n for n in assessment.next_steps if n.rule in LEAD_RULES and n.key != IF_FEBRILE]
    return [wording.note(n) for n in notes] + [text for key, text in flag_texts.items() if key in LEAD_FLAGS]


def _do_now(
    assessment: Assessment,
    wording: Wording,
    orders: list[RecommendedOrder],
    withheld: list[WithheldOrder],
    icans_card: bool,
) -> list[str]:
    """Grade steps first (the seed's words), then the orders suggested on the card (named once, by drug), the
    orders withheld with every reason and the next allowed time, then the other steps."""
    shown = [
        n
        for n in assessment.next_steps
        if n.rule not in ("M-HLH", *LEAD_RULES) and not (icans_card and n.rule == "M-ICANS")
    ]
    urgent = [wording.note(n) for n in shown if n.key in URGENT_STEPS]
    others = [wording.note(n) for n in shown if n.key not in URGENT_STEPS]
    texts = [*urgent, *_order_lines(orders, wording), *(withheld_text(w, wording) for w in withheld), *others]
    lead = any(n.rule in LEAD_RULES for n in assessment.next_steps) or "support-without-fever" in assessment.flags
    if assessment.grade is None:
        return [wording.text("do-now.no-grade"), *texts]
    return texts or ([] if lead else [wording.text("do-now.keep-monitoring")])


def _order_lines(orders: list[RecommendedOrder], wording: Wording) -> list[str]:
    """The suggestions named by drug: pre-selected ones to order now, the others to consider."""
    lines = []
    for key, recommended in (("do-now.orders", True), ("do-now.consider", False)):
        drugs = tuple(dict.fromkeys(order.drug for order in orders if order.is_recommended is recommended))
        if drugs:
            lines.append(wording.text(key, drugs=drugs))
    return lines


def _continuing(assessment: Assessment) -> list[str]:
    """M-ACTIVE-ORDER: the drugs of regimens to continue (the summary names them)."""
    return [
        str(part.params["drug"])
        for note in assessment.next_steps
        if note.key == "M-ACTIVE-ORDER"
        for part in note.parts
        if "drug" in part.params
    ]


def _if_febrile(assessment: Assessment, wording: Wording) -> dict[str, Any]:
    """C3-FEVER-UNKNOWN: grade N's plan as conditional text, never orders."""
    note: Note | None = next((n for n in assessment.next_steps if n.key == IF_FEBRILE), None)
    if note is None:
        return {"if_febrile_heading": "", "if_febrile": []}
    return {
        "if_febrile_heading": wording.text(note.key, **note.params),
        "if_febrile": [wording.note(p) for p in note.parts],
    }


def icans_context(assessment: Assessment, wording: Wording) -> dict[str, Any]:
    steroid = next((order for order in assessment.recommended if is_icans_order(order)), None)
    veto = next((w for w in assessment.withheld if w.rule == "M-ICANS"), None)
    steps = [wording.note(n) for n in assessment.next_steps if n.rule == "M-ICANS"]
    # M-ICANS: grade 1 CRS below managed grade 3 says "steroids, NOT tocilizumab" even where none was planned
    vetoed = assessment.grade == 1 and (assessment.managed_grade or 0) < 3
    reason = [wording.text("M-ICANS.veto")]
    veto_text = (
        withheld_text(veto, wording)
        if veto
        else (wording.text("withheld", reason, drug="tocilizumab") if vetoed else "")
    )
    return {
        "icans_grade": assessment.icans_grade,
        "crs_grade": assessment.grade,
        "steroid": order_short(steroid, wording) if steroid else "",
        "tocilizumab_withheld": veto_text,
        "steps": steps,
        "why": wording.text("icans.why"),
        "as_of": wording.moment(assessment.as_of),
        "policy_version": assessment.policy_version,
    }


def hlh_context(assessment: Assessment, wording: Wording) -> dict[str, Any]:
    hlh = assessment.hlh
    assert hlh is not None  # noqa: S101 - callers check hlh first
    number = wording.value
    return {
        "ferritin": number(hlh.ferritin_ng_ml) if hlh.ferritin_ng_ml is not None else "",
        "ferritin_above": number(hlh.ferritin_above_ng_ml) if hlh.ferritin_above_ng_ml is not None else "",
        "organ_findings": [wording.note(finding) for finding in hlh.organ_findings],
        "first_met": wording.moment(hlh.first_met_at),
        "consider_hlh2004": hlh.consider_hlh2004,
        "hlh2004_after": number(hlh.hlh2004_after_hours) if hlh.hlh2004_after_hours is not None else "",
    }


def order_check_context(check: OrderCheck, wording: Wording, drug_display: str, corrected: str) -> dict[str, Any]:
    messages = [wording.note(note) for note in check.messages]
    return {
        "drug": drug_display,
        "rules": list(check.rules),
        "messages": messages,
        "first_message": messages[0],
        "corrected": corrected,
        "delete": check.delete,
        "as_of": wording.moment(check.as_of),
        "policy_version": check.policy_version,
    }
