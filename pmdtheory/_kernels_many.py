"""PMD-mean on probabilities for rows with many distinct rewards: the vectorised path.

The same safeguarded Halley iteration on ``s = log lam`` as the log-space kernel
(:func:`pmdtheory._kernels._omega_root`, THEORY §4), on float64 probability rows in
the ordinary regime, with every per-action loop branch-free so that LLVM runs it 8
actions per AVX-512 instruction (:mod:`pmdtheory._vecmath`):

- ``u_a = omega(s + b_a)`` starts from a guess and a Fritsch step (``_start``); after
  a Halley step it follows ``s`` by a second-order Taylor predictor and one or two
  Fritsch steps (``_follow``), or, once it is exact and the step is below 1e-3, by a
  Newton step whose residual needs no log (``_follow_exact``);
- the residual ``F(s) = log(sum_a w_a u_a) - s`` and its two derivatives are sums
  over ``u`` and ``q = 1/(1 + u)``;
- the new policy is ``p_a u_a / (lam sum(p))``: no log or exp per action.

A typical row takes three centring passes, three omega passes (a start, a follow and a
log-free one, which also writes the output) and two passes of sums. A row outside the ordinary
regime is handed back (status ``GENERAL``) and the careful log-space kernel solves it:
a probability below 1e-290, a multiplier below 1e-3 (large tau, where the residual
needs expm1), ``s + b`` below -700 or above 1e6 (tiny tau), or no convergence within
``_MAXIT`` steps.
"""

from __future__ import annotations

import math
import struct

from numba import njit

from ._kernels import _HALLEY_TOL, _NEWTON_TOL, _PRECISE_LAM, _ULPS, _safeguarded_step
from ._vecmath import _bits, _float, _vfsc, _vomega_guess

DONE, GENERAL = 0, 2
_MAXIT = 40
_MIN_P = 1e-290  # positive probabilities below this: the log path
_MIN_Y = -700.0  # omega(s + b) and the new probabilities stay far from underflow
_MAX_Y = 1e6  # the guess of _vomega holds up to here
_LOG_PRECISE = math.log(_PRECISE_LAM)
_CHEAP_STEP = 1e-3  # steps of s below this follow u without a log (_follow_exact)
_ONE_FSC_STEP = 0.1  # after a step below this, one Fritsch step follows u; two up to
_FAR_STEP = 0.5  # this; after a larger step u starts afresh
_MAGNITUDE = 0x7FFFFFFFFFFFFFFF  # all bits but the sign


def _py_key(x: float) -> int:
    """:func:`_key` in Python, for the constants below."""
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits ^ ((bits >> 63) & _MAGNITUDE)


_KEY_NEG_INF = _py_key(-math.inf)
_KEY_POS_INF = _py_key(math.inf)


@njit(inline="always", error_model="numpy")
def _key(x):
    """An int64 ordered as the float64 ``x`` (not NaN): the sign-magnitude bits made
    two's complement. Integer max and min vectorise where float ones do not."""
    bits = _bits(x)
    return bits ^ ((bits >> 63) & _MAGNITUDE)


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _offset_mean(p, r, r0):
    """``sum p (r - r0)``, reassociated so that the loop vectorises (its order is fixed
    by the row length, so a row gets the same bits alone or in a batch), and whether a
    positive ``p`` is below ``_MIN_P``."""
    acc = 0.0
    tiny = False
    for a in range(p.size):
        acc += p[a] * (r[a] - r0)
        tiny |= (p[a] > 0.0) & (p[a] < _MIN_P)
    return acc, tiny


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _scale(p, r, r0, shift, tau, b):
    """``b = (r - r0 - shift) / tau`` on the support, 0 off it; returns ``sum p b``."""
    acc = 0.0
    for a in range(p.size):
        bb = (r[a] - r0 - shift) / tau if p[a] > 0.0 else 0.0
        b[a] = bb
        acc += p[a] * bb
    return acc


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _recentre(p, b, mean_b):
    """``b -= mean_b``; returns ``sum p b^2``, ``sum p b^2 [b > 0]``, ``sum p b^3``,
    ``sum p b+`` (reassociated, as :func:`_offset_mean`) and the order keys (:func:`_key`) of
    the largest and smallest ``b`` on the support."""
    m2 = 0.0
    m2_pos = 0.0
    m3 = 0.0
    m4 = 0.0
    pos_b = 0.0
    top = _KEY_NEG_INF
    bottom = _KEY_POS_INF
    for a in range(p.size):
        bb = b[a] - mean_b
        b[a] = bb
        wb = p[a] * bb
        wb2 = wb * bb
        m2 += wb2
        m2_pos += wb2 if bb > 0.0 else 0.0
        m3 += wb2 * bb
        m4 += wb2 * bb * bb
        pos_b += wb if wb > 0.0 else 0.0
        key = _key(bb)
        on = p[a] > 0.0
        top = max(top, key if on else _KEY_NEG_INF)  # a constant: the loop vectorises
        bottom = min(bottom, key if on else _KEY_POS_INF)
    return m2, m2_pos, m3, m4, pos_b, top, bottom


