"""Speed of ``TabularMDP.solve`` against QuantEcon's ``DiscreteDP`` policy iteration.

Goal (issue 17): on a random 200-state, 10-action MDP at gamma = 0.99,
``TabularMDP.solve()`` takes <= 3x the time of
``DiscreteDP(R, P, gamma).solve("policy_iteration")`` and its values equal
QuantEcon's to 1e-10. Also prints gamma = 0.9999 (value iteration used to crash
there). Times are the best of interleaved repeats (the least disturbed by other
processes on a shared machine), measured in one run.

Run: ``python benchmarks/bench_mdp.py [--repeats N]``.
"""

import argparse
import os
import platform
import time

import numpy as np
from quantecon.markov import DiscreteDP

from pmdtheory.sim import TabularMDP

GOAL_RATIO = 3.0
GOAL_VALUE_ERR = 1e-10


def _best(fn, repeats, other):
    """Best wall time of ``fn`` and of ``other``, interleaved so load hits both alike."""
    t_fn, t_other = np.inf, np.inf
    for _ in range(repeats):
        w0 = time.perf_counter()
        fn()
        t_fn = min(t_fn, time.perf_counter() - w0)
        w0 = time.perf_counter()
        other()
        t_other = min(t_other, time.perf_counter() - w0)
    return t_fn, t_other


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load(1 min)={load:.1f}, "
          f"numpy {np.__version__}")  # fmt: skip
    ok = True
    for gamma, goal in ((0.99, True), (0.9999, False)):
        mdp = TabularMDP.random(200, 10, gamma=gamma, branching=5, seed=0)
        ddp = DiscreteDP(mdp.R, mdp.P, gamma)
        ours, theirs = mdp.solve(), ddp.solve("policy_iteration")
        err = float(np.max(np.abs(ours.v - theirs.v)))
        same = bool(np.array_equal(ours.policy, theirs.sigma))
        t_ours, t_qe = _best(mdp.solve, args.repeats, lambda d=ddp: d.solve("policy_iteration"))
        ratio = t_ours / t_qe
        line = (f"200 x 10, gamma={gamma}: solve {t_ours * 1e3:.2f} ms ({ours.num_iter} "
                f"evaluations), QuantEcon {t_qe * 1e3:.2f} ms ({theirs.num_iter}); "
                f"ratio {ratio:.2f}x; max |v - v_QE| = {err:.1e}; same policy: {same}"
                )  # fmt: skip
        print(line)
        if goal:
            pass_ratio, pass_err = ratio <= GOAL_RATIO, err <= GOAL_VALUE_ERR
            ok = ok and pass_ratio and pass_err
            print(f"  goal ratio <= {GOAL_RATIO:.0f}x QuantEcon: "
                  f"{'PASS' if pass_ratio else 'FAIL'}; goal values to {GOAL_VALUE_ERR:.0e}: "
                  f"{'PASS' if pass_err else 'FAIL'}")  # fmt: skip
    print("bench_mdp:", "PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
