"""Argument checks of the simulators: every failure is a ValueError naming the argument.

``real`` and ``integer`` live in :mod:`pmdtheory._validate` (shared with the bridge).

Type errors are ValueErrors too (``run(tau="0.1")`` names ``tau``), so that a
caller can catch one exception type for every bad input.
"""

import numpy as np

from pmdtheory._validate import integer, real

__all__ = ["array", "integer", "real"]


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
