"""Settings of the SMART launch, from the environment (prefix ``CRS_CDS_SMART_``); docs/timeline.md explains them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.urls import check_fhir_base_url

SCOPES = (
    "launch patient/Observation.rs patient/MedicationAdministration.rs patient/MedicationRequest.rs "
    "patient/Patient.rs openid fhirUser"
)


class SmartSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRS_CDS_SMART_", extra="ignore", frozen=True)

    client_id: str | None = Field(default=None, min_length=1, description="The app's client id in the EHR.")
    client_secret: str | None = Field(default=None, min_length=1, description="Confidential client only.")
    fhir_servers: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="FHIR servers (iss) allowed to launch the app; empty: CRS_CDS_FHIR_ALLOWLIST."
    )
    scope: str = SCOPES
    session_seconds: int = Field(default=900, ge=60, le=3600, description="Longest life of a session.")
    pending_seconds: int = Field(default=300, ge=30, le=900, description="Time to come back from the EHR's login.")
    timeout_seconds: float = Field(default=3.0, gt=0, le=30, description="Per request to the authorisation server.")
    deadline_seconds: float = Field(default=6.0, gt=0, le=60, description="Whole discovery or token exchange.")
    max_response_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)

    @field_validator("fhir_servers", mode="before")
    @classmethod
    def _split(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [item for item in value.split(",") if item.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError("expected a comma-separated list of FHIR base URLs")
        return tuple(check_fhir_base_url(str(item)) for item in value)

    @property
    def enabled(self) -> bool:
        return self.client_id is not None
