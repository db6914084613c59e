# Set-up and everyday commands. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: test serve notebooks bench loadtest lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Marker files: reinstall when pyproject.toml changes.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-base

# Browser tests drive Debian's chromium (headless); installed here when missing (CI runs as root).
$(VENV)/.installed-browser: | $(BIN)/python
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	touch $@

# The production set-up's tests run Debian's nginx in front of hipdx serve; installed here when missing.
$(VENV)/.installed-nginx: | $(BIN)/python
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }
	touch $@

# The FHIR browser test renders the Questionnaire with NLM LHC-Forms (npm `lforms`, pinned in
# package-lock.json; served to the test from node_modules, offline). npm comes from Debian when missing.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --ignore-scripts
	touch $@

## make test: set up .venv with the test extras, chromium, nginx and lforms, lint, and run the whole test suite
test: $(VENV)/.installed-test $(VENV)/.installed-browser $(VENV)/.installed-nginx node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## make serve: set up .venv and start the HTTP service on the bundled priors (gevent workers: slow-client safe)
serve: $(VENV)/.installed-base
	$(BIN)/hipdx serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## make notebooks: open the notebooks in JupyterLab
notebooks: $(VENV)/.installed-test
	$(BIN)/jupyter lab notebooks/

## make bench: engine vs pgmpy (and pyAgrum if installed), and end-to-end batch scoring
bench: $(VENV)/.installed-test
	$(BIN)/hipdx bench

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache node_modules
