r"""Special functions: the real Wright omega function, Lambert W0, log-sum-exp.

The PMD-mean update (THEORY §4) is written with the Wright omega function

.. math:: \omega(y) + \log \omega(y) = y, \qquad \omega(y) = W_0(e^y),

which, unlike :math:`W_0(\lambda e^b)`, never needs :math:`e^b` (that overflows
for ``tau = 1e-3`` and rewards in [0, 1]).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _omega
from ._validate import float_array

__all__ = ["wright_omega", "lambertw0", "logsumexp"]


def _elementwise(arr: np.ndarray, *, lambert: bool) -> np.ndarray | float:
    flat = np.ascontiguousarray(arr.reshape(-1))
    out = np.empty_like(flat)
    _omega._special_batch(flat, out, lambert)
    out = out.reshape(arr.shape)
    return float(out) if out.ndim == 0 else out


def wright_omega(y: npt.ArrayLike) -> np.ndarray | float:
    r"""Real Wright omega function :math:`\omega(y)`, the root of :math:`w + \log w = y`.

    Parameters
    ----------
    y : array_like of float
        Any real values; ``+inf`` maps to ``inf`` and ``-inf`` to ``0``.

    Returns
    -------
    ndarray or float
        :math:`\omega(y) > 0`, with the shape of ``y`` (a float for a scalar).

    Notes
    -----
    For ``y < -6`` the Lambert-W series in :math:`x = e^y` is summed (ten terms);
    above ``1e12`` the contraction :math:`w = y - \log w` (asymptotic regime);
    elsewhere a region-wise starting value is polished with the quartic
    Fritsch-Shafer-Crowley iteration. Tested domain: every finite float64 ``y``
    (``-1.8e308`` to ``1.8e308``), within ``4e-15`` relative of mpmath (absolute
    ``4e-315`` where omega is subnormal); ``2e-15`` on ``[-700, 1e6]``
    (tests/test_special.py, tests/test_fuzz.py).

    References
    ----------
    Lawrence, Corless, Jeffrey, "Algorithm 917: Complex double-precision
    evaluation of the Wright omega function", ACM TOMS 38 (2012).

    Examples
    --------
    >>> wright_omega(1.0), round(wright_omega(0.0), 12), wright_omega(1e300) == 1e300
    (1.0, 0.56714329041, True)
    """
    arr = float_array(y, "y")
    if np.any(np.isnan(arr)):
        raise ValueError("y: must not be NaN")
    return _elementwise(arr, lambert=False)


def lambertw0(z: npt.ArrayLike) -> np.ndarray | float:
    r"""Principal branch :math:`W_0(z)` of the Lambert W function, :math:`W e^W = z`.

    Parameters
    ----------
    z : array_like of float
        Values with ``z >= -1/e``, down to ``-1/e (1 + 8 eps)`` (about 12 ulp below the
        branch point, for rounding in the caller's ``z``), which maps to -1; ``+inf`` maps
        to ``inf``.

    Returns
    -------
    ndarray or float
        :math:`W_0(z) \ge -1`, with the shape of ``z``.

    Notes
    -----
    For ``z > 0`` this is :math:`\omega(\log z)`, which never overflows.
    For ``-1/e \le z < 0`` a series in :math:`p = \sqrt{2(ez + 1)}` starts
    Halley's iteration; near the branch point the function itself is
    ill-conditioned (its derivative is infinite there). Tested domain: ``-1/e`` to
    ``1e308``, within ``1e-14`` relative of mpmath (``1e-7`` absolute within ``1e-3``
    of the branch point).

    Examples
    --------
    >>> import numpy as np
    >>> lambertw0(np.e), lambertw0(-np.exp(-1)), round(lambertw0(1.0), 12)
    (1.0, -1.0, 0.56714329041)
    >>> w = lambertw0([0.0, 10.0])
    >>> w.shape, bool(np.allclose(w * np.exp(w), [0.0, 10.0], rtol=1e-14))
    ((2,), True)
    """
    arr = float_array(z, "z")
    if np.any(np.isnan(arr)):
        raise ValueError("z: must not be NaN")
    branch = -np.exp(-1.0)
    if np.any(arr < branch * (1 + 8 * np.finfo(float).eps)):
        raise ValueError("z: must be >= -1/e for the principal branch W0")
    return _elementwise(np.maximum(arr, branch), lambert=True)


def logsumexp(a: npt.ArrayLike, *, axis: int = -1, keepdims: bool = False) -> np.ndarray | float:
    r"""Stable :math:`\log \sum_i e^{a_i}` along ``axis``.

    ``-inf`` entries contribute nothing; an all ``-inf`` slice gives ``-inf``.
    NaN or ``+inf``, an empty axis or a 0-d ``a`` raise ``ValueError``. Tested domain:
    entries in ``[-1e300, 1e300]``, within ``1e-14 (n + |result|)`` of mpmath.

    Parameters
    ----------
    a : array_like of float, at least 1-D
        Values, ``-inf`` allowed.
    axis : int, keyword-only
        The axis summed over.
    keepdims : bool, keyword-only
        Keep ``axis`` with length 1.

    Returns
    -------
    ndarray or float
        A float when the result is 0-d.

    Examples
    --------
    >>> round(logsumexp([0.0, 0.0]), 12) == round(float(np.log(2)), 12)
    True
    >>> logsumexp([1000.0, -np.inf]), logsumexp([[0.0], [-np.inf]], axis=0, keepdims=True).shape
    (1000.0, (1, 1))
    """
    arr = float_array(a, "a")
    if arr.ndim == 0:
        raise ValueError("a: must have at least one dimension")
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise ValueError(f"axis: must be an integer, got {axis!r}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis: {axis} is out of range for a of shape {arr.shape}")
    if arr.shape[axis] == 0:
        raise ValueError(f"a: the axis {axis} is empty (shape {arr.shape})")
    if np.any(np.isnan(arr)) or np.any(arr == np.inf):
        raise ValueError("a: must not contain NaN or +inf")
    m = np.max(arr, axis=axis, keepdims=True)
    # Shift by the maximum so the largest term is exp(0) = 1; an all -inf slice
    # would give -inf - -inf = NaN, so shift it by 0 instead.
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(arr - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return float(out) if np.ndim(out) == 0 else out
