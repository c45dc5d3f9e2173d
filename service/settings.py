"""Service settings, read from the environment with the prefix ``CRS_CDS_``.

The defaults run on a laptop with no setup. Every field is documented in the README's
configuration reference; a bad value fails at start-up with the variable's name.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.rollout.silent import parse_silent

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CATALOG_DIR = PROJECT_ROOT / "cards"
BUNDLED_POLICY = Path(__file__).resolve().parent / "data" / "policy.toml"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base_url(url: str) -> str:
    """A FHIR base URL compared without a trailing slash and with a lower-case scheme and host."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def check_fhir_base_url(url: str) -> str:
    """Return the normalised URL, or raise ValueError: https always, http only on loopback."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{url!r} must be a plain base URL without credentials, query or fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"{url!r} uses http; only loopback FHIR servers may use http")
    return normalise_base_url(url)


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
    fhir_max_workers: int = Field(default=8, ge=1, le=64)
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
    json_max_depth: int = Field(default=64, ge=16, le=1000)
    json_max_array_items: int = Field(default=200_000, ge=1000)
    workers: int = Field(default=2, ge=1, le=64, description="gunicorn worker processes")
    threads: int = Field(default=4, ge=1, le=64, description="threads per gunicorn worker")
    request_timeout_seconds: int = Field(default=30, ge=1, le=600, description="gunicorn worker timeout")
    silent: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Silent services: off, all, or service ids (comma-separated); docs/go-live.md."
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

    @field_validator("catalog_dir")
    @classmethod
    def _catalog_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value
