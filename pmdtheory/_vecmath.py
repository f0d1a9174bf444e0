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

from ._omega import _W_SERIES

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
def _vlog(x):
    """``log(x)`` for normal positive finite ``x`` (VLOG_MIN <= x < inf), within 1 ulp.

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
    return ((dk * _LN2_LO + s * (hfsq + z * p)) - hfsq + f) + dk * _LN2_HI


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
    :func:`pmdtheory._omega._fsc_step` with :func:`_vlog`."""
    z = y - w - _vlog(w)
    wp1 = w + 1.0
    t = 2.0 * wp1 * (wp1 + 2.0 * z / 3.0)
    return w * (1.0 + z * (t - z) / (wp1 * (t - 2.0 * z)))


@njit(inline="always", error_model="numpy")
def _vomega_series(y):
    """``omega(y) = W(e^y)`` by the Lambert-W series, for ``-VEXP_MAX <= y <= -6``
    (as :func:`pmdtheory._omega._w_series`: ten terms, 1e-19 relative)."""
    x = _vexp(y)
    acc = 0.0
    for j in range(_W_SERIES.size - 1, -1, -1):
        acc = acc * x + _W_SERIES[j]
    return acc * x


@njit(inline="always", error_model="numpy")
def _vomega_guess(y):
    """A guess of Wright omega within 3% for ``-VEXP_MAX <= y <= 1e6``, branch-free:
    those of :func:`pmdtheory._omega._omega_scalar` (a series in ``e^y`` below -2,
    Taylor about 1 up to 1, ``y - log y + log y / y`` above), all computed, one kept."""
    x = _vexp(min(y, 0.0))
    low = x * (1.0 - x * (1.0 - 1.5 * x))
    d = y - 1.0
    mid = 1.0 + d * (0.5 + d * (1.0 / 16.0 + d * (-1.0 / 192.0 + d * (-1.0 / 3072.0))))
    yy = max(y, 1.0)
    ly = _vlog(yy)
    high = yy - ly * (1.0 - 1.0 / yy)
    return low if y <= -2.0 else (mid if y <= 1.0 else high)


@njit(inline="always", error_model="numpy")
def _vomega(y):
    """Wright omega for ``-VEXP_MAX <= y <= 1e6``, within a few ulps, branch-free:
    :func:`_vomega_guess` and two quartic Fritsch steps; below -6 the Lambert-W
    series, where ``y - log w`` would cancel."""
    w = _vfsc(y, _vfsc(y, _vomega_guess(y)))
    return _vomega_series(min(max(y, -VEXP_MAX), -6.0)) if y < -6.0 else w
