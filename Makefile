# Every target sets itself up: a fresh machine needs only Python 3.11, pip and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help setup demo demo-policy test lint unit bench clean check-template sam-build \
  policy-test build

TEMPLATE := template.yaml
# Only for the template checks (resource specifications); nothing is deployed.
CHECK_REGION := us-east-1
CHECK_BUILD := .aws-sam/check
PYENV_ROOT ?= $(HOME)/.pyenv
# sam build needs the Lambda runtime's interpreter, python3.13, on PATH. Each candidate is run
# once: a pyenv shim answers "command not found" when its version is not selected.
PYTHON313 = $(firstword $(foreach candidate,\
  $(shell command -v python3.13 2>/dev/null) $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13),\
  $(shell "$(candidate)" -c "" >/dev/null 2>&1 && echo "$(candidate)")))

help:
	@echo "make demo           - the demo world's story: real requests decided on the local AWS"
	@echo "make demo-policy    - the example policies explained over example fact sets"
	@echo "make test           - every test and check (ruff, mypy, template checks, sam build, pytest)"
	@echo "make unit           - the unit tests only"
	@echo "make lint           - ruff and mypy only"
	@echo "make bench          - benchmarks, printed figures"
	@echo "make check-template - cfn-lint (with the serverless rules) and sam validate --lint"
	@echo "make sam-build      - sam build into a temporary folder, then check the artifacts"
	@echo "make policy-test    - the tests of policies/ and of policies/examples/"
	@echo "make build          - sam build for a deploy (.aws-sam/build); CONFIG_ENV=prod for prod"
	@echo "make setup          - create .venv with the pinned tools (every target does it first)"
	@echo "make clean          - remove .venv, caches and build folders"
	@echo "make help           - this list"

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
	# The shared fakes of the flow tests, against the ports they stand in for.
	MYPYPATH=functions:tools $(BIN)/mypy --strict tests/unit/handlers/handler_fakes.py

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test: lint check-template sam-build policy-test
	$(BIN)/pytest -q

# The policy's tests and the examples' (docs/policy.md, "Testing your policy"). sam build runs
# those of policies/ too, but skips when python3.13 is missing: this target never does.
POLICY_FOLDERS := policies policies/examples
policy-test: $(STAMP)
	@for folder in $(POLICY_FOLDERS); do $(BIN)/acceptor policy test "$$folder" || exit 1; done

# cfn-lint reads .cfnlintrc.yaml, which adds the cfn-lint-serverless rules. consumer-role.yaml
# (plain CloudFormation, deployed in consumer accounts) is linted with the same rules.
CONSUMER_ROLE_TEMPLATE := consumer-role.yaml
check-template: $(STAMP)
	$(BIN)/cfn-lint -- $(TEMPLATE) $(CONSUMER_ROLE_TEMPLATE)
	$(BIN)/sam validate --lint --template-file $(TEMPLATE) --region $(CHECK_REGION)
	$(BIN)/sam validate --lint --template-file $(CONSUMER_ROLE_TEMPLATE) --region $(CHECK_REGION)

# Builds into the ignored .aws-sam/check/ (not .aws-sam/build/, which `sam deploy` would pick
# up), which also bundles and validates the policy (tools/policy_layer/Makefile), then checks
# that every function artifact holds the acceptor package, compiled for python3.13
# (functions/Makefile), and no test or local tooling code.
# --cached (its index lives beside the build folder) is for speed here only: builds for a
# deploy (samconfig.toml) are never cached, so they always re-validate the policy.
sam-build: $(STAMP)
	@python313="$(PYTHON313)"; \
	if [ -z "$$python313" ]; then \
	  echo "==> NOTICE: sam build SKIPPED: no working python3.13 (the Lambda runtime) on PATH" \
	       "or in $(PYENV_ROOT)/versions"; \
	  exit 0; \
	fi; \
	echo "==> sam build with $$python313 (into $(CHECK_BUILD)/build)"; \
	PATH="$$(dirname "$$python313"):$$PATH" $(BIN)/sam build --template-file $(TEMPLATE) \
	  --build-dir $(CHECK_BUILD)/build --cache-dir $(CHECK_BUILD)/cache --cached --parallel \
	  || exit 1; \
	for function in $(CHECK_BUILD)/build/*Function; do \
	  test -d "$$function/acceptor/handlers" \
	    || { echo "$$function: no acceptor/handlers in the artifact"; exit 1; }; \
	  for unwanted in moto acceptor_tools tests conftest.py; do \
	    test ! -e "$$function/$$unwanted" \
	      || { echo "$$function: the artifact holds $$unwanted"; exit 1; }; \
	  done; \
	  uncompiled=$$(cd "$$function" && find acceptor -name '*.py' | while read -r source; do \
	    name=$$(basename "$$source" .py); \
	    test -f "$$(dirname "$$source")/__pycache__/$$name.cpython-313.pyc" || echo "$$source"; \
	  done); \
	  test -z "$$uncompiled" \
	    || { echo "$$function: no python3.13 bytecode for:" $$uncompiled; exit 1; }; \
	done; \
	ls $(CHECK_BUILD)/build/PolicyLayer/policies/*.* >/dev/null \
	  || { echo "PolicyLayer: no policy files in the artifact"; exit 1; }; \
	echo "==> sam build: OK (artifacts checked)"

# The build `sam deploy` uses (.aws-sam/build), with the Lambda runtime's python3.13 put on PATH
# the way sam-build finds it (pyenv included) and SAM's telemetry off: README, "First deploy".
CONFIG_ENV ?= default
build: $(STAMP)
	@python313="$(PYTHON313)"; \
	if [ -z "$$python313" ]; then \
	  echo "make build: no working python3.13 (the Lambda runtime) on PATH or in" \
	       "$(PYENV_ROOT)/versions: install Python 3.13 first"; \
	  exit 1; \
	fi; \
	PATH="$$(dirname "$$python313"):$$PATH" $(BIN)/sam build --config-env $(CONFIG_ENV)

# The demo world's story through template.yaml's wiring on the local AWS (docs/replay.md).
demo: $(STAMP)
	@$(BIN)/acceptor replay --policy tools/acceptor_tools/replay/demo/policy.yaml

# The policy engine alone: the example policies explained over the example fact sets.
demo-policy: $(STAMP)
	@$(BIN)/python -m acceptor_tools.demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .aws-sam
