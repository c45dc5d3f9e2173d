"""CDS Hooks cards from the engine's results and the card catalog.

patient-view: one CRS assessment card, plus at most an HLH card and an ICANS card; order hooks: one card
per flagged draft order. Every card and suggestion has a uuid; suggestions are FHIR R4 MedicationRequests.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.cards import medication_request
from service.cards.context import (
    Wording,
    assessment_context,
    hlh_context,
    icans_card_applies,
    icans_context,
    is_icans_order,
    order_check_context,
)
from service.catalog.cards import CardCatalog, CompiledKind
from service.crs.assessment import INDICATOR_RANK, Assessment, Indicator, RecommendedOrder
from service.crs.order_check import OrderCheck
from service.timeline.card_link import add_links

log = logging.getLogger(__name__)
SUMMARY_LIMIT = 139
FhirResource = dict[str, Any]


@dataclass(frozen=True)
class RenderedCard:
    """A card and what the audit and feedback report need to know about it."""

    kind: str
    rules: tuple[str, ...]
    card: dict[str, Any]
    suggestion_uuids: tuple[str, ...] = field(default=())

    @property
    def uuid(self) -> str:
        return str(self.card["uuid"])


class CardRenderer:
    def __init__(
        self,
        catalog: CardCatalog,
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
        crs_links: tuple[dict[str, str], ...] = (),
    ) -> None:
        self.catalog = catalog
        self.crs_links = crs_links  # the CRS timeline's launch link (service.timeline.card_link)
        self.wording = Wording(catalog.texts)
        self._new_uuid = new_uuid

    def patient_view(self, assessment: Assessment, patient_id: str) -> list[RenderedCard]:
        """No card out of scope (C0); otherwise the assessment card and the separate concerns."""
        if not assessment.in_scope:
            return []
        icans_card = icans_card_applies(assessment)
        crs_orders = [o for o in assessment.recommended if not (icans_card and is_icans_order(o))]
        cards = [
            self._card(
                "crs-assessment",
                assessment_context(assessment, self.wording),
                assessment.indicator,
                assessment.rules,
                self._proposals(crs_orders, patient_id),
                {"crs-assessment": assessment_extension(assessment)},
            )
        ]
        add_links(cards[0].card, self.crs_links)
        if assessment.hlh is not None:
            cards.append(self._card("hlh-suspicion", hlh_context(assessment), "critical", ("M-HLH",), [], {}))
        if icans_card:
            icans_orders = [o for o in assessment.recommended if is_icans_order(o)]
            context = icans_context(assessment)
            cards.append(
                self._card("icans", context, "warning", ("M-ICANS",), self._proposals(icans_orders, patient_id), {})
            )
        return cards

    def order_checks(self, checks: tuple[OrderCheck, ...], drafts: dict[str, FhirResource]) -> list[RenderedCard]:
        cards = []
        for check in checks:
            draft = drafts[check.draft]
            suggestions = self._corrections(check, draft)
            corrected = medication_request.corrected_text(check.corrected) if check.corrected else ""
            display = (
                self.catalog.orders.drugs[check.drug].display if check.drug in self.catalog.orders.drugs else check.drug
            )
            context = order_check_context(check, self.wording, display, corrected)
            extension = {"crs-order-check": {"rules": list(check.rules), "draftOrder": check.draft}}
            cards.append(self._card("order-check", context, check.indicator, check.rules, suggestions, extension))
        return cards

    def _proposals(self, orders: list[RecommendedOrder], patient_id: str) -> list[dict[str, Any]]:
        return [
            self._suggestion(
                f"Order {order.drug}",
                order.is_recommended,
                {
                    "type": "create",
                    "description": order.text,
                    "resource": medication_request.proposal(order, self.catalog, patient_id),
                },
            )
            for order in orders
            if order.drug in self.catalog.orders.drugs
        ]

    def _corrections(self, check: OrderCheck, draft: FhirResource) -> list[dict[str, Any]]:
        if check.resource_id is None:
            return []  # the EHR cannot match an update or delete to a draft without an id
        if check.delete:
            action = {"type": "delete", "description": "Remove this order", "resourceId": check.draft}
            return [self._suggestion("Remove this order", True, action)]
        if check.corrected is None:
            return []
        text = medication_request.corrected_text(check.corrected)
        resource = medication_request.corrected_draft(draft, check.corrected, self.catalog)
        return [
            self._suggestion(
                f"Change to {text}",
                True,
                {"type": "update", "description": f"Change the order to {text}", "resource": resource},
            )
        ]

    def _suggestion(self, label: str, recommended: bool, action: dict[str, Any]) -> dict[str, Any]:
        return {"label": label, "uuid": self._new_uuid(), "isRecommended": recommended, "actions": [action]}

    def _card(
        self,
        kind_name: str,
        context: dict[str, Any],
        indicator: Indicator,
        rules: tuple[str, ...],
        suggestions: list[dict[str, Any]],
        extension: dict[str, Any],
    ) -> RenderedCard:
        kind = self.catalog.kinds[kind_name]
        card: dict[str, Any] = {
            "uuid": self._new_uuid(),
            "summary": render_summary(kind, context),
            "indicator": _at_least(indicator, kind.entry.indicator),
            "detail": render_detail(kind, context),
            "source": self._source(kind),
        }
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = self.catalog.defaults.selection_behavior
        reasons = kind.entry.override_reasons or self.catalog.defaults.override_reasons
        if reasons:
            card["overrideReasons"] = [reason.as_fhir() for reason in reasons]
        links = [*(kind.entry.links or self.catalog.defaults.links), *filter(None, [self.catalog.defaults.smart_app])]
        if links:
            card["links"] = [link.as_cds() for link in links]
        if extension:
            card["extension"] = extension
        return RenderedCard(kind_name, tuple(rules), card, tuple(s["uuid"] for s in suggestions))

    def _source(self, kind: CompiledKind) -> dict[str, Any]:
        defaults = self.catalog.defaults
        source: dict[str, Any] = {
            "label": defaults.source_label,
            "url": defaults.source_url,
            "topic": kind.entry.topic.as_fhir(),
        }
        if defaults.source_icon:
            source["icon"] = defaults.source_icon
        return source


def _at_least(indicator: Indicator, floor: Indicator) -> Indicator:
    return indicator if INDICATOR_RANK[indicator] >= INDICATOR_RANK[floor] else floor


def render_summary(kind: CompiledKind, context: dict[str, Any]) -> str:
    """One line under 140 characters; the catalog is checked for this at start-up, this is the last guard."""
    summary = " ".join(kind.summary.render(**context).split())
    if len(summary) > SUMMARY_LIMIT:
        log.warning("summary of %s cut to %d characters", kind.name, SUMMARY_LIMIT)
        summary = summary[: SUMMARY_LIMIT - 3].rstrip() + "..."
    return summary


def render_detail(kind: CompiledKind, context: dict[str, Any]) -> str:
    """Markdown with list items kept together: blank lines between items of one list are removed."""
    lines = [line.rstrip() for line in kind.detail.render(**context).splitlines()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = next((later for later in lines[index + 1 :] if later), "")
        between_items = not line and kept and kept[-1].startswith("- ") and following.startswith("- ")
        if not between_items and not (not line and kept and not kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip() or kind.entry.topic.display


def assessment_extension(assessment: Assessment) -> dict[str, Any]:
    """The machine-readable contract of architecture.md. M-CARD-LAYOUT, CDS Hooks: JSON elements SHALL NOT be null and
    arrays not empty, so an unknown value is an absent key: ``grade`` when the data are insufficient,
    ``possibleGrade`` unless fever is unknown with support class >= 2 (C3-FEVER-UNKNOWN)."""
    extension: dict[str, Any] = {
        "grade": assessment.grade,
        "possibleGrade": assessment.possible_grade,
        "managedAsGrade": assessment.managed_grade,
        "rules": list(assessment.rules),
        "flags": list(assessment.flags),
        "asOf": assessment.as_of.isoformat().replace("+00:00", "Z"),
        "policyVersion": assessment.policy_version,
    }
    return {key: value for key, value in extension.items() if value is not None and value != []}
