"""CDS Service definitions for discovery, read from ``cards/services.toml``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.cards.errors import CatalogError

HookName = Literal["patient-view", "order-select", "order-sign"]

# Root-level primitive context fields of each hook (CDS Hooks library 1.0 definitions); only these
# may appear as {{context.X}} prefetch tokens. selections and draftOrders are not primitives.
HOOK_CONTEXT_TOKENS: dict[str, frozenset[str]] = {
    "patient-view": frozenset({"userId", "patientId", "encounterId"}),
    "order-select": frozenset({"userId", "patientId", "encounterId"}),
    "order-sign": frozenset({"userId", "patientId", "encounterId"}),
}
USER_TOKEN_TYPES = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
USER_TOKENS = frozenset(USER_TOKEN_TYPES)
TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# A read (Type/id) or a type-level search (Type?param=value&...), nothing else (CDS Hooks 2.0 restrictions).
QUERY_SHAPE = re.compile(r"^[A-Z][A-Za-z]+(/[^/?\s]+|\?[^\s#]+)$")
SERVICE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


class ServiceDefinition(BaseModel):
    """One CDS Service as discovery describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SERVICE_ID)
    hook: HookName
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=1000)
    usage_requirements: str | None = Field(default=None, min_length=1)
    prefetch: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_prefetch(self) -> ServiceDefinition:
        for key, template in self.prefetch.items():
            check_prefetch_template(self.hook, key, template)
        return self

    def discovery_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
        }
        if self.prefetch:
            entry["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


class ServicesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prefetch: dict[str, str] = Field(default_factory=dict)
    service: list[dict[str, object]] = Field(min_length=1)


def check_prefetch_template(hook: str, key: str, template: str) -> None:
    """Raise ValueError naming the key when a template is not a CDS Hooks 2.0 prefetch template."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key):
        raise ValueError(f"prefetch key {key!r} must be letters, digits, '-' or '_'")
    for token in TOKEN.findall(template):
        field = token.removeprefix("context.")
        allowed = token in USER_TOKENS or (token.startswith("context.") and field in HOOK_CONTEXT_TOKENS[hook])
        if not allowed:
            raise ValueError(f"prefetch {key!r}: token {{{{{token}}}}} is not a {hook} prefetch token")
    if not QUERY_SHAPE.match(TOKEN.sub("x", template)):
        raise ValueError(f"prefetch {key!r}: {template!r} is not a FHIR read or type-level search")


def load_services(catalog_dir: Path) -> tuple[ServiceDefinition, ...]:
    """Read and validate ``services.toml``; the shared prefetch table applies to every service."""
    path = catalog_dir / "services.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        services_file = ServicesFile.model_validate(raw)
    except OSError as error:
        raise CatalogError(f"{path}: cannot read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{path}: not valid TOML ({error})") from error
    except ValidationError as error:
        raise CatalogError.from_validation(path, error) from error
    services = tuple(_service(path, index, services_file) for index in range(len(services_file.service)))
    ids = [service.id for service in services]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{path}: service ids must be unique, got {ids}")
    return services


def _service(path: Path, index: int, services_file: ServicesFile) -> ServiceDefinition:
    entry = {"prefetch": services_file.prefetch, **services_file.service[index]}
    try:
        return ServiceDefinition.model_validate(entry)
    except ValidationError as error:
        raise CatalogError.from_validation(path, error, prefix=f"service.{index}.") from error


class MissingToken(ValueError):
    """A prefetch token has no value in the hook's context."""


def fill_prefetch_template(template: str, context: Mapping[str, object]) -> str:
    """The template with its tokens replaced by URL-encoded context values (CDS Hooks 2.0 token rules).

    ``{{context.X}}`` is a root-level context field; a user token is the id in ``context.userId`` when its
    resource type matches (``{{userPractitionerId}}`` from ``Practitioner/123``). Raises MissingToken.
    """

    def value_of(match: re.Match[str]) -> str:
        token = match.group(1)
        value = (
            context.get(token.removeprefix("context.")) if token.startswith("context.") else _user_id(token, context)
        )
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise MissingToken(f"prefetch token {{{{{token}}}}} has no value in this request")
        return quote(str(value), safe="")

    return TOKEN.sub(value_of, template)


def _user_id(token: str, context: Mapping[str, object]) -> str | None:
    resource_type, _, resource_id = str(context.get("userId", "")).partition("/")
    return resource_id if resource_id and USER_TOKEN_TYPES.get(token) == resource_type else None
