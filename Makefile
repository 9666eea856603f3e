# tracetag: `make run` sets up and serves; `make test` runs lint and the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint format bench fuzz i18n-extract clean wheel

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tracetag needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when the build configuration changes.
$(VENV)/.installed-run: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install -e '.[test]'
	@touch $@ $(VENV)/.installed-run

# The printed links follow HOST and PORT unless TRACETAG_PUBLIC_BASE_URL says otherwise.
run: export TRACETAG_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.installed-run
	$(BIN)/tracetag db upgrade
	$(BIN)/tracetag keys generate --if-missing
	$(BIN)/tracetag demo
	$(BIN)/tracetag serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check trace tests migrations public_pages benchmarks setup.py
	$(BIN)/ruff format --check trace tests migrations public_pages benchmarks setup.py
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Long runs of the fuzz tests: 100,000 inputs per parser, and many schemathesis cases per route.
fuzz: $(VENV)/.installed-test
	TRACETAG_FUZZ_EXAMPLES=100000 $(BIN)/python -m pytest -p no:cacheprovider -q tests/fuzz
	TRACETAG_SCHEMATHESIS_EXAMPLES=1000 $(BIN)/python -m pytest -p no:cacheprovider -q tests/test_schemathesis.py

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix trace tests migrations public_pages benchmarks setup.py
	$(BIN)/ruff format trace tests migrations public_pages benchmarks setup.py

# Refresh the message catalogs after changing strings in templates or code.
i18n-extract: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project tracetag --version 0.1 --copyright-holder "the tracetag authors" -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d trace/tracetag/locale --no-fuzzy-matching

clean:
	rm -rf $(VENV) var build dist .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

# The wheel an operator installs (README: Installing from a wheel). build/ starts empty: setuptools
# would otherwise pack a file since removed from the source.
wheel:
	rm -rf build dist
	$(PYTHON) -m pip wheel --no-deps -q -w dist .

# Benchmarks against same-run references; `make bench BENCH_ARGS=--quick` for a short run.
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
