"""Private Numba kernels of the exact PMD step (THEORY §2), re-exported by ``_kernels``.

No validation here: :mod:`pmdtheory.updates` does it once. Row kernels take a
log-policy (or probability) row, a reward row and ``tau`` and write the new row into
``out``; batch kernels loop over rows with ``prange``, each iteration its own row.
"""

from __future__ import annotations

import math

from numba import njit, prange

from ._omega import _lse_row

_NORMAL = 2.2250738585072014e-308  # the smallest normal float64


@njit(cache=True, error_model="numpy")
def _exact_row(logpi, r, tau, out):
    """Exact PMD (THEORY §2): out = logpi + r/tau - logsumexp(logpi + r/tau)."""
    # Shift r by its maximum on the support, so the best action's term is exactly
    # logpi + 0 and large r/tau (tau = 1e-4) costs no precision there.
    rmax = -math.inf
    for a in range(logpi.size):
        if logpi[a] > -math.inf and r[a] > rmax:
            rmax = r[a]
    for a in range(logpi.size):
        out[a] = logpi[a] + (r[a] - rmax) / tau if logpi[a] > -math.inf else -math.inf
    z = _lse_row(out)
    for a in range(logpi.size):
        out[a] -= z


@njit(cache=True, error_model="numpy")
def _exact_prob_row(p, r, tau, tol, out):
    """Exact PMD on probabilities, checking the row as it goes (the fast path).

    ``out = p e^{(r - rmax)/tau} / sum(...)``: one exp per action, no logs. Returns
    0 (done), 1 (an invalid row: the caller's checked path reports it) or 2 (a product
    underflowed where the normaliser would lift it back, or the normaliser itself is
    near underflow: use the log path).
    """
    n = p.size
    total = 0.0
    rmax = -math.inf
    rmin = math.inf
    for a in range(n):
        pa = p[a]
        if not (0.0 <= pa < math.inf) or not abs(r[a]) < math.inf:
            return 1
        total += pa
        if pa > 0.0:
            rmax = max(rmax, r[a])
            rmin = min(rmin, r[a])
    if not abs(total - 1.0) <= tol or rmax == -math.inf or not rmax - rmin < math.inf:
        return 1
    if rmax == rmin:  # constant on the support: the policy comes back bit for bit
        for a in range(n):
            out[a] = p[a]
        return 0
    z = 0.0
    lost = False
    for a in range(n):
        # min(., 0): an action off the support with a larger reward gives 0 * 1, not 0 * inf
        e = p[a] * math.exp(min((r[a] - rmax) / tau, 0.0))
        out[a] = e
        z += e
        lost |= (e < _NORMAL) & (p[a] > 0.0)
    # A product below the normal range lost digits (or everything, as 0); that matters
    # where dividing by z < 1 lifts it back: p = 1e-164 times e^-438 is 0, and its true
    # share 1e-237 once z = 1e-118 (found by make fuzz). Those rows go to the log path.
    if z < 1e-280 or (lost and z < 1.0):
        return 2
    inv = 1.0 / z
    for a in range(n):
        out[a] *= inv
    return 0


@njit(cache=True, parallel=True, error_model="numpy")
def _exact_prob_batch(p, r, tau, tol, out, status):
    for i in prange(p.shape[0]):
        status[i] = _exact_prob_row(p[i], r[i], tau, tol, out[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _exact_batch(logpi, r, tau, out):
    for i in prange(logpi.shape[0]):
        _exact_row(logpi[i], r[i], tau[i], out[i])
