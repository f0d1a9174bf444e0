"""Wall time of each teaching notebook, executed in a fresh kernel as ``make notebooks`` does.

Goal: every notebook runs within its budget, 40 s each and 150 s for ``05_llm_bridge``
(the PMD loss on SmolLM2). A budget in seconds is a property of the machine, so it lives
here and not in the unit tests (``tests/test_notebooks.py`` runs every cell and prints its
time; it asserted these budgets until they moved here). The executed copies are
written to a temporary folder; the committed ``.ipynb`` files are left as they are.

Run: ``python benchmarks/bench_notebooks.py [NAME ...]``.
"""

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import render  # noqa: E402

BUDGET_S = {"05_llm_bridge": 150.0}
DEFAULT_BUDGET_S = 40.0


def main():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load(1 min)={load:.1f}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for source in render.sources(sys.argv[1:] or None):
            start = time.perf_counter()
            render.render(source, out_dir=Path(tmp))
            took = time.perf_counter() - start
            budget = BUDGET_S.get(source.stem, DEFAULT_BUDGET_S)
            ok &= took <= budget
            verdict = "PASS" if took <= budget else "FAIL"
            print(f"  {source.stem:<28} {took:6.1f} s  (budget {budget:.0f} s) {verdict}")
    print("bench_notebooks:", "PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
