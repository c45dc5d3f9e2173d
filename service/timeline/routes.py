"""``GET /timeline``: the CRS timeline of the patient of this browser's SMART session (never without one)."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState

from service.runtime import runtime
from service.smart.chart_data import fetch_chart, patient_view_templates
from service.smart.errors import NotAuthorised
from service.smart.routes import current_session, end_session
from service.timeline.config import timeline_settings
from service.timeline.layers import build_layers
from service.timeline.page import render_layers
from service.timeline.settings import TimelineSettings

bp = Blueprint("timeline", __name__)
EXTENSION_KEY = "crs_cds_timeline"
INCOMPLETE = "The EHR's FHIR server stopped paging early: older data may be missing from this chart."


@bp.record_once
def _configure(setup: BlueprintSetupState) -> None:
    setup.app.extensions[EXTENSION_KEY] = timeline_settings()


@bp.get("/timeline")
def page() -> Response:
    state = runtime()
    session = current_session()
    try:
        chart = fetch_chart(state.fetcher, session, patient_view_templates(state.services))
    except NotAuthorised:
        end_session()
        raise
    timeline = state.translator.timeline(chart.resources)
    if chart.incomplete:
        timeline = dataclasses.replace(timeline, translation_flags=timeline.translation_flags | {"data-incomplete"})
    settings: TimelineSettings = current_app.extensions[EXTENSION_KEY]
    now, zone = state.clock(), settings.zone(state.policy.time_zone)
    layers = build_layers(timeline, state.policy, now, state.renderer.wording(str(zone), now))
    rendered = render_layers(layers, zone, notes=(INCOMPLETE,) if chart.incomplete else ())
    response = Response(rendered.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = rendered.csp
    return response
