# Two commands for a fresh machine; each sets up what it needs in .venv first.
#   make demo   train a small model on bundled data, log its filters, say how to open TensorBoard
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[demo]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[dev]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/filterviz demo

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) filterviz-demo
