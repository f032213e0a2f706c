# One entry point. Every target creates the virtualenv and installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Everything in one process tree; with no Slack tokens and no REDIS_URL: embedded Redis + sandbox.
run: install
	$(BIN)/docjobs run $(ARGS)

## The whole test suite (starts its own Redis; needs none running).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench $(ARGS)

soak: install
	$(BIN)/python -m pytest tests/faults/test_soak.py --soak -q -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
