# Single entry point. `make demo` runs the main job end to end on local emulation; `make test` runs the tests.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYENV_VERSION := $(PYTHON_VERSION)

.PHONY: setup emulation demo retrain-demo test test-unit lint typecheck check build validate bench clean down

$(VENV)/.installed: requirements-dev.txt pyproject.toml
	@command -v python$(basename $(PYTHON_VERSION)) >/dev/null || { echo "python$(basename $(PYTHON_VERSION)) not found (pyenv install $(PYTHON_VERSION))"; exit 1; }
	python$(basename $(PYTHON_VERSION)) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

.venv-sam/.installed: requirements-sam.txt
	python$(basename $(PYTHON_VERSION)) -m venv .venv-sam
	.venv-sam/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

## setup: Python environments for the project and for SAM CLI (kept apart: SAM pins its own dependencies)
setup: $(VENV)/.installed .venv-sam/.installed

## emulation: Docker engine (started by pid) and the Lambda base image for python3.13, built offline if need be
emulation:
	local-emulation/docker.sh up
	local-emulation/lambda-image.sh

## demo: train, publish to moto_server, sam build, sam local start-api, send the article's request
demo: setup emulation
	$(PY) local-emulation/demo.py

## retrain-demo: upload data to the emulated bucket, sam local invoke TrainFunction, API serves the new version
retrain-demo: setup emulation
	$(PY) local-emulation/retrain_demo.py

## test: lint, types and the whole suite (unit, integration with moto_server, end-to-end with SAM CLI)
test: setup emulation check
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest tests/unit

check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/bikecast training functions/predict local-emulation tests
	$(SAM) validate --lint

build: setup
	$(SAM) build

validate: setup
	$(SAM) validate --lint

## down: stop the Docker engine this project started (by its pid)
down:
	local-emulation/docker.sh down

clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache
