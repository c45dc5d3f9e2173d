"""The ``crs-cds`` command line: serve, check-config."""

from __future__ import annotations

import logging
import sys

import click
from pydantic import ValidationError

from service.catalog import CatalogError
from service.settings import Settings


class ConfigProblem(click.ClickException):
    """A configuration error, printed without a traceback; exit status 2."""

    exit_code = 2


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"CRS_CDS_{str(item['loc'][0]).upper()}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
        raise ConfigProblem(f"invalid settings: {problems}") from error


def checked_runtime_settings() -> Settings:
    """Settings plus every file they point to, validated; ConfigProblem on the first error."""
    from service.app import build_runtime

    settings = load_settings()
    try:
        build_runtime(settings)
    except CatalogError as error:
        raise ConfigProblem(str(error)) from error
    return settings


@click.group()
def main() -> None:
    """crs-cds: CDS Hooks service for cytokine release syndrome after CAR T-cell therapy."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@main.command("check-config")
def check_config() -> None:
    """Validate the settings, the card catalog and the policy; exit 2 with the problem if any."""
    settings = checked_runtime_settings()
    click.echo(f"configuration OK (catalog: {settings.catalog_dir})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the production server (gunicorn) with the configured settings."""
    from service.app import create_app
    from service.server import GunicornServer, gunicorn_options

    settings = checked_runtime_settings()
    GunicornServer(create_app(settings), gunicorn_options(settings, host, port)).run()
