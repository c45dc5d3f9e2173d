"""Service settings, read from the environment with the prefix ``CRS_CDS_``.

The defaults run on a laptop with no setup. Every field is documented in the README's
configuration reference; a bad value fails at start-up with the variable's name.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

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


DEFAULT_PORTS = {"https": 443, "http": 80}
ENCODED_DOT = re.compile("%2e", re.IGNORECASE)
ENCODED_SEPARATOR = re.compile(r"%2f|%5c|\\", re.IGNORECASE)


def normalise_url(url: str) -> str:
    """An absolute URL in the form that is compared and then requested (RFC 3986 section 6.2.2).

    Lower-case scheme and host, no default port, percent-encoded dots decoded and dot segments removed, so
    ``/fhir/../evil`` and ``/fhir/%2e%2e/evil`` are seen as the ``/evil`` they are. Query kept as sent.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
        host = host + ":invalid-port"  # never equal to an allowed server
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    path = _remove_dot_segments(ENCODED_DOT.sub(".", parts.path))
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = path.endswith(("/.", "/.."))
    return "/".join(output) + ("/" if trailing else "")


def normalise_base_url(url: str) -> str:
    """A FHIR base URL compared without a trailing slash, in the normal form of ``normalise_url``."""
    parts = urlsplit(normalise_url(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_within(url: str, base_url: str) -> bool:
    """True if ``url``, once normalised, is ``base_url`` or below it (never a sibling such as ``/fhir-other``)."""
    if ENCODED_SEPARATOR.search(url):
        return False  # a server may decode %2F or a backslash into a separator after our check
    parts = urlsplit(normalise_url(url))
    if parts.username is not None or parts.password is not None:
        return False
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return bare == base_url or bare.startswith(base_url + "/")


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose parsed host is loopback (never decided on string prefixes)."""
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname) and is_loopback_host(parts.hostname or "")


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
