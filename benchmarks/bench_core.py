"""Core update speed: PMD-mean against exact PMD and against a scipy reference.

Goals (issue 3): on 10,000 rows x 64 actions (Dirichlet policies, U(0,1)
rewards), ``mean_update`` costs at most 8x ``exact_update`` and is at least 50x
faster than the per-row scipy reference of ``_core_reference.py``. Kernels are
compiled in a warm-up call first; every ratio is measured in this one run.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _core_reference import mean_update_rows  # noqa: E402

import pmdtheory as pmd  # noqa: E402

ROWS, ACTIONS, REF_ROWS, REPEATS = 10_000, 64, 200, 5
GOAL_VS_EXACT, GOAL_VS_SCIPY = 8.0, 50.0


def best_time(fn, *args, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(ACTIONS), size=ROWS)
    r = rng.uniform(0, 1, size=(ROWS, ACTIONS))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numba threads {numba.get_num_threads()}"
    )
    ok = True
    for tau in (0.01, 1.0):
        pmd.exact_update(pi[:2], r[:2], tau), pmd.mean_update(pi[:2], r[:2], tau)  # compile
        t_exact = best_time(pmd.exact_update, pi, r, tau)
        t_mean = best_time(pmd.mean_update, pi, r, tau)
        t_ref = best_time(mean_update_rows, pi[:REF_ROWS], r[:REF_ROWS], tau, repeats=1)
        t_ref *= ROWS / REF_ROWS
        ours = pmd.mean_update(pi[:REF_ROWS], r[:REF_ROWS], tau)
        err = np.max(np.abs(ours - mean_update_rows(pi[:REF_ROWS], r[:REF_ROWS], tau)))
        vs_exact, vs_scipy = t_mean / t_exact, t_ref / t_mean
        ok &= vs_exact <= GOAL_VS_EXACT and vs_scipy >= GOAL_VS_SCIPY
        print(
            f"tau={tau:g}: exact {t_exact * 1e3:.1f} ms, mean {t_mean * 1e3:.1f} ms, "
            f"scipy ref {t_ref:.2f} s (from {REF_ROWS} rows), max |diff| {err:.1e}"
        )
        print(
            f"  mean/exact = {vs_exact:.2f} (goal <= {GOAL_VS_EXACT:g}), "
            f"scipy/mean = {vs_scipy:.0f} (goal >= {GOAL_VS_SCIPY:g})"
        )
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
