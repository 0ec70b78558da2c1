# Two commands for a fresh machine; each sets up what it needs in .venv first.
#   make demo   train three small models on bundled data, log their filters, say how to open TensorBoard
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-backends test-tensorboard-oldest screenshots lint dist bench clean

# The tests of the packages that run Keras code (core, keras, pipeline), run again on Keras' other backends.
BACKEND_TESTS := tests/core tests/keras tests/pipeline

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

# Two workers: most of the suite waits on subprocesses, servers and the browser. A test module runs
# in one worker (its module fixtures are made once).
test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -n 2 --dist loadscope

$(VENV)/.backends-installed: pyproject.toml | $(VENV)/.dev-installed
	$(BIN)/pip install -e ".[dev,backends]"
	touch $@

test-backends: $(VENV)/.backends-installed
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n 2 --dist loadscope $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(BIN)/python -m pytest -n 2 --dist loadscope $(BACKEND_TESTS)

# The Filters tab under the oldest TensorBoard filterviz supports (2.16, which needs numpy 1), served from
# an environment of its own while this one writes the logs and drives the browser. It has no TensorFlow,
# so it serves s3:// log directories as such environments do (through fsspec).
TB_OLDEST := .venv-tensorboard-2.16

$(TB_OLDEST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TB_OLDEST)
	$(TB_OLDEST)/bin/pip install "tensorboard==2.16.2" "numpy<2" "Pillow>=10" "google-crc32c>=1.5" \
		"imagecodecs>=2024.9.22" "fsspec>=2024.6" "s3fs>=2024.6"
	$(TB_OLDEST)/bin/pip install --no-deps -e .
	touch $@

test-tensorboard-oldest: $(VENV)/.dev-installed $(TB_OLDEST)/.installed
	FILTERVIZ_TENSORBOARD=$(TB_OLDEST)/bin/tensorboard $(BIN)/python -m pytest -n 2 --dist loadscope tests/dashboard

# The README's screenshots of the Filters tab on the demo's runs, taken by the tests' browser.
screenshots: $(VENV)/.dev-installed
	FILTERVIZ_SCREENSHOTS=docs/images $(BIN)/python -m pytest tests/cli/test_demo.py

# The release: an sdist and a wheel in dist/, and the wheel installed in a fresh environment of its own
# (with its dependencies from the package index, none from this clone) passing a smoke test.
SMOKE := .venv-wheel-smoke

dist: $(VENV)/.dev-installed
	rm -rf dist $(SMOKE)
	$(BIN)/python -m build --outdir dist .
	$(PYTHON) -m venv $(SMOKE)
	$(SMOKE)/bin/pip install -q dist/filterviz-*.whl
	cd /tmp && $(CURDIR)/$(SMOKE)/bin/python $(CURDIR)/.ci/wheel_smoke.py

# Style, and the package layering of docs/architecture.md (import-linter's contracts in pyproject.toml).
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/disk.py
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/remote.py

clean:
	rm -rf $(VENV) $(TB_OLDEST) $(SMOKE) dist filterviz-demo
