# Two commands for a fresh machine; each sets up what it needs in .venv first.
#   make demo   train two small models on bundled data, log their filters, say how to open TensorBoard
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-backends lint bench clean

# The core and callback tests, run again on Keras' other backends.
BACKEND_TESTS := tests/test_render.py tests/test_layers.py tests/test_callback.py tests/test_background.py \
	tests/test_precision.py tests/test_hostile.py tests/test_health_logging.py tests/test_kinds.py

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

$(VENV)/.backends-installed: pyproject.toml | $(VENV)/.dev-installed
	$(BIN)/pip install -e ".[dev,backends]"
	touch $@

test-backends: $(VENV)/.backends-installed
	KERAS_BACKEND=jax $(BIN)/python -m pytest $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(BIN)/python -m pytest $(BACKEND_TESTS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) filterviz-demo
