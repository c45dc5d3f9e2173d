"""The deploy files, validated with what runs here (no Docker engine): Kubernetes schemas, the compose
file's structure, the Dockerfile's shape, and gunicorn starting from its configuration."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import requests
import yaml

from service.settings import Settings
from tests.deploy_factory import TARGET, configmap_text
from tests.integration.conftest import free_port, running

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_validates_against_the_kubernetes_schema(path: Path) -> None:
    for document in documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_manifests_hold_what_an_operator_needs() -> None:
    kinds = {doc["kind"] for path in MANIFESTS for doc in documents(path)}

    assert kinds == {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
    }


def test_configmap_carries_the_repository_files() -> None:
    assert TARGET.read_text(encoding="utf-8") == configmap_text(), "run `python -m tests.deploy_factory`"


def deployment() -> dict[str, Any]:
    return documents(DEPLOY / "k8s" / "deployment.yaml")[0]


def test_deployment_probes_limits_and_settings() -> None:
    container = deployment()["spec"]["template"]["spec"]["containers"][0]
    settings_fields = set(Settings.model_fields)

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for variable in container["env"]:
        if variable["name"].startswith("CRS_CDS_"):
            assert variable["name"].removeprefix("CRS_CDS_").lower() in settings_fields, variable["name"]


def test_compose_file_runs_the_service_on_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["crs-cds"]

    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / service["build"]["context"]).resolve() == DEPLOY.parent.resolve()
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service["environment"]["CRS_CDS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert compose["services"]["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    for volume in service["volumes"]:
        assert (DEPLOY / volume.split(":")[0]).exists()


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert sum(line.startswith("FROM ") for line in lines) >= 2
    user = next(line for line in lines if line.startswith("USER "))
    assert not user.endswith(("root", " 0", "0:0"))
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert lines[-1].startswith('CMD ["gunicorn", "-c", "/app/gunicorn.conf.py"')
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (DEPLOY.parent / source).exists(), source


def test_gunicorn_config_is_pinned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRS_CDS_WORKERS", "3")
    monkeypatch.setenv("CRS_CDS_PORT", "9000")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))

    options = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))

    assert options["bind"] == "0.0.0.0:9000"
    assert (options["workers"], options["threads"], options["worker_class"].__name__) == (3, 4, "BoundedThreadWorker")
    assert (options["preload_app"], options["control_socket_disable"], options["accesslog"]) == (True, True, None)
    assert (options["timeout"], options["keepalive"]) == (30, 0)
    assert callable(options["post_fork"])


def test_gunicorn_starts_from_the_container_config(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CRS_CDS_PORT": str(port),
        "CRS_CDS_HOST": "127.0.0.1",
        "CRS_CDS_WORKERS": "1",
        "CRS_CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CRS_CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    command = [gunicorn, "-c", str(DEPLOY / "gunicorn.conf.py"), "service.app:create_app()"]

    with running(command, env, f"http://127.0.0.1:{port}/healthz"):
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    assert subprocess.run([gunicorn, "--version"], capture_output=True, check=False).returncode == 0
