"""Core update speed, every ratio measured side by side in one run (issues 3 and 17).

On 10,000 rows x 64 actions (Dirichlet policies), with kernels compiled in a
warm-up call first and best-of-N timings (the machine is shared):

- ``exact_update`` <= 0.7x ``scipy.special.softmax(np.log(pi) + r / tau, axis=-1)``
  at tau = 0.05 and 1 (U(0, 1) rewards);
- ``mean_update`` <= 2.5x ``exact_update`` (U(0, 1) rewards);
- ``mean_update`` on binary and on few (4) distinct rewards per row <= 1.5x
  ``exact_update`` on the same input;
- ``mean_update`` >= 50x faster than the per-row scipy reference of
  ``_core_reference.py`` (issue 3), agreeing with it to 1e-9;
- ``import pmdtheory`` <= 1.5x ``import numba``, each in a fresh interpreter: the
  package adds little to its one heavy dependency (torch, sympy, pandas and
  matplotlib load on first use, and no kernel compiles at import, which
  ``tests/test_cli.py`` checks).

Each line prints the ratio, its goal and PASS/FAIL; the exit code is 1 if any fails.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import scipy.special

sys.path.insert(0, str(Path(__file__).parent))
from _core_reference import mean_update_rows  # noqa: E402

import pmdtheory as pmd  # noqa: E402

ROWS, ACTIONS, REF_ROWS, REPEATS = 10_000, 64, 200, 15
GOAL_EXACT_VS_SCIPY = 0.7
GOAL_MEAN_VS_EXACT = 2.5
GOAL_FEW = 1.5
GOAL_VS_REF = 50.0
GOAL_IMPORT_VS_NUMBA = 1.5
IMPORT_REPEATS = 5
REF_ATOL = 1e-9


def best_time(fn, *args, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def import_seconds(module: str) -> float:
    """Best-of-IMPORT_REPEATS time of ``import module`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(IMPORT_REPEATS)
    ]
    return min(float(run.stdout) for run in runs)


def scipy_exact(pi, r, tau):
    """The one-liner a user would write."""
    return scipy.special.softmax(np.log(pi) + r / tau, axis=-1)


def main() -> int:
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(ACTIONS), size=ROWS)
    r = rng.uniform(0, 1, size=(ROWS, ACTIONS))
    binary = rng.integers(0, 2, size=(ROWS, ACTIONS)).astype(float)
    few = rng.choice([0.0, 0.25, 0.5, 1.0], size=(ROWS, ACTIONS))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numba threads {numba.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
        f"best of {REPEATS}"
    )
    ok = True

    def report(label, value, goal, *, at_most=True):
        nonlocal ok
        passed = value <= goal if at_most else value >= goal
        ok &= passed
        sign = "<=" if at_most else ">="
        mark = "PASS" if passed else "FAIL"
        print(f"  {label:42s} {value:7.2f}  (goal {sign} {goal:g})  {mark}")

    for tau in (0.05, 1.0):
        for data in (r, binary, few):  # compile every path first
            pmd.exact_update(pi[:2], data[:2], tau), pmd.mean_update(pi[:2], data[:2], tau)
        t_scipy = best_time(scipy_exact, pi, r, tau)
        t_exact = best_time(pmd.exact_update, pi, r, tau)
        t_mean = best_time(pmd.mean_update, pi, r, tau)
        t_exact_bin = best_time(pmd.exact_update, pi, binary, tau)
        t_mean_bin = best_time(pmd.mean_update, pi, binary, tau)
        t_exact_few = best_time(pmd.exact_update, pi, few, tau)
        t_mean_few = best_time(pmd.mean_update, pi, few, tau)
        t_ref = best_time(mean_update_rows, pi[:REF_ROWS], r[:REF_ROWS], tau, repeats=1)
        t_ref *= ROWS / REF_ROWS
        err_exact = np.max(np.abs(pmd.exact_update(pi, r, tau) - scipy_exact(pi, r, tau)))
        ours = pmd.mean_update(pi[:REF_ROWS], r[:REF_ROWS], tau)
        err_ref = np.max(np.abs(ours - mean_update_rows(pi[:REF_ROWS], r[:REF_ROWS], tau)))
        print(
            f"tau={tau:g}: scipy softmax {t_scipy * 1e3:.1f} ms, exact {t_exact * 1e3:.1f} ms, "
            f"mean {t_mean * 1e3:.1f} ms, binary {t_mean_bin * 1e3:.1f} ms "
            f"(exact {t_exact_bin * 1e3:.1f}), 4 rewards {t_mean_few * 1e3:.1f} ms "
            f"(exact {t_exact_few * 1e3:.1f}), scipy ref {t_ref:.2f} s (from {REF_ROWS} rows); "
            f"max |diff| vs softmax {err_exact:.1e}, vs scipy ref {err_ref:.1e}"
        )
        report("exact_update / scipy softmax one-liner", t_exact / t_scipy, GOAL_EXACT_VS_SCIPY)
        report("mean_update / exact_update", t_mean / t_exact, GOAL_MEAN_VS_EXACT)
        report("mean_update / exact_update, binary r", t_mean_bin / t_exact_bin, GOAL_FEW)
        report("mean_update / exact_update, 4 distinct r", t_mean_few / t_exact_few, GOAL_FEW)
        report("scipy reference / mean_update", t_ref / t_mean, GOAL_VS_REF, at_most=False)
        ok &= err_ref <= REF_ATOL and err_exact <= REF_ATOL
    t_numba, t_pmd = import_seconds("numba"), import_seconds("pmdtheory")
    print(f"import: numba {t_numba:.2f} s, pmdtheory {t_pmd:.2f} s (best of {IMPORT_REPEATS})")
    report("import pmdtheory / import numba", t_pmd / t_numba, GOAL_IMPORT_VS_NUMBA)
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
