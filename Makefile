# touchpoint — the two commands that matter: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: run test test-fast bench chaos soak lint install clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## start the whole stack on embedded Postgres + broker
	$(BIN)/touchpoint dev

test: $(STAMP)  ## unit, integration and end-to-end tests against real Postgres and broker
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)  ## benchmarks, printing ratios against baselines measured in the same run
	$(BIN)/python -m bench

chaos: $(STAMP)  ## the dev stack under load while faults are injected
	$(BIN)/touchpoint chaos

soak: $(STAMP)
	$(BIN)/touchpoint chaos --soak --duration 600

lint: $(STAMP)
	$(BIN)/ruff check shared services tests bench
	$(BIN)/mypy shared services

clean:
	rm -rf .touchpoint .pytest_cache
