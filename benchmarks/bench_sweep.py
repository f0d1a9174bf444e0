"""Benchmark of ``pmdtheory.sim.sweep`` (issue 18): cells per second, ratios in one run.

The cell is a small Fig.-3-like run: 200 binary-reward prompts x 32 responses,
``mean_sampled`` with k = 8, 50 iterations. Measured here, in one run:

1. the same cells one after another in this process (``run_cell``, warm kernels, one
   Numba thread like each sweep worker: on small cells, a second thread costs more
   than it brings, and much more on a loaded machine);
2. ``sweep`` on a local cluster of 1 and of ``os.cpu_count()`` worker processes, as
   wall time including the cluster's start (what a user waits for) and as
   steady-state cells/s (time after the first finished cell).

Goal: with 2 cores, steady-state sweep throughput >= 1.5x the sequential loop.

Run: ``python benchmarks/bench_sweep.py [N_CELLS]`` (default 40 cells, ~1 min on 2 cores).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import threading
import time

from pmdtheory.sim.sweeps import _check_cells, _execute, expand_grid, run_cell

N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
CELL = {"env": "prompts", "contexts": 200, "actions": 32, "method": "mean_sampled", "k": 8,
        "tau": 0.05, "iters": 50}  # fmt: skip


def timed_sweep(cells, n_workers):
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        seen = {}
        stop = threading.Event()

        def watch():  # record when each cell file appears
            while not stop.is_set():
                for f in os.listdir(out):
                    if f.endswith(".parquet") and f not in seen:
                        seen[f] = time.perf_counter() - t0
                time.sleep(0.005)

        th = threading.Thread(target=watch, daemon=True)
        th.start()
        _execute(cells, out, n_workers=n_workers, progress=False)
        wall = time.perf_counter() - t0
        stop.set()
        th.join()
        for f in os.listdir(out):
            seen.setdefault(f, wall)
    times = sorted(seen.values())
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    return wall, steady


def main() -> None:
    cells = expand_grid({**CELL, "seed": f"0-{N - 1}"})
    _check_cells(cells)
    import numba

    numba.set_num_threads(1)
    run_cell(cells[0])  # compile / load the kernels
    t0 = time.perf_counter()
    for c in cells:
        run_cell(c)
    seq = time.perf_counter() - t0
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; {N} cells of {CELL}")  # fmt: skip
    print(f"sequential run_cell loop : {N / seq:6.2f} cells/s ({seq:.1f} s)")
    for n in sorted({1, os.cpu_count() or 1}):
        wall, steady = timed_sweep(cells, n)
        print(f"sweep, {n} worker(s)     : {steady:6.2f} cells/s steady, "
              f"{N / wall:6.2f} cells/s with start-up ({wall:.1f} s); "
              f"steady / sequential = {steady * seq / N:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
