"""Every input check of pmdtheory, in one place.

Public functions convert their inputs once with the helpers below and hand
plain float64, C-ordered arrays to the private kernels, which never validate.
Every failure is a :class:`ValueError` whose message starts with the name of
the offending argument.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

#: Tolerance on ``sum(pi) == 1`` for float64 (and integer) policies (THEORY §1:
#: policies are distributions). Lower-precision policies get :func:`sum_tolerance`.
SUM_RTOL = 1e-8


def float_eps(x) -> float:
    """Machine epsilon of ``x``'s floating dtype if it is coarser than float64, else 0."""
    dtype = getattr(x, "dtype", None)
    try:
        if dtype is not None and np.issubdtype(dtype, np.floating):
            eps = float(np.finfo(dtype).eps)
            return eps if eps > np.finfo(np.float64).eps else 0.0
    except TypeError:  # a dtype numpy does not know (e.g. a torch dtype)
        pass
    return 0.0


def sum_tolerance(n: int, eps: float) -> float:
    """Accepted ``|sum(pi) - 1|`` for ``n`` actions stored with machine epsilon ``eps``.

    ``SUM_RTOL`` for float64; for coarser floats (float32: ``eps = 1.2e-7``) also
    ``(n + 4) eps``: a sum of ``n`` terms rounded once each (``4 eps``, e.g. a
    softmax's exp and division) and summed in that precision (``n eps``, the
    worst case of sequential summation). Such policies are renormalised. ``eps = 0``
    (float64 or finer, see :func:`float_eps`) leaves ``SUM_RTOL``.
    """
    return SUM_RTOL + (n + 4) * eps


def float_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 ndarray; ``ValueError`` naming ``name`` if it is not numeric.

    A float64 ndarray comes back as is, not copied (like ``np.asarray``).
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name}: cannot be converted to a float array ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or arr.dtype == np.bool_
    ):
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def require_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds NaN or +-inf."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite (found NaN or inf)")


@dataclass(frozen=True)
class Rows:
    """Inputs laid out as ``(rows, n)`` C-ordered arrays, and how to undo that."""

    logpi: np.ndarray
    r: np.ndarray | None
    given: np.ndarray  # the policy as the caller gave it (probabilities or logs), as rows
    batch_shape: tuple[int, ...]
    axis: int
    ndim: int

    @property
    def n_rows(self) -> int:
        return self.logpi.shape[0]

    def constant_rows(self) -> np.ndarray:
        """Rows whose rewards are constant on the support (nothing moves there)."""
        support = self.logpi > -np.inf
        hi = np.max(np.where(support, self.r, -np.inf), axis=-1)
        lo = np.min(np.where(support, self.r, np.inf), axis=-1)
        return hi == lo

    def restore(self, out: np.ndarray) -> np.ndarray:
        """``(rows, n)`` -> the caller's shape, the action axis back in place."""
        shaped = out.reshape(self.batch_shape + (out.shape[-1],))
        return np.moveaxis(shaped, -1, self.axis)

    def restore_batch(self, values: np.ndarray) -> np.ndarray | float:
        """``(rows,)`` -> the batch shape (a Python float for a single row)."""
        shaped = values.reshape(self.batch_shape)
        return float(shaped) if shaped.ndim == 0 else shaped


def _normalise_axis(axis, ndim: int) -> int:
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise ValueError(f"axis: must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis: {axis} is out of range for an array of {ndim} dimension(s)")
    return int(axis) % ndim


def log_policy(pi: np.ndarray, name: str, *, log: bool, eps: float = 0.0):
    """Check a (log-)policy along its last axis and return log-probabilities.

    ``pi`` holds probabilities (``log=False``) or log-probabilities
    (``log=True``, where ``-inf`` marks an action outside the support).
    Each row must sum to one within :func:`sum_tolerance` (``eps`` is the machine
    epsilon the caller's policy was stored with, 0 for float64) and have some
    support. Returns ``(logpi, pi)``: with ``eps > 0`` both renormalised in float64.
    """
    if log:
        if np.any(np.isnan(pi)) or np.any(pi == np.inf):
            raise ValueError(f"{name}: log-probabilities must not be NaN or +inf")
        logpi = pi
        with np.errstate(under="ignore"):
            m = np.max(logpi, axis=-1, keepdims=True)
            if np.any(m == -np.inf):
                raise ValueError(f"{name}: a row has no support (all probabilities are zero)")
            total = np.sum(np.exp(logpi - m), axis=-1) * np.exp(m[..., 0])
    else:
        require_finite(pi, name)
        if np.any(pi < 0):
            raise ValueError(f"{name}: probabilities must be non-negative")
        if np.any(np.max(pi, axis=-1) == 0):
            raise ValueError(f"{name}: a row has no support (all probabilities are zero)")
        total = np.sum(pi, axis=-1)
        with np.errstate(divide="ignore"):
            logpi = np.log(pi)
    tol = sum_tolerance(pi.shape[-1], eps)
    bad = ~(np.abs(total - 1.0) <= tol)
    if np.any(bad):
        worst = float(total[bad].flat[0])
        raise ValueError(
            f"{name}: probabilities must sum to 1 along the axis within {tol:.3g} "
            f"(found {worst!r})"
        )
    if eps > 0:
        # A float32 (or coarser) policy: renormalise in float64, so that a policy
        # straight from torch.softmax(...).numpy() is used as the distribution it means.
        with np.errstate(divide="ignore"):
            logpi = logpi - np.log(total)[..., None]
        pi = logpi if log else pi / total[..., None]
    return logpi, pi


