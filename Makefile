# One command each: install, run, test, lint, type-check, refresh the lock. Everything installs
# into ./.venv, pinned by the lock files (pyproject.toml keeps the ranges).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# requirements.lock: what the service needs (a production install); requirements-dev.lock: that
# plus the dev extra (tests, lint, type-check, bench). Both carry hashes; `make lock` writes both.
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
# The lock tool, pinned so that a refresh gives the same file on any machine.
UV_VERSION := 0.13.9
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' --quiet

.PHONY: install run serve test lint typecheck check uv lock lock-upgrade lock-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The locked set first (hash-checked), then the project itself without touching its pins;
# `pip check` fails when pyproject.toml asks for something the lock lacks (run `make lock`).
$(STAMP): $(DEV_LOCK) pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
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
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'

## Re-resolve the lock files after a change to pyproject.toml's dependencies; pins that still
## fit stay as they are. The dev lock is constrained by the service lock: same versions in both.
lock: uv
	$(UV_COMPILE) -o $(LOCK)
	$(UV_COMPILE) --extra dev -c $(LOCK) -o $(DEV_LOCK)

## Move every pin to the newest release the ranges allow.
lock-upgrade: uv
	$(UV_COMPILE) --upgrade -o $(LOCK)
	$(UV_COMPILE) --upgrade --extra dev -c $(LOCK) -o $(DEV_LOCK)

## Fails when the committed lock files are not what `make lock` makes of pyproject.toml.
lock-check: lock
	git diff --exit-code -- $(LOCK) $(DEV_LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
