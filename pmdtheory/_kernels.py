"""Private Numba kernels behind :mod:`pmdtheory.updates` (special functions: ``_omega``).

Nothing here validates input: the public wrappers do that once. Row kernels
take a log-policy row (``-inf`` outside the support), a reward row and scalar
parameters, write the new log-policy into ``out`` and return a scalar. Batch
kernels loop over rows with ``prange``; each iteration writes its own row.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._omega import _OMEGA_SERIES_Y, _lse_row, _omega_refine, _omega_scalar


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
def _log_partition_row(logpi, r, tau):
    """tau log E_pi[exp(r / tau)], with the gap above rbar kept accurate."""
    n = logpi.size
    w = np.empty(n)
    b = np.empty(n)
    c, rbar, constant = _centre(logpi, r, tau, w, b)
    if constant:
        return rbar
    bmax = 0.0
    for a in range(n):
        if b[a] > -math.inf:
            bmax = max(bmax, abs(b[a]))
    if bmax <= 1.0:
        # tau log E e^b with expm1/log1p: the gap above rbar (~ Var/(2 tau) for
        # large tau) keeps its relative accuracy instead of eps * tau.
        acc = 0.0
        for a in range(n):
            acc += w[a] * math.expm1(b[a])
        return rbar + tau * math.log1p(acc)
    # Otherwise shift by the largest b: no overflow for any tau.
    for a in range(n):
        b[a] += logpi[a] - c  # stays -inf off the support
    return rbar + tau * _lse_row(b)


# --------------------------------------------------------------------------
# PMD-mean and KL-chi2: one-dimensional root finding through Wright omega.
# --------------------------------------------------------------------------

# Root finding stops after a step below this: the error left is about the square of
# a Newton step, the cube of a Halley step, both below 1e-16. Steps within a few
# ulps of the root itself are rounding noise and stop it too.
_NEWTON_TOL = 1e-10
_HALLEY_TOL = 1e-6
_ULPS = 8.0 * 2.220446049250313e-16
_NEWTON_MAXIT = 100
# KL-chi2 roots larger than this are polished in coordinates centred on the winner.
_POLISH_S = 1e3
# Without a finite bracket, a step of more than this (in log space) is shortened.
_MAX_STEP = 30.0
# Warm-start omega from the previous iterate when the argument moved less than this.
_WARM_STEP = 0.05
# Below this multiplier the PMD-mean residual is formed with expm1 (see _omega_root);
# above it, log(S) - s loses ~eps*|s|/lam < 1e-12 relative in lam.
_PRECISE_LAM = 1e-3
# Below this max |b| PMD-mean is given by its small-b series (error O(b^2) relative).
_SERIES_B = 1e-10


@njit(cache=True, error_model="numpy")
def _centre(logpi, r, tau, w, b):
    """Fill normalised weights ``w`` and centred advantages ``b = (r - rbar) / tau``.

    Off the support ``b = -inf``. On it ``w`` may underflow to 0 (log-probabilities
    below -745): such actions weigh nothing in sums but still get their update.

    Returns ``(c, rbar, constant)``: ``c = logsumexp(logpi)`` (about 0 for a
    valid input), the mean reward, and whether ``r`` is constant on the support.
    """
    n = logpi.size
    c = _lse_row(logpi)
    # Measure rewards from the most probable action's reward: rbar is then
    # formed from differences, exact to the spread of r rather than its size.
    amax = 0
    for a in range(n):
        if logpi[a] > logpi[amax]:
            amax = a
    r0 = r[amax]
    rmin = math.inf
    rmax = -math.inf
    shift = 0.0
    for a in range(n):
        if logpi[a] > -math.inf:
            w[a] = math.exp(logpi[a] - c)
            shift += w[a] * (r[a] - r0)
            rmin = min(rmin, r[a])
            rmax = max(rmax, r[a])
        else:
            w[a] = 0.0
    if rmin == rmax:
        return c, rmin, True
    mean_b = 0.0
    for a in range(n):
        if logpi[a] > -math.inf:
            b[a] = ((r[a] - r0) - shift) / tau
            mean_b += w[a] * b[a]
        else:
            b[a] = -math.inf
    # Re-centre so that E_w[b] = 0 to rounding: lam ~ Var(b)/2 for large tau is a
    # second-order quantity, and a first-order residue in E_w[b] would bias it.
    for a in range(n):
        b[a] -= mean_b
    return c, r0 + shift + tau * mean_b, False


@njit(cache=True, error_model="numpy")
def _omega_root(w, logpi, c, b, alpha, gamma, s, lo, hi, u):
    """Solve ``F(s) = log(sum_a w_a omega(s + b_a)) - alpha s - gamma = 0``.

    ``w = exp(logpi - c)``; where it underflows (log-probabilities below -745) the
    products with ``w`` are formed in log space, since ``omega`` may be large there.

    ``alpha = 1, gamma = 0`` is the PMD-mean condition (THEORY §4, ``s = log lam``,
    F decreasing); ``alpha = 0, gamma = log(beta/tau)`` is the KL-chi2 condition
    (§5, F increasing). ``[lo, hi]`` brackets the root (infinite ends allowed),
    ``s`` is the start. Safeguarded Halley (Newton where Halley's denominator is not
    positive): a step that leaves a finite bracket becomes a bisection, an unbounded
    one is capped. On return ``u[a] = omega(s + b_a)`` at the root.
    """
    n = w.size
    dirn = 1.0 if alpha == 0.0 else -1.0  # dirn * F is increasing in s
    step = math.inf
    tol = _NEWTON_TOL
    for it in range(_NEWTON_MAXIT + 1):
        for a in range(n):
            if b[a] == -math.inf:  # off the support
                continue
            y = s + b[a]
            uu = u[a]
            if it > 0 and abs(step) < _WARM_STEP and y >= _OMEGA_SERIES_Y:
                # Second-order Taylor predictor from the previous root estimate:
                # omega' = omega/(1+omega), omega'' = omega/(1+omega)^3.
                d1 = uu / (1.0 + uu)
                guess = uu + step * d1 * (1.0 + 0.5 * step / (1.0 + uu) ** 2)
                u[a] = _omega_refine(y, guess) if guess > 0.0 else _omega_scalar(y)
            else:
                u[a] = _omega_scalar(y)
        if it == _NEWTON_MAXIT or abs(step) <= max(tol, _ULPS * abs(s)):
            break
        precise = False
        if alpha == 1.0 and gamma == 0.0 and s < math.log(_PRECISE_LAM):
            # Small multiplier (large tau): F = log(1 + sum w expm1(b - u)) keeps
            # absolute accuracy ~ eps * |b| where log(S) - s would lose eps * |s|,
            # which is larger than lam itself when lam is tiny.
            precise = True
            for a in range(n):
                if b[a] - u[a] + min(0.0, logpi[a] - c) > 700.0:
                    precise = False
        # F and its first two derivatives for a Halley step (cubic convergence);
        # with h = u/(1+u): d(omega)/ds = omega h, d(h)/ds = h/(1+u)^2.
        if precise:
            x_sum = 0.0  # sum w x - 1, x = exp(b - u) = pi_{t+1}/pi_t
            d1 = 0.0
            d2 = 0.0
            for a in range(n):
                if b[a] == -math.inf:
                    continue
                if w[a] > 0.0:
                    em = math.expm1(b[a] - u[a])
                    wx = w[a] * (1.0 + em)
                    x_sum += w[a] * em
                else:  # underflowed weight: w (x - 1) = w x to double precision
                    wx = math.exp(logpi[a] - c + b[a] - u[a])
                    x_sum += wx
                h = u[a] / (1.0 + u[a])
                d1 += wx * h
                d2 += wx * h * (h - 1.0 / (1.0 + u[a]) ** 2)
            f = math.log1p(x_sum)
            fp = -d1 / (1.0 + x_sum)
            fpp = d2 / (1.0 + x_sum) - fp * fp
        else:
            s_sum = 0.0
            t_sum = 0.0
            v_sum = 0.0
            r_sum = 0.0
            for a in range(n):
                if b[a] == -math.inf or u[a] == 0.0:
                    continue
                wu = w[a] * u[a] if w[a] > 0.0 else math.exp(logpi[a] - c + math.log(u[a]))
                if wu > 0.0:
                    h = wu / (1.0 + u[a])
                    s_sum += wu
                    t_sum += h
                    v_sum += h * u[a]
                    r_sum += h / (1.0 + u[a]) ** 2
            f = math.log(s_sum) - alpha * s - gamma
            # F' = E_q[1/(1+u)] - alpha, q ~ w u; written without cancellation.
            fp = t_sum / s_sum if alpha == 0.0 else -v_sum / s_sum
            fpp = r_sum / s_sum - (t_sum / s_sum) ** 2
        if f == 0.0:
            break
        if dirn * f < 0.0:
            lo = s
        else:
            hi = s
        denom = 2.0 * fp * fp - f * fpp
        if fp != 0.0 and denom > 0.0:
            step = -2.0 * f * fp / denom  # Halley
            tol = _HALLEY_TOL
        else:
            step = -f / fp if fp != 0.0 else -dirn * f * math.inf
            tol = _NEWTON_TOL
        if not math.isfinite(step):
            # F or F' under/overflowed far from the root (e.g. every omega = 0):
            # bisect a finite bracket, else head for the root's side.
            if math.isfinite(lo) and math.isfinite(hi):
                step = 0.5 * (lo + hi) - s
            else:
                step = _MAX_STEP if dirn * f < 0.0 else -_MAX_STEP
        if not (math.isfinite(lo) and math.isfinite(hi)):
            step = max(-_MAX_STEP, min(_MAX_STEP, step))  # a finite bracket bisects instead
        s_new = s + step
        # A converging step is taken as it is: it may round onto a bracket end.
        if abs(step) > max(tol, _ULPS * abs(s)) and not lo < s_new < hi:
            if math.isfinite(lo) and math.isfinite(hi):
                s_new = 0.5 * (lo + hi)
            elif math.isfinite(lo):
                s_new = lo + _MAX_STEP
            else:
                s_new = hi - _MAX_STEP
            step = s_new - s
            tol = _NEWTON_TOL
        s = s_new
    return s


@njit(cache=True, error_model="numpy")
def _finish(logpi, c, b, u, s, alpha, gamma, out):
    """out = log pi_t + log x with x = omega(s + b) / exp(alpha s + gamma)."""
    k = alpha * s + gamma
    for a in range(logpi.size):
        if logpi[a] == -math.inf:
            out[a] = -math.inf
        elif u[a] <= 1.0:
            # log u = s + b - u exactly (omega + log omega = y): no log, no
            # cancellation, and correct even where u underflows to 0.
            out[a] = logpi[a] - c + ((s - k) + b[a] - u[a])
        else:
            out[a] = logpi[a] - c + (math.log(u[a]) - k)


@njit(cache=True, error_model="numpy")
def _prepare(logpi, r, tau, out):
    """Work arrays ``w, b, u`` of a row, its normaliser ``c`` and whether r is constant.

    For constant rewards nothing moves: ``out`` already holds the normalised policy.
    """
    n = logpi.size
    w = np.empty(n)
    b = np.empty(n)
    u = np.zeros(n)
    c, _, constant = _centre(logpi, r, tau, w, b)
    if constant:
        for a in range(n):
            out[a] = logpi[a] - c
    return w, b, u, c, constant


@njit(cache=True, error_model="numpy")
def _mean_row(logpi, r, tau, out):
    """PMD-mean (THEORY §4) for one row; writes log pi_{t+1} into ``out``, returns lam."""
    w, b, u, c, constant = _prepare(logpi, r, tau, out)
    if constant:
        return 0.0
    n = logpi.size
    m2 = 0.0
    m3 = 0.0
    pos_b = 0.0
    b_max = 0.0
    for a in range(n):
        if w[a] > 0.0:
            m2 += w[a] * b[a] * b[a]
            m3 += w[a] * b[a] * b[a] * b[a]
            pos_b += w[a] * max(b[a], 0.0)
        if b[a] > -math.inf:
            b_max = max(b_max, abs(b[a]))
    # Small b (large tau): lam = m2/2 + m3/6 + O(b^4), from expanding log x + lam x = b
    # with E x = 1.
    small_b = 0.5 * m2 + m3 / 6.0
    if b_max < _SERIES_B:
        # The series is exact to double precision here, and log x = b - lam x with
        # x = 1 + b + O(b^2). Also covers m2 = 0 by underflow (no log(lam) exists).
        for a in range(n):
            out[a] = logpi[a] - c + (b[a] - small_b * (1.0 + b[a]))  # -inf off the support
        return small_b
    # Start: the series for small b, lam ~ E[b+] for large b; the smaller is close
    # to the root in both regimes.
    lam0 = min(small_b if small_b > 0.0 else 0.5 * m2, pos_b)
    if not lam0 > 0.0:  # weights near the underflow threshold
        lam0 = 1e-300
    ell = _omega_root(w, logpi, c, b, 1.0, 0.0, math.log(lam0), -math.inf, math.inf, u)
    _finish(logpi, c, b, u, ell, 1.0, 0.0, out)
    return math.exp(ell)


@njit(cache=True, error_model="numpy")
def _kl_chi2_row(logpi, r, tau, beta, out):
    """Maximiser of E r - tau KL - beta/2 chi2 (THEORY §5) for one row."""
    if beta == 0.0:
        _exact_row(logpi, r, tau, out)
        return
    w, b, u, c, constant = _prepare(logpi, r, tau, out)
    if constant:
        return
    n = logpi.size
    # x = omega(s + d)/kappa with kappa = beta/tau, s fixed by E_w[omega(s + d)] = kappa.
    # d = (r - rmax)/tau instead of the centred b: the best action's argument is s
    # itself, not a cancellation s + b of two large numbers (tiny tau).
    log_kappa = math.log(beta) - math.log(tau)
    kappa = math.exp(log_kappa)
    rmax = -math.inf
    b_top = -math.inf
    for a in range(n):
        if b[a] > -math.inf:
            rmax = max(rmax, r[a])
            b_top = max(b_top, b[a])
    for a in range(n):
        b[a] = (r[a] - rmax) / tau if b[a] > -math.inf else -math.inf
        out[a] = (logpi[a] - c) + b[a]
    # Bracket: omega(y) <= e^y gives s >= log kappa - log E e^d; omega convex
    # (Jensen, E b = 0) gives omega(s - b_top) <= kappa, i.e. s <= kappa + log kappa + b_top.
    lo = log_kappa - _lse_row(out)
    hi = kappa + log_kappa + b_top
    s = _omega_root(w, logpi, c, b, 0.0, log_kappa, lo if kappa < 1.0 else hi, lo, hi, u)
    if abs(s) > _POLISH_S:
        # y = s + d is then a difference of large numbers for the actions that end
        # up with the mass: re-measure d from the reward of the action with the
        # largest new probability and polish the root in those coordinates.
        _finish(logpi, c, b, u, s, 0.0, log_kappa, out)
        ref = 0
        for a in range(n):
            if out[a] > out[ref]:
                ref = a
        shift = b[ref]
        for a in range(n):
            b[a] = (r[a] - r[ref]) / tau if b[a] > -math.inf else -math.inf
        s = _omega_root(w, logpi, c, b, 0.0, log_kappa, s + shift, lo + shift, hi + shift, u)
    _finish(logpi, c, b, u, s, 0.0, log_kappa, out)


@njit(cache=True, parallel=True, error_model="numpy")
def _exact_batch(logpi, r, tau, out):
    for i in prange(logpi.shape[0]):
        _exact_row(logpi[i], r[i], tau[i], out[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _log_partition_batch(logpi, r, tau, out):
    for i in prange(logpi.shape[0]):
        out[i] = _log_partition_row(logpi[i], r[i], tau[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _mean_batch(logpi, r, tau, out, lam):
    for i in prange(logpi.shape[0]):
        lam[i] = _mean_row(logpi[i], r[i], tau[i], out[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _kl_chi2_batch(logpi, r, tau, beta, out):
    for i in prange(logpi.shape[0]):
        _kl_chi2_row(logpi[i], r[i], tau[i], beta[i], out[i])
