r"""Group baselines and advantages for sampled responses, in torch.

A batch holds ``N`` sampled responses; ``index[i]`` names the prompt (group) that
response ``i`` answers. Groups may be ragged. Every reduction over a group is a
dense row reduction of a padded ``(groups, k_max)`` table (one sort of ``index``, none
when groups are contiguous), so there is no Python loop over groups and the functions
run on any device, in float32 or float64.

The baselines are the records of :mod:`pmdtheory.baselines` (THEORY §3), whose formulas
run here on torch tensors through ``array-api-compat``; :mod:`pmdtheory.estimators` is
their numpy front end (same numbers, to rounding):

=================  ===========================================================
``mean``           :math:`B_i = \frac1k \sum_j r_j`
``loo_mean``       :math:`B_i = \frac1{k-1} \sum_{j \ne i} r_j` (verl's ``rloo``)
``partition``      :math:`B_i = \tau \log \frac1k \sum_j e^{r_j/\tau}`
``loo_partition``  :math:`B_i = \tau \log \frac1{k-1} \sum_{j \ne i} e^{r_j/\tau}`
                   (OpenKimi's ``ploo``)
``grpo``           advantage :math:`(r_i - \bar r) / (\mathrm{std}(r) + \epsilon)`
=================  ===========================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from array_api_compat import array_namespace

from pmdtheory._validate import positive
from pmdtheory.baselines import BASELINES, GRPO_EPS, get
from pmdtheory.updates import implicit_beta

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["BASELINES", "group_advantages", "group_implicit_beta"]


def _check_rewards_index(rewards, index):
    """Validate ``rewards`` (N,) and ``index`` (N,) integer; return both as tensors.

    Rewards are computed in float64 when they come in float64, else in float32
    (bfloat16/float16 are upcast: A/tau at tau = 0.01 in bfloat16 is off by up to 0.6).
    """
    if not isinstance(rewards, torch.Tensor):
        try:
            rewards = torch.as_tensor(np.asarray(rewards, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError("rewards must be a 1-D array of real numbers") from None
    if rewards.ndim != 1:
        raise ValueError(f"rewards must be 1-D (N,), got shape {tuple(rewards.shape)}")
    if rewards.is_complex():
        raise ValueError("rewards must be real")
    if rewards.dtype != torch.float64:
        rewards = rewards.to(torch.float32)
    if rewards.numel() == 0:
        raise ValueError("rewards must not be empty")
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards must be finite (no NaN or inf)")
    if not isinstance(index, torch.Tensor):
        index = np.asarray(index)
        if index.dtype.kind not in "iu":
            raise ValueError(f"index must hold integer group ids, got dtype {index.dtype}")
        if index.dtype.kind == "u":  # torch sorts no unsigned type wider than uint8
            if index.size and int(index.max()) >= 2**63:
                raise ValueError("index: unsigned group ids must be < 2**63")
            index = index.astype(np.int64)
        index = torch.as_tensor(index)
    index = index.to(rewards.device)
    if index.shape != rewards.shape:
        raise ValueError(
            f"index must have the shape of rewards {tuple(rewards.shape)}, "
            f"got {tuple(index.shape)}"
        )
    if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
        raise ValueError(f"index must hold integer group ids, got dtype {index.dtype}")
    return rewards, index


def _check_tau(tau, *, required):
    if tau is None:
        if required:
            raise ValueError("tau must be given (> 0) for the partition baselines")
        return None
    return positive(tau, "tau")


class _Table:
    """Responses laid out as a padded ``(groups, k_max)`` table, and back.

    Groups are ordered by sorted id; within a group, responses keep their order.
    One (stable) sort of ``index`` makes the layout, skipped when ``index`` is
    already sorted (contiguous groups, as trainers produce them); every group
    reduction is then a dense row reduction.
    """

    def __init__(self, index):
        n = index.numel()
        if n > 1 and bool((index[1:] >= index[:-1]).all()):
            order, ids = None, index
        else:
            lo, hi = torch.aminmax(index)
            if index.dtype == torch.int64 and lo >= -(2**31) and hi < 2**31:
                index = index.to(torch.int32)  # sorts about twice as fast
            ids, order = torch.sort(index, stable=True)
        _, group, counts = torch.unique_consecutive(ids, return_inverse=True, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        col = torch.arange(n, device=index.device) - starts[group]
        self.order, self.group, self.col, self.counts = order, group, col, counts
        self.shape = (counts.numel(), int(counts.max()))

    @property
    def valid(self):
        """Which table cells hold a response (groups fill their rows from the left)."""
        cols = torch.arange(self.shape[1], device=self.counts.device)
        return cols[None, :] < self.counts[:, None]

    def table(self, x, fill):
        """``x`` (N,) in table layout; padding holds ``fill``."""
        out = x.new_full(self.shape, fill)
        out[self.group, self.col] = x if self.order is None else x[self.order]
        return out

    def flat(self, t):
        """Table -> (N,) in the callers' order."""
        x = t[self.group, self.col]
        if self.order is None:
            return x
        out = torch.empty_like(x)
        out[self.order] = x
        return out


