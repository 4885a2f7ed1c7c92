# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,bittensor

.PHONY: demo test install lint bench clean

$(BIN)/minertrace: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[$(EXTRAS)]'
	touch $@

install: $(BIN)/minertrace

demo: install
	$(BIN)/minertrace demo

test: install
	$(BIN)/python -m pytest

# ruff (lint and format) on everything; mypy --strict on the package, plain mypy on the tests.
lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests

bench: install
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/weights.py
	$(BIN)/python bench/chain.py
	$(BIN)/python bench/cycle.py --with-stats
	$(BIN)/python bench/recorder.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/demo.py

clean:
	rm -rf $(VENV) build dist *.egg-info
