"""Silent mode (``CRS_CDS_SILENT``): a silent service answers no cards and records what it would have shown.

The setting is ``off`` (the default), ``all``, or a comma-separated list of service ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.cards.errors import CatalogError

ALL = "all"


class SilentModeError(CatalogError):
    """CRS_CDS_SILENT names a service the catalog does not have (a typo would leave a service live)."""


def parse_silent(value: object) -> tuple[str, ...]:
    """``()`` for off, ``("all",)`` for all, else the service ids in the order given."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValueError("expected off, all, or a comma-separated list of service ids")
    items = tuple(dict.fromkeys(str(item).strip() for item in value if str(item).strip()))
    if items in ((), ("off",)):
        return ()
    if (ALL in items or "off" in items) and len(items) > 1:
        raise ValueError("'all' and 'off' cannot be combined with service ids")
    return items


def is_silent(silent: tuple[str, ...], service_id: str) -> bool:
    return ALL in silent or service_id in silent


def silent_services(silent: tuple[str, ...], service_ids: Iterable[str]) -> list[str]:
    """The catalog's services that are silent; SilentModeError for an id the catalog does not have."""
    known = sorted(service_ids)
    unknown = sorted(set(silent) - set(known) - {ALL})
    if unknown:
        raise SilentModeError(f"CRS_CDS_SILENT: unknown service id(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return [service_id for service_id in known if is_silent(silent, service_id)]


def describe(silent: tuple[str, ...], service_ids: Iterable[str]) -> str:
    """One line for check-config and the start-up log."""
    names = silent_services(silent, service_ids)
    return f"silent services (cards recorded, not shown): {', '.join(names)}" if names else "silent mode off"
