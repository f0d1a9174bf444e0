"""A toy baseline, one record and nothing else: the group maximum (advantages <= 0).

tests/test_baselines.py and tests/test_verl_real.py register it to show that a new
baseline reaches every front end (estimators, simulator, TRL, verl, CLI) from
pmdtheory/baselines.py alone. ``min_group=2`` exercises the front ends' group-size check.
"""

import contextlib

from numba import njit

from pmdtheory import baselines
from pmdtheory.baselines import Baseline

NAME = "toy_max"


def _formula(xp, r, valid, k, tau, eps):
    m = xp.max(r if valid is None else xp.where(valid, r, -float("inf")), axis=-1, keepdims=True)
    return m, 1.0


@njit(cache=True)
def _row(r, tau, eps, B):
    m = r[0]
    for i in range(r.size):
        m = max(m, r[i])
    for i in range(r.size):
        B[i] = m
    return 1.0


TOY = Baseline(NAME, _formula, _row, min_group=2, description="group maximum (a toy)")


@contextlib.contextmanager
def registered():
    """TOY registered for the duration; afterwards gone from every registry it reached."""
    from pmdtheory.bridge import verl as pmd_verl  # torch is there wherever TRL/verl are

    baselines.register(TOY)
    try:
        yield TOY
    finally:
        del baselines.BASELINES[NAME]
        pmd_verl.ADV_ESTIMATORS.pop(f"pmd_{NAME}", None)
