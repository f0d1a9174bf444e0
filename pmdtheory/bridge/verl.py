r"""PMD-mean and PMD-part for verl: an advantage estimator pair and the PMD policy loss.

Importing this module registers, when verl is importable,

=============================  ===============================================
``algorithm.adv_estimator``    ``pmd_mean`` (baseline: leave-one-out mean, verl's
                               ``rloo`` numbers) or ``pmd_part`` (leave-one-out
                               partition, OpenKimi's ``ploo``, computed stably)
``...policy_loss.loss_mode``   ``pmd`` (the sequence-level regression of
                               ../shared/THEORY.md §3, OpenKimi's ``opmd``)
=============================  ===============================================

through verl's ``register_adv_est`` / ``register_policy_loss``
(``verl.trainer.ppo.core_algos``). verl is not a dependency: without it the import
registers nothing and the functions still work on plain tensors. verl's Ray workers
import this module when it is named in ``actor_rollout_ref.model.external_lib``.

Config keys read (``+`` adds a key hydra does not know):

- ``+algorithm.pmd_tau`` (default 0.01; OpenKimi's ``partition_tau`` is accepted too):
  temperature of the partition baseline.
- ``+algorithm.pmd_loo`` (default true): leave-one-out baselines; false gives the
  plain group mean / group log-mean-exp.
- ``+actor_rollout_ref.actor.policy_loss.pmd_tau`` (default 0.01): :math:`\tau` of
  the loss; set it equal to ``algorithm.pmd_tau``.
- ``actor_rollout_ref.actor.loss_agg_mode``: ``seq-mean-token-mean`` (divide each
  squared residual by the response length) or ``seq-mean-token-sum-norm`` (by the
  padded length).
"""

from __future__ import annotations

import numpy as np
import torch

from pmdtheory.bridge.advantages import group_advantages
from pmdtheory.bridge.loss import AGGREGATIONS, pmd_loss

__all__ = [
    "ADV_ESTIMATORS",
    "POLICY_LOSSES",
    "REGISTERED",
    "compute_pmd_mean_advantage",
    "compute_pmd_part_advantage",
    "compute_policy_loss_pmd",
    "register",
]

_DEFAULT_TAU = 0.01


def _get(config, key, default=None):
    """``config[key]`` for a DictConfig, a verl BaseConfig, a dict or an object; else default."""
    if config is None:
        return default
    if hasattr(config, "get"):
        value = config.get(key, default)
    else:
        value = getattr(config, key, default)
    return default if value is None else value


def _outcome_advantage(token_level_rewards, response_mask, index, *, baseline, tau):
    """Sequence reward = sum of token rewards; group advantage broadcast over response tokens."""
    if token_level_rewards.ndim != 2:
        raise ValueError("token_level_rewards must be 2-D (batch, response_length)")
    if response_mask.shape != token_level_rewards.shape:
        raise ValueError("response_mask must have the shape of token_level_rewards")
    index = np.asarray(index)
    if index.shape != (token_level_rewards.shape[0],):
        raise ValueError(f"index must have shape ({token_level_rewards.shape[0]},)")
    # verl's uids are strings (one per prompt): map them to integer group ids.
    _, group = np.unique(index, return_inverse=True)
    with torch.no_grad():
        scores = token_level_rewards.sum(dim=-1)
        group = torch.as_tensor(group.reshape(-1), device=scores.device)
        adv = group_advantages(scores, group, baseline=baseline, tau=tau)
        adv = adv.unsqueeze(-1) * response_mask
    return adv, adv


def compute_pmd_mean_advantage(
    token_level_rewards, response_mask, index, epsilon=1e-6, config=None, **kwargs
):
    r"""PMD-mean advantages :math:`A_i = r_i - \bar r_{-i}` (verl ``adv_estimator=pmd_mean``).

    Parameters
    ----------
    token_level_rewards : Tensor, shape (bs, response_length)
        Token rewards; a response's reward :math:`r_i` is their sum.
    response_mask : Tensor, shape (bs, response_length)
        1 on response tokens.
    index : array, shape (bs,)
        Prompt id (verl's ``uid``) of each response; groups may be ragged.
    epsilon : float
        Unused (verl passes it to every estimator).
    config : AlgoConfig or DictConfig, optional
        ``pmd_loo`` (default True): leave-one-out mean (every group needs >= 2
        responses) or plain group mean.

    Returns
    -------
    advantages, returns : Tensor, shape (bs, response_length)
        Both :math:`A_i` on response tokens, 0 elsewhere (verl's convention).

    References
    ----------
    ../shared/THEORY.md §3.
    """
    baseline = "loo_mean" if bool(_get(config, "pmd_loo", True)) else "mean"
    return _outcome_advantage(
        token_level_rewards, response_mask, index, baseline=baseline, tau=None
    )


def compute_pmd_part_advantage(
    token_level_rewards, response_mask, index, epsilon=1e-6, config=None, **kwargs
):
    r"""PMD-part advantages :math:`A_i = r_i - \tau\log\frac1{k-1}\sum_{j\ne i}e^{r_j/\tau}`.

    verl ``adv_estimator=pmd_part``. Same parameters and returns as
    :func:`compute_pmd_mean_advantage`; ``config.pmd_tau`` (or OpenKimi's
    ``partition_tau``, default 0.01) is :math:`\tau`, and ``pmd_loo=False`` uses the
    whole group's log-mean-exp. The leave-one-out baseline subtracts the maximum of
    the *other* rewards, so a group's only success gets baseline 0, not 0.816
    (THEORY.md §3).
    """
    tau = float(_get(config, "pmd_tau", _get(config, "partition_tau", _DEFAULT_TAU)))
    baseline = "loo_partition" if bool(_get(config, "pmd_loo", True)) else "partition"
    return _outcome_advantage(
        token_level_rewards, response_mask, index, baseline=baseline, tau=tau
    )


