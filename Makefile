# Everything a newcomer or CI needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Written by `stack up` only when it started the servers, so `make test`
# stops what it started and leaves a stack it found running.
OWNER := $(VENV)/.stack-started-by-make

.PHONY: install lint format typecheck test test-only demo stack-up stack-down \
	stack-status schemas bench bench-smoke bench-install clean demo-stop

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff format --check indexer tests
	$(BIN)/ruff check indexer tests
	$(BIN)/mypy

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format indexer tests
	$(BIN)/ruff check --fix indexer tests

schemas: install
	$(BIN)/python -m indexer.schemas schemas
	$(BIN)/indexer api --write-openapi schemas

test: install
	$(MAKE) lint
	$(BIN)/indexer stack up --owner-file $(OWNER)
	status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	$(BIN)/indexer stack down --owner-file $(OWNER); exit $$status

test-only: install
	$(BIN)/pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/indexer demo $(DEMO_ARGS)

demo-stop: install
	$(BIN)/indexer demo --stop

# Benchmarks against the local stack (started if needed, never stopped here).
# BENCH_ARGS adds options, e.g. BENCH_ARGS="--only reindex --code HEAD".
BENCH_STAMP := $(VENV)/.bench-installed

bench-install: $(BENCH_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: bench-install
	$(BIN)/ruff check bench
	$(BIN)/mypy bench
	$(BIN)/indexer stack up
	$(BIN)/python -m bench --plan full $(BENCH_ARGS)

bench-smoke: bench-install
	$(BIN)/ruff check bench
	$(BIN)/mypy bench
	$(BIN)/indexer stack up
	$(BIN)/python -m bench --plan smoke --out bench/results/smoke $(BENCH_ARGS)

stack-up: install
	$(BIN)/indexer stack up

stack-down: install
	$(BIN)/indexer stack down

stack-status: install
	$(BIN)/indexer stack status

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
