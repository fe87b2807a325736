# shoptrack: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck unit demo bench bench-scale clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# A worker per core: much of the suite waits on real processes (servers, browsers, stores).
unit: $(STAMP)
	$(BIN)/pytest -q -n auto

test: lint typecheck unit

# `make demo DEMO_PORT=8001` when port 8000 is taken; DEMO_HOST=0.0.0.0 to reach it from elsewhere.
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
demo: $(STAMP)
	$(BIN)/shoptrack demo --host $(DEMO_HOST) --port $(DEMO_PORT)

# About 30 minutes on 2 cores: intake (3 runs), backfill (50,000 and 200,000 orders), web pages.
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/backfill.py
	$(BIN)/python bench/pages.py

# The read side at 10 million events: a throwaway PostgreSQL database filled by COPY (about
# 15 GB, 12 minutes on 2 cores), then p50/p99 of the API's and web UI's reads (25 minutes).
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) .shoptrack .pytest_cache .mypy_cache .ruff_cache
