r"""One step of policy mirror descent: exact PMD, PMD-mean and the KL-chi2 update.

Notation of THEORY.md: ``pi_t`` the current policy over ``n`` actions (the
last axis by default), ``r`` the rewards, ``tau > 0`` the KL strength,
``x = pi_{t+1} / pi_t`` and ``b = (r - rbar) / tau`` with ``rbar = E_{pi_t} r``.

Every function accepts a batch (any leading shape), probabilities or, with
``log=True``, log-probabilities (``-inf`` outside the support) and returns
the same kind. Actions with zero probability stay at zero and their rewards
are ignored. All arithmetic is in log space: ``exp(r / tau)`` is never formed.

Inputs go through ``np.asarray``: a pandas Series or DataFrame is used **by
position**, its index is ignored (align ``pi_t`` and ``r`` yourself first).
Policies must sum to 1 within ``1e-8`` (float64) or ``1e-8 + (n + 4) eps`` for
coarser floats (a float32 softmax output), and are then renormalised.

Tested domain (tests/test_fuzz.py, ``make fuzz``, tests/test_updates.py, against
mpmath): ``tau`` in ``[1e-4, 1e4]``, ``|r| <= 1e3``, probabilities ``>= 1e-300`` or
exactly 0, up to 1000 actions: log-probabilities within ``1e-11 max(1, |log p|)``,
``lam`` and ``beta`` within ``1e-9`` relative. Outside it (``tau`` down to 1e-200 and
subnormal, ``|r|`` to 1e300, log-probabilities to -1e4, ``beta`` to 1e200) every
call returns the same accuracy or raises ``ValueError`` naming the argument (e.g.
``tau`` when ``(max r - min r) / tau`` overflows float64).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from . import _kernels, _kernels_few
from ._validate import (
    SUM_RTOL,
    batch_param,
    broadcast,
    check_spread,
    choice,
    policy_rows,
    probability,
)

__all__ = [
    "exact_update",
    "mean_update",
    "kl_chi2_update",
    "implicit_beta",
    "log_partition",
    "binary_update",
    "BinaryUpdate",
]


def _require_converged(ok: np.ndarray, what: str) -> None:
    """Raise if a row's root finder did not converge: an unconverged root is never returned."""
    if not np.all(ok):
        i = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"tau: the {what} root could not be resolved in float64 on row {i} (an input "
            "outside the tested domain, e.g. tau far below 1e-4 with probabilities near 0 "
            "or 1; please report it if not)"
        )


def _output(rows, logp_new: np.ndarray, log: bool) -> np.ndarray:
    out = logp_new if log else np.exp(logp_new)
    # Constant rewards: the policy is returned as given, bit for bit.
    const = rows.constant_rows()
    out[const] = rows.given[const]
    return rows.restore(out)


def _exact_fast(pi_t, r, tau, axis):
    """Exact PMD for the common case (see :func:`_fast_args`) in one checking pass
    over probabilities; None if a row is invalid, so that the checked path raises."""
    args = _fast_args(pi_t, r, tau, axis)
    if args is None:
        return None
    p2, r2, tau, moved = args
    out = np.empty_like(p2)
    status = np.empty(p2.shape[0], dtype=np.int8)
    _kernels._exact_prob_batch(p2, r2, tau, SUM_RTOL, out, status)
    if status.any():
        if np.any(status == 1):
            return None
        tiny = status == 2  # normaliser near underflow: these rows in log space
        out[tiny] = exact_update(p2[tiny], r2[tiny], np.full(tiny.sum(), tau), log=False)
    return np.moveaxis(out.reshape(moved), -1, axis)


