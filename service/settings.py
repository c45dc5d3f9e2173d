"""Service settings, read from the environment with the prefix ``CRS_CDS_``.

The defaults run on a laptop with no setup. Every field is documented in the README's
configuration reference; a bad value fails at start-up with the variable's name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.rollout.silent import parse_silent
from service.urls import check_fhir_base_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CATALOG_PLACES = (PROJECT_ROOT / "cards", Path(sys.prefix) / "share" / "crs-cds" / "cards")
# A checkout's cards/, else the copy an installed wheel carries (pyproject.toml data-files).
BUNDLED_CATALOG_DIR = next((folder for folder in CATALOG_PLACES if folder.is_dir()), CATALOG_PLACES[0])
BUNDLED_POLICY = Path(__file__).resolve().parent / "data" / "policy.toml"


class Settings(BaseSettings):
    """Runtime configuration. Field ``x`` is set by the environment variable ``CRS_CDS_X``."""

    model_config = SettingsConfigDict(env_prefix="CRS_CDS_", extra="ignore", frozen=True)

    catalog_dir: Path = Field(default=BUNDLED_CATALOG_DIR, description="Card catalog folder.")
    policy: Path = Field(default=BUNDLED_POLICY, description="Clinical policy TOML file.")
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'crs-cds.sqlite3'}", description="SQLAlchemy database URL."
    )
    auto_migrate: bool = Field(default=True, description="Run database migrations at start-up.")
    fhir_allowlist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="FHIR base URLs the service may call (comma-separated)."
    )
    fhir_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    fhir_deadline_seconds: float = Field(default=6.0, gt=0, le=120)
    fhir_max_pages: int = Field(default=20, ge=1, le=1000)
    fhir_max_workers: int = Field(default=8, ge=1, le=64, description="parallel FHIR requests per FHIR host")
    fhir_max_response_bytes: int = Field(
        default=32 * 1024 * 1024, ge=64 * 1024, description="Largest FHIR answer (one page), decompressed."
    )
    fhir_breaker_failures: int = Field(default=5, ge=1, le=1000, description="Failures in a row that pause a host.")
    fhir_breaker_cooldown_seconds: float = Field(default=15.0, gt=0, le=600)
    database_timeout_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Longest wait for a database lock or statement."
    )
    client_read_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Longest wait for each read of a caller's request head or body."
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    auth: Literal["on", "off"] = Field(
        default="on", description="JWT authentication of the EHR (off: local work only)."
    )
    clients: Path | None = Field(default=None, description="Trusted EHR issuers (TOML or YAML).")
    public_base_url: str | None = Field(default=None, description="Base URL the EHR calls; builds the JWT audience.")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Browser origins allowed by CORS."
    )
    jwt_leeway_seconds: int = Field(default=60, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=3600, ge=60, le=86400)
    jwks_refresh_seconds: int = Field(default=60, ge=10, le=86400)
    # At most 500: a body that deep is still re-serialised (feedback's raw JSON, the audit) within Python's
    # recursion limit of 1000 with the request's own frames; orjson's parser stops at 1024 by itself.
    json_max_depth: int = Field(default=64, ge=16, le=500)
    json_max_array_items: int = Field(default=200_000, ge=1000)
    workers: int = Field(default=2, ge=1, le=64, description="gunicorn worker processes")
    threads: int = Field(default=4, ge=1, le=64, description="threads per gunicorn worker")
    request_timeout_seconds: int = Field(default=30, ge=1, le=600, description="gunicorn worker timeout")
    silent: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Silent services: off, all, or service ids (comma-separated); docs/go-live.md."
    )
    record_queue: int = Field(
        default=10_000, ge=10, le=1_000_000, description="Audit rows and call records waiting to be written."
    )
    retention_days: int = Field(default=400, ge=1, le=36500, description="Days of call records kept by `purge`.")

    @field_validator("fhir_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [item for item in value.split(",") if item.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError("expected a comma-separated list of base URLs")
        return tuple(check_fhir_base_url(str(item)) for item in value)

    @field_validator("silent", mode="before")
    @classmethod
    def _split_silent(cls, value: object) -> tuple[str, ...]:
        return parse_silent(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> tuple[str, ...]:
        items = [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        for origin in items:
            parts = urlsplit(origin)
            if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"{origin!r} is not an origin such as https://ehr.example.org")
        return tuple(origin.rstrip("/") for origin in items)

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not an absolute base URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("catalog_dir")
    @classmethod
    def _catalog_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value


def settings_problems(error: ValidationError, prefix: str) -> str:
    """Each invalid setting by its variable name (``CRS_CDS_...``) and what is wrong, never its value."""
    return "; ".join(
        f"{prefix}{str(item['loc'][0]).upper()}: {item['msg'].removeprefix('Value error, ')}"
        for item in error.errors(include_url=False, include_input=False)
    )


SUPPORTED_DATABASES = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgresql": "postgresql"}


def check_database_url(value: str) -> str:
    """A SQLAlchemy URL of SQLite or PostgreSQL (psycopg 3), or a ValueError that says how to write it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("not a database URL; e.g. sqlite:///var/crs-cds.sqlite3 or postgresql+psycopg://...") from None
    if url.drivername in ("postgres", "postgresql+psycopg2", "postgresql+asyncpg", "postgresql+pg8000"):
        raise ValueError(f"{url.drivername}:// is not supported: write postgresql+psycopg://user:password@host/db")
    if url.drivername != "postgresql+psycopg" and url.drivername not in SUPPORTED_DATABASES:
        raise ValueError(f"{url.drivername}:// is not supported: use SQLite (sqlite:///...) or PostgreSQL")
    return value


def ignored_settings(settings: Settings) -> list[str]:
    """Settings that are set but have no effect in this configuration, each with why."""
    ignored = []
    if settings.auth == "on" and settings.fhir_allowlist:
        ignored.append(
            "CRS_CDS_FHIR_ALLOWLIST is ignored with CRS_CDS_AUTH=on: each trusted issuer's fhir_servers in "
            "CRS_CDS_CLIENTS say which FHIR servers may be called"
        )
    return ignored