def policy_rows(pi_t, r, *, axis, log: bool, pi_name="pi_t", r_name="r", eps=None) -> Rows:
    """Validate ``pi_t`` (and ``r``, unless ``None``) and lay them out as rows.

    ``eps``: machine epsilon ``pi_t`` was stored with (default: from its dtype).
    """
    if eps is None:
        eps = float_eps(pi_t)
    pi = float_array(pi_t, pi_name)
    if pi.ndim == 0:
        raise ValueError(f"{pi_name}: must have at least one dimension (the actions)")
    rr = None
    if r is not None:
        pi, rr = broadcast(pi, float_array(r, r_name), pi_name, r_name)
        require_finite(rr, r_name)
    ax = _normalise_axis(axis, pi.ndim)
    pi = np.moveaxis(pi, ax, -1)
    if pi.shape[-1] == 0:
        raise ValueError(f"{pi_name}: the action axis is empty")
    batch_shape = pi.shape[:-1]
    logpi, pi = log_policy(pi, pi_name, log=log, eps=eps)
    logpi = np.ascontiguousarray(logpi.reshape(-1, pi.shape[-1]), dtype=np.float64)
    given = pi.reshape(logpi.shape)
    if rr is not None:
        rr = np.ascontiguousarray(np.moveaxis(rr, ax, -1).reshape(logpi.shape), dtype=np.float64)
    return Rows(logpi, rr, given, batch_shape, ax, pi.ndim)


def broadcast(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str):
    """``np.broadcast_arrays(a, b)``, failing with a ``ValueError`` that names ``name_b``."""
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        msg = f"{name_b}: shape {b.shape} does not broadcast with {name_a} shape {a.shape}"
        raise ValueError(msg) from None


def batch_param(value, name: str, batch_shape: tuple[int, ...], *, strict: bool) -> np.ndarray:
    """Broadcast a per-row parameter (``tau``, ``beta``) to the batch and flatten it.

    ``strict=True`` requires ``value > 0`` (a temperature), else ``value >= 0``.
    """
    arr = float_array(value, name)
    try:
        arr = np.broadcast_to(arr, batch_shape)
    except ValueError:
        raise ValueError(
            f"{name}: shape {arr.shape} does not broadcast to the batch shape {batch_shape}"
        ) from None
    require_finite(arr, name)
    if strict and np.any(arr <= 0):
        raise ValueError(f"{name}: must be > 0")
    if not strict and np.any(arr < 0):
        raise ValueError(f"{name}: must be >= 0")
    return np.ascontiguousarray(arr.reshape(-1), dtype=np.float64)


def check_spread(rows: Rows, tau: np.ndarray | None) -> None:
    """The rewards' spread on each row's support, and (with ``tau``) spread / tau, are finite.

    PMD-mean and KL-chi2 work with ``b = (r - rbar) / tau``; where it overflows float64
    no update can be formed, and the error names ``tau`` and that ratio.
    """
    if rows.r is None or rows.r.size == 0:  # no rewards (or no rows): nothing can overflow
        return
    with np.errstate(over="ignore", invalid="ignore"):
        big = float(np.max(np.abs(rows.r)))
        bound = 2.0 * big if tau is None else 2.0 * big / float(np.min(tau))
        if bound < 1e300:  # fast path: nothing near overflow anywhere
            return
        support = rows.logpi > -np.inf
        hi = np.max(np.where(support, rows.r, -np.inf), axis=-1)
        lo = np.min(np.where(support, rows.r, np.inf), axis=-1)
        spread = hi - lo
        if not np.all(np.isfinite(spread)):
            i = int(np.flatnonzero(~np.isfinite(spread))[0])
            raise ValueError(
                f"r: max(r) - min(r) on the support overflows float64 (row {i}: "
                f"{float(hi[i])!r} - {float(lo[i])!r})"
            )
        if tau is None:
            return
        ratio = spread / tau
        # a margin of 4: b is formed from differences to the mean and the best reward
        bad = ~(ratio < np.finfo(np.float64).max / 4)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"tau: (max(r) - min(r)) / tau overflows float64 (row {i}: "
                f"{float(spread[i])!r} / tau={float(tau[i])!r}); "
                "use a larger tau or smaller rewards"
            )


def probability(p, name: str = "p") -> np.ndarray:
    """A finite array of probabilities in [0, 1]."""
    arr = float_array(p, name)
    require_finite(arr, name)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name}: must lie in [0, 1]")
    return arr


def choice(value: str, name: str, options) -> str:
    """``value`` if it is one of ``options``, else a ``ValueError`` listing them."""
    if value not in options:
        raise ValueError(f"{name}: must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


# ---- scalar options (sim, bridge, trl, verl: no torch needed). Their messages read
# "<name> must be ..." (the front ends' wording); type errors are ValueErrors too.


def real(value, name: str, *, lo=None, hi=None, lo_open=False, hi_open=False) -> float:
    """``value`` as a finite float within [lo, hi] (open ends on request); bools refused."""
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


def integer(value, name: str, *, lo=None, hi=None) -> int:
    """``value`` as an int within [lo, hi] (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be an integer <= {hi}, got {value!r}")
    return v


def positive(value, name: str) -> float:
    """``float(value)``, finite and > 0 (a temperature such as tau: what converts is taken)."""
    try:
        v = float(value)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of size > 1
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    return v
