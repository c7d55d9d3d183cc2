# The README's commands. Everything runs from a fresh clone on a machine with
# Python 3.11+, Node 20 and npm: uv is installed with pip when missing, and uses
# this machine's Python (no interpreter downloads).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
# The interpreter itself, not a shim: uv would otherwise rebuild .venv on every run.
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PROJECT_ENVIRONMENT := .venv
# Installed packages compiled to bytecode at install time, as in the image (deploy/Dockerfile):
# where PYTHONDONTWRITEBYTECODE is set, every process (a run, the daemon, a CLI command)
# would otherwise compile Dagster's imports again (a webhook run's process start 7.5 s ->
# 5.0 s, bench/freshness.py).
export UV_COMPILE_BYTECODE := 1
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
# The tests that replay uv steps (deploy/) use this same uv, found or installed.
export OAUTH_ETL_UV := $(UV)
RUN := $(UV) run --frozen

.PHONY: help deps demo test test-fast lint typecheck defs pytest ui bench screenshot faults-table clean

help:
	@echo "make demo   - the whole job on local defaults: sandbox Xero + Azurite + file token store"
	@echo "make test   - ruff, mypy (strict), dg check defs, pytest (starts Azurite and sandboxes itself)"
	@echo "make test-fast - the unit layer only (no Azurite, sandbox, PostgreSQL or child process)"
	@echo "make ui     - dagster dev against the local defaults"
	@echo "make bench  - benchmarks: API calls, wall time, throughput, memory, token cost"

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv>=0.5,<1"

.venv/.synced: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: .venv/.synced node_modules/.installed

demo: deps
	$(RUN) oauth-etl demo

lint: deps
	$(RUN) ruff format --check oauth_etl oauth_etl_dev oauth_etl_tests bench
	$(RUN) ruff check oauth_etl oauth_etl_dev oauth_etl_tests bench

typecheck: deps
	$(RUN) mypy

defs: deps
	$(RUN) dg check defs

# pytest-xdist: the suite mostly waits (sandboxes, Azurite, child processes), so it runs
# 4 workers on 2 cores; the unit layer runs 3 (54.6 s at 2, 45.0 s at 3, back to back,
# docs/CONTRIBUTING.md). A worker takes tests two at a time, heaviest layer first
# (conftest.py). PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 4
FAST_WORKERS ?= 3

pytest: deps
	deploy/ensure-postgres.sh
	$(RUN) pytest -n $(PYTEST_WORKERS) --maxschedchunk 2 $(PYTEST_ARGS)

test: lint typecheck defs pytest

# Markers come from oauth_etl_tests/conftest.py (layer_of): what a test needs decides.
test-fast: .venv/.synced
	$(RUN) pytest -q -n $(FAST_WORKERS) -m "not integration and not e2e and not deploy" $(PYTEST_ARGS)

ui: deps
	$(RUN) oauth-etl ui

bench: deps
	$(RUN) python -m bench

screenshot: deps
	$(RUN) python -m oauth_etl_tests.ui.screenshot

faults-table: deps
	$(RUN) python -m oauth_etl_tests.reliability.faults_table

clean:
	rm -rf .venv .tools node_modules .mypy_cache .ruff_cache .pytest_cache .oauth_etl
