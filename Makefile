# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
FLASK := $(BIN)/flask
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

.DEFAULT_GOAL := help
.PHONY: help install run serve scheduler db-upgrade catalogue migration test lint fmt typecheck pytest cov check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## Create the virtualenv and install the app with its dev tools

instance/compliance.cfg: | $(VENV)/.installed
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print('SECRET_KEY = ' + repr(secrets.token_hex(32)))" > $@
	@echo "Wrote a new random SECRET_KEY to $@"

db-upgrade: install instance/compliance.cfg ## Apply the database migrations
	$(FLASK) db upgrade

catalogue: db-upgrade ## Load regulations/ into the database (idempotent)
	$(FLASK) catalogue load

run: catalogue ## Install, migrate, load the catalogue, then serve on http://127.0.0.1:5000 with the scheduler
	@echo "Starting the scheduler and the web server on http://$(HOST):$(PORT) (Ctrl-C stops both)"
	@$(FLASK) scheduler run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

serve: install instance/compliance.cfg ## Only the web server
	$(FLASK) run --host $(HOST) --port $(PORT)

scheduler: install instance/compliance.cfg ## Only the scheduler
	$(FLASK) scheduler run

migration: install instance/compliance.cfg ## Autogenerate a migration: make migration m="what changed"
	$(FLASK) db migrate -m "$(m)"

lint: install ## Ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy (strict) on the package
	$(BIN)/mypy

pytest: install ## The test suite (PostgreSQL too when COMPLIANCE_TEST_DATABASE_URL is set)
	$(BIN)/pytest

test: lint typecheck pytest ## Lint, types and the whole test suite

cov: install ## The test suite with a coverage report
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered

check: test ## Everything CI runs

clean: ## Remove the virtualenv and caches (keeps instance/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
