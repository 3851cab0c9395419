# Single entry point. `make demo` runs the main job end to end on local emulation; `make test` runs the tests.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYENV_VERSION := $(PYTHON_VERSION)

.PHONY: setup emulation local invoke demo retrain-demo bench test test-unit lint typecheck check build validate bench clean down

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

.venv-checkov/.installed: requirements-checkov.txt
	python$(basename $(PYTHON_VERSION)) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

## setup: Python environments for the project, SAM CLI and checkov (kept apart: each pins its own dependencies)
setup: $(VENV)/.installed .venv-sam/.installed .venv-checkov/.installed

## emulation: Docker engine (started by pid) and the Lambda base image for python3.13, built offline if need be
emulation:
	local-emulation/docker.sh up
	local-emulation/lambda-image.sh

## demo: train, publish to moto_server, sam build, sam local start-api, send the article's request
demo: setup emulation
	$(PY) local-emulation/demo.py

## local: the local stack, left running: moto_server (MOTO_PORT=5555), upload trigger, sam local start-api
## (API_PORT=3000) on MODEL_BUCKET (bikecast-models-local), with a model; returns once the API answers
local: setup emulation
	$(PY) local-emulation/stack.py up

## invoke: sam local invoke FUNCTION with EVENT against the running local stack (STS answered by its moto_server)
invoke:
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=PredictFunction EVENT=events/makecalc-seed.json"; exit 2; }
	$(PY) local-emulation/stack.py invoke $(FUNCTION) $(EVENT)

## retrain-demo: a stack of its own; upload data -> TrainFunction runs by itself -> the API serves the new version
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
	$(VENV)/bin/mypy layers/shared/bikecast training functions/predict local-emulation tests benchmarks
	$(SAM) validate --lint
	.venv-checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

build: setup
	$(SAM) build

validate: setup
	$(SAM) validate --lint

## bench: benchmarks side by side (handler vs the seed's Flask path vs the bare model; cold start; size; memory)
bench: setup build
	$(PY) benchmarks/run.py

## down: stop what `make local` started (by pid) and its containers; dockerd only if this project started it
down:
	if [ -x $(PY) ]; then $(PY) local-emulation/stack.py down; fi
	local-emulation/docker.sh down

clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache
