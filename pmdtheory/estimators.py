r"""Sampled baselines and regression targets for a group of responses (THEORY §3).

A *group* is the ``k`` responses sampled for one prompt, laid along ``axis``.
The PMD regression target of response ``i`` is ``A_i / tau`` with the
advantage ``A_i = r_i - B_i``, and the baseline ``B_i`` is one of

========================  ===============================================================
``"mean"``                :math:`\frac1k \sum_j r_j` (PMD-mean)
``"loo_mean"``            :math:`\frac1{k-1} \sum_{j \ne i} r_j` (RLOO)
``"partition"``           :math:`\tau \log \frac1k \sum_j e^{r_j/\tau}` (PMD-part)
``"loo_partition"``       :math:`\tau \log \frac1{k-1} \sum_{j\ne i} e^{r_j/\tau}` (``ploo``)
``"grpo"``                the group mean; the advantage is :math:`(r_i - \bar r)/(s + \epsilon)`
                          with :math:`s` the sample standard deviation (``ddof=1``)
========================  ===============================================================

Partition baselines are computed in log space with the maximum of the rewards
involved subtracted; the leave-one-out partition subtracts the maximum of the
*other* rewards, because "group total minus own term" cancels to nothing when
the left-out response is the group's only success (THEORY §3).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._validate import batch_param, choice, float_array, require_finite

__all__ = ["BASELINES", "baseline", "advantages", "targets"]

BASELINES = ("mean", "loo_mean", "partition", "loo_partition", "grpo")


def _groups(r, axis, kind, tau):
    choice(kind, "kind", BASELINES)
    arr = float_array(r, "r")
    if arr.ndim == 0:
        raise ValueError("r: must have at least one dimension (the group)")
    require_finite(arr, "r")
    try:
        arr = np.moveaxis(arr, axis, -1)
    except (np.exceptions.AxisError, TypeError):
        msg = f"axis: {axis!r} is not a valid axis for r of shape {arr.shape}"
        raise ValueError(msg) from None
    k = arr.shape[-1]
    if k == 0:
        raise ValueError("r: the group axis is empty")
    if k < 2 and kind in ("loo_mean", "loo_partition", "grpo"):
        raise ValueError(f"r: baseline {kind!r} needs groups of at least 2 responses, got {k}")
    t = None
    if kind in ("partition", "loo_partition"):
        if tau is None:
            raise ValueError(f"tau: required for the {kind!r} baseline")
        t = batch_param(tau, "tau", arr.shape[:-1], strict=True).reshape(arr.shape[:-1] + (1,))
    return arr, k, t


def _check_eps(eps) -> None:
    # eps <= 0 flips signs (eps < 0) or divides 0 by 0 on a constant group (eps = 0).
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating):
        raise ValueError(f"eps: must be a real number > 0, got {eps!r}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps: must be finite and > 0, got {eps!r}")


def _loo_partition(r: np.ndarray, tau: np.ndarray, k: int) -> np.ndarray:
    # For i other than the arg-max, the maximum of the others is the group
    # maximum m1, and sum_{j!=i} e^{(r_j - m1)/tau} = total - own >= 1 (the
    # arg-max term is 1): a subtraction that cannot cancel. For the arg-max
    # itself the others' maximum is the runner-up m2, summed afresh.
    i1 = np.argmax(r, axis=-1)[..., None]
    m1 = np.take_along_axis(r, i1, axis=-1)
    own = np.exp((r - m1) / tau)
    others = np.sum(own, axis=-1, keepdims=True) - own
    with np.errstate(divide="ignore"):  # the arg-max entry is replaced below
        out = m1 + tau * np.log(others / (k - 1))
    rest = r.copy()
    np.put_along_axis(rest, i1, -np.inf, axis=-1)
    m2 = np.max(rest, axis=-1, keepdims=True)
    top = m2 + tau * np.log(np.sum(np.exp((rest - m2) / tau), axis=-1, keepdims=True) / (k - 1))
    np.put_along_axis(out, i1, top, axis=-1)
    return out


def _baseline(arr, k, t, kind):
    if kind in ("mean", "grpo"):
        return np.broadcast_to(np.mean(arr, axis=-1, keepdims=True), arr.shape).copy()
    if kind == "loo_mean":
        return (np.sum(arr, axis=-1, keepdims=True) - arr) / (k - 1)
    if kind == "partition":
        m = np.max(arr, axis=-1, keepdims=True)
        # log1p of the mean expm1: exact where the spread is far below tau and the mean
        # exponential rounds to 1 (log of it would keep only its absolute accuracy)
        lme = np.log1p(np.mean(np.expm1((arr - m) / t), axis=-1, keepdims=True))
        return np.broadcast_to(m + t * lme, arr.shape).copy()
    return _loo_partition(arr, t, k)


def baseline(
    r: npt.ArrayLike, *, kind: str, tau: npt.ArrayLike | None = None, axis: int = -1
) -> np.ndarray:
    r"""Baseline :math:`B_i` of every response, the shape of ``r``.

    Parameters
    ----------
    r : array_like, shape (..., k, ...)
        Rewards of the ``k`` responses of each group, along ``axis``.
    kind : {"mean", "loo_mean", "partition", "loo_partition", "grpo"}
        The baseline (see the module docstring); ``"grpo"`` returns the mean.
    tau : float or array_like of the batch shape, optional
        Temperature, required (``> 0``) for the partition baselines.
    axis : int
        The group axis.

    Returns
    -------
    ndarray, shape of ``r``

    Examples
    --------
    One success among four responses:

    >>> import numpy as np
    >>> r = [1.0, 0.0, 0.0, 0.0]
    >>> baseline(r, kind="mean").tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> np.round(baseline(r, kind="loo_mean"), 6).tolist()
    [0.0, 0.333333, 0.333333, 0.333333]
    >>> np.round(baseline(r, kind="partition", tau=1.0), 6).tolist()
    [0.357374, 0.357374, 0.357374, 0.357374]
    """
    arr, k, t = _groups(r, axis, kind, tau)
    return np.moveaxis(_baseline(arr, k, t, kind), -1, axis)


def advantages(
    r: npt.ArrayLike,
    *,
    kind: str,
    tau: npt.ArrayLike | None = None,
    axis: int = -1,
    eps: float = 1e-6,
) -> np.ndarray:
    r"""Advantages :math:`A_i = r_i - B_i`.

    For ``"grpo"`` the advantage is :math:`(r_i - \bar r)/(s + \epsilon)`, :math:`s` the
    sample standard deviation of the group (``ddof=1``). ``eps`` must be finite and
    ``> 0`` (``ValueError`` otherwise: ``eps < 0`` flips signs, ``eps = 0`` divides 0 by
    0 on a constant group). The default ``1e-6`` is not TRL's: TRL's GRPO uses
    ``1e-4`` (``r = [1, 0, 0, 0]`` gives 1.49970 there); pass ``eps=1e-4`` to match it.
    Inputs go through ``np.asarray``: pandas objects are used by position.
    Tested domain: ``|r| <= 1e6``, ``tau`` in ``[1e-4, 1e4]``, groups of 2-8, within
    ``1e-12`` of mpmath relative to ``max |r|`` (divided by ``s + eps`` for grpo).

    Parameters
    ----------
    r, kind, tau, axis
        As in :func:`baseline`.
    eps : float, keyword-only
        Added to the standard deviation for ``"grpo"``, ``> 0``.

    Returns
    -------
    ndarray, shape of ``r``

    Examples
    --------
    >>> import numpy as np
    >>> r = [1.0, 0.0, 0.0, 0.0]
    >>> advantages(r, kind="mean").tolist()
    [0.75, -0.25, -0.25, -0.25]
    >>> np.round(advantages(r, kind="grpo", eps=1e-4), 5).tolist()
    [1.4997, -0.4999, -0.4999, -0.4999]

    Groups along another axis (here two groups of four, one per column):

    >>> advantages(np.array([r, r]).T, kind="loo_mean", axis=0).shape
    (4, 2)
    """
    arr, k, t = _groups(r, axis, kind, tau)
    _check_eps(eps)
    adv = arr - _baseline(arr, k, t, kind)
    if kind == "grpo":
        adv = adv / (np.std(arr, axis=-1, ddof=1, keepdims=True) + eps)
    return np.moveaxis(adv, -1, axis)


def targets(
    r: npt.ArrayLike, *, kind: str, tau: npt.ArrayLike, axis: int = -1, eps: float = 1e-6
) -> np.ndarray:
    r"""Regression targets :math:`A_i / \tau` of the PMD loss (THEORY §3).

    Parameters
    ----------
    r, kind, axis, eps
        As in :func:`advantages`.
    tau : float or array_like of the batch shape
        Temperature, ``> 0`` (required for every ``kind``: it scales the target).

    Returns
    -------
    ndarray, shape of ``r``

    Examples
    --------
    >>> targets([1.0, 0.0, 0.0, 0.0], kind="mean", tau=0.5).tolist()
    [1.5, -0.5, -0.5, -0.5]
    """
    adv = np.moveaxis(advantages(r, kind=kind, tau=tau, axis=axis, eps=eps), axis, -1)
    t = batch_param(tau, "tau", adv.shape[:-1], strict=True).reshape(adv.shape[:-1] + (1,))
    return np.moveaxis(adv / t, -1, axis)
