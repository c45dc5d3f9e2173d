"""The timeline's and the SMART launch's settings, read once, with errors that name the variable."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from service.settings import settings_problems
from service.smart.settings import SmartSettings
from service.timeline.settings import TimelineSettings

S = TypeVar("S", bound=BaseSettings)


class FeatureConfigError(Exception):
    """A CRS_CDS_SMART_* or CRS_CDS_TIMELINE_* variable is invalid; the message names it."""


def load(kind: type[S], prefix: str) -> S:
    try:
        return kind()
    except ValidationError as error:
        raise FeatureConfigError(f"invalid settings: {settings_problems(error, prefix)}") from error


def smart_settings() -> SmartSettings:
    return load(SmartSettings, "CRS_CDS_SMART_")


def timeline_settings() -> TimelineSettings:
    return load(TimelineSettings, "CRS_CDS_TIMELINE_")
