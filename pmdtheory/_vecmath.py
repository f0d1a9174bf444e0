"""Branch-free ``log``, ``exp`` and Wright omega for Numba loops that LLVM vectorises.

``math.log`` and ``math.exp`` compile to calls into the C library, one element at a
time (about 4 ns each here); these are plain arithmetic on the float's bits, so a loop
over them runs 8 elements per AVX-512 instruction (about 1 ns per element). Each is
within 1 ulp of the correctly rounded value on its stated domain (tests/test_vecmath.py
checks them against mpmath); outside it they return garbage, not an error: callers
establish the domain first.

The polynomials are plain Taylor series, truncated where the next term is below
1e-17 relative, so their accuracy follows from the reduced argument's range alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # the bits of sqrt(2)/2
_MANTISSA_BITS = 52
_EXP_BIAS = 1023
#: _vexp's domain: k = round(y / ln 2) keeps 2^k a normal float
VEXP_MAX = 708.0
#: _vlog's domain starts at the smallest normal float
VLOG_MIN = 2.2250738585072014e-308
_GUESS_LOW = -1.22  # _vomega_guess: the e^y series up to here, then Taylor about 1
_GUESS_MID = 4.0  # up to here, then the large-y expansion


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64 as an int64 (a bitcast: no instruction at all)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@intrinsic
def _float(typingctx, i):
    """The float64 whose IEEE bits are the int64 ``i``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(inline="always", error_model="numpy")
def _vlog_split(x):
    """``log(x) = head + tail`` for normal positive finite ``x``: ``head = k ln2_hi``
    (exact) and the rest, whose sum :func:`_vlog` returns.

    ``x = 2^k m`` with ``m`` in [sqrt(2)/2, sqrt(2)); with ``f = m - 1`` and
    ``s = f / (2 + f)`` (``|s| <= 0.1716``), ``log m = 2 atanh(s)
    = f - f^2/2 + s (f^2/2 + s^2 P(s^2))``, ``P`` the atanh series: twelve terms leave
    ``s^24 / 25 < 1e-19``. The ``f - f^2/2`` head keeps ``log m`` accurate near m = 1.
    """
    bits = _bits(x)
    k = (bits - _SQRT_HALF_BITS) >> _MANTISSA_BITS
    f = _float(bits - (k << _MANTISSA_BITS)) - 1.0
    s = f / (2.0 + f)
    z = s * s
    p = 2.0 / 25.0
    p = p * z + 2.0 / 23.0
    p = p * z + 2.0 / 21.0
    p = p * z + 2.0 / 19.0
    p = p * z + 2.0 / 17.0
    p = p * z + 2.0 / 15.0
    p = p * z + 2.0 / 13.0
    p = p * z + 2.0 / 11.0
    p = p * z + 2.0 / 9.0
    p = p * z + 2.0 / 7.0
    p = p * z + 2.0 / 5.0
    p = p * z + 2.0 / 3.0
    hfsq = 0.5 * f * f
    dk = float(k)
    return dk * _LN2_HI, (dk * _LN2_LO + s * (hfsq + z * p)) - hfsq + f


@njit(inline="always", error_model="numpy")
def _vlog(x):
    """``log(x)`` for normal positive finite ``x`` (VLOG_MIN <= x < inf), within 1 ulp
    (:func:`_vlog_split`)."""
    head, tail = _vlog_split(x)
    return tail + head


@njit(inline="always", error_model="numpy")
def _vexp(y):
    """``exp(y)`` for ``-VEXP_MAX <= y <= VEXP_MAX``, within 1 ulp.

    ``y = k ln2 + t`` with ``|t| <= ln2 / 2``; ``e^t`` by its Taylor series to ``t^13``
    (the next term is below ``0.347^14 / 14! = 4e-18``), scaled by ``2^k`` built from
    its bits.
    """
    k = math.floor(y * _INV_LN2 + 0.5)
    t = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * t + 1.0 / 479001600.0
    p = p * t + 1.0 / 39916800.0
    p = p * t + 1.0 / 3628800.0
    p = p * t + 1.0 / 362880.0
    p = p * t + 1.0 / 40320.0
    p = p * t + 1.0 / 5040.0
    p = p * t + 1.0 / 720.0
    p = p * t + 1.0 / 120.0
    p = p * t + 1.0 / 24.0
    p = p * t + 1.0 / 6.0
    p = p * t + 0.5
    p = p * t + 1.0
    p = p * t + 1.0
    return p * _float((np.int64(k) + _EXP_BIAS) << _MANTISSA_BITS)


