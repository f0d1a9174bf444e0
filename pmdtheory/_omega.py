"""Private Numba kernels of :mod:`pmdtheory.special`: Wright omega, Lambert W0, log-sum-exp.

Scalar functions, shared with the update kernels of :mod:`pmdtheory._kernels`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Lambert-W series  W(x) = sum_n (-n)^(n-1)/n! x^n, used for omega(y) = W(e^y) at
# y < _OMEGA_SERIES_Y: there x = e^y < 2.5e-3 and ten terms reach 1e-19 relative.
_W_SERIES = np.array([(-n) ** (n - 1) / math.factorial(n) for n in range(1, 11)])
_OMEGA_SERIES_Y = -6.0
_W_SMALL_Z = math.exp(_OMEGA_SERIES_Y)
# Below this, omega(y) = e^y (1 - e^y + ...) equals e^y to double precision.
_OMEGA_EXP_Y = -40.0
# Above this, omega(y) = y - log(omega(y)) is iterated as a contraction (factor
# 1/omega < 1e-11 per step): Fritsch's step squares omega and overflows past 1e154.
_OMEGA_BIG_Y = 1e12
# Fritsch's iteration is quartic: once a step changes w by less than this
# (relative), the next error is ~1e-16 and the iteration stops.
_FSC_STOP = 1e-4


@njit(cache=True, error_model="numpy")
def _w_series(x):
    """W0(x) for |x| < e^-6 by Horner on its Taylor series (ten terms, 1e-19 relative)."""
    acc = 0.0
    for k in range(_W_SERIES.size - 1, -1, -1):
        acc = acc * x + _W_SERIES[k]
    return acc * x


@njit(cache=True, error_model="numpy")
def _fsc_step(y, w):
    """One Fritsch-Shafer-Crowley step for ``w + log w = y``; returns the new w."""
    z = y - w - math.log(w)
    wp1 = w + 1.0
    t = 2.0 * wp1 * (wp1 + 2.0 * z / 3.0)
    return w * (1.0 + z / wp1 * (t - z) / (t - 2.0 * z))


@njit(cache=True, error_model="numpy")
def _omega_refine(y, w):
    """Polish a positive guess ``w`` of omega(y) to double precision."""
    for _ in range(8):
        w_new = _fsc_step(y, w)
        done = abs(w_new - w) <= _FSC_STOP * w
        w = w_new
        if done:
            break
    return w


@njit(cache=True, error_model="numpy")
def _omega_scalar(y):
    """Real Wright omega: the solution w > 0 of ``w + log w = y``."""
    if math.isnan(y):
        return math.nan
    if y == math.inf:
        return math.inf
    if y > _OMEGA_BIG_Y:
        # Asymptotic regime: w = y - log w, started from y - log y (error ~log(y)/y,
        # shrunk by 1/w each pass; two passes reach rounding).
        w = y - math.log(y)
        for _ in range(3):
            w = y - math.log(w)
        return w
    if y < _OMEGA_SERIES_Y:
        x = math.exp(y)
        if y < _OMEGA_EXP_Y:
            return x
        # The Lambert-W series: iterating on w + log w = y here would lose |y|
        # ulps to the cancellation y - log w.
        return _w_series(x)
    if y <= -2.0:
        x = math.exp(y)
        w = x * (1.0 - x * (1.0 - 1.5 * x))
    elif y <= 1.0:
        # Taylor series of omega about y = 1, where omega = 1.
        d = y - 1.0
        w = 1.0 + d * (0.5 + d * (1.0 / 16.0 + d * (-1.0 / 192.0 + d * (-1.0 / 3072.0))))
    else:
        # Asymptotic expansion w ~ y - log y + log(y) / y for large y.
        ly = math.log(y)
        w = y - ly + ly / y
        if w <= 0.0:
            w = 1.0
    return _omega_refine(y, w)


@njit(cache=True, error_model="numpy")
def _lambertw0_scalar(z):
    """Principal branch W0(z) for z >= -1/e (the caller clamps z to the branch point)."""
    if abs(z) < _W_SMALL_Z:
        return _w_series(z)  # going through omega(log z) would cost |log z| ulps
    if z > 0.0:
        # W0(z) = omega(log z) is exact in log space and never overflows.
        return _omega_scalar(math.log(z))
    # -1/e <= z < 0: branch-point series in p = sqrt(2(e z + 1)), then Halley.
    p2 = 2.0 * (math.e * z + 1.0)
    p = math.sqrt(max(p2, 0.0))
    w = -1.0 + p * (1.0 + p * (-1.0 / 3.0 + p * (11.0 / 72.0 + p * (-43.0 / 540.0))))
    if p < 1e-3:
        return w
    if z > -0.25:
        w = z * (1.0 - z * (1.0 - 1.5 * z))
    for _ in range(30):
        ew = math.exp(w)
        f = w * ew - z
        wp1 = w + 1.0
        step = f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
        w -= step
        if abs(step) <= 1e-16 * max(1.0, abs(w)):
            break
    return w


@njit(cache=True, parallel=True, error_model="numpy")
def _special_batch(x, out, lambert):
    """Elementwise Wright omega (``lambert=False``) or W0 (``lambert=True``) of ``x``."""
    for i in prange(x.size):
        out[i] = _lambertw0_scalar(x[i]) if lambert else _omega_scalar(x[i])


@njit(cache=True, error_model="numpy")
def _lse_row(x):
    """log(sum(exp(x))), shifted by the maximum; -inf entries contribute nothing."""
    m = -math.inf
    for v in x:
        if v > m:
            m = v
    if m == -math.inf or m == math.inf:
        return m
    s = 0.0
    for v in x:
        s += math.exp(v - m)
    return m + math.log(s)
