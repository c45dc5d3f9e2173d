"""Warnings about configuration that is accepted but does nothing: a misspelt ``CRS_CDS_*`` variable, a
setting this mode ignores. Said by ``crs-cds check-config`` and logged at start-up, never silent."""

from __future__ import annotations

import os
from collections.abc import Mapping

from service.settings import Settings, ignored_settings
from service.smart.settings import SmartSettings
from service.timeline.settings import TimelineSettings

# Read outside the settings models: the container's bind address, the log format, test and benchmark tools.
OTHER_VARIABLES = frozenset(
    {"CRS_CDS_HOST", "CRS_CDS_PORT", "CRS_CDS_LOG_FORMAT", "CRS_CDS_UPDATE_GOLDEN", "CRS_CDS_TEST_ARTIFACTS"}
)


def known_variables() -> frozenset[str]:
    models = (("CRS_CDS_", Settings), ("CRS_CDS_SMART_", SmartSettings), ("CRS_CDS_TIMELINE_", TimelineSettings))
    return frozenset(f"{prefix}{name.upper()}" for prefix, model in models for name in model.model_fields)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``CRS_CDS_*`` variables that no setting reads (a misspelt name would otherwise be ignored)."""
    names = os.environ if environ is None else environ
    known = known_variables() | OTHER_VARIABLES
    return sorted(name for name in names if name.upper().startswith("CRS_CDS_") and name.upper() not in known)


def configuration_warnings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    unknown = [f"{name} is not a crs-cds setting and is ignored (misspelt?)" for name in unknown_variables(environ)]
    return [*unknown, *ignored_settings(settings)]
