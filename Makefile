# Quick start: `make run` (set up and start the service), `make test` (lint, type-check, test).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8080
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test install lint

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

tests/browser/node_modules: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch tests/browser/node_modules

test: lint tests/fhir_server/node_modules tests/browser/node_modules
	$(VENV)/bin/pytest
