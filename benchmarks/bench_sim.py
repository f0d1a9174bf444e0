"""Speed of the simulators: sampled PMD-mean at post-training batch scale.

Goal (issue 5): 100,000 prompts x 64 responses, k = 16 samples per prompt,
``mean_sampled`` with one fit step, 100 iterations in < 60 s on a 2-core
machine, and >= 10x faster per iteration than the vectorized plain-numpy
reference in ``_sim_reference.py`` (timed on fewer iterations, same run).
Also reports 1 vs 2 thread scaling. Compilation is excluded (warm-up first).

Goal (issue 17): the default ``diagnostics=True`` (implied beta and target
errors on a systematic sample of about 2048 contexts) costs <= 1.3x
``diagnostics=False`` per iteration, timed side by side (best of alternating
repeats); ``diagnostics="full"`` (every context) is printed for comparison.

Run: ``python benchmarks/bench_sim.py [--prompts N] [--iters T]``.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _sim_reference as ref  # noqa: E402

from pmdtheory.baselines import BASELINES, ROW_SIGNATURE  # noqa: E402
from pmdtheory.sim import PromptPopulation, run  # noqa: E402
from pmdtheory.sim import _kernels as K  # noqa: E402

MEAN = BASELINES["mean"]
MEAN.row.compile(ROW_SIGNATURE)

GOAL_TOTAL_S = 60.0
GOAL_RATIO = 10.0
GOAL_DIAG = 1.3
TAU = 0.05
K_SAMPLES = 16


def _kernel_time(env, iters, threads):
    """Best and median wall seconds, and mean CPU seconds, of one bare Numba step.

    The best of several single steps is the least disturbed by other processes
    on a shared machine (as in timeit); the median shows the typical cost.
    """
    numba.set_num_threads(threads)
    logpi = env.logpi0.copy()
    pi = np.exp(logpi)
    stats = np.empty((env.shape[0], K.N_STATS))
    out, pi_out = np.zeros_like(logpi), np.zeros_like(logpi)  # touched once, outside
    walls = []
    c0 = time.process_time()
    for it in range(1, iters + 1):
        w0 = time.perf_counter()
        K._sampled_step(
            logpi, pi, logpi, pi, True, env.R, 0, 0.0, K_SAMPLES, MEAN.row, K.EST_MEAN, TAU, 1e-6,
            1 / TAU, 1, K.FIT_REGRESSION, 0.2, 0, it, 0, out, pi_out, stats,
        )  # fmt: skip
        walls.append(time.perf_counter() - w0)
        logpi, pi, out, pi_out = out, pi_out, logpi, pi
    return min(walls), float(np.median(walls)), (time.process_time() - c0) / iters


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prompts", type=int, default=100_000)
    p.add_argument("--responses", type=int, default=64)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--ref-iters", type=int, default=3)
    args = p.parse_args()
    threads = numba.config.NUMBA_NUM_THREADS
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.machine()} cpus={os.cpu_count()} load(1 min)={load:.1f} "
        f"numba threads={threads}, numpy {np.__version__}, numba {numba.__version__}"
    )
    print("times: wall (CPU of this process, all threads) per iteration; compile excluded")
    env = PromptPopulation.random(args.prompts, args.responses, seed=0)
    kw = dict(tau=TAU, k=K_SAMPLES, fit_steps=1, diagnostics=False, progress=False)
    run(PromptPopulation.random(300, 8, seed=1), "mean_sampled", iters=2, **kw)  # compile
    _kernel_time(PromptPopulation.random(300, 8, seed=1), 1, threads)
    shape = f"{args.prompts} x {args.responses}, k={K_SAMPLES}, 1 fit step"

    w0, c0 = time.perf_counter(), time.process_time()
    df = run(env, "mean_sampled", iters=args.iters, **kw)
    total, cpu = time.perf_counter() - w0, time.process_time() - c0
    per_run = total / args.iters
    final = df["reward_mean"].iloc[-1]
    print(f"run(mean_sampled) {shape}: {args.iters} iters in {total:.2f} s, "
          f"{per_run * 1e3:.1f} ({cpu / args.iters * 1e3:.1f}) ms/iter, "
          f"final success {final:.4f}")  # fmt: skip

    n_diag = max(2, args.iters // 10)
    per_diag = {}
    for _rep in range(3):  # alternate, so slow phases of the machine's load hit all modes
        for mode in (False, True, "full"):
            if mode == "full" and _rep > 0:
                continue  # slow; once is enough for a comparison
            w0 = time.perf_counter()
            run(env, "mean_sampled", iters=n_diag, **{**kw, "diagnostics": mode})
            dt = (time.perf_counter() - w0) / n_diag
            per_diag[mode] = min(dt, per_diag.get(mode, np.inf))
    diag_ratio = per_diag[True] / per_diag[False]
    print(f"diagnostics per iteration (best of alternating runs of {n_diag} iters): "
          f"off {per_diag[False] * 1e3:.1f} ms, default (sampled contexts) "
          f"{per_diag[True] * 1e3:.1f} ms, full {per_diag['full'] * 1e3:.1f} ms")  # fmt: skip
    ok_diag = "PASS" if diag_ratio <= GOAL_DIAG else "FAIL"
    print(f"goal diagnostics=True <= {GOAL_DIAG}x diagnostics=False: {diag_ratio:.2f}x {ok_diag}")

    n_k = max(3, args.iters // 5)
    per_k = {}
    for _rep in range(2):  # alternate thread counts, so slow phases of the load hit both
        for nt in sorted({1, threads}):
            best, med, cpu_k = _kernel_time(env, n_k, nt)
            old = per_k.get(nt, (np.inf, np.inf, np.inf))
            per_k[nt] = (min(best, old[0]), min(med, old[1]), min(cpu_k, old[2]))
    for nt, (best, med, cpu_k) in per_k.items():
        print(f"kernel step, {nt} thread(s): best {best * 1e3:.1f}, median {med * 1e3:.1f} "
              f"({cpu_k * 1e3:.1f}) ms/iter")  # fmt: skip
    numba.set_num_threads(threads)
    if threads > 1:
        print(f"thread scaling 1 -> {threads} (best wall): {per_k[1][0] / per_k[threads][0]:.2f}x")

    w0, c0 = time.perf_counter(), time.process_time()
    ref.run_sampled(
        env.logpi0, env.R, args.ref_iters, k=K_SAMPLES, baseline="mean", tau=TAU, lr=1 / TAU,
        fit_steps=1,
    )  # fmt: skip
    per_ref = (time.perf_counter() - w0) / args.ref_iters
    cpu_ref = (time.process_time() - c0) / args.ref_iters
    print(f"numpy reference: {per_ref * 1e3:.1f} ({cpu_ref * 1e3:.1f}) ms/iter "
          f"({args.ref_iters} iters)")  # fmt: skip
    ratio = per_ref / per_run
    print(f"speed-up vs numpy (wall): {ratio:.1f}x full run() iteration, "
          f"{per_ref / per_k[threads][0]:.1f}x best kernel step; single-thread CPU time: "
          f"{cpu_ref / per_k[1][2]:.1f}x")  # fmt: skip
    full = args.prompts == 100_000 and args.responses == 64 and args.iters == 100
    ok_total = "PASS" if total < GOAL_TOTAL_S else "FAIL"
    ok_ratio = "PASS" if ratio >= GOAL_RATIO else "FAIL"
    scale = "" if full else " (not the goal's size)"
    busy = " (machine loaded: compare CPU times)" if load > 1.5 * os.cpu_count() else ""
    print(f"goal 100 iters < {GOAL_TOTAL_S:.0f} s: {ok_total}{scale}; "
          f"goal >= {GOAL_RATIO:.0f}x numpy: {ok_ratio}{busy}")  # fmt: skip


if __name__ == "__main__":
    main()
