# Tanntid: `make run` serves the whole service with demo data on the embedded
# default (SQLite, in-process jobs) beside loopback fakes of the national
# services and Twilio; `make test` runs every test.
SHELL := /bin/bash
# CPython 3.12 where the machine has it, else python3 (scripts/pick_python).
PYTHON ?= $(shell scripts/pick_python)
VENV := .venv
# Bytecode is cached (in __pycache__, ignored by git) even where the shell says
# not to: every test worker and every process a test starts (the CLI, the
# served app) would otherwise compile every module it imports, a second each.
unexport PYTHONDONTWRITEBYTECODE
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# 1: the local fakes of Twilio, HelseID + Helsenorge, Maskinporten + KRR beside
# the service (`tanntid serve --fakes`); 0: the embedded stand-ins only.
FAKES ?= 1

.PHONY: setup run test test-reliability lint imports typecheck pytest bench bench-http-booking bench-scale messages migrate seed screenshots clean lock

setup: $(VENV)/.installed node_modules/.installed web/static/vendor/.copied locales/.compiled

# Python packages come from requirements.lock (exact versions with their
# hashes, dev tools included); the project itself is installed on top without
# resolving anything. No byte-compiling at install (two thirds of its time):
# Python caches the bytecode of what is imported, on first import. `make lock`
# updates the lock after pyproject.toml changes.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Resolve pyproject.toml's ranges (with the dev extras) to exact versions and
# hashes. Keeps the locked versions that still fit; `make lock UPGRADE=1`
# moves every package to its newest allowed version.
UPGRADE ?=
lock: $(VENV)/.installed
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	    --extra=dev --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	    $(if $(filter 1,$(UPGRADE)),--upgrade) --output-file=requirements.lock pyproject.toml

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/static/vendor/.copied: node_modules/.installed scripts/copy_static.py
	$(BIN)/python scripts/copy_static.py
	touch $@

locales/.compiled: $(VENV)/.installed $(wildcard locales/*/LC_MESSAGES/messages.po)
	$(BIN)/pybabel compile --domain=messages --directory=locales --statistics
	touch $@

migrate: setup
	$(BIN)/tanntid migrate

seed: migrate
	$(BIN)/tanntid seed --demo

run: seed
	PORT=$(PORT) $(BIN)/tanntid serve --host $(HOST) $(if $(filter 1,$(FAKES)),--fakes)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

# One run; core/ and booking/ under --strict's checks (pyproject.toml).
typecheck: $(VENV)/.installed
	$(BIN)/mypy

# The direction of imports between the packages (.importlinter).
imports: $(VENV)/.installed
	$(BIN)/lint-imports

# One pytest worker per core (each starts its own server and Chromium for its
# share of the browser tests, which run first), every test but the long reliability proofs (marked `reliability`,
# run by `make test-reliability` and in CI), and the coverage floor: the
# coverage of what `make test` runs when it was set, rounded down.
# For a partial run: make pytest PYTEST_COVERAGE= PYTEST_ARGS=tests/...
# (PYTEST_SELECT= keeps the reliability tests in).
PYTEST_PARALLEL ?= -n auto --dist loadgroup
PYTEST_SELECT ?= -m "not reliability"
COVERAGE_FLOOR ?= 90
PYTEST_COVERAGE ?= --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

pytest: setup
	$(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_SELECT) $(PYTEST_COVERAGE) $(PYTEST_ARGS)

# Ruff first (a second), then the import contracts and mypy beside pytest:
# mypy works on one core for half a minute, which would otherwise leave the
# other idle; the two share the cores with pytest's workers instead.
test: setup lint
	$(MAKE) --no-print-directory -j3 --output-sync=line imports typecheck pytest

# The long reliability proofs (the real worker killed, Redis stopped, a
# failing provider, fifty accepts at once, `serve --workers 2`): CI runs them
# after `make test`.
test-reliability: setup
	$(BIN)/pytest $(PYTEST_PARALLEL) -m reliability $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.http_booking
	$(BIN)/python -m benchmarks.outcome

# Booking over real HTTP alone (200 logged-in clients on 20 slots); see benchmarks/README.md.
bench-http-booking: setup
	$(BIN)/python -m benchmarks.http_booking

# 1, 2 and 4 web processes under load (wrk); see benchmarks/README.md.
bench-scale: setup
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python -m benchmarks.scale

messages: $(VENV)/.installed
	$(BIN)/pybabel extract --mapping-file=locales/babel.cfg --no-location --sort-output \
	    --project=Tanntid --output-file=locales/messages.pot .
	$(BIN)/pybabel update --input-file=locales/messages.pot --output-dir=locales \
	    --domain=messages --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile --domain=messages --directory=locales --statistics

screenshots: setup
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) node_modules web/static/vendor locales/.compiled