@njit(cache=True, error_model="numpy", inline="always")
def _centre(p, r, inv, tau, r0, b):
    """``b = (r - rbar) / tau`` on the support (0 off it), centred so that
    ``E_w b = 0`` to rounding, as :func:`pmdtheory._kernels._centre_weighted` does;
    ``r0``, a reward on the support, is subtracted first (rbar is then exact to the
    spread of r, not its size). Three passes, each vectorised.

    Returns ``(m2, m2_pos, m3, m4, pos_b, b_top, b_min, tiny)``: ``E b^k``,
    ``E[b^2; b > 0]``, ``E b+``, the extremes of ``b`` on the support, and whether a
    positive probability is below ``_MIN_P`` (then nothing else is computed).
    """
    shift, tiny = _offset_mean(p, r, r0)
    if tiny:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, True
    shift *= inv
    mean_b = _scale(p, r, r0, shift, tau, b) * inv
    m2, m2_pos, m3, m4, pos_b, top, bottom = _recentre(p, b, mean_b)
    b_top = _float(top ^ ((top >> 63) & _MAGNITUDE))
    b_min = _float(bottom ^ ((bottom >> 63) & _MAGNITUDE))
    return m2 * inv, m2_pos * inv, m3 * inv, m4 * inv, pos_b * inv, b_top, b_min, False


@njit(cache=True, error_model="numpy", inline="always")
def _start(b, s, u, q):
    """``u = omega(s + b)`` from scratch, ``q = 1/(1 + u)``: a guess within 6% and a
    Fritsch step, within 1e-6 relative (measured: 2e-7)."""
    for a in range(b.size):
        y = s + b[a]
        w = _vfsc(y, _vomega_guess(y))
        u[a] = w
        q[a] = 1.0 / (1.0 + w)


@njit(cache=True, error_model="numpy", inline="always")
def _follow(b, s, step, u, q, steps):
    """``u`` at ``s`` from ``u`` at ``s - step``: the Taylor predictor
    ``u + step u' + step^2 u''/2`` (``u' = u q``, ``u'' = u q^3``, error ~step^3/6),
    then ``steps`` Fritsch steps, which keep their accuracy at every ``y``
    (:func:`pmdtheory._vecmath._vfsc`)."""
    for a in range(b.size):
        uu = u[a]
        qq = q[a]
        y = s + b[a]
        w = uu + step * uu * qq * (1.0 + 0.5 * step * qq * qq)
        w = _vfsc(y, w)
        if steps > 1:
            w = _vfsc(y, w)
        u[a] = w
        q[a] = 1.0 / (1.0 + w)


@njit(cache=True, error_model="numpy", inline="always")
def _follow_exact(step, u, q, p, out, scale):
    """``u`` at ``s`` from the exact ``u`` at ``s - step``, ``|step| <= _CHEAP_STEP``:
    no log and no division. Where ``out`` is not empty (the solver's last pass) it
    also writes the new policy ``out = p u scale``, saving a pass.

    The predictor ``g = u (1 + d)``, ``d = step q (1 + step q^2 / 2)``, then a Newton
    step on ``w + log w = y``. Its residual ``y - g - log g`` is ``step - u d -
    log1p(d)``, since ``log u = y - step - u`` (u is exact): a short series and no
    cancellation, for every y. ``1/(1 + g)`` and the new ``q`` are expanded about
    ``q`` (to 1e-9 relative: q only feeds derivatives and the next predictor). Newton
    squares the predictor's error (below 2e-10): the result is exact.
    """
    for a in range(u.size):
        uu = u[a]
        qq = q[a]
        d = step * qq * (1.0 + 0.5 * step * qq * qq)
        log1p_d = d * (1.0 - d * (0.5 - d * (1.0 / 3.0 - d * (0.25 - d * 0.2))))
        z = step - uu * d - log1p_d
        g = uu + uu * d
        e = uu * d * qq  # 1 + g = (1 + u)(1 + e)
        qg = qq * (1.0 - e * (1.0 - e))
        dw = g * z * qg
        w = g + dw
        u[a] = w
        q[a] = qg * (1.0 - dw * qg)
        if out.size:
            out[a] = p[a] * (w * scale)


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _sums(p, u, q):
    """``sum p u``, ``sum p u q``, ``sum p u^2 q``, ``sum p u q^3`` (positive terms,
    reassociated as :func:`_offset_mean`)."""
    s_sum = 0.0
    t_sum = 0.0
    v_sum = 0.0
    r_sum = 0.0
    for a in range(p.size):
        pu = p[a] * u[a]
        h = pu * q[a]
        s_sum += pu
        t_sum += h
        v_sum += h * u[a]
        r_sum += h * q[a] * q[a]
    return s_sum, t_sum, v_sum, r_sum


