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
from ._kernels_many import DONE, GENERAL, _many_solve

#: rows with at most this many distinct rewards on the support take the fast path
_FEW = 8
#: actions looked at for more than _FEW distinct rewards before the search
_PROBE = 3 * (_FEW + 1)
#: class masses below this go through the log path (x_j = 1/W_j may overflow)
_TINY_MASS = 1e-300
#: rows per scratch allocation (each parallel chunk allocates its work arrays once)
_CHUNK = 64

INVALID = 1  # DONE and GENERAL: as _kernels_many's


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _scan(p, r):
    """``(total, support, valid)``: ``sum(p)`` (reassociated, as
    :func:`pmdtheory._kernels_many._offset_mean`), the number of actions with ``p > 0``, and
    whether every ``p`` is in ``[0, inf)`` and every ``r`` finite. No branch and no
    min or max: the loop vectorises."""
    total = 0.0
    support = 0
    valid = True
    for a in range(p.size):
        pa = p[a]
        total += pa
        support += pa > 0.0
        valid &= (pa >= 0.0) & (pa < math.inf) & (abs(r[a]) < math.inf)
    return total, support, valid


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _mark_class(p, r, v, j, cls):
    """Class ``j``: the actions on the support with reward ``v``. Sets their ``cls`` to
    ``j`` (class 0 first sets every action's) and returns the class's mass and size.
    Branch-free, so that it vectorises: a class costs one fast pass over the row."""
    mass = 0.0
    size = 0
    for a in range(p.size):
        hit = (r[a] == v) & (p[a] > 0.0)
        mass += p[a] if hit else 0.0
        size += hit
        cls[a] = j if hit else (cls[a] if j > 0 else 0)
    return mass, size


@njit(cache=True, error_model="numpy")
def _few_row(p, r, tau, tol, out, cls, vals, mass, logw, lx, w, b, u, q, work):
    """One row; returns ``(status, lam)``: DONE, INVALID (the checked path reports
    it) or GENERAL (outside the regime of :mod:`._kernels_many`, or a class mass near
    underflow): the log path takes it.

    The distinct rewards on the support are first looked for among the first
    ``_PROBE`` actions: more than ``_FEW`` of them send the row to the vectorised
    solver. Each value found is a class, marked in one pass (:func:`_mark_class`);
    when the classes do not cover the support, the first action outside them adds
    its reward, up to ``_FEW`` classes. Binary rewards take a scan, two class passes
    and the output, all branch-free.
    """
    n = p.size
    total, support, valid = _scan(p, r)
    if not valid or not abs(total - 1.0) <= tol or support == 0:
        return INVALID, 0.0
    # The first _FEW + 1 rewards on the support all distinct: the row has many
    # distinct rewards; the vectorised solver takes it without looking for them.
    # (Only the first _PROBE actions are looked at: a row with zeros there, or with
    # repeats among them, looks for its classes first, and goes there once it finds
    # more than _FEW.)
    k = 0
    for a in range(min(n, _PROBE)):
        if p[a] > 0.0:
            vals[k] = r[a]
            k += 1
            if k > _FEW:
                break
    if k > _FEW:
        equal = 0  # pairs, the diagonal included: fixed bounds, so the loops unroll
        for i in range(_FEW + 1):
            for j in range(_FEW + 1):
                equal += vals[i] == vals[j]
        if equal == _FEW + 1:
            return _many_solve(p, r, tau, total, vals[0], work[0], work[1], work[2], out)
    # Each round marks the new classes, then adds the reward of an unmarked action on
    # the support: one exists while covered < support (a marked action has r equal to
    # its class's value, an unmarked one has cls 0 and r != vals[0]), and its reward is
    # new, so the values stay distinct and the loop ends within _FEW + 1 rounds.
    k = 0
    marked = 0  # classes marked
    covered = 0  # actions on the support in them
    while True:
        for j in range(marked, k):
            mass[j], size = _mark_class(p, r, vals[j], j, cls)
            covered += size
        marked = k
        if covered == support:
            break
        if k == _FEW:  # more than _FEW distinct rewards after all
            return _many_solve(p, r, tau, total, vals[0], work[0], work[1], work[2], out)
        for a in range(n):  # the first action on the support in no class (class 0 unmarked)
            if p[a] > 0.0 and (k == 0 or r[a] != vals[cls[a]]):
                vals[k] = r[a]
                k += 1
                break
    if k == 1:  # constant on the support: the policy comes back bit for bit
        for a in range(n):
            out[a] = p[a]
        return DONE, 0.0
    inv = 1.0 / total
    for j in range(k):
        if mass[j] * inv < _TINY_MASS:
            return GENERAL, 0.0
    # the ordinary regime: the vectorised solver, on the classes
    status, lam = _many_solve(mass[:k], vals[:k], tau, total, vals[0], b[:k], u[:k], q[:k], lx[:0])
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
        mass = np.empty(_FEW)
        logw = np.empty(_FEW)
        lx = np.empty(_FEW)
        w = np.empty(_FEW)
        b = np.empty(_FEW)
        u = np.zeros(_FEW)
        q = np.empty(_FEW)
        for i in range(c * _CHUNK, min(rows, (c + 1) * _CHUNK)):
            status[i], lam[i] = _few_row(
                p[i], r[i], tau[i], tol, out[i], cls, vals, mass, logw, lx, w, b, u, q, work
            )  # fmt: skip
