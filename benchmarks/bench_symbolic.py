"""Wall time of the symbolic verification, ``pmdtheory.symbolic.verify_all()``.

Goal (the derivations issue): every derivation verified, the whole run within 60 s on one
core. A budget in seconds is a property of the machine, so it lives here and not in the
unit tests, where a loaded machine (a mutation run, CI on shared cores) made it fail on
correct code. The load is printed with the times.

Run: ``python benchmarks/bench_symbolic.py``.
"""

import os
import platform

import sympy

from pmdtheory.symbolic import verify_all

GOAL_SECONDS = 60.0


def main():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load(1 min)={load:.1f}, "
          f"sympy {sympy.__version__}")  # fmt: skip
    records = verify_all()
    for d in sorted(records, key=lambda d: -d.seconds):
        print(f"  {d.name:<28} {d.seconds:6.2f} s  {'verified' if d.verified else 'FAILED'}")
    total = sum(d.seconds for d in records)
    ok = all(d.verified for d in records) and total <= GOAL_SECONDS
    print(f"{len(records)} derivations in {total:.1f} s; goal: all verified, "
          f"<= {GOAL_SECONDS:.0f} s")  # fmt: skip
    print("bench_symbolic:", "PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
