# The project's commands. `make help` lists them. Every target works from a fresh clone with only
# Python 3.11: the first one run creates .venv and installs the pinned dependencies.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENV := . scripts/env.sh &&
CLI := $(BIN)/python -m spotify_agent_airflow.cli
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core plus one, which fills the time the end-to-end tests
# spend waiting on a running Airflow (2 cores: 12.5 min with 3 workers, 15.7 with 2).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

.PHONY: help install init demo preflight test up up-celery lint security audit typecheck bench lock migrate restore request-erasure rotate-erasure-key clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) ## create .venv and install the locked dependencies

init: install ## local Airflow home (SQLite), missing settings from airflow_settings.yaml (FORCE=1 overwrites), warehouse migrated
	@mkdir -p var/airflow var/objects
	$(ENV) $(BIN)/airflow db migrate > var/airflow/db-migrate.log 2>&1 || { tail -20 var/airflow/db-migrate.log; exit 1; }
	$(ENV) $(CLI) apply-settings $(if $(FORCE),--force)
	$(ENV) $(CLI) migrate-warehouse

migrate: install ## run the warehouse migrations only
	$(ENV) $(CLI) migrate-warehouse

demo: init ## run every implemented DAG family once with `airflow dags test` and print a summary
	$(ENV) $(CLI) demo

preflight: ## check what `make test` needs (Python, PostgreSQL + pg_dump, Redis, Chromium, promtool), installing Chromium and promtool where allowed
	@$(PYTHON) scripts/preflight.py $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))

test: preflight install ## run the whole test suite (needs PostgreSQL and Redis, see README)
	$(ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

up: init ## Airflow UI + scheduler on http://localhost:8080 (airflow standalone), same settings
	$(ENV) $(BIN)/airflow standalone

up-celery: install ## the CeleryExecutor deployment: API server, scheduler, DAG processor, triggerer, a worker per queue (needs PostgreSQL + Redis)
	scripts/up_celery.sh

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

security: install ## secrets scan of every tracked file (detect-secrets); ruff's S rules run in lint
	$(BIN)/detect-secrets-hook --baseline .secrets.baseline $$(git ls-files ':!:.secrets.baseline')

audit: install ## known vulnerabilities in the locked pins (pip-audit; needs pypi.org's JSON API or OSV)
	$(BIN)/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r constraints.txt

restore: install ## list verified backups, or restore one beside the warehouse: [DATE=YYYY-MM-DD|latest] [INTO=url] [OBJECTS=url]
	$(ENV) $(CLI) restore-warehouse $(if $(DATE),--date $(DATE)) $(if $(INTO),--into $(INTO)) $(if $(OBJECTS),--objects $(OBJECTS))

request-erasure: install ## record an erasure request (USER_ID=<spotify user id>) and print its id for gdpr_erasure
	@test -n "$(USER_ID)" || { echo "usage: make request-erasure USER_ID=<spotify user id>"; exit 2; }
	$(ENV) $(CLI) request-erasure "$(USER_ID)"

rotate-erasure-key: install ## make the key in GDPR_ERASURE_NEW_KEY (environment) the erasure key, keeping the old one for matching
	$(ENV) $(CLI) rotate-erasure-key

bench: install ## the benchmarks (full size); add ARGS=--quick for the CI size
	$(ENV) $(BIN)/python bench/parse_time.py $(ARGS)
	$(ENV) $(BIN)/python bench/spotify_calls.py $(ARGS)
	$(ENV) $(BIN)/python bench/aggregation.py $(ARGS)
	$(ENV) $(BIN)/python bench/recommender.py $(ARGS)
	$(ENV) $(BIN)/python bench/audio.py $(ARGS)
	$(ENV) $(BIN)/python bench/scheduling.py $(ARGS)

lock: ## re-resolve constraints.txt from requirements*.txt (pip-tools; LOCK_ARGS=--upgrade to refresh all)
	@test -x $(BIN)/pip-compile || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install --quiet pip-tools; }
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
		--output-file constraints.txt requirements.txt requirements-dev.txt
	@# The CPU wheel on the CI machines is labelled +cpu; the plain pin resolves on PyPI too.
	sed -i -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/' constraints.txt

clean: ## remove local state (Airflow home, warehouse, objects); keeps .venv
	rm -rf var
