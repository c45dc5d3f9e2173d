"""URLs the service is given (FHIR servers, key servers, its own base): normal form, containment, loopback.

Every comparison of URLs (allowlists, ``next`` links, JWKS and jku checks) is made on the normal form, so
that dot segments, percent-encoding or a look-alike host cannot pass a check the plain text would fail.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit


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
