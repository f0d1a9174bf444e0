"""PMD-mean on probabilities for rows with few distinct rewards (THEORY §4): the fast path.

Actions that share a reward share their ratio ``x = pi_{t+1}/pi_t`` (``log x + lam x = b``
depends on the action only through ``b``). A row whose support holds at most ``_FEW``
distinct rewards is therefore the same problem on those values, weighted by the class
masses ``W_j``: the careful log-space kernel solves it on ``len(W)`` entries, and each
action gets ``p_a x_j / sum(p)``. Binary rewards, the LLM case, cost two omega
evaluations per solver step instead of one per action, and no log or exp per action.

No validation beyond what the row scan needs: a row it cannot take is handed back with a
status, and :mod:`pmdtheory.updates` sends it through the checked log-space path.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import _mean_ratio_weighted

#: rows with at most this many distinct rewards on the support take the fast path
_FEW = 8
#: class masses below this go through the log path (x_j = 1/W_j may overflow)
_TINY_MASS = 1e-300
#: rows per scratch allocation (each parallel chunk allocates its work arrays once)
_CHUNK = 64

DONE, INVALID, GENERAL = 0, 1, 2


@njit(cache=True, error_model="numpy")
def _few_row(p, r, tau, tol, out, cls, vals, lows, highs, mass, logw, lx, w, b, u):
    """One row; returns ``(status, lam)``: DONE, INVALID (the checked path reports
    it) or GENERAL (more than _FEW distinct rewards, or a mass near underflow).

    The distinct rewards are found from both ends (the smallest and largest reward
    strictly between those found so far), and each of those passes also assigns the
    classes and masses as if no reward were left between: the last one is the
    answer. Binary rewards take two passes and the output. An action's class is the
    number of values it reaches: no data-dependent branch per action, which in a
    search among the values seen so far costs as much as exact PMD's exp.
    """
    n = p.size
    total = 0.0
    bad = False
    low = math.inf
    high = -math.inf
    for a in range(n):
        pa = p[a]
        ra = r[a]
        bad |= not (0.0 <= pa < math.inf)
        bad |= not (abs(ra) < math.inf)
        total += pa
        low = min(low, ra if pa > 0.0 else math.inf)
        high = max(high, ra if pa > 0.0 else -math.inf)
    if bad or not abs(total - 1.0) <= tol or low == math.inf:
        return INVALID, 0.0
    if low == high:  # constant on the support: the policy comes back bit for bit
        for a in range(n):
            out[a] = p[a]
        return DONE, 0.0
    lows[0] = low
    highs[0] = high
    n_low = 1
    n_high = 1
    while True:
        k = n_low + n_high
        for j in range(n_low):
            vals[j] = lows[j]
        for j in range(n_high):
            vals[n_low + j] = highs[n_high - 1 - j]
        for j in range(k):
            mass[j] = 0.0
        below = lows[n_low - 1]
        above = highs[n_high - 1]
        next_low = math.inf
        next_high = -math.inf
        for a in range(n):
            pa = p[a]
            ra = r[a]
            between = (pa > 0.0) & (ra > below) & (ra < above)
            next_low = min(next_low, ra if between else math.inf)
            next_high = max(next_high, ra if between else -math.inf)
            j = 0
            for m in range(1, k):
                j += ra >= vals[m]
            cls[a] = j  # off the support any class: p = 0 adds nothing to its mass
            mass[j] += pa
        if next_low == math.inf:
            break
        if k + 1 + (next_high > next_low) > _FEW:
            return GENERAL, 0.0
        lows[n_low] = next_low
        n_low += 1
        if next_high > next_low:
            highs[n_high] = next_high
            n_high += 1
    inv = 1.0 / total
    for j in range(k):
        w[j] = mass[j] * inv
        if w[j] < _TINY_MASS:
            return GENERAL, 0.0
        logw[j] = math.log(w[j])
        u[j] = 0.0
    # the class masses are normalised weights already: c = 0, no exp
    lam = _mean_ratio_weighted(logw[:k], 0.0, vals[:k], tau, lx[:k], w[:k], b[:k], u[:k])
    if math.isnan(lam):
        return GENERAL, 0.0  # the log path decides (and raises if it cannot either)
    for j in range(k):
        lx[j] = math.exp(lx[j]) * inv  # now x_j / sum(p)
        if not lx[j] < math.inf:
            return GENERAL, 0.0
    for a in range(n):
        out[a] = p[a] * lx[cls[a]]
    return DONE, lam


@njit(cache=True, parallel=True, error_model="numpy")
def _few_batch(p, r, tau, tol, out, lam, status):
    """Rows of ``p, r`` (C-ordered, float64) with per-row ``tau``; see :func:`_few_row`."""
    rows, n = p.shape
    chunks = (rows + _CHUNK - 1) // _CHUNK
    for c in prange(chunks):
        cls = np.empty(n, dtype=np.int64)
        vals = np.empty(_FEW)
        lows = np.empty(_FEW)
        highs = np.empty(_FEW)
        mass = np.empty(_FEW)
        logw = np.empty(_FEW)
        lx = np.empty(_FEW)
        w = np.empty(_FEW)
        b = np.empty(_FEW)
        u = np.zeros(_FEW)
        for i in range(c * _CHUNK, min(rows, (c + 1) * _CHUNK)):
            status[i], lam[i] = _few_row(
                p[i], r[i], tau[i], tol, out[i], cls, vals, lows, highs, mass, logw, lx, w, b, u
            )
