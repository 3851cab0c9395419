# Single entry point. `make demo` runs the main job end to end on local emulation; `make test` runs the tests.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYENV_VERSION := $(PYTHON_VERSION)
# The template's Architecture; the layers' Makefile reads ARCH too (SAM CLI tells it nothing). Local emulation runs
# the x86_64 build (.aws-sam/build); another architecture builds into .aws-sam/build-$(ARCH).
export ARCH ?= x86_64
BUILD_DIR := .aws-sam/build$(if $(filter x86_64,$(ARCH)),,-$(ARCH))

.PHONY: setup emulation local invoke demo retrain-demo bench test test-unit lint typecheck check check-arch build validate bench clean down

# Installs go through uv (from PyPI): the three environments took ~4 min with pip on a fresh machine, most of it
# resolving and unpacking one package at a time; uv does both in parallel. uv itself comes into .venv through pip.
# No bytecode is compiled at install: Python writes it on first import (see PYTHONDONTWRITEBYTECODE below).
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
UV_INSTALL := $(UV) pip install --quiet
export UV_PYTHON_DOWNLOADS := never
# The venvs are the project's own: let Python cache bytecode there, so each of the many SAM CLI and moto_server
# starts in a run does not compile its imports again (an environment may set this to keep trees clean).
unexport PYTHONDONTWRITEBYTECODE
PYTHON_BIN = python$(basename $(PYTHON_VERSION))

$(UV):
	@command -v $(PYTHON_BIN) >/dev/null || { echo "$(PYTHON_BIN) not found (pyenv install $(PYTHON_VERSION))"; exit 1; }
	$(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: requirements-dev.txt pyproject.toml layers/deps/requirements-serving.txt \
		layers/deps/requirements-sklearn.txt local-emulation/requirements-runtime.txt | $(UV)
	$(UV_INSTALL) --python $(PY) -r requirements-dev.txt
	$(UV_INSTALL) --python $(PY) --no-deps --no-build-isolation -e .
	touch $@

.venv-sam/.installed: requirements-sam.txt | $(UV)
	$(PYTHON_BIN) -m venv --without-pip .venv-sam
	$(UV_INSTALL) --python .venv-sam/bin/python -r requirements-sam.txt
	touch $@

.venv-checkov/.installed: requirements-checkov.txt | $(UV)
	$(PYTHON_BIN) -m venv --without-pip .venv-checkov
	$(UV_INSTALL) --python .venv-checkov/bin/python -r requirements-checkov.txt
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

## invoke: sam local invoke FUNCTION with EVENT against the running local stack (STS answered by its moto_server),
## on the function's layers baked into an image (see README, Local emulation); prints the command it runs
invoke:
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=PredictFunction EVENT=events/makecalc-seed.json"; exit 2; }
	$(PY) local-emulation/stack.py invoke $(FUNCTION) $(EVENT)

## retrain-demo: a stack of its own; upload data -> TrainFunction runs by itself -> the API serves the new version
retrain-demo: setup emulation
	$(PY) local-emulation/retrain_demo.py

## test: lint, types, both architectures' builds checked, the whole suite (unit, integration, end-to-end with SAM CLI)
## The image (mostly downloads), the checks and the builds run side by side: on a fresh machine that is ~1 min less.
test: setup
	$(MAKE) --no-print-directory -j3 --output-sync=target emulation check check-arch
	$(PY) -m pytest --durations=15

test-unit: setup
	$(PY) -m pytest tests/unit

check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/bikecast training functions/predict local-emulation tests benchmarks
	$(SAM) validate --lint
	.venv-checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

## build: sam build for ARCH (x86_64 by default, or arm64), then check every shared object is for ARCH
build: setup
	$(SAM) build --parameter-overrides Architecture=$(ARCH) \
		$(if $(filter x86_64,$(ARCH)),,--build-dir $(BUILD_DIR) --cache-dir $(BUILD_DIR)-cache)
	$(PY) local-emulation/check_arch.py --arch $(ARCH) $(BUILD_DIR)

## check-arch: build for x86_64 and arm64 and check that every shared object in each matches (CI runs it)
check-arch: setup
	$(MAKE) --no-print-directory build ARCH=x86_64
	$(MAKE) --no-print-directory build ARCH=arm64

validate: setup
	$(SAM) validate --lint

## bench: benchmarks side by side (handler vs the seed's Flask path vs the bare model; cold start; size; memory),
## then the local inner loop through SAM CLI and Docker (sam local invoke, start-api)
bench: setup emulation build
	$(PY) benchmarks/run.py
	$(PY) benchmarks/local_loop.py

## down: stop what `make local` started (by pid) and its containers; dockerd only if this project started it
down:
	if [ -x $(PY) ]; then $(PY) local-emulation/stack.py down; fi
	local-emulation/docker.sh down

clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache
