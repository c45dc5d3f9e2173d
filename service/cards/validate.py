"""Start-up checks of the card catalog by rendering it: every template with every shape of data it can
receive, summaries under 140 characters at their longest, text keys the engine knows, and order templates
that make valid FHIR R4 MedicationRequests. Errors name the file and the key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2.exceptions import TemplateError
from pydantic import ValidationError

from service.cards.context import (
    FLAG_TEXTS,
    Wording,
    assessment_context,
    hlh_context,
    icans_context,
    order_check_context,
)
from service.cards.medication_request import proposal
from service.cards.render import SUMMARY_LIMIT
from service.catalog.cards import CardCatalog
from service.catalog.errors import CatalogError
from service.crs.assessment import Assessment, EvidenceItem, HlhStatus, Note, RecommendedOrder, WithheldOrder
from service.crs.notes import NOTE_PARAMS
from service.crs.order_check import OrderCheck
from service.crs.policy import Policy

SAMPLE_TIME = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)


def validate_catalog(catalog: CardCatalog, policy: Policy) -> None:
    _check_text_keys(catalog)
    for kind, contexts in _sample_contexts(catalog, policy).items():
        for context in contexts:
            _render_kind(catalog, kind, context)
    _check_order_templates(catalog)


def _check_text_keys(catalog: CardCatalog) -> None:
    flags = {f"flag.{flag}" for flag in FLAG_TEXTS}
    for key, template in catalog.texts.items():
        if key not in NOTE_PARAMS and key not in flags:
            raise CatalogError(f"{catalog.cards_path}: texts.{key}: unknown key (docs/cards.md lists the keys)")
        params = {name: f"<{name}>" for name in NOTE_PARAMS.get(key, ())}
        try:
            template.render(**params)
        except TemplateError as error:
            raise CatalogError(f"{catalog.cards_path}: texts.{key}: {error}") from error


def _render_kind(catalog: CardCatalog, kind: str, context: dict[str, Any]) -> None:
    compiled = catalog.kinds[kind]
    try:
        summary = " ".join(compiled.summary.render(**context).split())
        compiled.detail.render(**context)
    except TemplateError as error:
        raise CatalogError(f"{catalog.cards_path}: kinds.{kind}: {error}") from error
    if not summary:
        raise CatalogError(f"{catalog.cards_path}: kinds.{kind}.summary: renders empty")
    if len(summary) > SUMMARY_LIMIT:
        raise CatalogError(
            f"{catalog.cards_path}: kinds.{kind}.summary: can reach {len(summary)} characters "
            f"(the limit is {SUMMARY_LIMIT}), e.g. {summary!r}"
        )


def _sample_assessments(policy: Policy) -> list[Assessment]:
    """Every shape the templates must handle, with the longest values the engine can produce."""
    product = max((d.display for d in policy.drugs.values() if "car-t" in d.roles), key=len)
    note = Note(rule="M-G3", key="M-G3", text="x" * 200)
    full = Assessment(
        as_of=SAMPLE_TIME,
        policy_version="x" * 40,
        in_scope=True,
        car_t_product=product,
        grade=4,
        managed_grade=4,
        unknown_classes=("fever", "hypotension", "hypoxia"),
        icans_grade=4,
        hlh=HlhStatus(
            suspected=True, ferritin_ng_ml=123456.7, organ_findings=("x" * 80,) * 4, first_met_at=SAMPLE_TIME
        ),
        rules=("M-G1-PERSISTENT", "M-G2-ESCALATE", "M-HLH", "M-ICANS"),
        flags=("partial-data", "age-unknown", "weight-missing", "unknown-unit", "support-without-fever"),
        evidence=(EvidenceItem(rule="C1", text="x" * 120, at=SAMPLE_TIME), EvidenceItem(rule="C3", text="y")),
        recommended=tuple(
            RecommendedOrder(rule=r, drug="dexamethasone", dose_mg=10, text="x" * 200)
            for r in ("M-G3", "M-ICANS", "M-G4")
        ),
        withheld=(WithheldOrder(rule="M-ICANS", drug="tocilizumab", reason="x" * 150, next_allowed_at=SAMPLE_TIME),),
        next_steps=(note,),
        reminders=(note,),
    )
    lower_bound = full.model_copy(update={"grade": 3, "managed_grade": 4, "unknown_classes": ("hypoxia",)})
    fever_unknown = full.model_copy(
        update={
            "grade": 0,
            "possible_grade": 4,
            "rules": ("C3-FEVER-UNKNOWN", "M-ICANS-ALONE"),
            "next_steps": (
                Note(rule="C3-FEVER-UNKNOWN", key="C3-FEVER-UNKNOWN.measure", text="x" * 200),
                Note(
                    rule="C3-FEVER-UNKNOWN",
                    key="C3-FEVER-UNKNOWN.if-febrile",
                    text="If febrile: " + "x" * 200,
                    params={"action": "x" * 200},
                ),
            ),
            "data_quality": (Note(rule="R-UNIDENTIFIED", key="R-UNIDENTIFIED", text="x" * 200),),
        }
    )
    unknown = full.model_copy(update={"grade": None, "managed_grade": None, "hlh": None})
    empty = Assessment(as_of=SAMPLE_TIME, policy_version="2026.1", in_scope=True, grade=0, managed_grade=0)
    return [full, lower_bound, fever_unknown, unknown, empty]


def _sample_checks() -> list[OrderCheck]:
    long_note = Note(rule="O-TOCI-DOSE", key="O-TOCI-DOSE", text="x" * 300)
    base = OrderCheck(
        draft="MedicationRequest/x",
        resource_id="x",
        drug="tocilizumab",
        rules=("O-TOCI-DOSE",),
        indicator="warning",
        messages=(long_note,),
    )
    return [
        base,
        base.model_copy(
            update={"delete": True, "rules": ("O-GMCSF", "O-TOCI-DOSE"), "messages": (long_note, long_note)}
        ),
    ]


def _sample_contexts(catalog: CardCatalog, policy: Policy) -> dict[str, list[dict[str, Any]]]:
    wording = Wording(catalog.texts)
    assessments = _sample_assessments(policy)
    return {
        "crs-assessment": [assessment_context(a, wording) for a in assessments],
        "hlh-suspicion": [hlh_context(a) for a in assessments if a.hlh is not None],
        "icans": [icans_context(a) for a in assessments],
        "order-check": [order_check_context(c, wording, "x" * 60, "x" * 60) for c in _sample_checks()]
        + [order_check_context(c, wording, "", "") for c in _sample_checks()],
    }


def _check_order_templates(catalog: CardCatalog) -> None:
    from fhir.resources.R4B.medicationrequest import MedicationRequest

    for drug in catalog.orders.drugs:
        order = RecommendedOrder(rule="M-G3", drug=drug, dose_mg=10, interval_hours=6, text="sample")
        try:
            MedicationRequest.model_validate(proposal(order, catalog, "sample-patient"))
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise CatalogError(
                f"{catalog.orders_path}: drugs.{drug}: makes an invalid MedicationRequest ({where}: {problem['msg']})"
            ) from error
