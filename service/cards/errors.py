"""Errors of the card catalog: always name the file and the key."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class CatalogError(Exception):
    """A catalog file is missing, unreadable or invalid. The message names the file and key."""

    @classmethod
    def from_validation(cls, path: Path, error: ValidationError, prefix: str = "") -> CatalogError:
        problems = "; ".join(
            f"{prefix}{'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
        return cls(f"{path}: {problems}")
