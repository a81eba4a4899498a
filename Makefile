# Every target installs what it needs first, idempotently (a stamp file per install).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# py-solc-x and ape-solidity look here for "installed" compilers; the shim is our solcjs.
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PATH := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin:$(PATH)

.PHONY: demo test bench serve artifacts deps browser clean

deps: $(PY_STAMP) $(NODE_STAMP) .solcx/solc-v0.8.28

$(PY_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.solcx/solc-v0.8.28: tools/solc $(NODE_STAMP)
	mkdir -p .solcx
	ln -sf ../tools/solc $@

demo: deps
	$(PY) -m ticketkit.demo && $(PY) -m gateway.demo

serve: deps
	$(PY) -m gateway.serve $(SERVE_ARGS)

test: deps
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: deps
	$(PY) -m bench.gas_report
	$(PY) -m bench.collection_10k
	$(PY) -m bench.indexer

artifacts: deps
	$(PY) -m ticketkit._compile

clean:
	rm -rf $(VENV) node_modules .solcx .build
