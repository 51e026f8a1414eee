# msgen developer commands. Only Python 3.11+ is needed; everything else is installed here.
#   make demo   create .venv, install, synthesize and lint the default blueprint into build/
#   make test   create .venv (and the checkov venv), run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.msgen-installed
# checkov pins its own boto3, so it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# Wheels of msgen's dependencies and of a generated service's, so the packaging and `msgen new` tests
# build fresh venvs without a network (package registries are for installs only).
WHEELHOUSE := $(VENV)/wheelhouse
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.complete
SERVICE_TEMPLATE := templates/serverless-python/{{cookiecutter.service}}
DEMO_OUT := build/payment-svc.template.yaml
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint golden costs bench dist clean help
help:
	@echo "make demo | test | test-fast | lint | golden | costs | bench | dist | clean"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)'
	@touch $@

$(WHEELHOUSE_STAMP): pyproject.toml $(SERVICE_TEMPLATE)/requirements.txt $(SERVICE_TEMPLATE)/requirements-dev.txt \
		$(SERVICE_TEMPLATE)/requirements-container.txt $(SERVICE_TEMPLATE)/requirements-opentelemetry.txt $(STAMP)
	rm -rf $(WHEELHOUSE)
	$(BIN)/python -m pip wheel -q --wheel-dir $(WHEELHOUSE) . -r "$(SERVICE_TEMPLATE)/requirements.txt" \
		-r "$(SERVICE_TEMPLATE)/requirements-container.txt" -r "$(SERVICE_TEMPLATE)/requirements-opentelemetry.txt" \
		-r <(grep -Ev '^(msgen|-r|\{)' "$(SERVICE_TEMPLATE)/requirements-dev.txt")
	@touch $@

demo: $(STAMP)
	$(BIN)/msgen validate blueprints/serverless-api.yaml
	$(BIN)/msgen synth blueprints/serverless-api.yaml -o $(DEMO_OUT)
	$(BIN)/msgen lint $(DEMO_OUT)
	@echo "Template for the default blueprint (payment-svc): $(DEMO_OUT)"

test: $(STAMP) $(CHECKOV_STAMP) $(WHEELHOUSE_STAMP)
	MSGEN_CHECKOV=$(abspath $(CHECKOV_VENV))/bin/checkov MSGEN_WHEELHOUSE=$(abspath $(WHEELHOUSE)) \
		$(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

# Unit tests of the kinds table, the plan, grants and checks: no venvs, no cfn-lint, no checkov. For your own loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

lint: $(STAMP)
	$(BIN)/ruff check generator tests scripts bench

golden: $(STAMP)
	$(BIN)/python scripts/update_golden.py

# docs/costs.md: the idle monthly cost of every blueprint (msgen explain); regenerate after changing what is emitted.
costs: $(STAMP)
	$(BIN)/python scripts/update_costs_doc.py

bench: $(STAMP)
	$(BIN)/python bench/synth.py

# The release artifacts: an sdist and a wheel of msgen-cli in dist/, checked with twine (what the release workflow runs).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*
	@ls -1 dist

clean:
	rm -rf build dist $(VENV) $(CHECKOV_VENV) .pytest_cache
