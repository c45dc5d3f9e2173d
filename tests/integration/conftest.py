"""Servers the integration tests start themselves."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from service.ehr_simulator import Signer
from tests.jwt_support import ISSUER, KID_EC, EhrKeys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    ends_at = time.monotonic() + seconds
    while time.monotonic() < ends_at:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


@pytest.fixture(scope="module")
def database_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served") / "crs-cds.sqlite3"


@contextmanager
def running(command: list[str], env: dict[str, str], ready_url: str, cwd: Path | None = None) -> Iterator[None]:
    """A server process for the duration of the block; stopped with SIGTERM, whatever happens."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(ready_url, process)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@contextmanager
def crs_cds_service(database: Path | str, clients: Path, workers: int = 3) -> Iterator[str]:
    """`crs-cds serve` (gunicorn) on a free port, authentication on, trusting the issuers of ``clients``."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CRS_CDS_WORKERS": str(workers),
        "CRS_CDS_DATABASE_URL": database if isinstance(database, str) else f"sqlite:///{database}",
        "CRS_CDS_CLIENTS": str(clients),
        "CRS_CDS_PUBLIC_BASE_URL": base_url,
    }
    cli = str(Path(sys.executable).with_name("crs-cds"))
    with running([cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env, f"{base_url}/healthz"):
        yield base_url


@pytest.fixture(scope="module")
def served_url(database_path: Path, clients_file: Path) -> Iterator[str]:
    """Three gunicorn workers sharing one SQLite database (migrated at start), trusting the test EHR."""
    with crs_cds_service(database_path, clients_file) as base_url:
        yield base_url


FHIR_SERVER_DIR = Path(__file__).resolve().parents[1] / "fhir_server"
FHIR_TOKEN = "fhir-access-token-for-tests"


def node_command(script: str) -> list[str]:
    """Node 20 or newer (Medplum 5); the scripts stand in for the WebSocket global Node 20 lacks."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is required for the FHIR server tests (install Node 20 or newer)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        raise RuntimeError(f"node {version} is too old for the FHIR server tests: Node 20 or newer is required")
    return [node, script]


def ensure_node_packages() -> None:
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        npm = shutil.which("npm") or "npm"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--engine-strict=false"], cwd=FHIR_SERVER_DIR, check=True)


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[str]:
    """A real FHIR R4 server (Medplum's FhirRouter, in memory) on loopback, requiring a bearer token."""
    ensure_node_packages()
    port = free_port()
    command = [*node_command("server.mjs"), "--port", str(port), "--token", FHIR_TOKEN]
    with running(command, dict(os.environ), f"http://127.0.0.1:{port}/__ready", cwd=FHIR_SERVER_DIR):
        yield f"http://127.0.0.1:{port}/fhir"


def postgres_binaries() -> Path:
    """The folder of initdb/pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries are required (Debian: apt-get install postgresql)")
    return candidates[-1].parent


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: CI runs as root, so the cluster belongs to the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback for the session (trust auth, loopback only).

    Its folder is made outside pytest's temp folder, which only root may enter.
    """
    binaries = postgres_binaries()
    root = Path(tempfile.mkdtemp(prefix="crs-cds-postgres-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()

    def run(command: list[str]) -> None:
        subprocess.run(as_postgres_user(command), check=True, capture_output=True)

    run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"])
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def signer(ehr_keys: EhrKeys, tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """Signs hook calls as the trusted test EHR (ES384), as an EHR's CDS client would."""
    path = tmp_path_factory.mktemp("key") / "ehr.pem"
    path.write_bytes(
        ehr_keys.ec_private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Signer.from_pem(path, ISSUER, KID_EC)
