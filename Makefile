# Quick start: `make run` (set up and start the service), `make test` (lint, type-check, test).
# Contributors: `make help` lists every target (CONTRIBUTING.md says when to use which).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8080
FHIR_PORT ?= 8081
FHIR_TOKEN ?= dev-fhir-token
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
NODE_MODULES := tests/fhir_server/node_modules tests/browser/node_modules

.PHONY: help run test test-fast install lint clean check-python check-node fhir-server fixtures deploy-files golden

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

check-python:
	@$(PYTHON) -c 'import sys; ok = (3, 11) <= sys.version_info[:2] < (3, 13); sys.exit(0 if ok else 1)' || { \
	  echo "crs-cds needs Python 3.11 or 3.12; $(PYTHON) is $$($(PYTHON) --version 2>&1)."; \
	  echo "Install python3.11 (Debian 12: apt-get install python3 python3-venv) and run: make PYTHON=python3.11 ..."; \
	  exit 1; }

$(STAMP): pyproject.toml | check-python
	@# A half-made environment is removed, never reused: the next run starts clean.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "python -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip || { rm -rf $(VENV); exit 1; }
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]' || { rm -rf $(VENV); exit 1; }
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the service with its dev tools

run: $(STAMP)  ## serve on http://$(HOST):$(PORT) with the embedded defaults
	@# The JWT audience is this address unless CRS_CDS_PUBLIC_BASE_URL says otherwise (never the Host header).
	CRS_CDS_PUBLIC_BASE_URL="$${CRS_CDS_PUBLIC_BASE_URL:-http://$(HOST):$(PORT)}" \
	  $(VENV)/bin/crs-cds serve --host $(HOST) --port $(PORT)

lint: $(STAMP)  ## ruff, ruff format --check, mypy (strict on the package)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

check-node:
	@command -v node >/dev/null || { echo "Node 20 or newer is needed for the integration tests (Debian: apt-get install nodejs npm)."; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { \
	  echo "Node $$(node --version) is too old: the FHIR test server (Medplum 5) needs Node 20 or newer."; \
	  echo "Debian 12's own nodejs package is Node 18: install a Node 20 package (Debian 13's nodejs, or your"; \
	  echo "distribution's Node 20 build), then run again. make test-fast needs no Node."; \
	  exit 1; }

tests/fhir_server/node_modules: tests/fhir_server/package-lock.json | check-node
	npm ci --prefix tests/fhir_server --no-audit --no-fund --engine-strict=false --loglevel=error
	touch tests/fhir_server/node_modules

tests/browser/node_modules: tests/browser/package-lock.json | check-node
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch tests/browser/node_modules

test: lint $(NODE_MODULES)  ## lint, then every test (starts a FHIR server, PostgreSQL and chromium itself)
	$(VENV)/bin/pytest

test-fast: $(STAMP)  ## unit and API tests only: no Node, PostgreSQL or browser (under a minute)
	$(VENV)/bin/pytest -m "not integration" -n 2 -q

fhir-server: tests/fhir_server/node_modules  ## a local FHIR R4 server on http://127.0.0.1:$(FHIR_PORT)/fhir (token $(FHIR_TOKEN))
	node tests/fhir_server/server.mjs --port $(FHIR_PORT) --token $(FHIR_TOKEN)

fixtures: $(STAMP)  ## regenerate fhir_fixtures/ from tests/fixture_factory.py (review the diff)
	$(VENV)/bin/python -m tests.fixture_factory

deploy-files: $(STAMP)  ## regenerate deploy/k8s/configmap.yaml from the repository files
	$(VENV)/bin/python -m tests.deploy_factory

clean:  ## remove .venv, node_modules, caches and the local database (var/)
	rm -rf $(VENV) $(NODE_MODULES) var .mypy_cache .ruff_cache .pytest_cache .hypothesis

golden: $(STAMP)  ## rewrite the golden request/response pairs and their README table (review the diff)
	rm -f tests/golden/*.json
	CRS_CDS_UPDATE_GOLDEN=1 $(VENV)/bin/pytest tests/api/test_golden_cards.py -q -p no:cacheprovider
