"""An installed wheel starts with the bundled catalog and policy, like a checkout (no CRS_CDS_CATALOG_DIR)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_catalog_file_is_shipped_in_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["data-files"]["share/crs-cds/cards"]

    files = [path.relative_to(ROOT).as_posix() for path in (ROOT / "cards").iterdir() if path.is_file()]

    assert files
    assert [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)] == []


def test_the_default_catalog_is_the_checkouts_or_the_installed_copy() -> None:
    from service.settings import BUNDLED_CATALOG_DIR, CATALOG_PLACES

    assert CATALOG_PLACES[1].parts[-3:] == ("share", "crs-cds", "cards")
    assert CATALOG_PLACES[0] == BUNDLED_CATALOG_DIR  # in a checkout, cards/ is read in place
