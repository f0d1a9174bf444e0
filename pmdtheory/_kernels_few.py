"""PMD-mean on probabilities (THEORY §4): the fast path, and its router.

Actions that share a reward share their ratio ``x = pi_{t+1}/pi_t`` (``log x + lam x = b``
depends on the action only through ``b``). A row whose support holds at most ``_FEW``
distinct rewards is therefore the same problem on those values, weighted by the class
masses ``W_j``: it is solved on ``len(W)`` entries (by :mod:`._kernels_many`, or the
careful log-space kernel outside its regime), and each action gets ``p_a x_j / sum(p)``.
Binary rewards, the LLM case, cost two omega evaluations per solver step instead of one
per action, and no log or exp per action. A row whose first rewards are all distinct
goes to the vectorised solver of :mod:`._kernels_many` directly.

No validation beyond what the row scan needs: a row it cannot take is handed back with a
status, and :mod:`pmdtheory.updates` sends it through the checked log-space path.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import _mean_ratio_weighted
from ._kernels_many import DONE, GENERAL, _many_row, _many_solve

#: rows with at most this many distinct rewards on the support take the fast path
_FEW = 8
#: actions looked at for more than _FEW distinct rewards before the search
_PROBE = 3 * (_FEW + 1)
#: class masses below this go through the log path (x_j = 1/W_j may overflow)
_TINY_MASS = 1e-300
#: rows per scratch allocation (each parallel chunk allocates its work arrays once)
_CHUNK = 64

INVALID = 1  # DONE and GENERAL: as _kernels_many's


@njit(cache=True, error_model="numpy")
def _few_row(p, r, tau, tol, out, cls, vals, lows, highs, mass, logw, lx, w, b, u, q, work):
    """One row; returns ``(status, lam)``: DONE, INVALID (the checked path reports
    it) or GENERAL (outside the regime of :mod:`._kernels_many` with more than _FEW
    distinct rewards, or a class mass near underflow): the log path takes it.

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
    # The first _FEW + 1 rewards on the support all distinct: the row has many
    # distinct rewards; the vectorised solver takes it without searching for them.
    # (Only the first _PROBE actions are looked at: a row with zeros there, or with
    # repeats among them, searches first and goes there once it finds more than _FEW.)
    m = 0
    for a in range(min(n, _PROBE)):
        if p[a] > 0.0 and m <= _FEW:
            vals[m] = r[a]
            m += 1
    many = m > _FEW
    for i in range(m):
        for j in range(i):
            many &= vals[i] != vals[j]
    if many:
        return _many_row(p, r, tau, total, vals[0], out, work[0], work[1], work[2])
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
        if k + 1 + (next_high > next_low) > _FEW:  # many after all
            return _many_row(p, r, tau, total, low, out, work[0], work[1], work[2])
        lows[n_low] = next_low
        n_low += 1
        if next_high > next_low:
            highs[n_high] = next_high
            n_high += 1
    inv = 1.0 / total
    for j in range(k):
        if mass[j] * inv < _TINY_MASS:
            return GENERAL, 0.0
    # the ordinary regime: the vectorised solver, on the classes
    status, lam = _many_solve(mass[:k], vals[:k], tau, total, vals[0], b[:k], u[:k], q[:k])
    if status == DONE:
        scale = inv / lam
        for j in range(k):
            lx[j] = u[j] * scale  # x_j / sum(p)
    else:  # the careful log-space kernel; the class masses normalised: c = 0, no exp
        for j in range(k):
            w[j] = mass[j] * inv
            logw[j] = math.log(w[j])
            u[j] = 0.0
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
        vals = np.empty(_FEW + 1)
        work = np.empty((3, n))
        lows = np.empty(_FEW)
        highs = np.empty(_FEW)
        mass = np.empty(_FEW)
        logw = np.empty(_FEW)
        lx = np.empty(_FEW)
        w = np.empty(_FEW)
        b = np.empty(_FEW)
        u = np.zeros(_FEW)
        q = np.empty(_FEW)
        for i in range(c * _CHUNK, min(rows, (c + 1) * _CHUNK)):
            status[i], lam[i] = _few_row(
                p[i], r[i], tau[i], tol, out[i], cls, vals, lows, highs, mass, logw, lx, w, b, u,
                q, work,
            )  # fmt: skip