@njit(cache=True, error_model="numpy")
def _lam_start(m2, m3, m4, pos_b):
    """The first guess of lam from the centred moments ``E b^k`` and ``E b+``.

    For small b, lam's series ``m2/2 + m3/6 + (m4 - 15 m2^2)/24 + O(b^5)`` (expand
    ``log x + lam x = b`` with ``E x = 1``; THEORY §4), its fourth-order term only
    while it is a small correction (beyond, b is not small and it misleads); for
    large b, ``E b+`` (lam ~ the mean positive excess). The smaller of the two is
    close in both regimes."""
    small_b = 0.5 * m2 + m3 / 6.0
    fourth = (m4 - 15.0 * m2 * m2) / 24.0
    if abs(fourth) < 0.25 * small_b:
        small_b += fourth
    return min(small_b if small_b > 0.0 else 0.5 * m2, pos_b)


@njit(cache=True, error_model="numpy")
def _many_solve(p, r, tau, total, r0, b, u, q, out):
    """PMD-mean of one valid row (``total = sum(p)``, rewards not constant on the
    support, ``r0`` one of them; ``p`` need not sum to 1: class masses do not).
    Returns ``(status, lam)``: DONE with ``u = omega(log lam + b)``, so that
    ``x = u / lam``, and, if ``out`` is not empty, the new policy
    ``out = p x / sum(p)``; or GENERAL. ``b, u, q`` are work arrays of the row's size."""
    inv = 1.0 / total
    m2, m2_pos, m3, m4, pos_b, b_top, b_min, tiny = _centre(p, r, inv, tau, r0, b)
    if tiny or not (b_top > 0.0 and m2_pos > 0.0 and m2 < math.inf and abs(m3) < math.inf):
        return GENERAL, 0.0
    # The bracket of _mean_bracket: lam <= b_top, and lam >= M e^-b_top / 2 with
    # M = E[e^b - 1 - b] >= E[b^2/2; b > 0] (each term >= 0, and >= b^2/2 for b >= 0).
    hi = math.log(b_top)
    lo = math.log(0.25 * m2_pos) - b_top
    if hi < _LOG_PRECISE:
        return GENERAL, 0.0
    lo -= 1e-9 * (1.0 + abs(lo))  # a root below _LOG_PRECISE is found out by the loop
    hi += 1e-9 * (1.0 + abs(hi))
    lam0 = _lam_start(m2, m3, m4, pos_b)
    s = math.log(lam0) if lam0 > 0.0 else 0.5 * (lo + hi)
    s = min(max(s, lo), hi)
    step = math.inf
    step_old = math.inf
    tol = _NEWTON_TOL
    exact = False  # u is omega(s + b) to rounding (not just the first guess)
    for _ in range(_MAXIT):
        if not (s + b_min >= _MIN_Y and s + b_top <= _MAX_Y and s >= _LOG_PRECISE):
            return GENERAL, 0.0
        # decided before the pass (it does not read u): the last pass writes the output
        done = abs(step) <= max(tol, _ULPS * abs(s)) or hi - lo <= _ULPS * max(abs(lo), abs(hi))
        if exact and abs(step) <= _CHEAP_STEP:
            lam = math.exp(s) if done else 1.0
            _follow_exact(step, u, q, p, out if done else out[:0], inv / lam)
            if done:
                return DONE, lam
        elif abs(step) <= _FAR_STEP:
            # the predictor's error (~step^3/6, plus the start's 2e-7) is below 2e-4
            # after a step below _ONE_FSC_STEP, below 2e-2 after one below _FAR_STEP:
            # one quartic Fritsch step, or two, reach rounding (measured: 1.5 ulps)
            _follow(b, s, step, u, q, 1 if abs(step) <= _ONE_FSC_STEP else 2)
            exact = True
            if done:  # only where the bracket has closed: rare
                lam = math.exp(s)
                for a in range(out.size):
                    out[a] = p[a] * (u[a] * (inv / lam))  # p x / sum(p), x = u / lam
                return DONE, lam
        else:
            _start(b, s, u, q)
            exact = False
        s_sum, t_sum, v_sum, r_sum = _sums(p, u, q)
        f = math.log(s_sum * inv) - s
        fp = -v_sum / s_sum
        fpp = r_sum / s_sum - (t_sum / s_sum) ** 2
        if not math.isfinite(f):
            return GENERAL, 0.0
        if f == 0.0 and exact:
            step = 0.0
            continue  # the output above, at this s
        if f > 0.0:  # F decreases in s: the root is above
            lo = s
        else:
            hi = s
        # a step from the first guess of u proves nothing about the distance left
        s_new, new_step, new_tol, _ = _safeguarded_step(
            s, f, fp, fpp, lo, hi, step_old, _HALLEY_TOL if exact else 0.0
        )
        step_old = step
        step = new_step
        tol = new_tol
        s = s_new
    return GENERAL, 0.0
