# Every target installs what it needs first, idempotently (a stamp file per install).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
# py-solc-x and ape-solidity look here for "installed" compilers; the shim is our solcjs.
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PATH := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin:$(PATH)

.PHONY: demo test lint soak chaos bench serve artifacts deps browser vendor clean

WRK := /usr/bin/wrk

deps: $(PY_STAMP) $(NODE_STAMP) .solcx/solc-v0.8.28 $(CHROMIUM) $(WRK)

$(PY_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's chromium, for the browser tests (tests/gateway/live/test_pages.py drive it with Playwright from PyPI;
# `playwright install` is never used). Installed only when missing; sudo unless root.
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo -E) apt-get install -y -q chromium

browser: $(CHROMIUM)

# Debian's wrk: the load client of tests/gateway/test_crowd.py and of the benchmarks (a process of its own).
$(WRK):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo -E) apt-get install -y -q wrk

# The pages' browser libraries, copied from node_modules into gateway/static/vendor (committed).
vendor: $(NODE_STAMP) $(PY_STAMP)
	$(PY) -m gateway.static.vendor

.solcx/solc-v0.8.28: tools/solc $(NODE_STAMP)
	mkdir -p .solcx
	ln -sf ../tools/solc $@

demo: deps
	$(PY) -m ticketkit.demo && $(PY) -m gateway.demo

serve: deps
	$(PY) -m gateway.serve $(SERVE_ARGS)

test: deps
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# The static checks, at zero findings (pyproject.toml: [tool.ruff] pins the rules, [tool.mypy] is strict on
# ticketkit/ and standard on gateway/). `.ci/run` runs it before the tests.
lint: $(PY_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The fault scenarios (tests/chaos, marker `chaos`) at the issue's size, longer than CI: the `chaos_settings`
# fixture reads these (docs/chains.md). CHAOS_SEED picks the faults; the same seed gives the same faults.
CHAOS_SEED ?= 13
# Then the gateway's random-fault scenario at the issue's size (bench/chaos.py, writes bench/results/chaos.json;
# CI runs a small one, tests/chaos/test_scenario.py): 2,000 tickets, 200 gifts, 100 resales, 2,000 admissions
# on 1-second blocks, SQLite and PostgreSQL.
chaos: deps
	TICKETKIT_CHAOS=long TICKETKIT_CHAOS_SEED=$(CHAOS_SEED) $(PY) -m pytest tests/chaos -m chaos -p no:xdist -q -s \
	  $(PYTEST_ARGS)
	$(PY) -m bench.chaos

# Longer than CI (docs/hardening.md): the contracts' state machine for SOAK_EXAMPLES x SOAK_STEPS (at least
# 10,000 steps, counted: fewer fails), then the hardening suite with a deeper fuzz and a longer load soak.
SOAK_STEPS ?= 250
SOAK_EXAMPLES ?= 60
soak: deps
	TICKETKIT_SOAK_STEPS=$(SOAK_STEPS) TICKETKIT_SOAK_EXAMPLES=$(SOAK_EXAMPLES) SOAK_MIN_STEPS=10000 \
	  $(PY) -m pytest -p tests.hardening.stepcount tests/contracts/test_invariants.py -q -s
	HARDENING_FUZZ_EXAMPLES=200 HARDENING_SOAK_SECONDS=120 $(PY) -m pytest tests/hardening -q -s

# Every benchmark, one after another, then bench/results/latest.json and docs/benchmarks.md
# (bench/run_all.py; a stage that fails is reported "not measured" and makes the target fail).
# The gate load stage drives the gateway with wrk (Debian's package).
bench: deps
	$(PY) -m bench.run_all

artifacts: deps
	$(PY) -m ticketkit._compile

clean:
	rm -rf $(VENV) node_modules .solcx .build
