# token-refresher — every developer and CI entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
# The newest pyenv 3.13 (Lambda runtime, dev venvs) and 3.11 (the operator CLI's oldest Python),
# else python3.13 / python3.11 on PATH.
PYTHON313 ?= $(or $(shell ls -d $(PYENV_ROOT)/versions/3.13*/bin/python 2>/dev/null | sort -V | tail -n1),$(shell command -v python3.13))
PYTHON311 ?= $(or $(shell ls -d $(PYENV_ROOT)/versions/3.11*/bin/python 2>/dev/null | sort -V | tail -n1),$(shell command -v python3.11))
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAMLOCAL := $(SAM_VENV)/bin/samlocal
# sam build (no container) needs python3.13 on PATH.
export PATH := $(dir $(PYTHON313)):$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*?## "}{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

.PHONY: check-python
check-python:
	@test -x "$(PYTHON313)" || { echo "error: Python 3.13 not found: install it (pyenv install 3.13) or run make PYTHON313=/path/to/python3.13" >&2; exit 2; }

.PHONY: check-node
check-node:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "error: Node.js 20 or newer (node and npm) not found: install it (e.g. from nodejs.org or your distribution)" >&2; exit 2; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "error: Node.js $$(node --version) is too old: 20 or newer is needed" >&2; exit 2; }

.PHONY: check-python311
check-python311:
	@test -x "$(PYTHON311)" || { echo "error: Python 3.11 not found (the operator CLI is tested on it): install it (pyenv install 3.11) or run make PYTHON311=/path/to/python3.11" >&2; exit 2; }

$(VENV)/.stamp: requirements-dev.txt layers/deps/requirements.txt | check-python
	@rm -rf $(VENV)
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip -q --disable-pip-version-check install -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.stamp: requirements-sam.txt | check-python
	@rm -rf $(SAM_VENV)
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip -q --disable-pip-version-check install -r requirements-sam.txt
	@touch $@

SEC_VENV := .venv-sec

$(SEC_VENV)/.stamp: requirements-security.txt | check-python
	@rm -rf $(SEC_VENV)
	$(PYTHON313) -m venv $(SEC_VENV)
	$(SEC_VENV)/bin/pip -q --disable-pip-version-check install -r requirements-security.txt
	@touch $@