def compute_policy_loss_pmd(
    old_log_prob,
    log_prob,
    advantages,
    response_mask,
    loss_agg_mode="seq-mean-token-mean",
    config=None,
    rollout_is_weights=None,
    **kwargs,
):
    r"""The PMD regression loss with verl's policy-loss signature (``loss_mode=pmd``).

    .. math::

        \mathcal L = \frac1B\sum_i \tfrac12\tau w_i
        \Big(\frac{A_i}{\tau} - \sum_t m_{it}(\log\pi_\theta - \log\pi_{old})_{it}\Big)^2
        \Big/ L_i

    Parameters
    ----------
    old_log_prob, log_prob : Tensor, shape (bs, response_length)
        Token log-probabilities under the sampling and the trained policy.
    advantages : Tensor, shape (bs, response_length)
        Token advantages; :math:`A_i` is their mean over the response tokens (for
        outcome estimators every token carries :math:`A_i`).
    response_mask : Tensor, shape (bs, response_length)
    loss_agg_mode : {"seq-mean-token-mean", "seq-mean-token-sum-norm"}
        :math:`L_i` = response length, or the padded length ``response_length``.
    config : ActorConfig or DictConfig, optional
        :math:`\tau` from ``config.policy_loss.pmd_tau`` (else ``config.pmd_tau``,
        default 0.01). When ``config.global_batch_info`` holds ``global_batch_size``
        (verl's new engine), the micro-batch mean is rescaled by
        ``bs * dp_size / global_batch_size`` so that micro-batches sum to the global mean.
    rollout_is_weights : Tensor, shape (bs, response_length), optional
        verl's rollout-correction weights; their masked token mean is the sequence
        weight :math:`w_i` (the sequence weight itself for sequence-level modes).

    Returns
    -------
    loss : Tensor, scalar
    metrics : dict[str, float]
        ``actor/ppo_kl`` (mean of :math:`-\delta_i/L_i`), ``actor/pg_clipfrac`` and
        ``actor/pg_clipfrac_lower`` (0: no clipping), and ``actor/pmd/...`` from
        :func:`~pmdtheory.bridge.pmd_loss`.
    """
    if loss_agg_mode not in AGGREGATIONS:
        raise ValueError(f"loss_agg_mode must be one of {AGGREGATIONS}, got {loss_agg_mode!r}")
    policy_loss = _get(config, "policy_loss")
    tau = float(_get(policy_loss, "pmd_tau", _get(config, "pmd_tau", _DEFAULT_TAU)))
    mask = response_mask.to(log_prob.dtype)
    length = mask.sum(-1).clamp(min=1.0)
    seq_adv = (advantages * mask).sum(-1) / length
    weights = None
    if rollout_is_weights is not None:
        weights = (rollout_is_weights.detach() * mask).sum(-1) / length
    loss, pmd_metrics = pmd_loss(
        log_prob, old_log_prob, seq_adv, mask, tau=tau, agg=loss_agg_mode, weights=weights
    )
    info = _get(config, "global_batch_info", {}) or {}
    global_batch_size = info.get("global_batch_size")
    if global_batch_size:
        loss = loss * (log_prob.shape[0] * info.get("dp_size", 1) / global_batch_size)

    with torch.no_grad():
        log_ratio = ((log_prob - old_log_prob) * mask).sum(-1)
        ppo_kl = float((-log_ratio / length).mean())
    metrics = {"actor/ppo_kl": ppo_kl, "actor/pg_clipfrac": 0.0, "actor/pg_clipfrac_lower": 0.0}
    metrics.update({f"actor/{key}": value for key, value in pmd_metrics.items()})
    return loss, metrics


#: Names under which :func:`register` adds the estimators and the loss to verl.
ADV_ESTIMATORS = {"pmd_mean": compute_pmd_mean_advantage, "pmd_part": compute_pmd_part_advantage}
POLICY_LOSSES = {"pmd": compute_policy_loss_pmd}


def register(core_algos=None):
    """Add :data:`ADV_ESTIMATORS` and :data:`POLICY_LOSSES` to verl's registries.

    Parameters
    ----------
    core_algos : module, optional
        A module with verl's ``register_adv_est(name)`` and
        ``register_policy_loss(name)`` decorators; default
        ``verl.trainer.ppo.core_algos``.

    Returns
    -------
    bool
        False when verl cannot be imported (nothing registered), else True.
    """
    if core_algos is None:
        try:
            from verl.trainer.ppo import core_algos
        except ImportError:
            return False
    for name, fn in ADV_ESTIMATORS.items():
        core_algos.register_adv_est(name)(fn)
    for name, fn in POLICY_LOSSES.items():
        core_algos.register_policy_loss(name)(fn)
    return True


#: Whether importing this module registered the PMD functions with an installed verl.
REGISTERED = register()
