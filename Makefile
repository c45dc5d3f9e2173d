# Quick start: `make run` (set up and start the service), `make test` (lint, type-check, test).
# `make golden` rewrites the golden request/response pairs and their README table (tests/golden/); review the diff.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8080
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test install lint golden

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/crs-cds serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

tests/fhir_server/node_modules: tests/fhir_server/package-lock.json
	npm ci --prefix tests/fhir_server --no-audit --no-fund --engine-strict=false --loglevel=error
	touch tests/fhir_server/node_modules

test: lint tests/fhir_server/node_modules
	$(VENV)/bin/pytest

golden: $(STAMP)
	rm -f tests/golden/*.json
	CRS_CDS_UPDATE_GOLDEN=1 $(VENV)/bin/pytest tests/api/test_golden_cards.py -q -p no:cacheprovider
