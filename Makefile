# The two commands: `make dev` (local stack) and `make test` (lint, types, every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= prod
PORT ?= 8000
AWS_PORT ?= 4566

.PHONY: dev test lint typecheck unit functional e2e package bench bench-import bench-search bench-feed clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'pip>=23,<26.3'  # chalice's packager requires pip < 26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/python -m devstack --port $(PORT) --aws-port $(AWS_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest tests

unit functional e2e: $(STAMP)
	$(BIN)/python -m pytest tests/$@

package: $(STAMP)
	rm -rf dist
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) --merge-template .chalice/resources.json dist
	$(BIN)/cfn-lint dist/sam.json

# A measurement, not a test: 10,000-row bulk upsert through HTTP, prints one JSON summary (see docs/bulk.md).
bench: $(STAMP)
	$(BIN)/python -m tests.performance.bench_bulk

# A measurement: a large CSV imported on the local stack vs the bulk endpoint (docs/imports.md). BENCH_IMPORT_ROWS=1000000 for the full run.
bench-import: $(STAMP)
	$(BIN)/python -m tests.performance.bench_import

# Search and listing at 2,000 vs 200,000 contacts, cursor walk, index lag and write amplification (docs/search.md).
bench-search: $(STAMP)
	$(BIN)/python -m tests.performance.bench_search

# Stream consumers (counters, changes feed): writes per change and feed read rate, in-process on moto (docs/changes-feed.md).
bench-feed: $(STAMP)
	$(BIN)/python -m tests.performance.bench_feed

clean:
	rm -rf dist .pytest_cache .mypy_cache .ruff_cache
