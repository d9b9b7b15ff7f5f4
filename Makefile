# One command each: run, test, lint, type-check. Everything installs into ./.venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run serve test lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install and run the demo: sandbox platforms + Postmeter on the embedded SQLite default.
run: $(STAMP)
	$(BIN)/postmeter demo

## Install and run the API alone on the configured database.
serve: $(STAMP)
	$(BIN)/postmeter serve

## Install and run the whole test suite (SQLite; PostgreSQL too when TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