def group_advantages(
    rewards: torch.Tensor | npt.ArrayLike,
    index: torch.Tensor | npt.ArrayLike,
    *,
    baseline: str,
    tau: float | None = None,
    eps: float = GRPO_EPS,
) -> torch.Tensor:
    r"""Advantages :math:`A_i = r_i - B_i` of sampled responses against their group's baseline.

    Parameters
    ----------
    rewards : Tensor or array_like, shape (N,)
        Reward of each response, finite. Lists and numpy arrays are accepted.
    index : Tensor or array_like of int, shape (N,)
        Group (prompt) id of each response, any int64 values (e.g. hashed prompt ids),
        in any order. Groups may have different sizes.
    baseline : str
        A name of :data:`BASELINES` (table in the Notes).
    tau : float, optional
        KL strength :math:`\tau > 0`; required by ``partition`` and ``loo_partition``.
    eps : float, default 1e-4
        Added to the group standard deviation (``ddof=1``) by ``grpo``; TRL's value.

    Returns
    -------
    Tensor, shape (N,)
        The advantages on the device of ``rewards``; float64 for float64 rewards (lists
        and numpy arrays are read as float64), else float32 (bfloat16, float16 and
        integer tensors are computed and returned in float32). The regression target
        of THEORY.md §3 is ``A / tau``. A group of one response follows verl: advantage 0
        for ``mean`` and ``partition``, ``r`` for the leave-one-out baselines, and
        ``r / (1 + eps)`` for ``grpo`` (mean 0, standard deviation 1).

    Raises
    ------
    ValueError
        Unknown ``baseline``; empty or non-finite ``rewards``; ``index`` of the wrong
        shape or not integer (strings, floats, bools); a group smaller than the
        baseline's ``min_group`` (names ``index``); ``tau`` missing, not a number or
        ``<= 0`` for the partition baselines; ``eps`` not finite or ``<= 0`` (as in
        :func:`pmdtheory.estimators.advantages`: 0 would make a constant group NaN).

    Notes
    -----
    For a group of :math:`k` responses with rewards :math:`r_1, \dots, r_k`:

    =================  =======================================================
    ``mean``           :math:`B_i = \frac1k \sum_j r_j`
    ``loo_mean``       :math:`B_i = \frac1{k-1} \sum_{j \ne i} r_j` (verl's ``rloo``)
    ``partition``      :math:`B_i = \tau \log \frac1k \sum_j e^{r_j/\tau}`
    ``loo_partition``  :math:`B_i = \tau \log \frac1{k-1} \sum_{j \ne i} e^{r_j/\tau}`
                       (OpenKimi's ``ploo``)
    ``grpo``           advantage :math:`(r_i - \bar r) / (\mathrm{std}(r) + \epsilon)`,
                       ``std`` with ``ddof=1``
    =================  =======================================================

    ``loo_partition`` subtracts :math:`\max_{j\ne i} r_j`, the maximum of the *other*
    rewards. The shortcut "group sum minus own term, group maximum subtracted" cancels
    when response :math:`i` is the group's only success: for rewards ``[1, 0, 0, 0]``
    and ``tau = 0.01`` it gives that success a baseline of 0.816 (with a 1e-8 floor)
    instead of 0.

    Tested domain (tests/test_bridge_advantages.py): every baseline against a 50-digit
    mpmath transcription of THEORY.md §3 to 1e-11 absolute, float64 (hypothesis: 2 to 12
    rewards in [-3, 3] or {0, 1}, also shifted by +7, in up to 4 ragged groups, tau from
    1e-3 to 10), and to 1e-12 for ragged groups of 2 to 8 with ties at the maximum (tau
    0.01, 0.3, 5) and for 50 groups of 8 against :func:`pmdtheory.estimators.advantages`
    (tau 0.01 to 1); float32 against float64 to 2e-5 (64 binary rewards in groups of 8,
    tau = 0.05); the lone success of ``loo_partition`` at tau = 0.01 in float32 and float64;
    lists and numpy arrays (ids int64 or uint32); group ids any int64 (unsorted, hashed ids up
    to 2**62 and down to -2**40); bfloat16/float16 rewards against float64 on the same
    rounded values (A/tau at tau = 0.01 to 1e-4). N = 65,536 in groups of 16 is timed
    against a per-group loop in benchmarks/bench_bridge.py.

    References
    ----------
    THEORY §3; Xu, Lu, Yu, Zhao (2026), arXiv:2602.05933.

    Examples
    --------
    Two prompts, one with four responses and one with two; group ids need not be
    contiguous or sorted:

    >>> import torch
    >>> r = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    >>> index = [0, 0, 0, 0, 7, 7]
    >>> group_advantages(r, index, baseline="loo_mean")
    tensor([ 1.0000, -0.3333, -0.3333, -0.3333,  0.0000,  0.0000])
    >>> group_advantages(r, index, baseline="mean")
    tensor([ 0.7500, -0.2500, -0.2500, -0.2500,  0.0000,  0.0000])

    The partition baselines need ``tau``. A lone success keeps baseline 0 under
    ``loo_partition`` (its only other rewards are 0), so its advantage is its reward:

    >>> a = group_advantages(r, index, baseline="loo_partition", tau=0.01)
    >>> [round(x, 4) for x in a.tolist()]
    [1.0, -0.989, -0.989, -0.989, 0.0, 0.0]

    Lists and numpy arrays are read as float64; ``A / tau`` is the regression target:

    >>> a = group_advantages([0.5, 0.0, 1.0, 1.0], [3, 3, 1, 1], baseline="partition", tau=0.5)
    >>> a.dtype, [round(x, 4) for x in (a / 0.5).tolist()]
    (torch.float64, [0.3799, -0.6201, 0.0, 0.0])
    """
    rec = get(baseline)
    r, index = _check_rewards_index(rewards, index)
    tau = _check_tau(tau, required=rec.needs_tau)
    eps = positive(eps, "eps")  # eps = 0 would divide a constant group's 0 by 0
    layout = _Table(index)
    k = layout.counts.to(r.dtype)[:, None]
    if bool((k < rec.min_group).any()):
        raise ValueError(
            f"index: every group needs >= {rec.min_group} responses for baseline={baseline!r}"
        )
    R = layout.table(r, 0.0)
    # ragged groups: the formula masks the padding (full groups need no mask)
    valid = None if layout.shape[0] * layout.shape[1] == r.numel() else layout.valid
    b, d = rec.formula(array_namespace(R), R, valid, k, tau, eps)
    return layout.flat((R - b) / d)


