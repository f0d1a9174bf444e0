r"""The registry of sampled group baselines: one record per baseline (THEORY §3).

A *group* is the ``k`` responses sampled for one prompt. The advantage of response
``i`` is :math:`A_i = (r_i - B_i)/d` with the baseline :math:`B_i` and a divisor
:math:`d` (1, except GRPO's :math:`s + \epsilon`); the PMD regression target is
:math:`A_i/\tau`. Every front end takes its names and formulas from :data:`BASELINES`:
:mod:`pmdtheory.estimators` (numpy), the simulator (:mod:`pmdtheory.sim`, through each
record's Numba row kernel), :func:`pmdtheory.bridge.group_advantages` (torch), the TRL
``PMDTrainer`` (``PMDConfig.pmd_baseline``), the verl estimators ``pmd_<name>`` and the
CLI (``--baseline``, simulator methods ``<name>_sampled``).

========================  ===============================================================
``"mean"``                :math:`\frac1k \sum_j r_j` (estimates PMD-mean)
``"loo_mean"``            :math:`\frac1{k-1} \sum_{j \ne i} r_j` (RLOO; PMD-mean)
``"partition"``           :math:`\tau \log \frac1k \sum_j e^{r_j/\tau}` (PMD-part; exact PMD)
``"loo_partition"``       :math:`\tau \log \frac1{k-1} \sum_{j\ne i} e^{r_j/\tau}`
                          (OpenKimi's ``ploo``; exact PMD)
``"grpo"``                the group mean, divided by :math:`d = s + \epsilon`, :math:`s` the
                          sample standard deviation (``ddof=1``); PMD-mean of rewards
                          scaled by :math:`1/(\mathrm{sd} + \epsilon)`
========================  ===============================================================

**A group of one response** (verl's convention for ``grpo`` and ``rloo``, and
OpenKimi's): ``mean`` and ``partition`` give :math:`B = r` (advantage 0); the
leave-one-out baselines have no other response and give :math:`B = 0` (advantage
:math:`r`); ``grpo`` takes mean 0 and standard deviation 1 (advantage
:math:`r/(1 + \epsilon)`). TRL never forms such groups (``num_generations >= 2``).

Tested domain (tests/test_baselines.py): each row kernel equals its array formula, and
the formula on torch float64 tensors equals it on numpy, to 1e-12 relative to
``1 + max|r|/tau`` for groups of 1 to 16 (a lone success, tied maxima, constant,
uniform, normal x 3 and binary rewards) at tau 0.001, 0.01, 0.3 and 5; the front ends' own
tests compare the formulas with mpmath (estimators, torch) and with TRL and verl.

**A new baseline** is one :class:`Baseline` record passed to :func:`register`: its
``formula`` over the array API (the same code serves numpy arrays and torch tensors on
any device) and its Numba ``row`` kernel for the simulator (compiled for
:data:`ROW_SIGNATURE`), tested equal to each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from numba import njit, types

__all__ = ["BASELINES", "GRPO_EPS", "ROW_SIGNATURE", "Baseline", "get", "register", "subscribe"]

#: default ``eps`` of the std-normalised (GRPO) advantage in every front end: TRL's
#: (``GRPOTrainer`` divides by ``std + 1e-4``; ``r = [1, 0, 0, 0]`` gives 1.49970)
GRPO_EPS = 1e-4

#: Numba signature of a row kernel ``row(r, tau, eps, B) -> d``: the ``k`` rewards of
#: one group in, baselines ``B`` (k,) written, the advantage divisor ``d`` returned
ROW_SIGNATURE = types.float64(types.float64[::1], types.float64, types.float64, types.float64[::1])


@dataclass(frozen=True)
class Baseline:
    """One sampled group baseline: its name, formula, Numba kernel and what it estimates.

    Examples
    --------
    >>> from pmdtheory.baselines import BASELINES
    >>> b = BASELINES["loo_partition"]
    >>> b.needs_tau, b.estimates, b.min_group
    (True, 'exact', 1)
    """

    #: the name every front end uses
    name: str
    #: ``formula(xp, r, valid, k, tau, eps) -> (B, d)`` over the array API namespace
    #: ``xp``: ``r`` (..., m) holds groups along the last axis, ``valid`` (bool, shape of
    #: ``r``, or None for full groups) marks the responses, ``k`` (..., 1) counts them,
    #: ``tau`` (..., 1) or a float (None when not needed), ``eps`` a float; returns the
    #: baselines ``B`` (broadcastable to ``r``) and the divisor ``d`` (a float or (..., 1))
    formula: Callable[..., tuple[Any, Any]]
    #: Numba kernel of one group, :data:`ROW_SIGNATURE`; the same numbers to rounding
    row: Any
    #: whether ``tau`` enters the baseline (front ends then require it)
    needs_tau: bool = False
    #: the smallest group it accepts (front ends raise ``ValueError`` below it)
    min_group: int = 1
    #: the population update it estimates: "exact" (exact PMD) or "mean" (PMD-mean)
    estimates: str = "mean"
    #: whether the advantage is divided by the group's ``std + eps`` (then ``eps`` is used,
    #: and the population update is PMD-mean of rewards scaled by ``1/(sd + eps)``)
    std_normalised: bool = False
    #: one line for tables and ``--help``
    description: str = ""

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"name: must be an identifier, got {self.name!r}")
        if self.estimates not in ("exact", "mean"):
            raise ValueError(f"estimates: must be 'exact' or 'mean', got {self.estimates!r}")
        if isinstance(self.min_group, bool) or not (
            isinstance(self.min_group, int) and self.min_group >= 1
        ):
            raise ValueError(f"min_group: must be an integer >= 1, got {self.min_group!r}")


#: every registered baseline by name (use :func:`register` to add one)
BASELINES: dict[str, Baseline] = {}
# front ends that keep a registry of their own (verl's estimators) follow this one
_subscribers: list[Callable[[Baseline], None]] = []


def subscribe(callback: Callable[[Baseline], None]) -> None:
    """Call ``callback(record)`` for every baseline registered now and later.

    A front end with a registry of its own (verl's advantage estimators) subscribes
    once, so that a baseline added by :func:`register` reaches it with no other change.

    Examples
    --------
    >>> seen = []
    >>> subscribe(lambda b: seen.append(b.name))
    >>> seen[:2]
    ['mean', 'loo_mean']
    """
    _subscribers.append(callback)
    for b in list(BASELINES.values()):
        callback(b)


def register(baseline: Baseline) -> Baseline:
    """Add ``baseline`` to :data:`BASELINES`; every front end then accepts its name.

    Raises ``ValueError`` if the name is taken.

    Examples
    --------
    >>> from pmdtheory.baselines import BASELINES, register
    >>> register(BASELINES["mean"])
    Traceback (most recent call last):
        ...
    ValueError: baseline: 'mean' is already registered
    """
    if not isinstance(baseline, Baseline):
        raise ValueError(f"baseline: must be a Baseline record, got {baseline!r}")
    if baseline.name in BASELINES:
        raise ValueError(f"baseline: {baseline.name!r} is already registered")
    BASELINES[baseline.name] = baseline
    for callback in _subscribers:
        callback(baseline)
    return baseline


def get(name: str, arg: str = "baseline") -> Baseline:
    """The record of ``name``; ``ValueError`` naming ``arg`` and listing the choices.

    Examples
    --------
    >>> get("loo_mean").description
    'leave-one-out mean (RLOO)'
    """
    try:
        return BASELINES[name]
    except (KeyError, TypeError):
        choices = ", ".join(map(repr, BASELINES))
        raise ValueError(f"{arg}: must be one of {choices}, got {name!r}") from None


# ---- the formulas, over the array API (numpy, or torch through array-api-compat) ----
# ``valid`` is None for full groups; masked entries are replaced before any reduction,
# so padding never reaches exp or log.


def _fill(xp, x, valid, value):
    return x if valid is None else xp.where(valid, x, value)


def _sum(xp, x, valid):
    return xp.sum(_fill(xp, x, valid, 0.0), axis=-1, keepdims=True)


def _max(xp, x, valid):
    return xp.max(_fill(xp, x, valid, -math.inf), axis=-1, keepdims=True)


def _km1(xp, k):
    # k - 1 where the group has others, 1 for a group of one (its baseline is set apart)
    return xp.where(k > 1, k - 1, 1.0)


def _mean(xp, r, valid, k, tau, eps):
    return _sum(xp, r, valid) / k, 1.0


def _loo_mean(xp, r, valid, k, tau, eps):
    loo = (_sum(xp, r, valid) - r) / _km1(xp, k)
    return xp.where(k > 1, loo, 0.0), 1.0


def _partition(xp, r, valid, k, tau, eps):
    # the group maximum m subtracted (no overflow at small tau); log1p of the mean expm1
    # keeps relative accuracy when the spread is far below tau (the mean exponential
    # would round to 1)
    m = _max(xp, r, valid)
    r = _fill(xp, r, valid, m)
    return m + tau * xp.log1p(_sum(xp, xp.expm1((r - m) / tau), valid) / k), 1.0


def _loo_partition(xp, r, valid, k, tau, eps):
    # Everyone but a unique maximiser: the others include a maximum (a term e = 1), so
    # their mean of e = exp((r - m1)/tau) is 1 + (Z - z_i)/(k - 1) with z = e - 1 <= 0
    # (expm1) and Z the group total: log1p of it keeps relative accuracy where tau
    # dwarfs the spread (the mean of e would round to 1; log of it loses tau * eps), and
    # Z - z_i cannot cancel to 0 (it sums the others' z, the maximum's 0 among them).
    # The unique maximiser is summed afresh over the others with their own maximum m2
    # subtracted: total minus own would cancel to 0 when it is the only success (THEORY §3).
    m1 = _max(xp, r, valid)
    r = _fill(xp, r, valid, m1)  # padding at the maximum: z = 0 there
    top = r == m1 if valid is None else (r == m1) & valid
    others = ~top if valid is None else valid & ~top
    lone = top & (_sum(xp, xp.where(top, r * 0.0 + 1.0, 0.0), None) == 1)
    m2 = _max(xp, r, others)
    m2 = xp.where(m2 > -math.inf, m2, m1)  # no others below the maximum: m2 unused
    z1 = xp.expm1((r - m1) / tau)
    z2 = _sum(xp, xp.expm1((xp.where(others, r, m2) - m2) / tau), others)
    loo = xp.where(lone, z2, _sum(xp, z1, None) - z1) / _km1(xp, k)
    loo = xp.where(k > 1, loo, 0.0)  # a group of one: baseline 0, set below
    b = xp.where(lone, m2, m1) + tau * xp.log1p(loo)
    return xp.where(k > 1, b, 0.0), 1.0


def _grpo(xp, r, valid, k, tau, eps):
    # a group of one: mean 0, std 1 (verl's grpo)
    mean = xp.where(k > 1, _sum(xp, r, valid) / k, 0.0)
    dev = _fill(xp, r - mean, valid, 0.0)
    std = xp.where(k > 1, xp.sqrt(_sum(xp, dev * dev, None) / _km1(xp, k)), 1.0)
    return mean, std + eps


# ---- the Numba row kernels of the simulator (one group of k >= 1 rewards) ----


@njit(cache=True)
def _total(r):
    total = 0.0
    for i in range(r.size):
        total += r[i]
    return total


@njit(cache=True)
def _fill_row(B, value):
    for i in range(B.size):
        B[i] = value


@njit(cache=True)
def _mean_row(r, tau, eps, B):
    _fill_row(B, _total(r) / r.size)
    return 1.0


@njit(cache=True)
def _loo_mean_row(r, tau, eps, B):
    k = r.size
    total = _total(r)
    for i in range(k):
        B[i] = (total - r[i]) / (k - 1) if k > 1 else 0.0
    return 1.0


@njit(cache=True)
def _grpo_row(r, tau, eps, B):
    k = r.size
    if k == 1:  # mean 0, std 1 (verl's grpo)
        B[0] = 0.0
        return 1.0 + eps
    mean = _total(r) / k
    ss = 0.0
    for i in range(k):
        ss += (r[i] - mean) ** 2
    _fill_row(B, mean)
    return math.sqrt(ss / (k - 1)) + eps


@njit(cache=True)
def _argmax_sum(r, tau):
    """(index of the first maximum, sum_i exp((r_i - max)/tau))."""
    i1 = 0
    for i in range(r.size):
        if r[i] > r[i1]:
            i1 = i
    s1 = 0.0
    for i in range(r.size):
        s1 += math.exp((r[i] - r[i1]) / tau)
    return i1, s1


@njit(cache=True)
def _partition_row(r, tau, eps, B):
    i1, s1 = _argmax_sum(r, tau)
    _fill_row(B, r[i1] + tau * (math.log(s1) - math.log(r.size)))
    return 1.0


@njit(cache=True)
def _loo_partition_row(r, tau, eps, B):
    k = r.size
    if k == 1:
        B[0] = 0.0
        return 1.0
    i1, s1 = _argmax_sum(r, tau)
    m1 = r[i1]
    # For i != i1 the others contain the maximum, so their sum s1 - e_i is >= 1 >= e_i
    # and the subtraction loses at most one bit. For i = i1 the sum is recomputed with
    # the maximum of the *others* (THEORY §3).
    m2 = -math.inf
    for i in range(k):
        if i != i1 and r[i] > m2:
            m2 = r[i]
    s2 = 0.0
    for i in range(k):
        if i != i1:
            s2 += math.exp((r[i] - m2) / tau)
    log_km1 = math.log(k - 1)
    for i in range(k):
        if i == i1:
            B[i] = m2 + tau * (math.log(s2) - log_km1)
        else:
            B[i] = m1 + tau * (math.log(s1 - math.exp((r[i] - m1) / tau)) - log_km1)
    return 1.0


for _b in (
    Baseline("mean", _mean, _mean_row, description="group mean (PMD-mean)"),
    Baseline("loo_mean", _loo_mean, _loo_mean_row, description="leave-one-out mean (RLOO)"),
    Baseline(
        "partition", _partition, _partition_row, needs_tau=True, estimates="exact",
        description="group log-mean-exp tau log mean e^(r/tau) (PMD-part)",
    ),
    Baseline(
        "loo_partition", _loo_partition, _loo_partition_row, needs_tau=True,
        estimates="exact", description="leave-one-out log-mean-exp (OpenKimi ploo, PMD-part)",
    ),
    Baseline(
        "grpo", _grpo, _grpo_row, std_normalised=True,
        description="GRPO's (r - mean)/(std + eps), std with ddof=1",
    ),
):  # fmt: skip
    register(_b)
del _b
