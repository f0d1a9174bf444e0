"""Argument checks of the simulators: every failure is a ValueError naming the argument.

Type errors are ValueErrors too (``run(tau="0.1")`` names ``tau``), so that a
caller can catch one exception type for every bad input.
"""

import numbers

import numpy as np


def real(value, name, *, lo=None, hi=None, lo_open=False, hi_open=False) -> float:
    """``value`` as a finite float within [lo, hi] (open ends on request)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value!r}")
    return v


def integer(value, name, *, lo=None, hi=None) -> int:
    """``value`` as an int within [lo, hi] (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be an integer <= {hi}, got {value!r}")
    return v


def array(value, name, *, ndim, dtype=np.float64) -> np.ndarray:
    """``value`` as a C-ordered array of ``dtype`` with ``ndim`` dimensions."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} must be a numeric array ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got ndim={arr.ndim}")
    return np.ascontiguousarray(arr, dtype=dtype)