.PHONY: security
security: $(SAM_VENV)/.stamp $(SEC_VENV)/.stamp ## cfn-lint + checkov on the template, bandit on the code
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(SEC_VENV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
	$(SEC_VENV)/bin/bandit -q -c pyproject.toml -r layers/core/python functions cli tools

.PHONY: venv
venv: $(VENV)/.stamp $(SAM_VENV)/.stamp ## Create the dev venvs (.venv, .venv-sam) with Python 3.13

# The operator CLI: `pip install -e .` puts the `token-refresher` console script (cli/) and the
# library into .venv, without touching the pinned dependencies.
CLI := $(VENV)/bin/token-refresher
$(CLI): pyproject.toml | $(VENV)/.stamp
	$(PY) -m pip -q --disable-pip-version-check install --no-deps -e .
	@touch $@

# Every target that runs something from .venv also needs the CLI installed there.
venv lint demo test test-unit test-tooling test-integration test-e2e: $(CLI)

# The wheel operators install (`pipx install dist/...whl`, or a team's own package index): the
# command and the library it imports. Rebuilt when a source changes; build/ is cleared first so that
# a deleted module cannot linger in the wheel.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)".*/\1/p' cli/token_refresher_cli/__init__.py)
WHEEL := dist/token_refresher-$(VERSION)-py3-none-any.whl
DIST_SOURCES := pyproject.toml README.md $(shell find layers/core/python/token_refresher cli/token_refresher_cli -name '*.py' 2>/dev/null)

$(WHEEL): $(DIST_SOURCES) | $(VENV)/.stamp
	@rm -rf build dist
	$(PY) -m pip -q --disable-pip-version-check wheel --no-deps --wheel-dir dist .
	@rm -rf build

.PHONY: dist
dist: $(WHEEL) ## Build the wheel in dist/: the token-refresher command and the library it imports

# .venv-py311: Python 3.11 with the wheel installed as an operator would (its dependencies at the
# project's pins, plus pytest and pyyaml, which the shared conftest imports), for the CLI's tests on the oldest Python it supports.
PY311_VENV := .venv-py311
CLI311 := $(PY311_VENV)/bin/token-refresher

$(PY311_VENV)/.stamp: requirements-dev.txt cli/requirements.lock | check-python311 $(WHEEL)
	@rm -rf $(PY311_VENV)
	$(PYTHON311) -m venv $(PY311_VENV)
	@# the wheel's dependencies from the hash-pinned lock, as an operator installs them
	$(PY311_VENV)/bin/pip -q --disable-pip-version-check install --require-hashes -r cli/requirements.lock
	$(PY311_VENV)/bin/pip -q --disable-pip-version-check install --no-deps $(WHEEL)
	@# pip refuses extras in a constraints file: the pins without them
	@sed -n 's/\[[^]]*\]//; /^[A-Za-z0-9_.-]*==/p' requirements-dev.txt > $(PY311_VENV)/constraints.txt
	$(PY311_VENV)/bin/pip -q --disable-pip-version-check install -c $(PY311_VENV)/constraints.txt pytest pyyaml
	@touch $@

$(CLI311): $(WHEEL) | $(PY311_VENV)/.stamp
	$(PY311_VENV)/bin/pip -q --disable-pip-version-check install --no-deps --force-reinstall $(WHEEL)
	@touch $@

.PHONY: cli-py311
cli-py311: check-python311 $(CLI311) ## Install the wheel (make dist) into .venv-py311, a Python 3.11 venv

# The CLI's unit tests (tests/unit/test_cli*.py) on Python 3.11, importing the CLI and the library
# from the installed wheel (pythonpath limited to the repo root, for the tests package).
.PHONY: test-cli-py311
test-cli-py311: check-python311 $(CLI311) ## The CLI's unit tests on Python 3.11, against the installed wheel
	$(PY311_VENV)/bin/python -m pytest -q -p no:cacheprovider -o pythonpath=. $(wildcard tests/unit/test_cli*.py)

# Headless Chromium for the consent-flow e2e (tests/e2e/test_connect_browser_e2e.py) and the demo:
# Debian's chromium and chromium-driver (the project never downloads a browser of its own).
# Idempotent: nothing happens when both are installed.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
.PHONY: browser
browser: ## Install Debian's chromium + chromium-driver (apt-get) unless present
	@if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null; then exit 0; fi; \
	command -v apt-get >/dev/null || { echo "error: /usr/bin/chromium and chromedriver are needed, and this is not a Debian-family system (no apt-get): install them yourself" >&2; exit 2; }; \
	[ "$$(id -u)" = 0 ] || command -v sudo >/dev/null || { echo "error: installing chromium with apt-get needs root or sudo" >&2; exit 2; }; \
	echo "installing chromium and chromium-driver (apt-get)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver; }

.PHONY: lint
lint: $(VENV)/.stamp ## ruff (lint + format check), mypy, and the import contracts (lint-imports)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --python-version 3.11
	$(IMPORT_CONTRACTS)

# The library's layers and the handlers' one import (pyproject.toml, [tool.importlinter]); the
# handlers are found as namespace packages on functions/.
IMPORT_CONTRACTS := PYTHONPATH=layers/core/python:functions $(VENV)/bin/lint-imports --no-cache

.PHONY: format
format: $(VENV)/.stamp ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: validate
validate: $(SAM_VENV)/.stamp ## sam validate --lint on template.yaml
	$(SAM) validate --lint --region us-east-1

.PHONY: build
build: $(SAM_VENV)/.stamp ## sam build (no container; uses Python 3.13 from pyenv)
	$(SAM) build --parallel

.PHONY: localstack-start
localstack-start: ## Start LocalStack in host mode on 127.0.0.1:4566 (installs it on first use)
	tools/localstack.sh start

.PHONY: localstack-stop
localstack-stop: ## Stop LocalStack
	tools/localstack.sh stop

.PHONY: demo
demo: $(VENV)/.stamp browser build localstack-start ## LocalStack + deployed stack + demo connections + a rotation, summarised
	$(PY) tools/demo.py

.PHONY: parameters
parameters: $(VENV)/.stamp ## Write docs/parameters.md from template.yaml and tools/parameter_notes.yaml
	$(PY) tools/parameters.py

.PHONY: stop
stop: ## Stop what `make demo` left running (fake providers, LocalStack)
	-$(PY) tools/demo.py stop-fake
	tools/localstack.sh stop

.PHONY: test-unit
test-unit: $(VENV)/.stamp authz-sim ## Unit tests (no network beyond 127.0.0.1 fakes)
	$(PY) -m pytest -m unit -q

.PHONY: test-tooling
test-tooling: $(VENV)/.stamp ## Tests of the LocalStack Lambda executor
	tools/localstack.sh install
	$(PY) -m pytest -m tooling -q

# Deliberate mistakes in our requests (wrong grant type, secret in the query, form instead of JSON,
# ...: tests/support/oracle_mutants.py lists them), each run against the oracle tests; every one
# must be killed (tests/tooling/test_oracle_mutants.py runs the same check).
.PHONY: oracle-mutants
oracle-mutants: $(VENV)/.stamp ## Run the oracle tests against each deliberate request mutation; all must be killed
	PYTHONPATH=layers/core/python:. $(PY) -m tests.support.oracle_mutants

OAUTH_SERVER := tests/oauth_server
$(OAUTH_SERVER)/node_modules/.stamp: $(OAUTH_SERVER)/package.json $(OAUTH_SERVER)/package-lock.json | check-node
	cd $(OAUTH_SERVER) && npm ci --no-audit --no-fund
	touch $@

.PHONY: oauth-server
oauth-server: $(OAUTH_SERVER)/node_modules/.stamp ## Install the RFC-strict OAuth server of the integration tests (oidc-provider, npm ci)

# The IAM policy simulator of the authorization evaluation (tests/support/authz.py,
# docs/aws-parity.md): @cloud-copilot/iam-simulate at the exact versions of its package-lock.json.
AUTHZ_SIM := tests/authz_sim
$(AUTHZ_SIM)/node_modules/.stamp: $(AUTHZ_SIM)/package.json $(AUTHZ_SIM)/package-lock.json | check-node
	cd $(AUTHZ_SIM) && npm ci --no-audit --no-fund
	touch $@

.PHONY: authz-sim
authz-sim: $(AUTHZ_SIM)/node_modules/.stamp ## Install the pinned IAM policy simulator that evaluates every recorded AWS call (npm ci)

.PHONY: test-integration
test-integration: $(VENV)/.stamp oauth-server authz-sim ## Handlers in-process against LocalStack + fake providers + an RFC-strict OAuth server
	tools/localstack.sh install
	$(PY) -m pytest -m integration -q

.PHONY: test-e2e
test-e2e: check-python311 $(VENV)/.stamp browser build $(CLI311) authz-sim ## The template deployed to LocalStack, driven through AWS APIs
	tools/localstack.sh install
	$(PY) -m pytest -m e2e -q

.PHONY: test
test: check-python311 browser lint validate security build test-cli-py311 oauth-server authz-sim ## Every test layer (lint, template, security, unit, CLI on 3.11, tooling, integration, e2e) with the library's branch coverage and its floor
	tools/localstack.sh install
	$(PY) -m pytest -q --cov --cov-report=term

.PHONY: bench
bench: $(VENV)/.stamp build ## Benchmarks on LocalStack (minutes; BENCH_N=1000 for a quick run, BENCH_DOC=1 records docs/benchmarks.md)
	tools/localstack.sh start
	PYTHONPATH=layers/core/python:. $(PY) -m bench.run

.PHONY: fleet
fleet: $(VENV)/.stamp ## Fleet simulation of the real engines, 1,000/10,000/100,000 connections (16 to 20 min on 2 idle cores, no LocalStack): docs/fleet.md
	PYTHONPATH=layers/core/python:. POWERTOOLS_LOG_LEVEL=ERROR $(PY) -m bench.fleet

.PHONY: clean
clean: ## Remove build output and caches (keeps the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache build dist

.PHONY: lifecycle
lifecycle: $(VENV)/.stamp ## Run the simulated two-cycle lifecycle per platform and regenerate its tables in docs/alerts.md
	tools/localstack.sh install
	TR_LIFECYCLE_DOC=1 $(PY) -m pytest -q tests/integration/test_lifecycle.py

.PHONY: reliability
reliability: $(VENV)/.stamp ## Run the fault-injection matrix and regenerate docs/reliability.md
	tools/localstack.sh install
	TR_RELIABILITY_REPORT=docs/reliability.md $(PY) -m pytest -q tests/integration/test_fault_matrix.py
