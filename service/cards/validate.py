"""Start-up checks of the card catalog by rendering it: every template with every shape of data it can
receive, summaries under 140 characters at their longest, text keys the engine knows, and order templates
that make valid FHIR R4 MedicationRequests. Errors name the file and the key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2.exceptions import TemplateError
from pydantic import ValidationError

from service.cards.catalog import CardCatalog
from service.cards.context import assessment_context, hlh_context, icans_context, order_check_context
from service.cards.errors import CatalogError
from service.cards.medication_request import proposal
from service.cards.render import SUMMARY_LIMIT
from service.cards.wording import WORDING_PARAMS, Wording
from service.crs.assessment import (
    Assessment,
    EvidenceItem,
    HlhStatus,
    Note,
    Param,
    RecommendedOrder,
    WithheldOrder,
)
from service.crs.order_check import CorrectedDose, OrderCheck
from service.crs.policy import Policy

SAMPLE_TIME = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
EARLIER = datetime(2026, 12, 29, 1, 0, tzinfo=UTC)
LISTS = ("drugs", "overdue", "stale", "missing", "organs")
TIMES = ("time", "at", "last", "next_allowed", "latest_time", "other_time")


def validate_catalog(catalog: CardCatalog, policy: Policy) -> None:
    _check_text_keys(catalog)
    for kind, contexts in _sample_contexts(catalog, policy).items():
        for context in contexts:
            _render_kind(catalog, kind, context)
    _check_order_templates(catalog)


def _check_text_keys(catalog: CardCatalog) -> None:
    """Every wording key has a text, no text names an unknown key, and each renders with its parameters
    (all given, and all absent)."""
    unknown = sorted(set(catalog.texts) - set(WORDING_PARAMS))
    if unknown:
        where = catalog.cards_path if unknown[0] in catalog.overridden else catalog.texts_path
        raise CatalogError(f"{where}: texts.{unknown[0]}: unknown key (docs/cards.md lists the keys)")
    missing = sorted(set(WORDING_PARAMS) - set(catalog.texts))
    if missing:
        raise CatalogError(f"{catalog.texts_path}: texts.{missing[0]}: no text for this wording key")
    full, empty = Wording(catalog.texts, "UTC", SAMPLE_TIME), Wording(catalog.texts, "UTC", SAMPLE_TIME)
    for key in WORDING_PARAMS:
        where = catalog.cards_path if key in catalog.overridden else catalog.texts_path
        try:
            full.note(sample_note(key))
            empty.text(key, ["<part>", "<part>"])
        except ValueError as error:
            raise CatalogError(f"{where}: {error}") from error
    try:
        catalog.source_label.render(policy_version="x")
    except TemplateError as error:
        raise CatalogError(f"{catalog.cards_path}: defaults.source_label: {error}") from error


def sample_value(name: str) -> Param:
    if name in TIMES:
        return EARLIER
    if name in LISTS:
        return ("sample one", "sample two")
    return 1234.5


def sample_note(key: str, rule: str = "M-G3") -> Note:
    params = {name: sample_value(name) for name in WORDING_PARAMS[key]}
    part = Note(rule=rule, key="M-TOCI-LIMITS.order-not-given")
    return Note(rule=rule, key=key, params=params, parts=(part, part))


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


def _longest_orders(policy: Policy) -> tuple[RecommendedOrder, ...]:
    """The two longest suggestions the CRS card can carry: tocilizumab per kg and a methylprednisolone regimen."""
    steroids = policy.steroids
    interval = max(step.interval_hours for step in steroids.methylprednisolone_taper)
    dose = max(steroids.methylprednisolone_escalation_mg, steroids.methylprednisolone_max_mg_per_dose)
    toci = RecommendedOrder(
        rule="M-G4",
        drug="tocilizumab",
        dose_mg_per_kg=policy.tocilizumab.label_mg_per_kg_under_threshold + 0.05,
        key="order.tocilizumab.no-weight",
    )
    steroid = RecommendedOrder(
        rule="M-G4",
        drug="methylprednisolone",
        dose_mg=dose + 0.5,
        interval_hours=interval + 0.5,
        interval_max_hours=interval + 0.5,
        key="order.M-G4.escalation",
        is_recommended=False,
    )
    return toci, steroid


def _sample_assessments(policy: Policy) -> list[Assessment]:
    """Every shape the templates must handle, with the longest values the engine can produce."""
    product = max((d.display for d in policy.drugs.values() if "car-t" in d.roles), key=len)
    step = sample_note("M-G3")
    full = Assessment(
        as_of=SAMPLE_TIME,
        policy_version="x" * 40,
        in_scope=True,
        t0=EARLIER,
        car_t_product=product,
        grade=4,
        managed_grade=4,
        unknown_classes=("fever", "hypotension", "hypoxia"),
        icans_grade=4,
        hlh=HlhStatus(
            suspected=True,
            ferritin_ng_ml=123456.7,
            organ_findings=(sample_note("M-HLH.organ"),) * 4,
            first_met_at=SAMPLE_TIME,
            ferritin_above_ng_ml=policy.hlh.ferritin_above_ng_ml,
            hlh2004_after_hours=policy.hlh.hlh2004_after_hours,
        ),
        rules=("M-G1-PERSISTENT", "M-G2-ESCALATE", "M-HLH", "M-ICANS"),
        flags=("partial-data", "age-unknown", "weight-missing", "unknown-unit", "support-without-fever"),
        evidence=(
            EvidenceItem(rule="C1", key="C1.highest-temperature", params={"temp": 41.55, "hours": 24}, at=EARLIER),
            *(
                EvidenceItem(rule=r, key=r, params=sample_note(r).params, at=EARLIER)
                for r in ("M-G1-PERSISTENT", "M-HLH")
            ),
        ),
        recommended=(
            *_longest_orders(policy),
            RecommendedOrder(rule="M-ICANS", drug="dexamethasone", key="order.M-ICANS"),
        ),
        withheld=(
            WithheldOrder(rule="M-ICANS", drug="tocilizumab", reasons=(step,), next_allowed_at=SAMPLE_TIME),
            WithheldOrder(rule="M-TOCI-LIMITS", drug="tocilizumab", reasons=(step, step), next_allowed_at=EARLIER),
        ),
        next_steps=(step, sample_note("M-ACTIVE-ORDER"), sample_note("M-ICANS.protocol", "M-ICANS")),
        reminders=(step,),
        data_quality=(sample_note("R-UNIDENTIFIED"),),
        flag_notes=tuple(sample_note(key) for key in WORDING_PARAMS if key.startswith("flag.")),
    )
    lower_bound = full.model_copy(update={"grade": 3, "managed_grade": 4, "unknown_classes": ("hypoxia",)})
    withheld_only = lower_bound.model_copy(update={"recommended": ()})
    fever_unknown = full.model_copy(
        update={
            "grade": 0,
            "possible_grade": 4,
            "rules": ("C3-FEVER-UNKNOWN", "M-ICANS-ALONE"),
            "next_steps": (
                sample_note("C3-FEVER-UNKNOWN.measure", "C3-FEVER-UNKNOWN"),
                sample_note("C3-FEVER-UNKNOWN.if-febrile", "C3-FEVER-UNKNOWN"),
            ),
        }
    )
    icans_alone = full.model_copy(
        update={"grade": 0, "managed_grade": 0, "rules": ("M-ICANS-ALONE",), "recommended": (), "withheld": ()}
    )
    unknown = full.model_copy(update={"grade": None, "managed_grade": None, "hlh": None})
    empty = Assessment(as_of=SAMPLE_TIME, policy_version="2026.1", in_scope=True, grade=0, managed_grade=0)
    return [full, lower_bound, withheld_only, fever_unknown, icans_alone, unknown, empty]


def _sample_checks() -> list[OrderCheck]:
    long_note = sample_note("O-TOCI-DOSE", "O-TOCI-DOSE")
    base = OrderCheck(
        draft="MedicationRequest/x",
        resource_id="x",
        drug="tocilizumab",
        rules=("O-TOCI-DOSE",),
        indicator="warning",
        messages=(long_note,),
        corrected=CorrectedDose(drug="tocilizumab", dose_mg=800),
        as_of=SAMPLE_TIME,
        policy_version="x" * 40,
    )
    return [
        base,
        base.model_copy(
            update={"delete": True, "rules": ("O-GMCSF", "O-TOCI-DOSE"), "messages": (long_note, long_note)}
        ),
    ]


def _sample_contexts(catalog: CardCatalog, policy: Policy) -> dict[str, list[dict[str, Any]]]:
    wording = Wording(catalog.texts, "America/Argentina/Buenos_Aires", SAMPLE_TIME)
    assessments = _sample_assessments(policy)
    return {
        "crs-assessment": [assessment_context(a, wording) for a in assessments],
        "hlh-suspicion": [hlh_context(a, wording) for a in assessments if a.hlh is not None],
        "icans": [icans_context(a, wording) for a in assessments],
        "order-check": [order_check_context(c, wording, "x" * 60, "x" * 60) for c in _sample_checks()]
        + [order_check_context(c, wording, "", "") for c in _sample_checks()],
    }


def _check_order_templates(catalog: CardCatalog) -> None:
    from fhir.resources.R4B.medicationrequest import MedicationRequest

    for drug in catalog.orders.drugs:
        order = RecommendedOrder(rule="M-G3", drug=drug, dose_mg=10, interval_hours=6, key="order.M-G3")
        try:
            MedicationRequest.model_validate(proposal(order, catalog, "sample-patient", "sample", "sample"))
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise CatalogError(
                f"{catalog.orders_path}: drugs.{drug}: makes an invalid MedicationRequest ({where}: {problem['msg']})"
            ) from error