def group_implicit_beta(
    rewards: torch.Tensor | npt.ArrayLike,
    index: torch.Tensor | npt.ArrayLike,
    tau: float,
) -> torch.Tensor:
    r"""Implicit :math:`\chi^2` weight :math:`\beta_t = \tau\lambda_t` of each group.

    Each group's empirical reward distribution (uniform over its responses) is fed to
    the core's PMD-mean solver: :math:`\lambda_t` solves
    :math:`\sum_a \pi_t(a) x(a) = 1` with :math:`\log x(a) + \lambda_t x(a) = b(a)`.
    PMD-mean then equals mirror descent with the regulariser
    :math:`\tau\,\mathrm{KL} + \frac{\beta_t}{2}\chi^2` (THEORY.md §5).

    Parameters
    ----------
    rewards : Tensor or array_like, shape (N,)
        Reward of each response, finite (as :func:`group_advantages`).
    index : Tensor or array_like of int, shape (N,)
        Group id of each response, any int64 values, in any order; groups may be ragged.
    tau : float
        KL strength, ``> 0``.

    Returns
    -------
    Tensor, shape (G,)
        :math:`\beta_t` per group, groups in the order of their sorted unique ids; 0 for a
        group with constant rewards. Device of ``rewards``; float64 for float64
        rewards, else float32.

    Raises
    ------
    ValueError
        Bad ``rewards``/``index`` (as :func:`group_advantages`); ``tau`` not a finite
        number > 0, or so small against a group's reward spread that
        :math:`e^{(r-\bar r)/\tau}` leaves float64 and :math:`\beta_t` cannot be computed
        (names ``tau``; a group with unequal rewards never gets 0).

    Notes
    -----
    Tested domain (tests/test_bridge_advantages.py): float64 against an independent
    Lambert-W root find (scipy ``lambertw`` + ``brentq``) to 1e-9 relative for uniform
    random rewards in ragged groups of 3 to 6 with a constant group (tau 0.3, 1, 4;
    float32 to 1e-6), against :func:`pmdtheory.implicit_beta` to 1e-12 for binary
    groups of 4 at tau = 0.05, hashed unsorted int64 ids at tau = 0.3, bfloat16/float16
    rewards against float64 to 1e-6 at tau = 0.1, and a 50-digit mpmath bisection at
    tau = 1e-4, 1e-30 and 1e-200 (rewards {0, 1} and {0.5}); tau = 1e300 with rewards
    1e-100 apart raises naming ``tau`` (beta underflows), and so does a spread / tau that
    overflows float64 (rewards 2e300 apart at tau = 1e-10).
    Torch's thread count is kept (Numba's OpenMP layer would reset it).

    Examples
    --------
    A group with one success in four, one with two in four, and a constant group (the
    values agree with a scipy Lambert-W root find):

    >>> import torch
    >>> r = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    >>> index = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    >>> beta = group_implicit_beta(r, index, 0.5)
    >>> beta.shape, [round(b, 4) for b in beta.tolist()]
    (torch.Size([3]), [0.1285, 0.1468, 0.0])
    """
    r, index = _check_rewards_index(rewards, index)
    tau = _check_tau(tau, required=True)
    # The ragged groups as a (G, k_max) table; padding has probability 0, which the core
    # treats as outside the support (its reward is ignored).
    layout = _Table(index)
    r_tab = layout.table(r.detach().double(), 0.0).cpu().numpy()
    pi_tab = layout.valid.double() / layout.counts.double()[:, None]
    pi_tab = pi_tab.cpu().numpy()
    # Numba's OpenMP threading layer shares libgomp with torch and resets its thread count on
    # a parallel call; restore torch's (on a busy 2-core machine 2 threads ran ~10x slower).
    n_threads = torch.get_num_threads()
    try:
        beta = implicit_beta(pi_tab, r_tab, tau)
    except ValueError as err:  # the core names the ratio that overflowed
        raise ValueError(f"tau={tau!r}: {err}") from err
    finally:
        torch.set_num_threads(n_threads)
    beta = np.asarray(beta, dtype=np.float64)
    # A group with unequal rewards has lam_t > 0; 0 or a non-finite value means the solve
    # under- or overflowed (tau tiny against the reward spread): refuse, never report it.
    varied = r_tab.max(1, where=pi_tab > 0, initial=-np.inf) > r_tab.min(
        1, where=pi_tab > 0, initial=np.inf
    )
    bad = varied & ~(np.isfinite(beta) & (beta > 0.0))
    if bad.any():
        if np.all(beta[bad] == 0.0):  # beta ~ Var(r) / (2 tau) below float64's range
            raise ValueError(
                f"tau={tau!r} is too large for these rewards: beta_t of a group with "
                "unequal rewards underflowed float64 (about Var(r) / (2 tau) < 5e-324)"
            )
        raise ValueError(
            f"tau={tau!r} is too small for these rewards: beta_t of a group with unequal "
            "rewards overflowed float64 (e^((r - mean r)/tau) out of range)"
        )
    return torch.as_tensor(beta, dtype=r.dtype, device=r.device)
