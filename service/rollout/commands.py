"""The rollout commands of ``crs-cds``: report, codes report, policy show, purge (docs/go-live.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import click
from sqlalchemy.exc import SQLAlchemyError

from service.settings import Settings
from service.storage.call_records import CallRecords

FORMATS = click.Choice(["table", "csv", "json"])


def _settings() -> Settings:
    from service.cli import load_settings  # the CLI module registers these commands: imported at call time

    return load_settings()


def _records(settings: Settings) -> CallRecords:
    from service.storage.db import create_database_engine

    return CallRecords(create_database_engine(settings.database_url))


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be read is a readable error (exit 1), never a traceback."""
    try:
        yield
    except SQLAlchemyError as error:
        hint = " (run `crs-cds db upgrade`)" if "no such table" in str(error) or "does not exist" in str(error) else ""
        raise click.ClickException(f"the database cannot be used: {type(error).__name__}{hint}") from error


def parse_moment(text: str, *, end: bool) -> datetime:
    """An ISO date (a whole day: ``--to`` includes it) or an ISO date-time (UTC unless it says otherwise)."""
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date or date-time") from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def period(start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    end = parse_moment(end_text, end=True) if end_text else datetime.now(UTC)
    start = parse_moment(start_text, end=False) if start_text else end - timedelta(days=7)
    if start >= end:
        raise click.BadParameter("--from must be before --to", param_hint="--from")
    return start, end


range_from = click.option("--from", "start_text", help="First day (ISO date or date-time; default: 7 days ago).")
range_to = click.option("--to", "end_text", help="Last day, included (ISO date or date-time; default: now).")


@click.command("report")
@range_from
@range_to
@click.option("--format", "output", type=FORMATS, default="table", show_default=True)
def report(start_text: str | None, end_text: str | None, output: str) -> None:
    """Calls, cards shown and silent, acceptance and override rates, timings, per service and rule."""
    from service.rollout.report import as_json, as_text, build_report, rule_rows
    from service.rollout.tables import csv_text

    start, end = period(start_text, end_text)
    records = _records(_settings())
    with database_errors():
        calls = records.between(start, end)
        feedback = records.feedback_for([card["uuid"] for call in calls for card in call.cards])
    built = build_report(start, end, calls, feedback)
    if output == "json":
        click.echo(json.dumps(as_json(built), indent=2))
    elif output == "csv":
        click.echo(csv_text(rule_rows(built)), nl=False)
    else:
        click.echo(as_text(built))


@click.group("codes")
def codes() -> None:
    """Codes the calls carried that the policy does not recognise."""


@codes.command("report")
@range_from
@range_to
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def codes_report(start_text: str | None, end_text: str | None, output: str) -> None:
    """Unrecognised medication and observation codes with counts, and a TOML snippet for the policy."""
    from dataclasses import asdict

    from service.rollout.codes import codes_table, snippet, unrecognised_codes

    start, end = period(start_text, end_text)
    with database_errors():
        found = unrecognised_codes(_records(_settings()).between(start, end))
    if output == "json":
        click.echo(json.dumps({"codes": [asdict(entry) for entry in found], "snippet": snippet(found)}, indent=2))
    elif not found:
        click.echo(f"No unrecognised codes from {start.isoformat()} to {end.isoformat()}.")
    else:
        click.echo(f"Unrecognised codes from {start.isoformat()} to {end.isoformat()}\n\n{codes_table(found)}")
        click.echo(f"\nPolicy snippet (paste each line into the list its heading names)\n\n{snippet(found)}")


@click.group("policy")
def policy() -> None:
    """The clinical policy in force."""


@policy.command("show")
def policy_show() -> None:
    """Print the policy in force (thresholds, doses, drugs, code lists) as Markdown tables with its version."""
    from service.cli import ConfigProblem
    from service.policy_file import PolicyError, load_policy
    from service.rollout.policy_table import policy_markdown

    settings = _settings()
    try:
        loaded = load_policy(settings.policy)
    except PolicyError as error:
        raise ConfigProblem(str(error)) from error
    click.echo(policy_markdown(loaded, settings.policy), nl=False)


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def purge(dry_run: bool) -> None:
    """Delete call records, audit rows, issued cards and feedback older than CRS_CDS_RETENTION_DAYS."""
    settings = _settings()
    before = datetime.now(UTC) - timedelta(days=settings.retention_days)
    records = _records(settings)
    with database_errors():
        counts = records.count_before(before) if dry_run else records.purge(before)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"records before {before.isoformat()} ({settings.retention_days} days): {verb}")
    for table, count in counts.items():
        click.echo(f"  {table:<12} {count:>8}")


def silent_mode_line(settings: Settings) -> str:
    """check-config's line on silent mode; ConfigProblem when CRS_CDS_SILENT names an unknown service."""
    from service.cli import ConfigProblem
    from service.hooks.services import load_services
    from service.rollout.silent import SilentModeError, describe

    try:
        return describe(settings.silent, [service.id for service in load_services(settings.catalog_dir)])
    except SilentModeError as error:
        raise ConfigProblem(str(error)) from error


COMMANDS = (report, codes, policy, purge)
