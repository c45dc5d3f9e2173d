"""The layering of architecture.md: the engine imports no I/O, nothing imports the web layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "service"
FORBIDDEN_IN_ENGINE = (
    "flask",
    "requests",
    "werkzeug",
    "sqlalchemy",
    "jinja2",
    "gunicorn",
    "fhir",
    "service.fhir",
    "service.hooks",
)


def test_engine_loads_only_the_standard_library_and_pydantic() -> None:
    probe = "import sys, service.crs.engine, service.crs.orders; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()

    offending = [
        name
        for name in loaded
        if name.split(".")[0] in FORBIDDEN_IN_ENGINE or name.startswith(FORBIDDEN_IN_ENGINE[-2:])
    ]
    assert offending == []


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path",
    sorted(p for p in SERVICE.rglob("*.py") if "hooks" not in p.parts),
    ids=lambda p: str(p.relative_to(SERVICE)),
)
def test_nothing_outside_the_web_layer_imports_it(path: Path) -> None:
    allowed = {"app.py", "health.py"}  # the app factory registers the blueprints
    if path.name in allowed:
        return
    assert not any(name.startswith("service.hooks") for name in imports_of(path))


@pytest.mark.parametrize("path", sorted((SERVICE / "fhir").rglob("*.py")), ids=lambda p: p.name)
def test_fhir_layer_does_not_import_the_web_layer(path: Path) -> None:
    assert not any(name.startswith(("service.hooks", "flask")) for name in imports_of(path))