def exact_update(
    pi_t: npt.ArrayLike, r: npt.ArrayLike, tau: npt.ArrayLike, *, axis: int = -1, log: bool = False
) -> np.ndarray:
    r"""Exact PMD step: :math:`\arg\max_\pi E_\pi[r] - \tau\,\mathrm{KL}(\pi\|\pi_t)`.

    .. math:: \pi_{t+1}(a) = \frac{\pi_t(a)\, e^{r(a)/\tau}}{E_{\pi_t}[e^{r/\tau}]}

    Parameters
    ----------
    pi_t : array_like, shape (..., n, ...)
        Current policy along ``axis`` (log-policy if ``log=True``).
    r : array_like, broadcastable with ``pi_t``
        Rewards, finite.
    tau : float or array_like of the batch shape
        KL strength, ``> 0``.
    axis : int, keyword-only
        The action axis.
    log : bool, keyword-only
        Inputs and output are log-probabilities.

    Returns
    -------
    ndarray, shape of ``pi_t``
        :math:`\pi_{t+1}` (or its logarithm).

    References
    ----------
    THEORY.md §2; Xu, Lu, Yu, Zhao (2026), arXiv:2602.05933, Eq. (2).

    Examples
    --------
    A rare correct answer (1% of the mass) at ``tau = 0.05`` takes nearly all of it:

    >>> import numpy as np
    >>> pi_new = exact_update([0.01, 0.99], [1.0, 0.0], 0.05)
    >>> np.round(pi_new, 7).tolist()
    [0.9999998, 2e-07]

    A batch of rows, and log-probabilities in and out:

    >>> exact_update(np.full((3, 4), 0.25), np.eye(3, 4), 1.0).shape
    (3, 4)
    >>> logp = exact_update(np.log([0.5, 0.5]), [1.0, 0.0], 1.0, log=True)
    >>> bool(np.allclose(np.exp(logp), exact_update([0.5, 0.5], [1.0, 0.0], 1.0)))
    True
    """
    fast = None if log else _exact_fast(pi_t, r, tau, axis)
    if fast is not None:
        return fast
    rows = policy_rows(pi_t, r, axis=axis, log=log)
    tau = batch_param(tau, "tau", rows.batch_shape, strict=True)
    check_spread(rows, None)
    out = np.empty_like(rows.logpi)
    _kernels._exact_batch(rows.logpi, rows.r, tau, out)
    return _output(rows, out, log)


def log_partition(
    pi_t: npt.ArrayLike, r: npt.ArrayLike, tau: npt.ArrayLike, *, axis: int = -1, log: bool = False
) -> np.ndarray | float:
    r"""The log-partition term :math:`\tau \log E_{\pi_t}[e^{r/\tau}]`.

    It lies between :math:`\bar r = E_{\pi_t} r` (Jensen; the limit
    :math:`\tau\to\infty`) and :math:`\max r` on the support (:math:`\tau \to 0`).
    Returns an array of the batch shape (a float for a single row).

    Parameters
    ----------
    pi_t, r, tau, axis, log
        As in :func:`exact_update`.

    Returns
    -------
    ndarray or float
        :math:`\tau \log E_{\pi_t}[e^{r/\tau}]`, of the batch shape.

    References
    ----------
    THEORY.md §2.

    Examples
    --------
    Between the mean reward 0.01 and the maximum 1:

    >>> round(log_partition([0.01, 0.99], [1.0, 0.0], 0.05), 6)
    0.769742
    >>> log_partition([[0.5, 0.5], [0.9, 0.1]], [1.0, 0.0], 1e4).round(4).tolist()
    [0.5, 0.9]
    """
    rows = policy_rows(pi_t, r, axis=axis, log=log)
    tau = batch_param(tau, "tau", rows.batch_shape, strict=True)
    check_spread(rows, None)
    out = np.empty(rows.n_rows)
    _kernels._log_partition_batch(rows.logpi, rows.r, tau, out)
    return rows.restore_batch(out)