@njit(inline="always", error_model="numpy")
def _vfsc(y, w):
    """One Fritsch-Shafer-Crowley step for ``w + log w = y`` (quartic), as
    :func:`pmdtheory._omega._fsc_step` with :func:`_vlog`.

    The residual ``z = y - w - log w`` is formed as ``((y - k ln2_hi) - tail) - w``
    (:func:`_vlog_split`): for ``y`` far below 0, ``log w`` is close to ``y``, and
    ``y - k ln2_hi`` is then exact (Sterbenz), so ``z`` keeps its absolute accuracy
    of ~1e-16, and ``w`` its relative one, at every ``y``. (``y - log(w)`` rounded
    would lose ~|y| ulps, which the scalar path avoids by the Lambert-W series.)"""
    head, tail = _vlog_split(w)
    z = ((y - head) - tail) - w
    wp1 = w + 1.0
    t = 2.0 * wp1 * (wp1 + 2.0 * z / 3.0)
    return w * (1.0 + z * (t - z) / (wp1 * (t - 2.0 * z)))


@njit(inline="always", error_model="numpy")
def _rough_exp(y):
    """``exp(y)`` within 3.5e-6 relative for ``-VEXP_MAX <= y <= 0``: as
    :func:`_vexp`, with five Taylor terms (``0.347^6 / 6! / e^-0.347 = 3.4e-6``).
    Enough for a guess."""
    k = math.floor(y * _INV_LN2 + 0.5)
    t = y - k * (_LN2_HI + _LN2_LO)
    p = 1.0 + t * (1.0 + t * (0.5 + t * (1.0 / 6.0 + t * (1.0 / 24.0 + t * (1.0 / 120.0)))))
    return p * _float((np.int64(k) + _EXP_BIAS) << _MANTISSA_BITS)


@njit(inline="always", error_model="numpy")
def _rough_log(x):
    """``log(x)`` within 1.2e-3 absolute for normal positive finite ``x``: as
    :func:`_vlog`, with ``log(1 + f)`` by five Taylor terms in ``f = m - 1`` (``|f|
    <= 0.415``: ``0.415^6 / 6 = 8e-4``) and no division. Enough for a guess."""
    bits = _bits(x)
    k = (bits - _SQRT_HALF_BITS) >> _MANTISSA_BITS
    f = _float(bits - (k << _MANTISSA_BITS)) - 1.0
    log1p_f = f * (1.0 - f * (0.5 - f * (1.0 / 3.0 - f * (0.25 - f * 0.2))))
    return float(k) * (_LN2_HI + _LN2_LO) + log1p_f


@njit(inline="always", error_model="numpy")
def _vomega_guess(y):
    """A guess of Wright omega within 6% for ``-VEXP_MAX <= y <= 1e6`` (measured:
    5.6%, at y = -1.22), branch-free: a series in ``e^y`` up to -1.22, Taylor about 1
    up to 4, ``y - log y + log y / y`` above, all computed, one kept. (The switches
    are where neighbouring guesses err alike; :func:`pmdtheory._omega._omega_scalar`
    switches at -2 and 1, where the Taylor guess errs by 47% and 8%.) Its exp and log
    are rough (:func:`_rough_exp`, :func:`_rough_log`), which moves the guess by less
    than 1e-3 and costs a third of theirs."""
    x = _rough_exp(min(y, 0.0))
    low = x * (1.0 - x * (1.0 - 1.5 * x))
    d = y - 1.0
    mid = 1.0 + d * (0.5 + d * (1.0 / 16.0 + d * (-1.0 / 192.0 + d * (-1.0 / 3072.0))))
    yy = max(y, 1.0)
    ly = _rough_log(yy)
    high = yy - ly * (1.0 - 1.0 / yy)
    return low if y <= _GUESS_LOW else (mid if y <= _GUESS_MID else high)


@njit(inline="always", error_model="numpy")
def _vomega(y):
    """Wright omega for ``-VEXP_MAX <= y <= 1e6``, within a few ulps, branch-free:
    :func:`_vomega_guess` and two quartic Fritsch steps (:func:`_vfsc`)."""
    return _vfsc(y, _vfsc(y, _vomega_guess(y)))
