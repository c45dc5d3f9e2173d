"""The README's quick start: `make run` serves with the embedded defaults on a fresh machine.

With authentication on (the default) the service refuses to start without a public base URL (the JWT
audience never comes from the Host header), so `make run` must supply the local address itself.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_run_gives_the_service_its_local_address_as_the_public_base_url() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "run", "HOST=127.0.0.1", "PORT=9999"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout

    serve = next(line for line in dry_run.splitlines() if "CRS_CDS_PUBLIC_BASE_URL=" in line)
    assert 'CRS_CDS_PUBLIC_BASE_URL="${CRS_CDS_PUBLIC_BASE_URL:-http://127.0.0.1:9999}"' in serve
