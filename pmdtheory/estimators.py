r"""Sampled baselines and regression targets for a group of responses, in numpy (THEORY §3).

A *group* is the ``k`` responses sampled for one prompt, laid along ``axis``.
The PMD regression target of response ``i`` is ``A_i / tau`` with the
advantage ``A_i = (r_i - B_i)/d``. The baselines ``B_i``, the divisor ``d`` (1 except
for ``"grpo"``) and their behaviour for a group of one response are the records of
:mod:`pmdtheory.baselines` (this module is their numpy front end):

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

from ._validate import batch_param, float_array, require_finite
from .baselines import BASELINES, GRPO_EPS, get

__all__ = ["BASELINES", "GRPO_EPS", "baseline", "advantages", "targets"]


def _groups(r, axis, kind, tau):
    rec = get(kind, "kind")
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
    if k < rec.min_group:
        raise ValueError(
            f"r: baseline {kind!r} needs groups of at least {rec.min_group} responses, got {k}"
        )
    t = None
    if rec.needs_tau:
        if tau is None:
            raise ValueError(f"tau: required for the {kind!r} baseline")
        t = batch_param(tau, "tau", arr.shape[:-1], strict=True).reshape(arr.shape[:-1] + (1,))
    return arr, k, t, rec


def _check_eps(eps) -> float:
    # eps <= 0 flips signs (eps < 0) or divides 0 by 0 on a constant group (eps = 0).
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating):
        raise ValueError(f"eps: must be a real number > 0, got {eps!r}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps: must be finite and > 0, got {eps!r}")
    return float(eps)


def _formula(arr, k, t, rec, eps):
    """(B, d) of the record's formula on full groups along the last axis."""
    return rec.formula(np, arr, None, np.float64(k), t, eps)


def baseline(
    r: npt.ArrayLike, *, kind: str, tau: npt.ArrayLike | None = None, axis: int = -1
) -> np.ndarray:
    r"""Baseline :math:`B_i` of every response, the shape of ``r``.

    Parameters
    ----------
    r : array_like, shape (..., k, ...)
        Rewards of the ``k`` responses of each group, along ``axis``.
    kind : str
        A name of :data:`BASELINES` (see the module docstring); ``"grpo"`` returns the
        mean (0 for a group of one).
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
    arr, k, t, rec = _groups(r, axis, kind, tau)
    b, _ = _formula(arr, k, t, rec, GRPO_EPS)
    return np.moveaxis(np.broadcast_to(b, arr.shape).copy(), -1, axis)


def advantages(
    r: npt.ArrayLike,
    *,
    kind: str,
    tau: npt.ArrayLike | None = None,
    axis: int = -1,
    eps: float = GRPO_EPS,
) -> np.ndarray:
    r"""Advantages :math:`A_i = r_i - B_i`.

    For ``"grpo"`` the advantage is :math:`(r_i - \bar r)/(s + \epsilon)`, :math:`s` the
    sample standard deviation of the group (``ddof=1``). ``eps`` must be finite and
    ``> 0`` (``ValueError`` otherwise: ``eps < 0`` flips signs, ``eps = 0`` divides 0 by
    0 on a constant group). The default ``1e-4`` is TRL's (``r = [1, 0, 0, 0]`` gives
    1.49970, as TRL's ``GRPOTrainer``). A group of one response gets the registry's
    convention (verl's): advantage 0 for ``mean`` and ``partition``, ``r`` for the
    leave-one-out baselines, ``r / (1 + eps)`` for ``grpo``.
    Inputs go through ``np.asarray``: pandas objects are used by position.
    Tested domain: ``|r| <= 1e6``, ``tau`` in ``[1e-4, 1e4]``, groups of 2-8 (and of one), within
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
    >>> np.round(advantages(r, kind="grpo"), 5).tolist()
    [1.4997, -0.4999, -0.4999, -0.4999]

    Groups along another axis (here two groups of four, one per column):

    >>> advantages(np.array([r, r]).T, kind="loo_mean", axis=0).shape
    (4, 2)
    """
    arr, k, t, rec = _groups(r, axis, kind, tau)
    b, d = _formula(arr, k, t, rec, _check_eps(eps))
    return np.moveaxis((arr - b) / d, -1, axis)


def targets(
    r: npt.ArrayLike, *, kind: str, tau: npt.ArrayLike, axis: int = -1, eps: float = GRPO_EPS
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
