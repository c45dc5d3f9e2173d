"""The trusted EHR issuers (``CRS_CDS_CLIENTS``, TOML or YAML), validated at start-up.

Each issuer: where its public keys are (a JWKS URL, inline JWKS, or ``jku`` URLs it may name), the
algorithms it may sign with (never ``none`` or HMAC), the FHIR servers the service may call on its behalf,
and optionally its tenant.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from service.settings import Settings
from service.urls import check_fhir_base_url, is_loopback_url

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
DEFAULT_ALGORITHMS = ("ES384", "RS384")


class ClientsError(Exception):
    """The clients file is unreadable or invalid; the message names the file and the key."""


def _https_url(value: str) -> str:
    """https, or http on a loopback host decided by parsing the URL (``http://127.0.0.1.evil.example`` is not)."""
    parts = urlsplit(value.strip())
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ValueError(f"{value!r} must be an absolute https URL without credentials")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_url(value)):
        raise ValueError(f"{value!r} must be an https URL (http only on loopback)")
    return value


class TrustedClient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1)
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    allowed_jku: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    fhir_servers: tuple[str, ...] = ()
    tenant: str | None = Field(default=None, min_length=1)

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        return _https_url(value) if value else None

    @field_validator("allowed_jku")
    @classmethod
    def _jku(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_https_url(url) for url in value)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = [alg for alg in value if alg not in ASYMMETRIC]
        if refused or not value:
            raise ValueError(f"only asymmetric algorithms are allowed (never none or HS*): refused {refused}")
        return value

    @field_validator("fhir_servers")
    @classmethod
    def _fhir_servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_fhir_base_url(url) for url in value)

    @field_validator("jwks")
    @classmethod
    def _inline_jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                jwt.PyJWKSet.from_dict(value)
            except (jwt.PyJWKSetError, jwt.InvalidKeyError, KeyError, TypeError) as error:
                raise ValueError(f"not a usable JWKS ({error})") from error
        return value

    @model_validator(mode="after")
    def _has_keys(self) -> TrustedClient:
        if not (self.jwks_url or self.jwks or self.allowed_jku):
            raise ValueError("needs jwks_url, jwks or allowed_jku")
        return self


class ClientsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client: tuple[TrustedClient, ...] = ()

    @model_validator(mode="after")
    def _unique_issuers(self) -> ClientsFile:
        issuers = [client.issuer for client in self.client]
        if len(set(issuers)) != len(issuers):
            raise ValueError(f"issuers must be unique, got {issuers}")
        return self

    def by_issuer(self) -> dict[str, TrustedClient]:
        return {client.issuer: client for client in self.client}


def load_clients(path: Path | None) -> dict[str, TrustedClient]:
    """The trusted issuers by ``iss``; no file means no issuer is trusted."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else tomllib.loads(text)
        return ClientsFile.model_validate(raw or {}).by_issuer()
    except OSError as error:
        raise ClientsError(f"{path}: cannot read ({error.strerror})") from error
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ClientsError(
            f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'TOML'} ({error})"
        ) from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
        raise ClientsError(f"{path}: {problems}") from error


def check_audience_base(settings: Settings) -> None:
    """With authentication on, the JWT audience must come from configuration, never from the Host header."""
    if settings.auth == "on" and not settings.public_base_url:
        raise ClientsError(
            "CRS_CDS_PUBLIC_BASE_URL is not set: with CRS_CDS_AUTH=on it is the base of the JWT audience. "
            "Set it to the https URL the EHR calls (for example https://crs-cds.hospital.example.org), "
            "or set CRS_CDS_AUTH=off for local development only."
        )
