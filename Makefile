# The two commands: `make run` (the product, embedded PostgreSQL) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --build-constraint build-constraints.txt
# pytest-xdist processes; the browser tests stay together on one of them (tests/conftest.py).
PYTEST_WORKERS ?= 2

.PHONY: run test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.3"

$(VENV)/.runtime: $(BIN)/python requirements.txt build-constraints.txt
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python app.py

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench: $(VENV)/.dev
	$(BIN)/python -m bench.pickup
	$(BIN)/python -m bench.sandbox
	$(BIN)/python -m bench.meta
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV)
