"""``POST /cds-services/{id}``: validate the hook call, resolve its data, answer with cards."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson
from flask import Blueprint, Response
from pydantic import ValidationError

from service.cards.render import RenderedCard
from service.crs.assessment import Assessment
from service.crs.engine import assess, check_drafts
from service.fhir.fields import reference_of
from service.fhir.subject import subject_mismatches
from service.hooks.auth import allowed_fhir_servers
from service.hooks.calls import CallResult, answer_cards, resources_by_type
from service.hooks.errors import BadRequest, PatientMismatch, ServiceNotFound, invalid
from service.hooks.json_body import read_json_object
from service.hooks.models import CONTEXT_MODELS, HookRequest, OrderSelectContext, OrderSignContext, PatientViewContext
from service.hooks.prefetch import ResolvedData, fetch_medications, resolve
from service.hooks.services import ServiceDefinition
from service.logs import hook_instance_var
from service.observability import record_assessment
from service.runtime import Runtime, runtime
from service.storage.repository import CardRecord, HookCall, audit_record

bp = Blueprint("invoke", __name__)


@bp.post("/cds-services/<service_id>")
def invoke(service_id: str) -> Response:
    started = time.perf_counter()
    service = find_service(service_id)
    hook_request, context = parse_hook_request(service, read_json_object())
    hook_instance_var.set(hook_request.hookInstance[:64])
    state = runtime()
    deadline, allowed = state.fetcher.deadline(), allowed_fhir_servers()
    data = resolve(hook_request, service, state.fetcher, allowed, deadline)
    counts = resources_by_type(data)  # for the call record; now, while the resources are in the CPU cache
    drafts = drafts_to_check(context)
    refuse_other_patients(data, drafts, context.patientId)
    chart = _chart_resources(data)
    medications = fetch_medications(hook_request, [*chart, *drafts], state.fetcher, allowed, deadline)
    fetched = time.perf_counter()
    timeline = state.translator.timeline(chart, drafts, medications)
    if data.incomplete_keys:  # paging stopped early: the card must say so, never grade silently on less data
        timeline = dataclasses.replace(timeline, translation_flags=timeline.translation_flags | {"data-incomplete"})
    now = state.clock()
    if isinstance(context, OrderSignContext):
        assessment, checks = check_drafts(timeline, state.policy, now, timeline.draft_orders)
        rendered = state.renderer.order_checks(checks, {reference_of(draft): draft for draft in drafts})
    else:
        assessment = assess(timeline, state.policy, now)
        rendered = state.renderer.patient_view(assessment, context.patientId)
    if assessment.in_scope:
        record_assessment(assessment.grade, [(r.kind, str(r.card["indicator"])) for r in rendered])
    timings = (1000 * (fetched - started), 1000 * (time.perf_counter() - started))
    audit(state, hook_request, service, context, assessment, rendered, data, timings)
    result = CallResult(hook_request, service, assessment, rendered, data, timeline, timings[0], counts)
    return json_response({"cards": answer_cards(state, result)})  # none from a silent service (CRS_CDS_SILENT)


def json_response(body: dict[str, Any]) -> Response:
    """The answer serialised by orjson (C speed), keys sorted as Flask's ``jsonify`` sorts them; the cards are
    plain JSON values. Non-ASCII text (°C, ≥) is sent as UTF-8 rather than as ``\\u`` escapes: the same JSON."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE), mimetype="application/json"
    )


def audit(
    state: Runtime,
    hook_request: HookRequest,
    service: ServiceDefinition,
    context: PatientViewContext,
    assessment: Assessment,
    rendered: list[RenderedCard],
    data: ResolvedData,
    timings: tuple[float, float],
) -> None:
    """Step 5 of the data flow, queued: written off the response path; a failure is logged and counted there."""
    call = HookCall(
        created_at=state.clock(),
        hook_instance=hook_request.hookInstance,
        service_id=service.id,
        patient_ref=f"Patient/{context.patientId}",
        grade=assessment.grade,
        managed_grade=assessment.managed_grade,
        rules=list(assessment.rules),
        policy_version=assessment.policy_version,
        fetched_keys=list(data.fetched_keys),
        fetch_ms=round(timings[0], 2),
        total_ms=round(timings[1], 2),
    )
    cards = [CardRecord(r.uuid, r.kind, r.card["indicator"], list(r.rules), list(r.suggestion_uuids)) for r in rendered]
    state.writer.submit(audit_record(call, cards))


def refuse_other_patients(data: ResolvedData, drafts: list[dict[str, Any]], patient_id: str) -> None:
    """R-SUBJECT: another patient's data is never graded and an order is never written for the wrong patient."""
    mismatches = subject_mismatches({**data.resources_by_key, "context.draftOrders": drafts}, patient_id)
    if mismatches:
        first = mismatches[0]
        raise PatientMismatch(
            f"{first.key}: {first.resource} belongs to another patient than context.patientId",
            mismatches=[{"key": m.key, "resource": m.resource} for m in mismatches[:20]],
        )


def drafts_to_check(context: PatientViewContext) -> list[dict[str, Any]]:
    """order-select: the selected drafts; order-sign: all drafts; patient-view: none."""
    if isinstance(context, OrderSelectContext):
        selected = set(context.selections)
        return [r for r in context.draftOrders.resources() if f"{r.get('resourceType')}/{r.get('id')}" in selected]
    if isinstance(context, OrderSignContext):
        return context.draftOrders.resources()
    return []


def _chart_resources(data: ResolvedData) -> list[dict[str, Any]]:
    return [resource for resources in data.resources_by_key.values() for resource in resources]


def find_service(service_id: str) -> ServiceDefinition:
    service = runtime().services.get(service_id)
    if service is None:
        raise ServiceNotFound(f"no CDS service with id {service_id!r}")
    return service


def parse_hook_request(service: ServiceDefinition, body: dict[str, Any]) -> tuple[HookRequest, PatientViewContext]:
    try:
        hook_request = HookRequest.model_validate(body)
    except ValidationError as error:
        raise invalid(error) from error
    if hook_request.hook != service.hook:
        raise BadRequest(f"hook {hook_request.hook!r} does not match service {service.id!r} ({service.hook})")
    try:
        context = CONTEXT_MODELS[service.hook].model_validate(hook_request.context)
    except ValidationError as error:
        raise invalid(error, prefix="context.") from error
    return hook_request, context
