# Every target sets itself up: a fresh machine needs only Python 3.11, pip and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help setup demo test lint unit bench clean

help:
	@echo "make demo   - show the acceptor deciding real requests on the built-in local AWS"
	@echo "make test   - every test and check (ruff, mypy, pytest)"
	@echo "make bench  - benchmarks, printed figures"
	@echo "make lint   - ruff and mypy only"

$(STAMP): pyproject.toml constraints.txt
	@echo "==> setting up $(VENV) (first run takes a minute or two)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	@$(BIN)/python -m acceptor_tools.demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .aws-sam
