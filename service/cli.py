"""The ``crs-cds`` command line: serve, check-config, assess."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from service.cards.errors import CatalogError
from service.policy_file import PolicyError
from service.security.clients import ClientsError
from service.settings import Settings, settings_problems
from service.storage.db import is_reachable
from service.timeline.cli import timeline as timeline_command
from service.timeline.config import FeatureConfigError


class ConfigProblem(click.ClickException):
    """A configuration error, printed without a traceback; exit status 2."""

    exit_code = 2


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigProblem(f"invalid settings: {settings_problems(error, 'CRS_CDS_')}") from error


def checked_runtime_settings() -> Settings:
    """Settings plus every file they point to, validated; ConfigProblem on the first error."""
    from service.app import build_runtime

    settings = load_settings()
    try:
        state = build_runtime(settings.model_copy(update={"auto_migrate": False}))
    except (CatalogError, PolicyError, ClientsError, FeatureConfigError) as error:
        raise ConfigProblem(str(error)) from error
    if not is_reachable(state.repository.engine):
        raise ConfigProblem("CRS_CDS_DATABASE_URL: the database cannot be reached")
    return settings


@click.group()
def main() -> None:
    """crs-cds: CDS Hooks service for cytokine release syndrome after CAR T-cell therapy."""
    from service.logs import configure_logging

    configure_logging(json_lines=os.environ.get("CRS_CDS_LOG_FORMAT", "json") == "json")


@main.command("check-config")
def check_config() -> None:
    """Validate the settings, the card catalog and the policy; exit 2 with the problem if any."""
    from service.config_check import configuration_warnings
    from service.rollout.commands import silent_mode_line

    settings = checked_runtime_settings()
    silent = silent_mode_line(settings)
    click.echo(f"configuration OK (catalog: {settings.catalog_dir}; policy: {settings.policy})\n{silent}")
    for warning in configuration_warnings(settings):
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the production server (gunicorn) with the configured settings."""
    from service.server import GunicornServer, gunicorn_options, prepare_metrics_dir

    prepare_metrics_dir()  # before the app (and prometheus_client) is imported
    from sqlalchemy.exc import SQLAlchemyError

    from service.app import create_app

    settings = load_settings()
    try:
        app = create_app(settings)  # validates every file once, migrates, then gunicorn forks the workers
    except (CatalogError, PolicyError, ClientsError, FeatureConfigError) as error:
        raise ConfigProblem(str(error)) from error
    except SQLAlchemyError as error:
        raise ConfigProblem(f"CRS_CDS_DATABASE_URL: the database cannot be used ({type(error).__name__})") from error
    GunicornServer(app, gunicorn_options(settings, host, port)).run()


@main.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--now", "now_text", default=None, help="Assess as of this ISO 8601 time (default: the current time).")
def assess(bundle: Path, now_text: str | None) -> None:
    """Print the CRS assessment JSON for a FHIR Bundle file (any Bundle type; entries are the chart)."""
    from service.crs.engine import assess as assess_timeline
    from service.fhir.bundles import bundle_resources, is_resource
    from service.fhir.translate import Translator
    from service.policy_file import load_policy

    settings = load_settings()
    try:
        policy = load_policy(settings.policy)
    except PolicyError as error:
        raise ConfigProblem(str(error)) from error
    document = _read_json(bundle)
    if not is_resource(document, "Bundle"):
        raise click.BadParameter("the file is not a FHIR Bundle", param_hint="BUNDLE")
    now = _parse_now(now_text)
    resources = bundle_resources(document)
    _refuse_other_patients(resources)
    timeline = Translator.from_policy(policy).timeline(resources)
    click.echo(assess_timeline(timeline, policy, now).model_dump_json(indent=2))


