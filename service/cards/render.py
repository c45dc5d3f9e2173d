"""CDS Hooks cards from the engine's results and the card catalog.

patient-view: one CRS assessment card, plus at most an HLH card and an ICANS card; order hooks: one card
per flagged draft order. Every card and suggestion has a uuid; suggestions are FHIR R4 MedicationRequests.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.cards import medication_request
from service.cards.catalog import CardCatalog, CompiledKind, Defaults
from service.cards.context import (
    assessment_context,
    crs_orders,
    dose_words,
    hlh_context,
    icans_card_applies,
    icans_context,
    is_icans_order,
    order_check_context,
    order_short,
)
from service.cards.templates import words
from service.cards.uuids import new_uuid as random_uuid
from service.cards.wording import Wording
from service.crs.assessment import INDICATOR_RANK, Assessment, Indicator, RecommendedOrder
from service.crs.order_check import OrderCheck
from service.fhir.fields import FhirResource
from service.timeline.card_link import add_links

log = logging.getLogger(__name__)
SUMMARY_LIMIT = 139


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
        new_uuid: Callable[[], str] = random_uuid,
        crs_links: tuple[dict[str, str], ...] = (),
    ) -> None:
        self.catalog = catalog
        self.crs_links = crs_links  # the CRS timeline's launch link (service.timeline.card_link)
        self._new_uuid = new_uuid
        # the source label depends only on the policy version: rendered once per version (a handful per process)
        self._source_label = functools.lru_cache(maxsize=16)(self._render_source_label)
        self._catalog_fields = {name: catalog_fields(kind, catalog.defaults) for name, kind in catalog.kinds.items()}

    def wording(self, zone: str, now: datetime) -> Wording:
        """The renderer of every text for one call: the policy's time zone, relative times from ``now``."""
        return Wording(self.catalog.texts, zone, now)

    def patient_view(self, assessment: Assessment, patient_id: str) -> list[RenderedCard]:
        """No card out of scope (C0); otherwise the assessment card and the separate concerns."""
        if not assessment.in_scope:
            return []
        wording = self.wording(assessment.time_zone, assessment.as_of)
        version = assessment.policy_version
        cards = [
            self._card(
                "crs-assessment",
                assessment_context(assessment, wording),
                (assessment.indicator, version),
                assessment.rules,
                self._proposals(crs_orders(assessment), patient_id, wording),
                {"crs-assessment": assessment_extension(assessment)},
            )
        ]
        add_links(cards[0].card, self.crs_links)
        if assessment.hlh is not None:
            context = hlh_context(assessment, wording)
            cards.append(self._card("hlh-suspicion", context, ("critical", version), ("M-HLH",), [], {}))
        if icans_card_applies(assessment):
            icans_orders = [o for o in assessment.recommended if is_icans_order(o)]
            suggestions = self._proposals(icans_orders, patient_id, wording)
            context = icans_context(assessment, wording)
            cards.append(self._card("icans", context, ("warning", version), ("M-ICANS",), suggestions, {}))
        return cards

    def order_checks(self, checks: tuple[OrderCheck, ...], drafts: dict[str, FhirResource]) -> list[RenderedCard]:
        cards = []
        for check in checks:
            wording = self.wording(check.time_zone, check.as_of)
            corrected = corrected_text(check, wording)
            suggestions = self._corrections(check, drafts[check.draft], wording, corrected)
            display = (
                self.catalog.orders.drugs[check.drug].display if check.drug in self.catalog.orders.drugs else check.drug
            )
            context = order_check_context(check, wording, display, corrected)
            extension = {"crs-order-check": {"rules": list(check.rules), "draftOrder": check.draft}}
            level = (check.indicator, check.policy_version)
            cards.append(self._card("order-check", context, level, check.rules, suggestions, extension))
        return cards

    def _proposals(self, orders: list[RecommendedOrder], patient_id: str, wording: Wording) -> list[dict[str, Any]]:
        """One ``create`` per suggested order: the short form as label, the full text (dose basis, repeat
        criteria, reason, dose notes) as description and dosage text: each order appears once on the card."""
        reason = wording.text("order.reason")
        suggestions = []
        for order in orders:
            if order.drug not in self.catalog.orders.drugs:
                continue
            text = wording.note(order.wording())
            resource = medication_request.proposal(order, self.catalog, patient_id, text, reason)
            label = wording.text("suggestion.create", order=order_short(order, wording))
            action = {"type": "create", "description": text, "resource": resource}
            suggestions.append(self._suggestion(label, order.is_recommended, action))
        return suggestions

    def _corrections(
        self, check: OrderCheck, draft: FhirResource, wording: Wording, corrected: str
    ) -> list[dict[str, Any]]:
        if check.resource_id is None:
            return []  # the EHR cannot match an update or delete to a draft without an id
        if check.delete:
            label = wording.text("suggestion.delete")
            return [self._suggestion(label, True, {"type": "delete", "description": label, "resourceId": check.draft})]
        if check.corrected is None:
            return []
        resource = medication_request.corrected_draft(draft, check.corrected, self.catalog, corrected)
        description = wording.text("suggestion.update.description", corrected=corrected)
        action = {"type": "update", "description": description, "resource": resource}
        return [self._suggestion(wording.text("suggestion.update", corrected=corrected), True, action)]

    def _suggestion(self, label: str, recommended: bool, action: dict[str, Any]) -> dict[str, Any]:
        return {"label": label, "uuid": self._new_uuid(), "isRecommended": recommended, "actions": [action]}

    def _card(
        self,
        kind_name: str,
        context: dict[str, Any],
        level: tuple[Indicator, str],
        rules: tuple[str, ...],
        suggestions: list[dict[str, Any]],
        extension: dict[str, Any],
    ) -> RenderedCard:
        kind = self.catalog.kinds[kind_name]
        indicator, policy_version = level
        card: dict[str, Any] = {
            "uuid": self._new_uuid(),
            "summary": render_summary(kind, context),
            "indicator": _at_least(indicator, kind.entry.indicator),
            "detail": render_detail(kind, context),
            "source": self._source(kind, policy_version),
        }
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = self.catalog.defaults.selection_behavior
        for name, items in self._catalog_fields[kind_name].items():
            card[name] = [dict(item) for item in items]  # each card its own copy: a caller may add to them
        if extension:
            card["extension"] = extension
        return RenderedCard(kind_name, tuple(rules), card, tuple(s["uuid"] for s in suggestions))

    def _source(self, kind: CompiledKind, policy_version: str) -> dict[str, Any]:
        """The protocol and its policy version (``source_label`` is a template receiving ``policy_version``)."""
        defaults = self.catalog.defaults
        source: dict[str, Any] = {
            "label": self._source_label(policy_version),
            "url": defaults.source_url,
            "topic": kind.entry.topic.as_fhir(),
        }
        if defaults.source_icon:
            source["icon"] = defaults.source_icon
        return source

    def _render_source_label(self, policy_version: str) -> str:
        return words(self.catalog.source_label.render(policy_version=policy_version))


