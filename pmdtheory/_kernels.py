"""Private Numba kernels behind :mod:`pmdtheory.updates` (special functions: ``_omega``;
the exact step: ``_kernels_exact``, re-exported here so callers import from one place).

Nothing here validates input: the public wrappers do that once. Row kernels
take a log-policy row (``-inf`` outside the support), a reward row and scalar
parameters, write the new log-policy into ``out`` and return a scalar. Batch
kernels loop over rows with ``prange``; each iteration writes its own row.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels_exact import _exact_batch, _exact_prob_batch, _exact_row  # noqa: F401
from ._omega import _OMEGA_BIG_Y, _OMEGA_SERIES_Y, _lse_row, _omega_refine, _omega_scalar


@njit(cache=True, error_model="numpy")
def _log_partition_row(logpi, r, tau):
    """tau log E_pi[exp(r / tau)], with the gap above rbar kept accurate."""
    n = logpi.size
    w = np.empty(n)
    b = np.empty(n)
    rmin = math.inf
    rmax = -math.inf
    for a in range(n):
        if logpi[a] > -math.inf:
            rmin = min(rmin, r[a])
            rmax = max(rmax, r[a])
    bmax = 2.0  # (r - rbar)/tau may overflow here: take the shifted sum below
    if (rmax - rmin) / tau <= 1.0:
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
    # Otherwise shift by the largest reward: no overflow for any tau, even where
    # (r - rbar)/tau itself would overflow (then the sum is the top actions' weight).
    if rmin == rmax:
        return rmax
    c = _lse_row(logpi)
    for a in range(n):
        b[a] = logpi[a] - c + (r[a] - rmax) / tau if logpi[a] > -math.inf else -math.inf
    return rmax + tau * _lse_row(b)


# --------------------------------------------------------------------------
# PMD-mean and KL-chi2: one-dimensional root finding through Wright omega.
# --------------------------------------------------------------------------

# Root finding stops after a step below this: the error left is about the cube of a
# Halley step, below 1e-16 (_NEWTON_TOL: the first step, whose quality is unknown).
# Steps within a few ulps of the root itself are rounding noise and stop it too.
_NEWTON_TOL = 1e-10
_HALLEY_TOL = 1e-6
_ULPS = 8.0 * 2.220446049250313e-16
_NEWTON_MAXIT = 300
# KL-chi2 roots larger than this are polished in coordinates centred on the winner.
_POLISH_S = 1e3
# Warm-start omega from the previous iterate when the argument moved less than this.
_WARM_STEP = 0.05
# ... and trust the second-order predictor without polishing after a step below this.
_TAYLOR_STEP = 1e-6
# Below this multiplier the PMD-mean residual is formed with expm1 (see _omega_root);
# above it, log(S) - s loses ~eps*|s|/lam < 1e-12 relative in lam.
_PRECISE_LAM = 1e-3
# An answer whose probabilities sum to 1 only beyond this (|log sum|) is refused, not returned.
_SUM_LOG_TOL = 1e-9
# Below this max |b| PMD-mean is given by its small-b series: lam = m2/2 + m3/6 within
# 1.1 b^2 relative (1.1e-12 here, against mpmath), the policy within O(b^4). The root
# finder's lam loses digits to E x - 1 = O(b^2) as b shrinks (4e-7 relative at b ~ 1e-9).
_SERIES_B = 1e-6
# Below this ell (lam < 1e-290) the precise residual is formed scaled (see _omega_root).
_NORMAL = 2.2250738585072014e-308  # the smallest normal float64
_SCALED_S = math.log(_NORMAL) + 40.0
_TINY_U = 1e-200  # omega below this: x - 1 = expm1(b) - e^b u to O(u^2)


@njit(cache=True, error_model="numpy")
def _weights(logpi, w):
    """``w = exp(logpi - c)`` (0 off the support); returns ``c = logsumexp(logpi)``."""
    c = _lse_row(logpi)
    for a in range(logpi.size):
        w[a] = math.exp(logpi[a] - c) if logpi[a] > -math.inf else 0.0
    return c


@njit(cache=True, error_model="numpy")
def _centre(logpi, r, tau, w, b):
    """Fill normalised weights ``w`` and centred advantages ``b = (r - rbar) / tau``.

    Off the support ``b = -inf``. On it ``w`` may underflow to 0 (log-probabilities
    below -745): such actions weigh nothing in sums but still get their update.

    Returns ``(c, rbar, constant)``: ``c = logsumexp(logpi)`` (about 0 for a
    valid input), the mean reward, and whether ``r`` is constant on the support.
    """
    c = _weights(logpi, w)
    rbar, constant = _centre_weighted(logpi, r, tau, w, b)
    return c, rbar, constant


@njit(cache=True, error_model="numpy")
def _centre_weighted(logpi, r, tau, w, b):
    """:func:`_centre` given the weights ``w = exp(logpi - c)``: fills ``b``,
    returns ``(rbar, constant)``."""
    n = logpi.size
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
            shift += w[a] * (r[a] - r0)
            rmin = min(rmin, r[a])
            rmax = max(rmax, r[a])
    if rmin == rmax:
        return rmin, True
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
    return r0 + shift + tau * mean_b, False


@njit(cache=True, error_model="numpy")
def _log_x(b, u, s):
    """log x = b - u = log(u) - s for u = omega(s + b), PMD-mean: the first form has
    no cancellation while u <= 1, the second none once u is large (b ~ u, tiny tau)."""
    return b - u if u <= 1.0 else math.log(u) - s


@njit(cache=True, error_model="numpy")
def _log_abs_expm1(z):
    """log|e^z - 1| without overflow or cancellation (-inf at z = 0)."""
    if z > 0.0:
        return z + math.log(-math.expm1(-z))
    return math.log(-math.expm1(z)) if z < 0.0 else -math.inf


@njit(cache=True, error_model="numpy")
def _safeguarded_step(s, f, fp, fpp, lo, hi, step_old, halley_tol):
    """The next iterate of a root search on ``[lo, hi]`` from ``s`` with ``F(s) = f``:
    Halley's step, or the bracket's midpoint.

    Halley's step ``-2 f F' / (2 F'^2 - f F'')`` is written through ratios: for a tiny
    multiplier ``F' ~ lam``, and ``F'^2`` or ``f F'`` would underflow (lam < 1e-154).
    Where its denominator is not positive (far from the root: F's curvature beats its
    slope; a Newton step there was measured to be rejected by the safeguards or to cost
    iterations), and where the step is not finite, leaves the bracket or does not halve
    ``step_old`` (the step before last: slow, exponential-like regions of F), the
    bracket is bisected. A converging step is taken as it is: it may round onto a
    bracket end.

    Returns ``(s_new, step, tol, fallback)``: ``tol`` is the distance to the root the
    step proves (``halley_tol`` after a Halley step, 0 after a bisection), ``fallback``
    whether Halley's denominator was not positive.
    """
    newton = f / fp if fp != 0.0 else math.inf
    denom = 1.0 - 0.5 * newton * (fpp / fp) if fp != 0.0 else 0.0
    fallback = not (math.isfinite(newton) and denom > 0.0)
    step = math.inf if fallback else -newton / denom  # inf: s_new is not finite, bisect
    tol = halley_tol  # a bisection below sets it to 0
    s_new = s + step
    tiny = abs(step) <= max(tol, _ULPS * abs(s))
    if not math.isfinite(s_new) or (
        not tiny and (not lo < s_new < hi or abs(step) > 0.5 * abs(step_old))
    ):
        s_new = 0.5 * (lo + hi)
        step = s_new - s
        tol = 0.0  # a bisection proves nothing about the distance to the root
    return s_new, step, tol, fallback


@njit(cache=True, error_model="numpy")
def _omega_root(w, logpi, c, b, alpha, gamma, s, lo, hi, u):
    """Solve ``F(s) = log(sum_a w_a omega(s + b_a)) - alpha s - gamma = 0``.

    ``w = exp(logpi - c)``; where it underflows (log-probabilities below -745) the
    products with ``w`` are formed in log space, since ``omega`` may be large there.

    ``alpha = 1, gamma = 0`` is the PMD-mean condition (THEORY §4, ``s = log lam``,
    F decreasing); ``alpha = 0, gamma = log(beta/tau)`` is the KL-chi2 condition
    (§5, F increasing). ``[lo, hi]`` is a finite bracket of the root and ``s`` the
    start. Safeguarded Halley, with bisection of the bracket where Halley's
    denominator is not positive, and whenever a step would leave the bracket or
    does not halve the step before last (as in rtsafe): the bracket then halves at least every
    other iteration, so the iteration count is bounded by ~2 log2(width / tol).

    Returns ``(s, iterations, fallbacks)``, ``iterations = -1`` if it did not
    converge (a caller must never use that root); on return ``u[a] = omega(s + b_a)``.
    ``fallbacks`` counts the bisections for a non-positive Halley denominator (tests
    reach that branch through it).
    """
    n = w.size
    dirn = 1.0 if alpha == 0.0 else -1.0  # dirn * F is increasing in s
    step = math.inf
    step_old = math.inf  # the step before last, for the halving test
    tol = _NEWTON_TOL
    fallbacks = 0
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi and math.isfinite(s)):
        return s, -1, fallbacks
    s = min(max(s, lo), hi)
    for it in range(_NEWTON_MAXIT + 1):
        for a in range(n):
            if b[a] == -math.inf:  # off the support
                continue
            y = s + b[a]
            uu = u[a]
            if it > 0 and abs(step) < _WARM_STEP and _OMEGA_SERIES_Y <= y <= _OMEGA_BIG_Y:
                # Second-order Taylor predictor from the previous root estimate:
                # omega' = omega/(1+omega), omega'' = omega/(1+omega)^3.
                d1 = uu / (1.0 + uu)
                guess = uu + step * d1 * (1.0 + 0.5 * step / (1.0 + uu) ** 2)
                if abs(step) <= _TAYLOR_STEP and guess > 0.0:
                    u[a] = guess  # the predictor is exact to ~step^3 u / 6 < 1e-19 u
                else:
                    u[a] = _omega_refine(y, guess) if guess > 0.0 else _omega_scalar(y)
            else:
                u[a] = _omega_scalar(y)
        if abs(step) <= max(tol, _ULPS * abs(s)) or hi - lo <= _ULPS * max(abs(lo), abs(hi)):
            return s, it, fallbacks
        if it == _NEWTON_MAXIT:
            break
        precise = False
        if alpha == 1.0 and gamma == 0.0 and s < math.log(_PRECISE_LAM):
            # Small multiplier (large tau): F = log(1 + sum w expm1(b - u)) keeps
            # absolute accuracy ~ eps * |b| where log(S) - s would lose eps * |s|,
            # which is larger than lam itself when lam is tiny.
            precise = True
            for a in range(n):
                if b[a] > -math.inf and _log_x(b[a], u[a], s) + min(0.0, logpi[a] - c) > 700.0:
                    precise = False
        # F and its first two derivatives for a Halley step (cubic convergence);
        # with h = u/(1+u): d(omega)/ds = omega h, d(h)/ds = h/(1+u)^2.
        if precise and s < _SCALED_S:
            # lam near or below float64's normal range (or below its whole range,
            # ell < -745): unscaled, F's terms would be subnormal or 0 and ell known to
            # ~1e-8 at best. The terms w (x - 1) are scaled by e^sc, with sc chosen from
            # their largest magnitude (~lam, or an underflowed weight w whose x < 1 adds
            # -w (1 - x), far above lam) and kept inside the exponentials. log1p(x) = x
            # and F'^2 << F'' at this size, and Halley's step depends on ratios only.
            # u = exp(s + log x) exactly (omega e^omega = e^y), also where u underflows.
            top = -math.inf
            for a in range(n):
                if b[a] == -math.inf:
                    continue
                lx = _log_x(b[a], u[a], s)
                lw = math.log(w[a]) if w[a] >= _NORMAL else logpi[a] - c
                if w[a] >= _NORMAL and u[a] < _TINY_U:  # |expm1(b)| + e^b u, an upper bound
                    la = _log_abs_expm1(b[a])
                    lb = b[a] + s + lx
                    top = max(top, lw + max(la, lb) + math.log1p(math.exp(-abs(la - lb))))
                else:
                    top = max(top, lw + _log_abs_expm1(lx))
            sc = -top - 1.0
            f = 0.0
            fp = 0.0
            fpp = 0.0
            for a in range(n):
                if b[a] == -math.inf:
                    continue
                lx = _log_x(b[a], u[a], s)
                h = u[a] / (1.0 + u[a])
                lw = math.log(w[a]) if w[a] >= _NORMAL else logpi[a] - c
                if w[a] >= _NORMAL and u[a] < _TINY_U:
                    # x - 1 = expm1(b) - e^b (1 - e^-u), to O(u^2)
                    f += math.copysign(math.exp(lw + _log_abs_expm1(b[a]) + sc), b[a])
                    f -= math.exp(lw + b[a] + s + lx + sc)
                    wxh = math.exp(lw + lx + s + lx + sc) / (1.0 + u[a])
                else:  # w (x - 1) e^sc = +-exp(log w + log|expm1(log x)| + sc)
                    f += math.copysign(math.exp(lw + _log_abs_expm1(lx) + sc), lx)
                    wxh = math.exp(lw + lx + sc) * h
                fp -= wxh
                fpp += wxh * (h - 1.0 / (1.0 + u[a]) ** 2)
        elif precise:
            x_sum = 0.0  # sum w x - 1, x = exp(b - u) = pi_{t+1}/pi_t
            d1 = 0.0
            d2 = 0.0
            for a in range(n):
                if b[a] == -math.inf:
                    continue
                lx = _log_x(b[a], u[a], s)
                if w[a] > 0.0:
                    em = math.expm1(lx)
                    wx = w[a] * (1.0 + em)
                    x_sum += w[a] * em
                else:  # underflowed weight: w (x - 1) = w x to double precision
                    wx = math.exp(logpi[a] - c + lx)
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
            return s, it, fallbacks
        if math.isnan(f):
            # Only an overflow far from the root gets here (s_sum = inf at the top
            # of the bracket): F > 0 there in the decreasing case, < 0 otherwise.
            f = -dirn * math.inf
        if dirn * f < 0.0:
            lo = s
        else:
            hi = s
        s_new, new_step, new_tol, fallback = _safeguarded_step(
            s, f, fp, fpp, lo, hi, step_old, _HALLEY_TOL
        )
        fallbacks += fallback
        step_old = step
        step = new_step
        tol = new_tol
        s = s_new
    return s, -1, fallbacks


@njit(cache=True, error_model="numpy")
def _log_ratio(b, u, s, k):
    """log x = log(omega(s + b)) - k of one action: for u <= 1, log u = s + b - u
    exactly (omega + log omega = y): no log, no cancellation, and correct even where
    u underflows to 0."""
    return (s - k) + b - u if u <= 1.0 else math.log(u) - k


@njit(cache=True, error_model="numpy")
def _finish(logpi, c, b, u, s, alpha, gamma, out):
    """out = log pi_t + log x with x = omega(s + b) / exp(alpha s + gamma)."""
    k = alpha * s + gamma
    for a in range(logpi.size):
        if logpi[a] == -math.inf:
            out[a] = -math.inf
        else:
            out[a] = logpi[a] - c + _log_ratio(b[a], u[a], s, k)


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
def _log_expm1mx(b, shift):
    """``log(e^b - 1 - b) - shift`` for ``b != 0``, without overflow or cancellation."""
    if abs(b) < 1e-3:
        # e^b - 1 - b = b^2/2 (1 + b/3 + b^2/12 + b^3/60), error < 1e-16 relative.
        series = 1.0 + b * (1.0 / 3.0 + b * (1.0 / 12.0 + b / 60.0))
        return math.log(0.5 * b * b * series) - shift
    if b > 30.0:
        # e^b (1 - (1 + b) e^-b): the shift is taken off b first (b ~ shift is huge).
        return (b - shift) + math.log1p(-(1.0 + b) * math.exp(-b))
    return math.log(math.expm1(b) - b) - shift


@njit(cache=True, error_model="numpy")
def _mean_bracket(logpi, c, b, m2):
    """A bracket ``[lo, hi]`` of ``ell = log lam`` for PMD-mean (b centred, not constant).

    Upper: ``omega(ell + b) <= omega(ell + b_top)`` and ``omega(log z + z) = z`` give
    ``F(log b_top) <= 0``, so ``lam <= b_top``. Lower: ``W0(z) >= z/(1+z)`` gives
    ``E omega(ell + b) >= lam E[e^b] / (1 + lam e^b_top)``, and with ``M = E[e^b] - 1
    = E[e^b - 1 - b] > 0`` (``E b = 0``) this exceeds ``lam`` for every ``lam < M e^-b_top``:
    ``lam >= M e^-b_top``, evaluated in log space (``M e^-b_top`` never overflows). The
    bound is tight where one action holds nearly all the mass (lam -> M e^-b_top), and
    there float64 may not resolve the root: its b_top rounds to 0 and the root finder
    ends on this end (it ended a factor 2 low with the bound ``M e^-b_top / 2``).
    Both ends are widened so that rounding cannot exclude the root (1e-9 relative; 1e-12 on
    the tight end ``M e^-b_top``, where the root may sit on the end itself).
    ``m2 = E b^2`` gives a cheaper lower end first: ``e^b - 1 - b >= b^2/2 min(1, e^b)``
    (Taylor's remainder), so ``M >= m2/2 min(1, e^b_min)``; it is used when it is
    already tight (within 40 of ``hi``), which saves an exp and a log per action.
    """
    n = logpi.size
    b_top = -math.inf
    b_min = math.inf
    for a in range(n):
        if b[a] > b_top:
            b_top = b[a]
        if -math.inf < b[a] < b_min:
            b_min = b[a]
    if b_top > 0.0:
        hi = math.log(b_top)
    else:
        # b_top = (r_top - rbar)/tau <= (1 - w_top) (b_top - b_min): the same bound in
        # log space, which survives where b_top rounds to 0 (other weights underflow).
        m = -math.inf
        for a in range(n):
            if -math.inf < b[a] < b_top:
                m = max(m, logpi[a] - c)
        acc = 0.0
        for a in range(n):
            if -math.inf < b[a] < b_top:
                acc += math.exp(logpi[a] - c - m)
        hi = m + math.log(acc) + math.log(b_top - b_min)
    if 0.0 < m2 < math.inf:
        lo = math.log(0.5 * m2) + min(0.0, b_min) - b_top
        if hi - lo < 40.0:
            return lo - 1e-9 * (1.0 + abs(lo)), hi + 1e-9 * (1.0 + abs(hi))
    # log(M e^-b_top) = logsumexp_a(log w_a + log(e^b_a - 1 - b_a) - b_top)
    m = -math.inf
    for a in range(n):
        if b[a] > -math.inf and b[a] != 0.0:
            m = max(m, logpi[a] - c + _log_expm1mx(b[a], b_top))
    acc = 0.0
    for a in range(n):
        if b[a] > -math.inf and b[a] != 0.0:
            acc += math.exp(logpi[a] - c + _log_expm1mx(b[a], b_top) - m)
    lo = m + math.log(acc)
    # (a narrower slack than 1e-9: where the bound is tight the root finder may end on it,
    # and 1e-12 |lo| still covers the rounding of lo, a few ulps of its terms)
    return lo - 1e-12 * (1.0 + abs(lo)), hi + 1e-9 * (1.0 + abs(hi))


@njit(cache=True, error_model="numpy")
def _mean_row(logpi, r, tau, out):
    """PMD-mean (THEORY §4) for one row; writes log pi_{t+1} into ``out``, returns lam.

    Returns NaN if the root finder did not converge, or if its answer does not sum to 1
    within 1e-9 (the caller raises).
    """
    n = logpi.size
    lx = np.empty(n)  # not ``out``: callers may pass out = logpi (an update in place)
    lam, c = _mean_ratio(logpi, r, tau, lx, np.empty(n), np.empty(n), np.zeros(n))
    for a in range(n):
        out[a] = logpi[a] - c + lx[a] if logpi[a] > -math.inf else -math.inf
    if not abs(_lse_row(out)) <= _SUM_LOG_TOL:
        # Weights that all underflow but one (log-probabilities below -745) leave E b^2 = 0
        # and a root the search cannot place (10 of 9,000 such rows of 3 actions summed
        # to e^2400 .. e^3900): refuse it rather than return it.
        return math.nan
    return lam


@njit(cache=True, error_model="numpy")
def _mean_ratio(logpi, r, tau, lx, w, b, u):
    """PMD-mean's log-ratios ``lx = log(pi_{t+1}/pi_t)`` of one row (0 where r is
    constant, unset off the support); ``w, b, u`` are work arrays of the row's size,
    ``u`` zero. Returns ``(lam, c)``, ``c = logsumexp(logpi)``; lam is NaN where the
    root finder did not converge (the caller raises).
    """
    c = _weights(logpi, w)
    return _mean_ratio_weighted(logpi, c, r, tau, lx, w, b, u), c


@njit(cache=True, error_model="numpy")
def _mean_ratio_weighted(logpi, c, r, tau, lx, w, b, u):
    """:func:`_mean_ratio` given ``c = logsumexp(logpi)`` and ``w = exp(logpi - c)``
    (the fast path has both without an exp); returns lam."""
    n = logpi.size
    _, constant = _centre_weighted(logpi, r, tau, w, b)
    if constant:
        for a in range(n):
            lx[a] = 0.0
        return 0.0
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
            if b[a] > -math.inf:  # off the support 0 * inf would be NaN if lam underflows
                lx[a] = b[a] - small_b * (1.0 + b[a])
        return small_b
    lo, hi = _mean_bracket(logpi, c, b, m2)
    # Start: the series for small b, lam ~ E[b+] for large b; the smaller is close
    # to the root in both regimes (m2, m3 may overflow for tiny tau: then bisect).
    lam0 = min(small_b if small_b > 0.0 else 0.5 * m2, pos_b)
    ell0 = math.log(lam0) if lam0 > 0.0 and math.isfinite(lam0) else 0.5 * (lo + hi)
    ell, its, _ = _omega_root(w, logpi, c, b, 1.0, 0.0, ell0, lo, hi, u)
    if its < 0:
        return math.nan
    for a in range(n):
        if b[a] > -math.inf:
            lx[a] = _log_ratio(b[a], u[a], ell, ell)
    return math.exp(ell)


@njit(cache=True, error_model="numpy")
def _kl_chi2_row(logpi, r, tau, beta, out):
    """Maximiser of E r - tau KL - beta/2 chi2 (THEORY §5) for one row.

    Returns False if the root finder did not converge (the caller raises).
    """
    its, _ = _kl_chi2_solve(logpi, r, tau, beta, out)
    return its >= 0


@njit(cache=True, error_model="numpy")
def _kl_chi2_solve(logpi, r, tau, beta, out):
    """The KL-chi2 row; returns the root finder's ``(iterations, fallbacks)``."""
    if beta == 0.0:
        _exact_row(logpi, r, tau, out)
        return 0, 0
    w, b, u, c, constant = _prepare(logpi, r, tau, out)
    if constant:
        return 0, 0
    n = logpi.size
    # x = omega(s + d)/kappa with kappa = beta/tau, s fixed by E_w[omega(s + d)] = kappa.
    # d = (r - rmax)/tau instead of the centred b: the best action's argument is s
    # itself, not a cancellation s + b of two large numbers (tiny tau).
    log_kappa = math.log(beta) - math.log(tau)
    kappa = math.exp(log_kappa)
    rmax = -math.inf
    b_top = -math.inf
    log_w_top = -math.inf  # log of the total weight of the best actions
    for a in range(n):
        if b[a] > -math.inf:
            rmax = max(rmax, r[a])
            b_top = max(b_top, b[a])
    for a in range(n):
        b[a] = (r[a] - rmax) / tau if b[a] > -math.inf else -math.inf
        out[a] = (logpi[a] - c) + b[a]
        if b[a] == 0.0:
            lw = logpi[a] - c
            hi_lw = max(log_w_top, lw)
            log_w_top = hi_lw + math.log1p(math.exp(min(log_w_top, lw) - hi_lw))
    # Bracket: omega(y) <= e^y gives s >= log kappa - log E e^d; omega convex
    # (Jensen, E b = 0) gives omega(s - b_top) <= kappa, i.e. s <= kappa + log kappa + b_top;
    # x_top <= 1/w_top gives omega(s) <= kappa / w_top, i.e. s <= z + log z, z = kappa/w_top.
    lo = log_kappa - _lse_row(out)
    hi = kappa + log_kappa + b_top
    log_z = log_kappa - log_w_top
    if log_z < 700.0:
        hi = min(hi, math.exp(log_z) + log_z)
    lo -= 1e-9 * (1.0 + abs(lo))
    hi += 1e-9 * (1.0 + abs(hi))
    s, its, fallbacks = _omega_root(
        w, logpi, c, b, 0.0, log_kappa, lo if kappa < 1.0 else hi, lo, hi, u
    )
    if its >= 0 and abs(s) > _POLISH_S:
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
        s, its2, fallbacks2 = _omega_root(
            w, logpi, c, b, 0.0, log_kappa, s + shift, lo + shift, hi + shift, u
        )
        its = its + its2 if its2 >= 0 else -1
        fallbacks += fallbacks2
    if its < 0:
        return -1, fallbacks
    _finish(logpi, c, b, u, s, 0.0, log_kappa, out)
    if not abs(_lse_row(out)) <= _SUM_LOG_TOL:
        # A root that float64 cannot resolve (s + d a difference of numbers ~1/tau
        # apart by more than s's ulp, tau ~ 1e-60): refuse it rather than return it.
        return -1, fallbacks
    return its, fallbacks


@njit(cache=True, parallel=True, error_model="numpy")
def _log_partition_batch(logpi, r, tau, out):
    for i in prange(logpi.shape[0]):
        out[i] = _log_partition_row(logpi[i], r[i], tau[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _mean_batch(logpi, r, tau, out, lam):
    for i in prange(logpi.shape[0]):
        lam[i] = _mean_row(logpi[i], r[i], tau[i], out[i])


@njit(cache=True, parallel=True, error_model="numpy")
def _kl_chi2_batch(logpi, r, tau, beta, out, ok):
    for i in prange(logpi.shape[0]):
        ok[i] = _kl_chi2_row(logpi[i], r[i], tau[i], beta[i], out[i])
