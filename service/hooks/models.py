"""CDS Hooks 2.0 request models for patient-view, order-select and order-sign.

Unknown fields are ignored (CDS Hooks: clients may add fields and extensions). Ids are checked
against the FHIR id syntax because they are substituted into the FHIR queries we send.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
DOT_SEGMENTS = frozenset({".", ".."})


def _not_a_dot_segment(value: str) -> str:
    """``.`` and ``..`` match the id syntax but would read the server's base or a whole resource type."""
    if value in DOT_SEGMENTS:
        raise ValueError("must be a FHIR id, not '.' or '..'")
    return value


FhirId = Annotated[str, Field(pattern=FHIR_ID), AfterValidator(_not_a_dot_segment)]


def _is_reference(value: str) -> str:
    """``Type/id`` as CDS Hooks uses in ``userId`` and ``selections``; the id of FHIR id syntax."""
    resource_type, _, resource_id = value.partition("/")
    if not resource_type.isalpha() or not resource_type[:1].isupper() or not resource_id:
        raise ValueError("must be a relative reference such as 'MedicationRequest/123'")
    if not re.fullmatch(FHIR_ID, resource_id) or resource_id in DOT_SEGMENTS:
        raise ValueError("the id after the '/' must be a FHIR id ([A-Za-z0-9-.]{1,64}, not '.' or '..')")
    return value


RelativeReference = Annotated[str, Field(max_length=200), AfterValidator(_is_reference)]


class RequestModel(BaseModel):
    """Part of an EHR's request: CDS Hooks lets EHRs add fields, so unknown ones are ignored, never refused."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class FhirAuthorization(RequestModel):
    access_token: str = Field(min_length=1, max_length=16384)
    token_type: str = "Bearer"  # noqa: S105 - the token type, not a secret
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("only 'Bearer' tokens are supported")
        return value


class DraftOrders(RequestModel):
    """``draftOrders``: a FHIR Bundle of the orders being written; entries kept as plain dicts."""

    resourceType: Literal["Bundle"]  # noqa: N815 - FHIR's field name
    entry: list[dict[str, Any]] = Field(default_factory=list, max_length=500)

    def resources(self) -> list[dict[str, Any]]:
        return [
            entry["resource"]
            for entry in self.entry
            if isinstance(entry.get("resource"), dict) and isinstance(entry["resource"].get("resourceType"), str)
        ]

    def references(self) -> set[str]:
        return {f"{res['resourceType']}/{res['id']}" for res in self.resources() if isinstance(res.get("id"), str)}


class PatientViewContext(RequestModel):
    userId: RelativeReference  # noqa: N815
    patientId: FhirId  # noqa: N815
    encounterId: FhirId | None = None  # noqa: N815


class OrderSignContext(PatientViewContext):
    draftOrders: DraftOrders  # noqa: N815


class OrderSelectContext(OrderSignContext):
    selections: list[RelativeReference] = Field(min_length=1, max_length=500)

    @field_validator("selections")
    @classmethod
    def _selections_are_drafts(cls, selections: list[str], info: ValidationInfo) -> list[str]:
        draft_orders = info.data.get("draftOrders")
        known = draft_orders.references() if isinstance(draft_orders, DraftOrders) else set()
        missing = sorted(set(selections) - known)
        if missing:
            raise ValueError(f"not found in draftOrders: {', '.join(missing)}")
        return selections


HookContext = PatientViewContext | OrderSignContext | OrderSelectContext
CONTEXT_MODELS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


class HookRequest(RequestModel):
    """The envelope of every hook call; ``context`` is validated afterwards by the hook's model."""

    hook: str = Field(min_length=1, max_length=100)
    hookInstance: str = Field(min_length=1, max_length=200)  # noqa: N815
    fhirServer: str | None = Field(default=None, min_length=1, max_length=2000)  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirAuthorization requires fhirServer")
        return self

    @property
    def access_token(self) -> str | None:
        return self.fhirAuthorization.access_token if self.fhirAuthorization else None
