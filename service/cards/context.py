"""Template variables of each card kind, built from the engine's results (documented in docs/cards.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Template
from jinja2.exceptions import TemplateError

from service.crs.assessment import Assessment, Note, RecommendedOrder
from service.crs.order_check import OrderCheck

FLAG_TEXTS = {
    "partial-data": "Not every criterion was documented in the last 24 h: the grade is a lower bound.",
    "age-unknown": "Age unknown: adult blood pressure thresholds were used.",
    "weight-missing": "No weight in the last 30 days: the tocilizumab dose is given per kg, never guessed.",
    "tocilizumab-label-12-mg-per-kg-under-30-kg": (
        "Under 30 kg the tocilizumab label dose is 12 mg/kg; the protocol suggests 8 mg/kg."
    ),
    "positive-pressure-without-oxygen": (
        "Positive pressure at FiO2 21 % (no supplemental oxygen) is not graded as hypoxia."
    ),
    "support-without-fever": (
        "Hypotension or oxygen need without fever: CRS criteria are not met; evaluate other causes such as infection."
    ),
    "grade-at-last-dose-unknown": (
        "No CRS grade could be computed at the last tocilizumab dose (data missing then): improvement since that "
        "dose cannot be judged from the chart; assess it at the bedside before a repeat dose."
    ),
    "unknown-unit": "Some results had units the service does not recognise and were not used.",
    "data-incomplete": "The FHIR server held more data than the page limit allowed; the oldest data were not read.",
    "vitals-overdue": "",
    # Named one by one in the Data quality section (R-rules) or led with (C3-FEVER-UNKNOWN):
    "fever-unknown": "",
    "implausible-value": "",
    "weight-implausible": "",
    "duplicate-records": "",
    "unidentified-medications": "",
}
LEAD_RULES = ("C3-FEVER-UNKNOWN", "M-ICANS-ALONE")
IF_FEBRILE = "C3-FEVER-UNKNOWN.if-febrile"
MANAGED_REASONS = {
    "M-G1-PERSISTENT": "fever for more than 72 h",
    "M-G2-ESCALATE": "no improvement 24 h after tocilizumab",
    "M-HLH": "suspected HLH/MAS",
}


def moment_text(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


class Wording:
    """The engine's wording, replaced by the catalog's ``[texts]`` where a site set a key."""

    def __init__(self, overrides: dict[str, Template]) -> None:
        self._overrides = overrides

    def note(self, note: Note) -> str:
        template = self._overrides.get(note.key)
        return self._render(template, note.params, note.key) if template else note.text

    def flag(self, flag: str) -> str:
        template = self._overrides.get(f"flag.{flag}")
        return self._render(template, {}, f"flag.{flag}") if template else FLAG_TEXTS.get(flag, "")

    @staticmethod
    def _render(template: Template, params: dict[str, str], key: str) -> str:
        try:
            return " ".join(template.render(**params).split())
        except TemplateError as error:
            raise ValueError(f"texts.{key}: {error}") from error


def is_icans_order(order: RecommendedOrder) -> bool:
    return order.rule == "M-ICANS"


def assessment_context(assessment: Assessment, wording: Wording) -> dict[str, Any]:
    """Variables of the crs-assessment card. The ICANS steroid and veto go on the ICANS card instead."""
    icans_card = icans_card_applies(assessment)
    orders = [o for o in assessment.recommended if not (icans_card and is_icans_order(o))]
    withheld = [w for w in assessment.withheld if not (icans_card and w.rule == "M-ICANS")]
    return {
        "grade": assessment.grade,
        "managed_grade": assessment.managed_grade,
        "unknown": list(assessment.unknown_classes),
        "lower_bound": bool(assessment.unknown_classes) and assessment.grade is not None,
        "product": assessment.car_t_product or "",
        "managed_reasons": [text for rule, text in MANAGED_REASONS.items() if rule in assessment.rules],
        "evidence": [{"text": item.text, "time": moment_text(item.at)} for item in assessment.evidence],
        "orders": [{"text": order.text} for order in orders],
        "withheld": [
            {"drug": w.drug, "reason": w.reason, "next_allowed": moment_text(w.next_allowed_at)} for w in withheld
        ],
        "possible_grade": assessment.possible_grade,
        "icans_alone": "M-ICANS-ALONE" in assessment.rules,
        "icans_grade": assessment.icans_grade,
        "lead": [wording.note(n) for n in assessment.next_steps if n.rule in LEAD_RULES and n.key != IF_FEBRILE],
        "if_febrile": [note.params["action"] for note in assessment.next_steps if note.key == IF_FEBRILE],
        "steps": [wording.note(note) for note in assessment.next_steps if note.rule not in ("M-HLH", *LEAD_RULES)],
        "reminders": [wording.note(note) for note in assessment.reminders],
        "flags": list(assessment.flags),
        "flag_texts": [text for text in (wording.flag(flag) for flag in assessment.flags) if text],
        "data_quality": [wording.note(note) for note in assessment.data_quality],
        "as_of": moment_text(assessment.as_of),
        "policy_version": assessment.policy_version,
    }


def icans_card_applies(assessment: Assessment) -> bool:
    """M-ICANS: ICANS grade >= 2 with CRS is a separate concern with its own card."""
    return "M-ICANS" in assessment.rules


def icans_context(assessment: Assessment) -> dict[str, Any]:
    steroid = next((order.text for order in assessment.recommended if is_icans_order(order)), "")
    veto = next((w.reason for w in assessment.withheld if w.rule == "M-ICANS"), "")
    return {
        "icans_grade": assessment.icans_grade,
        "crs_grade": assessment.grade,
        "steroid": steroid,
        "tocilizumab_withheld": veto,
        "protocol": (assessment.icans_grade or 0) >= 3,
    }


def hlh_context(assessment: Assessment) -> dict[str, Any]:
    hlh = assessment.hlh
    assert hlh is not None  # noqa: S101 - callers check hlh first
    return {
        "ferritin": f"{hlh.ferritin_ng_ml:g} ng/mL" if hlh.ferritin_ng_ml is not None else "",
        "organ_findings": list(hlh.organ_findings),
        "first_met": moment_text(hlh.first_met_at),
        "consider_hlh2004": hlh.consider_hlh2004,
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
    }
