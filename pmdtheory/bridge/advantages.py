r"""Group baselines and advantages for sampled responses, in torch.

A batch holds ``N`` sampled responses; ``index[i]`` names the prompt (group) that
response ``i`` answers. Groups may be ragged. Every reduction over a group is a
segment (scatter) reduction over the whole batch, so there is no Python loop over
groups and the functions run on any device, in float32 or float64.

The baselines are those of ../shared/THEORY.md §3 and of the numpy module
:mod:`pmdtheory.estimators` (same numbers, to rounding):

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

import numpy as np
import torch

from pmdtheory.updates import implicit_beta

__all__ = ["BASELINES", "group_advantages", "group_implicit_beta"]

BASELINES = ("mean", "loo_mean", "partition", "loo_partition", "grpo")
_LOO = ("loo_mean", "loo_partition")
_PARTITION = ("partition", "loo_partition")


def _check_rewards_index(rewards, index):
    """Validate ``rewards`` (N,) float and ``index`` (N,) integer; return both as tensors."""
    if not isinstance(rewards, torch.Tensor):
        rewards = torch.as_tensor(rewards)
    if rewards.ndim != 1:
        raise ValueError(f"rewards must be 1-D (N,), got shape {tuple(rewards.shape)}")
    if not rewards.is_floating_point():
        rewards = rewards.to(torch.get_default_dtype())
    if rewards.numel() == 0:
        raise ValueError("rewards must not be empty")
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards must be finite (no NaN or inf)")
    index = torch.as_tensor(index, device=rewards.device)
    if index.shape != rewards.shape:
        raise ValueError(
            f"index must have the shape of rewards {tuple(rewards.shape)}, "
            f"got {tuple(index.shape)}"
        )
    if index.is_floating_point() or index.is_complex():
        raise ValueError("index must hold integer group ids")
    return rewards, index


def _check_tau(tau, *, required):
    if tau is None:
        if required:
            raise ValueError("tau must be given (> 0) for the partition baselines")
        return None
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0.0:
        raise ValueError(f"tau must be finite and > 0, got {tau}")
    return tau


def _segment_sum(x, inv, n_groups):
    return x.new_zeros(n_groups).index_add_(0, inv, x)


def _segment_max(x, inv, n_groups):
    out = x.new_full((n_groups,), -torch.inf)
    return out.scatter_reduce_(0, inv, x, reduce="amax", include_self=True)


def _loo_partition(r, inv, counts, tau):
    r"""Leave-one-out partition baseline, stable for a lone success.

    :math:`B_i = M_i + \tau\log\frac1{k-1}\sum_{j\ne i} e^{(r_j - M_i)/\tau}` with
    :math:`M_i = \max_{j \ne i} r_j`, the maximum of the *other* rewards.
    """
    n_groups = counts.numel()
    max1 = _segment_max(r, inv, n_groups)
    is_top = r == max1[inv]
    n_top = _segment_sum(is_top.to(r.dtype), inv, n_groups)
    # Second maximum: the largest reward strictly below the group maximum.
    max2 = _segment_max(torch.where(is_top, -torch.inf, r), inv, n_groups)
    # Only the *unique* maximiser of its group has M_i = max2; everyone else has M_i = max1.
    lone_top = is_top & (n_top[inv] == 1)
    # Others of a unique maximiser: every non-top reward, shifted by max2 (all terms <= 1, one
    # equals 1). Masked terms are set to 0 before exp-ing to keep inf/NaN out of the sum.
    z2 = torch.where(is_top, 0.0, torch.exp(torch.where(is_top, 0.0, r - max2[inv]) / tau))
    s2 = _segment_sum(z2, inv, n_groups)
    # Everyone else: the group total with the max shift minus the own term. The others always
    # include a maximiser (a term equal to 1), so the difference is >= 1 and nothing cancels;
    # the "total minus own term" form is unsafe only for the unique maximiser, handled above.
    z1 = torch.exp((r - max1[inv]) / tau)
    s1 = _segment_sum(z1, inv, n_groups)
    loo_sum = torch.where(lone_top, s2[inv], s1[inv] - z1)
    m_other = torch.where(lone_top, max2[inv], max1[inv])
    return m_other + tau * (torch.log(loo_sum) - torch.log(counts[inv] - 1.0))


def group_advantages(rewards, index, *, baseline, tau=None, eps=1e-6):
    r"""Advantages :math:`A_i = r_i - B_i` of sampled responses against their group's baseline.

    Parameters
    ----------
    rewards : Tensor, shape (N,)
        Reward of each response (float32 or float64; integers are cast to the default dtype).
    index : Tensor or array of int, shape (N,)
        Group (prompt) id of each response. Groups may have different sizes.
    baseline : {"mean", "loo_mean", "partition", "loo_partition", "grpo"}
        The baseline :math:`B_i` (table in the module docstring).
    tau : float, optional
        KL strength :math:`\tau > 0`; required by ``partition`` and ``loo_partition``.
    eps : float, default 1e-6
        Added to the group standard deviation (``ddof=1``) by ``grpo``.

    Returns
    -------
    Tensor, shape (N,)
        The advantages, dtype and device of ``rewards``. The regression target of
        THEORY.md §3 is ``A / tau``. For ``grpo`` a group of size 1 gets advantage 0.

    Raises
    ------
    ValueError
        Unknown ``baseline``; non-finite ``rewards``; ``index`` of the wrong shape or
        type; a group of size 1 with a leave-one-out baseline (names ``index``);
        ``tau`` missing or ``<= 0`` for the partition baselines.

    Notes
    -----
    ``loo_partition`` subtracts :math:`\max_{j\ne i} r_j`, the maximum of the *other*
    rewards. The shortcut "group sum minus own term, group maximum subtracted" cancels
    when response :math:`i` is the group's only success: for rewards ``[1, 0, 0, 0]``
    and ``tau = 0.01`` it gives that success a baseline of 0.816 (with a 1e-8 floor)
    instead of 0.

    References
    ----------
    ../shared/THEORY.md §3; Xu, Lu, Yu, Zhao (2026), arXiv:2602.05933.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    r, index = _check_rewards_index(rewards, index)
    tau = _check_tau(tau, required=baseline in _PARTITION)
    eps = float(eps)
    if not np.isfinite(eps) or eps < 0.0:
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    _, inv, counts = torch.unique(index, return_inverse=True, return_counts=True)
    counts = counts.to(r.dtype)
    if baseline in _LOO and bool((counts < 2).any()):
        raise ValueError(f"index: every group needs >= 2 responses for baseline={baseline!r}")
    n_groups = counts.numel()
    k = counts[inv]

    if baseline == "partition":
        m = _segment_max(r, inv, n_groups)[inv]
        # log-mean-exp with the group maximum subtracted: every term <= 1, one equals 1.
        s = _segment_sum(torch.exp((r - m) / tau), inv, n_groups)[inv]
        return r - (m + tau * (torch.log(s) - torch.log(k)))
    if baseline == "loo_partition":
        return r - _loo_partition(r, inv, counts, tau)

    total = _segment_sum(r, inv, n_groups)[inv]
    if baseline == "loo_mean":
        return r - (total - r) / (k - 1.0)
    mean = total / k
    if baseline == "mean":
        return r - mean
    # grpo: two-pass variance (ddof=1); a group of size 1 has std 0 and advantage 0.
    dev = r - mean
    ss = _segment_sum(dev * dev, inv, n_groups)[inv]
    std = torch.sqrt(ss / torch.clamp(k - 1.0, min=1.0))
    return dev / (std + eps)