def catalog_fields(kind: CompiledKind, defaults: Defaults) -> dict[str, list[dict[str, str]]]:
    """A kind's override reasons and links, in the catalog's order: the same on every card of the kind."""
    reasons = kind.entry.override_reasons or defaults.override_reasons
    links = [*(kind.entry.links or defaults.links), *filter(None, [defaults.smart_app])]
    fields = {"overrideReasons": [reason.as_fhir() for reason in reasons], "links": [link.as_cds() for link in links]}
    return {name: items for name, items in fields.items() if items}


def corrected_text(check: OrderCheck, wording: Wording) -> str:
    """The protocol dose an ``update`` writes into a draft, in words ("dexamethasone 10 mg IV every 6 h")."""
    return dose_words(wording, "corrected", check.corrected, None) if check.corrected else ""


def _at_least(indicator: Indicator, floor: Indicator) -> Indicator:
    return indicator if INDICATOR_RANK[indicator] >= INDICATOR_RANK[floor] else floor


def render_summary(kind: CompiledKind, context: dict[str, Any]) -> str:
    """One line under 140 characters; the catalog is checked for this at start-up, this is the last guard."""
    summary = " ".join(kind.summary.render(context).split())  # a mapping, not **: one copy fewer
    if len(summary) > SUMMARY_LIMIT:
        log.warning("summary of %s cut to %d characters", kind.name, SUMMARY_LIMIT)
        summary = summary[: SUMMARY_LIMIT - 3].rstrip() + "..."
    return summary


def render_detail(kind: CompiledKind, context: dict[str, Any]) -> str:
    """Markdown with list items kept together: blank lines between items of one list are removed."""
    lines = [line.rstrip() for line in kind.detail.render(context).splitlines()]
    kept: list[str] = []
    for line, following in zip(lines, _next_with_words(lines), strict=True):
        if line or not kept or (kept[-1] and not (kept[-1].startswith("- ") and following.startswith("- "))):
            kept.append(line)  # a blank line between two list items is dropped, so is a second blank line
    return "\n".join(kept).strip() or kind.entry.topic.display


def _next_with_words(lines: list[str]) -> list[str]:
    """For each line, the next line with words after it ("" if none): one pass from the end instead of a
    search forward from every blank line."""
    found, following = "", []
    for line in reversed(lines):
        following.append(found)
        found = line or found
    following.reverse()
    return following


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
