"""Settings of the timeline page, from the environment (prefix ``CRS_CDS_TIMELINE_``)."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TimelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRS_CDS_TIMELINE_", extra="ignore", frozen=True)

    timezone: str | None = Field(
        default=None, description="IANA time zone of the page (default: the policy's time_zone, as on the cards)."
    )
    absolute_url: str | None = Field(
        default=None,
        description="For EHRs without SMART: an `absolute` card link to a site page that authorises the user itself.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not an IANA time zone") from error
        return value

    @field_validator("absolute_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme != "https" or not urlsplit(value).netloc):
            raise ValueError(f"{value!r} must be an absolute https URL")
        return value

    def zone(self, policy_zone: str) -> ZoneInfo:
        """The page's zone: this setting when set, else the policy's (one zone for cards and page)."""
        return ZoneInfo(self.timezone or policy_zone)