def group_implicit_beta(rewards, index, tau):
    r"""Implicit :math:`\chi^2` weight :math:`\beta_t = \tau\lambda_t` of each group.

    Each group's empirical reward distribution (uniform over its responses) is fed to
    the core's PMD-mean solver: :math:`\lambda_t` solves
    :math:`\sum_a \pi_t(a) x(a) = 1` with :math:`\log x(a) + \lambda_t x(a) = b(a)`.
    PMD-mean then equals mirror descent with the regulariser
    :math:`\tau\,\mathrm{KL} + \frac{\beta_t}{2}\chi^2` (THEORY.md §5).

    Parameters
    ----------
    rewards : Tensor, shape (N,)
    index : Tensor or array of int, shape (N,)
        Group ids; groups may be ragged.
    tau : float
        KL strength, ``> 0``.

    Returns
    -------
    Tensor, shape (G,)
        :math:`\beta_t` per group, groups in the order of their sorted unique ids; 0 for a
        group with constant rewards. dtype and device of ``rewards``.
    """
    r, index = _check_rewards_index(rewards, index)
    tau = _check_tau(tau, required=True)
    _, inv, counts = torch.unique(index, return_inverse=True, return_counts=True)
    n_groups, k_max = counts.numel(), int(counts.max())
    # Pad the ragged groups into a (G, k_max) table; padding has probability 0, which the core
    # treats as outside the support (its reward is ignored).
    order = torch.argsort(inv, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    inv_sorted = inv[order]
    col = torch.arange(r.numel(), device=r.device) - starts[inv_sorted]
    r_tab = np.zeros((n_groups, k_max))
    pi_tab = np.zeros((n_groups, k_max))
    rows, cols = inv_sorted.cpu().numpy(), col.cpu().numpy()
    r_tab[rows, cols] = r[order].detach().cpu().double().numpy()
    pi_tab[rows, cols] = 1.0 / counts.cpu().double().numpy()[rows]
    # Numba's OpenMP threading layer shares libgomp with torch and resets its thread count on
    # a parallel call; restore torch's (on a busy 2-core machine 2 threads ran ~10x slower).
    n_threads = torch.get_num_threads()
    try:
        beta = implicit_beta(pi_tab, r_tab, tau)
    finally:
        torch.set_num_threads(n_threads)
    return torch.as_tensor(np.asarray(beta, dtype=np.float64), dtype=r.dtype, device=r.device)
