"""gunicorn configuration for containers: `gunicorn -c deploy/gunicorn.conf.py 'service.app:create_app()'`.

Options come from the same CRS_CDS_ settings as `crs-cds serve`, so both run alike. In a container the
service listens on all interfaces of its own network namespace; the Kubernetes Service fronts it.
"""

import os

from service.server import gunicorn_options, prepare_metrics_dir, tune_garbage_collection
from service.settings import Settings

HOST = os.environ.get("CRS_CDS_HOST", "0.0.0.0")  # noqa: S104 - container network namespace only
PORT = int(os.environ.get("CRS_CDS_PORT", "8080"))

prepare_metrics_dir()
globals().update(gunicorn_options(Settings(), HOST, PORT))


def post_fork(_server: object, _worker: object) -> None:
    tune_garbage_collection()