def _refuse_other_patients(resources: list[dict[str, Any]]) -> None:
    """R-SUBJECT, as the API does: the Bundle's patient is its Patient (else the first subject named)."""
    from service.fhir.subject import patient_of, subject_mismatches

    named = [patient_of(r) for r in resources]
    patients = [p for r, p in zip(resources, named, strict=True) if r.get("resourceType") == "Patient" and p]
    patient = next(iter(patients), next((p for p in named if p), None))
    mismatches = subject_mismatches({"BUNDLE": resources}, patient) if patient else []
    if mismatches:
        listed = ", ".join(m.resource for m in mismatches[:5])
        raise click.BadParameter(
            f"patient_mismatch: {listed} belong to another patient than Patient/{patient}", param_hint="BUNDLE"
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise click.BadParameter(f"cannot read JSON: {error}", param_hint="BUNDLE") from error
    return value if isinstance(value, dict) else {}


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date-time", param_hint="--now") from error
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


@main.command("feedback-report")
def feedback_report() -> None:
    """Rates per card kind and rule over every card ever rendered, silent ones too: prefer `crs-cds report`."""
    from service.storage.db import create_database_engine
    from service.storage.repository import Repository

    settings = load_settings()
    rows = Repository(create_database_engine(settings.database_url)).report()
    if not rows:
        click.echo("No cards issued yet.")
        return
    header = f"{'card kind':<16} {'rule':<22} {'issued':>7} {'accepted':>9} {'rate':>8} {'overridden':>11} {'rate':>8}"
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        click.echo(
            f"{row.kind:<16} {row.rule:<22} {row.issued:>7} {row.accepted:>9} {row.rate(row.accepted):>8} "
            f"{row.overridden:>11} {row.rate(row.overridden):>8}"
        )


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations up to the newest revision."""
    from service.storage.db import create_database_engine, current_revision, migrate

    engine = create_database_engine(load_settings().database_url)
    migrate(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@main.command()
@click.option(
    "--service", "service_url", required=True, help="Base URL of the CDS service, e.g. http://127.0.0.1:8080."
)
@click.option("--patient", "patient_id", required=True, help="FHIR id of the patient.")
@click.option(
    "--hook",
    type=click.Choice(["patient-view", "order-select", "order-sign"]),
    default="patient-view",
    show_default=True,
)
@click.option("--fhir-server", default=None, help="FHIR base URL the EHR prefetches from (and passes as fhirServer).")
@click.option("--fhir-token", default=None, help="Bearer token for the FHIR server (sent as fhirAuthorization).")
@click.option("--no-prefetch", is_flag=True, help="Send no prefetch: the service must fetch from --fhir-server itself.")
@click.option(
    "--draft-order", "draft_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--sign-with",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key PEM signing the EHR JWT.",
)
@click.option(
    "--issuer", default="https://ehr.localhost", show_default=True, help="JWT iss (a trusted issuer of the service)."
)
@click.option("--kid", default="crs-cds-dev", show_default=True, help="JWT kid (the key's id in the issuer's JWKS).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw CDS Hooks response.")
def call(
    service_url: str,
    patient_id: str,
    hook: str,
    fhir_server: str | None,
    fhir_token: str | None,
    no_prefetch: bool,
    draft_files: tuple[Path, ...],
    sign_with: Path | None,
    issuer: str,
    kid: str,
    as_json: bool,
) -> None:
    """Act as an EHR: discovery, prefetch from the FHIR server, a signed hook call; print the cards."""
    from service.ehr_simulator import HookCall, Signer, SimulatorError, call_service, format_cards

    hook_call = HookCall(
        service_url=service_url,
        hook=hook,
        patient_id=patient_id,
        fhir_server=fhir_server,
        fhir_token=fhir_token,
        draft_orders=[order for path in draft_files for order in _draft_orders(path)],
        prefetch=not no_prefetch,
        signer=Signer.from_pem(sign_with, issuer, kid) if sign_with else None,
    )
    try:
        response = call_service(hook_call)
    except (SimulatorError, OSError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(response, indent=2) if as_json else format_cards(response))


def _draft_orders(path: Path) -> list[dict[str, Any]]:
    """A MedicationRequest, or a Bundle of them (as in fhir_fixtures/drafts/)."""
    from service.fhir.bundles import bundle_resources

    resource = _read_json(path)
    orders = bundle_resources(resource) if resource.get("resourceType") == "Bundle" else [resource]
    if not orders or any(order.get("resourceType") != "MedicationRequest" for order in orders):
        raise click.BadParameter(f"{path} is not a MedicationRequest or a Bundle of them", param_hint="--draft-order")
    return orders


@main.group()
def keys() -> None:
    """Signing keys for development EHRs."""


@keys.command("generate")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write into."
)
@click.option("--issuer", default="https://ehr.localhost", show_default=True)
@click.option("--kid", default="crs-cds-dev", show_default=True)
@click.option("--fhir-server", "fhir_servers", multiple=True, help="FHIR base URL this EHR may make the service call.")
def keys_generate(out_dir: Path, issuer: str, kid: str, fhir_servers: tuple[str, ...]) -> None:
    """Write an ES384 private key and a clients file trusting it (development only)."""
    from service.security.dev_keys import write_development_client

    key_path, clients_path = write_development_client(out_dir, issuer, kid, list(fhir_servers))
    click.echo(f"private key: {key_path}\nclients file: {clients_path}")
    click.echo(f"serve with: CRS_CDS_CLIENTS={clients_path} crs-cds serve")
    click.echo(
        f"call with:  crs-cds call --sign-with {key_path} --issuer {issuer} --kid {kid} --service ... --patient ..."
    )


main.add_command(timeline_command)


@main.group()
def fixtures() -> None:
    """The synthetic patients of fhir_fixtures/."""


@fixtures.command("load")
@click.option("--fhir-server", required=True, help="FHIR R4 base URL to load into.")
@click.option("--token", default=None, help="Bearer token for the FHIR server.")
@click.option("--only", "names", multiple=True, help="Load only these fixtures (file names without .json).")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of fixture Bundles (default: the project's fhir_fixtures/; /app/fhir_fixtures in the image).",
)
def fixtures_load(fhir_server: str, token: str | None, names: tuple[str, ...], directory: Path | None) -> None:
    """Shift the fixtures' times to now and load them (transaction, else batch, else PUTs); print patient ids."""
    from service.fixtures import FIXTURES_DIR, FixtureLoader, FixtureLoadError, fixture_paths

    loader = FixtureLoader(fhir_server, token)
    paths = [path for path in fixture_paths(directory or FIXTURES_DIR) if not names or path.stem in names]
    if not paths:
        raise click.ClickException("no fixture matched")
    now = datetime.now(UTC)
    for path in paths:
        try:
            result = loader.load(path, now)
        except (FixtureLoadError, OSError) as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"{result.name:<34} {', '.join(result.patient_ids):<36} ({result.method})")


def _register_rollout_commands() -> None:
    from service.rollout.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_register_rollout_commands()
