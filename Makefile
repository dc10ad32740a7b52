# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev migrate lint format typecheck pytest bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

migrate: install
	$(PY) manage.py migrate --noinput

## make run: set up, migrate, load demo data and serve on http://127.0.0.1:8000 with a
## worker and the scheduler (manage.py run_local), as deployed but on one machine
run: migrate
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/ with a worker and the scheduler (Ctrl+C to stop)"
	$(PY) manage.py run_local $(HOST):$(PORT)

## make test: the whole quality gate
test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy .
	$(VENV)/bin/pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install-dev
	$(VENV)/bin/mypy .

pytest: install-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## make bench: redemptions/s and latency under gunicorn + PostgreSQL + wrk against a bare Django
## view, the jobs at scale and the storefront's first visit (about 15 minutes; needs PostgreSQL
## on 127.0.0.1:5432, Redis, wrk and Chromium; see docs/performance.md).
## Options: make bench BENCH_ARGS="--duration 10 --no-profile"
bench: install
	$(PY) -m tools.bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .coverage htmlcov .mypy_cache .ruff_cache .import_linter_cache
