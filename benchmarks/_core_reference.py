"""A straightforward scipy PMD-mean, one row at a time: the benchmark's baseline.

Per row: brentq on lam for  sum_a pi_a x_a(lam) = 1, with
x_a = wrightomega(log lam + b_a) / lam  (THEORY §4). Kept out of the package.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp, wrightomega


def mean_update_row(pi: np.ndarray, r: np.ndarray, tau: float) -> tuple[np.ndarray, float]:
    b = (r - pi @ r) / tau
    if np.ptp(r) == 0:
        return pi.copy(), 0.0

    def excess(ell: float) -> float:
        return logsumexp(np.log(pi) + b - wrightomega(ell + b).real)

    lo, hi = -60.0, 60.0
    while excess(lo) < 0:
        lo -= 60.0
    while excess(hi) > 0:
        hi += 60.0
    ell = brentq(excess, lo, hi, xtol=1e-14, rtol=1e-15)
    return pi * np.exp(b - wrightomega(ell + b).real), float(np.exp(ell))


def mean_update_rows(pi: np.ndarray, r: np.ndarray, tau: float) -> np.ndarray:
    return np.stack([mean_update_row(p, q, tau)[0] for p, q in zip(pi, r)])