def _solve_mean(pi_t, r, tau, axis, log) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Validated rows, per-row tau, new log-policy rows and lam of PMD-mean."""
    rows = policy_rows(pi_t, r, axis=axis, log=log)
    tau = batch_param(tau, "tau", rows.batch_shape, strict=True)
    check_spread(rows, tau)
    out = np.empty_like(rows.logpi)
    lam = np.empty(rows.n_rows)
    _kernels._mean_batch(rows.logpi, rows.r, tau, out, lam)
    _require_converged(~np.isnan(lam), "PMD-mean")
    return rows, tau, out, lam


def _actions_last(pi_t, r, axis):
    """``(pi, r)`` for the probability fast paths, else None: float64 inputs of one
    non-empty shape (integer rewards converted), copied C-ordered with the action axis
    last, so that a row gets the same bits whatever the layout or reward dtype."""
    try:
        pi, rr = np.asarray(pi_t), np.asarray(r)
    except (ValueError, TypeError):  # ragged: the checked path names it
        return None
    if pi.dtype != np.float64 or pi.ndim == 0 or pi.shape != rr.shape or 0 in pi.shape:
        return None
    if rr.dtype.kind in "iu":
        rr = rr.astype(np.float64)
    if rr.dtype != np.float64:
        return None
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        return None
    if not -pi.ndim <= axis < pi.ndim:
        return None
    return (
        np.ascontiguousarray(np.moveaxis(pi, axis, -1)),
        np.ascontiguousarray(np.moveaxis(rr, axis, -1)),
    )


def _fast_args(pi_t, r, tau, axis):
    """``(pi rows, r rows, tau, moved shape)`` for the exact fast path, else None:
    float64 inputs of one shape in any layout (:func:`_actions_last`), a scalar tau."""
    rows = _actions_last(pi_t, r, axis)
    if rows is None:
        return None
    if not isinstance(tau, float | int | np.floating | np.integer) or isinstance(tau, bool):
        return None
    tau = float(tau)
    if not 0.0 < tau < np.inf:
        return None
    p2, r2 = rows
    n = p2.shape[-1]
    return p2.reshape(-1, n), r2.reshape(-1, n), tau, p2.shape


@overload
def mean_update(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    *,
    axis: int = ...,
    log: bool = ...,
    return_lambda: Literal[False] = ...,
) -> np.ndarray: ...
@overload
def mean_update(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    *,
    axis: int = ...,
    log: bool = ...,
    return_lambda: Literal[True],
) -> tuple[np.ndarray, np.ndarray | float]: ...
@overload
def mean_update(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    *,
    axis: int = ...,
    log: bool = ...,
    return_lambda: bool,
) -> np.ndarray | tuple[np.ndarray, np.ndarray | float]: ...


def mean_update(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    *,
    axis: int = -1,
    log: bool = False,
    return_lambda: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray | float]:
    r"""PMD-mean population solution: the mean reward stands in for the log-partition.

    Minimises :math:`E_{\pi_t}[(\log x - b)^2]` over distributions
    :math:`\pi_{t+1} = x\,\pi_t`. Stationarity gives
    :math:`\log x(a) + \lambda x(a) = b(a)`, solved as

    .. math:: \log x(a) = b(a) - \omega(\ell + b(a)), \qquad \lambda = e^\ell,

    with :math:`\omega` the Wright omega function and :math:`\ell` the root of
    :math:`\log E_{\pi_t}[x] = 0` (safeguarded Halley iteration on :math:`\ell`).

    Parameters
    ----------
    pi_t, r, tau, axis, log
        As in :func:`exact_update`.
    return_lambda : bool, keyword-only
        Also return the multiplier :math:`\lambda_t` (batch shape; exactly 0 where
        ``r`` is constant on the support).

    Returns
    -------
    policy : ndarray, shape of ``pi_t``
    lam : ndarray or float, only with ``return_lambda=True``

    Notes
    -----
    Actions with equal rewards share their ratio ``x``, so a float64 probability row
    with at most 8 distinct rewards on its support (binary rewards: the LLM case) is
    solved on its class masses, in one scan of the row and no log or exp per action;
    the answer agrees with the log-space path to the same tolerance (both are checked
    against mpmath), and a row gets the same bits alone, in a batch or along any axis.

    References
    ----------
    THEORY.md §4; arXiv:2602.05933, the Lambert-W solution of PMD-mean.

    Examples
    --------
    The same problem as in :func:`exact_update`: PMD-mean moves far less.

    >>> import numpy as np
    >>> pi_new, lam = mean_update([0.01, 0.99], [1.0, 0.0], 0.05, return_lambda=True)
    >>> np.round(pi_new, 3).tolist(), round(lam, 6)
    ([0.379, 0.621], 0.426018)

    Constant rewards leave the policy as it is, with ``lam = 0``:

    >>> mean_update([0.2, 0.8], [1.0, 1.0], 0.1, return_lambda=True)[1]
    0.0
    """
    fast = None if log else _mean_fast(pi_t, r, tau, axis)
    policy, lam = _mean_checked(pi_t, r, tau, axis, log) if fast is None else fast
    return (policy, lam) if return_lambda else policy


def _mean_checked(pi_t, r, tau, axis, log):
    """PMD-mean through the validated log-space path: ``(policy, lam)``."""
    rows, _, out, lam = _solve_mean(pi_t, r, tau, axis, log)
    return _output(rows, out, log), rows.restore_batch(lam)


def _mean_fast(pi_t, r, tau, axis):
    """PMD-mean on float64 probabilities: the root solved on the row's distinct rewards
    where they are few (:mod:`._kernels_few`), by the vectorised solver where they are
    many (:mod:`._kernels_many`); rows outside that solver's ordinary regime (tiny
    probabilities, lam < 1e-3, extreme spreads) go through the log path. Every float64
    probability input is routed here, whatever its layout or tau's shape, so a row gets
    the same bits alone or in a batch. None where the checked path must see the input
    (it raises or renormalises).
    """
    rows = _actions_last(pi_t, r, axis)
    if rows is None:
        return None
    try:
        t = np.asarray(tau)
    except (ValueError, TypeError):
        return None
    if t.dtype.kind not in "fiu":
        return None
    p2, r2 = rows
    batch, n = p2.shape[:-1], p2.shape[-1]
    if t.ndim > len(batch):
        return None
    try:
        t2 = np.ascontiguousarray(np.broadcast_to(t.astype(np.float64), batch)).reshape(-1)
    except ValueError:
        return None
    if not np.all((t2 > 0) & (t2 < np.inf)):
        return None
    p2, r2 = p2.reshape(-1, n), r2.reshape(-1, n)
    out = np.empty_like(p2)
    lam = np.empty(p2.shape[0])
    status = np.empty(p2.shape[0], dtype=np.int8)
    _kernels_few._few_batch(p2, r2, t2, SUM_RTOL, out, lam, status)
    if np.any(status == _kernels_few.INVALID):
        return None
    slow = status == _kernels_few.GENERAL
    if slow.any():
        out[slow], lam[slow] = _mean_checked(p2[slow], r2[slow], t2[slow], -1, False)
    policy = np.moveaxis(out.reshape(*batch, n), -1, axis)
    return policy, (float(lam[0]) if not batch else lam.reshape(batch))


def implicit_beta(
    pi_t: npt.ArrayLike, r: npt.ArrayLike, tau: npt.ArrayLike, *, axis: int = -1, log: bool = False
) -> np.ndarray | float:
    r"""The chi-square strength :math:`\beta_t = \tau \lambda_t` that PMD-mean adds.

    PMD-mean's solution is exactly the KL-chi2 update (:func:`kl_chi2_update`)
    with this ``beta`` (THEORY §5). Batch shape; 0 for constant rewards.

    Parameters
    ----------
    pi_t, r, tau, axis, log
        As in :func:`exact_update`.

    Returns
    -------
    ndarray or float
        :math:`\beta_t \ge 0`, of the batch shape (a float for a single row).

    Examples
    --------
    >>> import numpy as np
    >>> pi_t, r, tau = [0.01, 0.99], [1.0, 0.0], 0.05
    >>> beta = implicit_beta(pi_t, r, tau)
    >>> round(beta, 6)
    0.021301
    >>> bool(np.allclose(kl_chi2_update(pi_t, r, tau, beta), mean_update(pi_t, r, tau)))
    True
    """
    fast = None if log else _mean_fast(pi_t, r, tau, axis)
    if fast is None:
        rows, tau, _, lam = _solve_mean(pi_t, r, tau, axis, log)
    else:  # the lam mean_update returns, to the last bit; the rows only for the series below
        rows = policy_rows(pi_t, r, axis=axis, log=log)
        tau = batch_param(tau, "tau", rows.batch_shape, strict=True)
        lam = np.reshape(fast[1], -1)
    beta = tau * lam
    lost = (lam < 1e-280) & (lam > 0) | (lam == 0) & ~rows.constant_rows()
    if np.any(lost):
        # lam ~ Var(r)/(2 tau^2) underflowed (tau >> spread of r): beta from the same
        # series in unscaled rewards, beta = E d^2/(2 tau) + E d^3/(6 tau^2), d = r - rbar.
        logpi, r_rows, t = rows.logpi[lost], rows.r[lost], tau[lost]
        with np.errstate(under="ignore"):
            w = np.exp(logpi - np.logaddexp.reduce(logpi, axis=-1, keepdims=True))
        d = np.where(w > 0, r_rows - np.sum(w * r_rows, -1, keepdims=True), 0.0)
        # in e = d / sqrt(tau): d^2 overflows for rewards past 1e154 (tau of 1e300 still
        # makes b = d / tau tiny), e^2 = d^2 / tau cannot where the series is used below
        s = np.sqrt(t)
        e = d / s[:, None]
        with np.errstate(under="ignore"):
            series = np.sum(w * e * e, -1) / 2 + np.sum(w * e**3, -1) / (6 * s)
        # only where the series is the answer (max |b| < 1e-10, as in the kernel)
        use = np.max(np.abs(d), -1) / t < 1e-10
        beta[np.flatnonzero(lost)[use]] = series[use]
    return rows.restore_batch(beta)


def kl_chi2_update(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    beta: npt.ArrayLike,
    *,
    axis: int = -1,
    log: bool = False,
) -> np.ndarray:
    r"""Mirror descent with the mixed regulariser :math:`\tau\,\mathrm{KL} + \tfrac\beta2\chi^2`.

    .. math:: \pi_\beta = \arg\max_\pi E_\pi[r] - \tau\,\mathrm{KL}(\pi\|\pi_t)
              - \tfrac{\beta}{2}\chi^2(\pi\|\pi_t)

    is unique (strict concavity) and solves
    :math:`\log x + (\beta/\tau) x = (r - \nu)/\tau`, i.e.
    :math:`x = \omega(s + b)\,\tau/\beta` with :math:`s` fixed by normalisation.
    ``beta = 0`` is :func:`exact_update`; ``beta = implicit_beta(...)`` is
    :func:`mean_update`.

    Parameters
    ----------
    pi_t, r, tau, axis, log
        As in :func:`exact_update`.
    beta : float or array_like of the batch shape
        Chi-square strength, ``>= 0``.

    Returns
    -------
    ndarray, shape of ``pi_t``
        :math:`\pi_\beta` (or its logarithm).

    References
    ----------
    THEORY.md §5.

    Examples
    --------
    ``beta = 0`` is exact PMD; a larger ``beta`` holds the policy closer to ``pi_t``:

    >>> import numpy as np
    >>> pi_t, r, tau = [0.01, 0.99], [1.0, 0.0], 0.05
    >>> bool(np.array_equal(kl_chi2_update(pi_t, r, tau, 0.0), exact_update(pi_t, r, tau)))
    True
    >>> [round(float(kl_chi2_update(pi_t, r, tau, b)[0]), 3) for b in (0.0, 0.1, 1.0)]
    [1.0, 0.097, 0.02]
    """
    rows = policy_rows(pi_t, r, axis=axis, log=log)
    tau_given = tau
    tau = batch_param(tau, "tau", rows.batch_shape, strict=True)
    beta = batch_param(beta, "beta", rows.batch_shape, strict=False)
    check_spread(rows, tau)
    out = np.empty_like(rows.logpi)
    ok = np.empty(rows.n_rows, dtype=np.bool_)
    _kernels._kl_chi2_batch(rows.logpi, rows.r, tau, beta, out, ok)
    _require_converged(ok, "KL-chi2")
    if np.any(beta == 0):
        # beta = 0 is exact PMD: the same numbers as exact_update, bit for bit
        exact = exact_update(pi_t, r, tau_given, axis=axis, log=log)
        exact = np.moveaxis(exact, rows.axis, -1).reshape(out.shape)
        res = _output(rows, out, log)
        res = np.moveaxis(res, rows.axis, -1).reshape(out.shape)
        res[beta == 0] = exact[beta == 0]
        return rows.restore(res)
    return _output(rows, out, log)


class BinaryUpdate(NamedTuple):
    """One step on a binary reward: ``p`` = probability of reward 1 under ``pi_t``.

    Returned by :func:`binary_update`; every field has the broadcast shape of ``p``
    and ``tau`` (a float for scalars).

    Examples
    --------
    >>> step = binary_update(0.01, 0.05)
    >>> round(step.p_new, 3), round(step.x_pos, 2), round(step.lam, 6)
    (0.379, 37.94, 0.426018)
    >>> p_new, *_ = step  # a NamedTuple: unpacks like a tuple
    >>> p_new == step.p_new
    True
    """

    p_new: np.ndarray | float
    """Success probability after the step."""
    x_pos: np.ndarray | float
    """Ratio ``pi_{t+1}/pi_t`` shared by all successful responses."""
    x_neg: np.ndarray | float
    """Ratio shared by all failed responses."""
    log_x_pos: np.ndarray | float
    """``log x_pos``, exact even where ``x_pos`` over- or underflows."""
    log_x_neg: np.ndarray | float
    """``log x_neg``, exact even where ``x_neg`` underflows (tiny tau)."""
    lam: np.ndarray | float
    """PMD-mean multiplier (0 for ``method="exact"`` and for p in {0, 1})."""


def binary_update(p: npt.ArrayLike, tau: npt.ArrayLike, *, method: str = "mean") -> BinaryUpdate:
    r"""One PMD step for a binary reward (THEORY §2 and §6), broadcasting ``p`` and ``tau``.

    With ``r in {0, 1}`` all successes share one ratio ``x_pos`` and all failures
    ``x_neg``, so the update only depends on ``p = pi_t(r = 1)``.

    - ``method="exact"``: :math:`p' = p e^{1/\tau} / (p e^{1/\tau} + 1 - p)`:
      the odds of success are multiplied by :math:`e^{1/\tau}`.
    - ``method="mean"``: :math:`\log x_+ + \lambda x_+ = (1-p)/\tau`,
      :math:`\log x_- + \lambda x_- = -p/\tau`, :math:`p x_+ + (1-p) x_- = 1`.

    ``p`` in {0, 1} means a constant reward: nothing moves, ``lam = 0``, and the
    ratio of the empty class is reported as 1.
    Returns a :class:`BinaryUpdate` of arrays of the broadcast shape.

    Parameters
    ----------
    p : float or array_like
        Probability of reward 1 under ``pi_t``, in ``[0, 1]``.
    tau : float or array_like
        KL strength, ``> 0``, broadcast against ``p``.
    method : {"mean", "exact"}, keyword-only
        PMD-mean or exact PMD.

    Returns
    -------
    BinaryUpdate
        Floats for scalar ``p`` and ``tau``, else arrays of the broadcast shape.

    Examples
    --------
    The README's problem (``p = 0.01``, ``tau = 0.05``) as a binary reward:

    >>> round(binary_update(0.01, 0.05).p_new, 3)
    0.379
    >>> round(binary_update(0.01, 0.05, method="exact").p_new, 7)
    0.9999998
    >>> binary_update([0.01, 0.5], 0.05).p_new.round(3).tolist()
    [0.379, 1.0]
    """
    choice(method, "method", ("mean", "exact"))
    p_arr = probability(p, "p")
    tau_arr = batch_param(tau, "tau", np.shape(tau), strict=True).reshape(np.shape(tau))
    p_arr, tau_arr = broadcast(p_arr, tau_arr, "p", "tau")
    shape = p_arr.shape
    p_flat = np.ascontiguousarray(p_arr.reshape(-1))
    tau_flat = np.ascontiguousarray(tau_arr.reshape(-1))
    with np.errstate(divide="ignore"):
        logpi = np.stack([np.log(p_flat), np.log1p(-p_flat)], axis=-1)
    new = np.empty_like(logpi)
    lam = np.zeros(p_flat.size)
    r = np.ascontiguousarray(np.broadcast_to([1.0, 0.0], logpi.shape))
    if method == "exact":
        _kernels._exact_batch(logpi, r, tau_flat, new)
    else:
        with np.errstate(over="ignore", divide="ignore"):
            overflow = np.any(~(1.0 / tau_flat < np.finfo(np.float64).max / 4))
        if overflow:
            raise ValueError("tau: 1 / tau overflows float64 (the reward gap is 1)")
        _kernels._mean_batch(logpi, r, tau_flat, new, lam)
        _require_converged(~np.isnan(lam), "PMD-mean")
    with np.errstate(invalid="ignore"):
        # Where p = 0 (or 1) one class is empty and its ratio undefined; it is
        # reported as 1 (log 0), since no probability moves.
        log_x = np.where(np.isfinite(logpi), new - logpi, 0.0)
    log_x_pos, log_x_neg = log_x[:, 0], log_x[:, 1]

    def shaped(a):
        a = a.reshape(shape)
        return float(a) if a.ndim == 0 else a

    # Near 1, p_new = 1 - (1 - p) x_neg is exact where exp(log p_new) rounds above 1.
    with np.errstate(under="ignore"):
        p_new = np.where(new[:, 0] > -np.log(2), -np.expm1(new[:, 1]), np.exp(new[:, 0]))
    with np.errstate(over="ignore", under="ignore"):  # documented: log_x_* stay exact
        x_pos, x_neg = np.exp(log_x_pos), np.exp(log_x_neg)
    return BinaryUpdate(
        p_new=shaped(p_new),
        x_pos=shaped(x_pos),
        x_neg=shaped(x_neg),
        log_x_pos=shaped(log_x_pos),
        log_x_neg=shaped(log_x_neg),
        lam=shaped(lam),
    )
