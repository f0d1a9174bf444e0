r"""PMD-mean and PMD-part inside TRL: :class:`PMDConfig` and :class:`PMDTrainer`.

Switching a TRL GRPO script to PMD-mean is a change of two class names::

    from pmdtheory.bridge.trl import PMDConfig, PMDTrainer

    args = PMDConfig(output_dir="out", tau=0.01, pmd_baseline="mean", num_generations=8)
    trainer = PMDTrainer(model=model, reward_funcs=reward_fn, args=args, train_dataset=ds)
    trainer.train()

What changes against :class:`trl.GRPOTrainer` (tested with trl 1.16.0, :data:`TESTED_TRL_VERSION`):

1. Advantages. After the rewards of the whole generation batch are gathered (before
   TRL shuffles and splits it into micro-batches), each prompt's ``num_generations``
   responses form a group and :func:`~pmdtheory.bridge.group_advantages` gives
   :math:`A_i = r_i - B_i` on the *raw* weighted reward sum (no standard-deviation
   scaling; ``scale_rewards`` is ignored).
2. Loss. :func:`~pmdtheory.bridge.pmd_loss`, the sequence-level regression of
   ../shared/THEORY.md §3,

   .. math:: \frac1B\sum_i \tfrac12\tau w_i\big(A_i/\tau - \log\tfrac{\pi_\theta(y_i)}
             {\pi_{old}(y_i)}\big)^2 / L_i ,

   on the completion mask (times the tool mask), divided by the number of
   gradient-accumulation steps as TRL's own ``grpo`` loss is. No clipping.
3. Metrics beside TRL's: ``pmd/beta_mean`` and ``pmd/beta_median`` (the implied
   :math:`\chi^2` strength :math:`\beta_t = \tau\lambda_t` of THEORY.md §5 over the
   groups whose rewards are not all equal), ``pmd/frac_constant_groups``,
   ``pmd/abs_target`` (mean :math:`|A_i/\tau|`), and from the loss
   ``pmd/residual_sq``, ``pmd/abs_log_ratio``, ``pmd/frac_residual_gt1``, ``pmd/loss``.

Why ``num_iterations`` defaults to 2: the regression needs :math:`\pi_{old} \ne
\pi_\theta`. With a single on-policy pass (TRL's default ``num_iterations=1`` and
``steps_per_generation == gradient_accumulation_steps``) the log-ratio is 0 when the
gradient is taken, the gradient of the loss is
:math:`-\frac1B\sum_i A_i \nabla\log\pi_\theta(y_i)/L_i`, a plain policy gradient, and
:math:`\tau` drops out. Two passes over each generation batch (or
``steps_per_generation > gradient_accumulation_steps``) let the second pass regress
the log-ratio onto :math:`A/\tau`. :class:`PMDConfig` warns when the setting is
on-policy.

Responses that every reward function scored ``None`` get weight 0 in the loss and
are left out of their group's baseline (a leave-one-out group left with one scored
response gets weight 0 too).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import trl
from trl import GRPOConfig, GRPOTrainer

from pmdtheory.bridge.advantages import group_advantages, group_implicit_beta
from pmdtheory.bridge.loss import AGGREGATIONS, pmd_loss

__all__ = ["PMD_BASELINES", "TESTED_TRL_VERSION", "PMDConfig", "PMDTrainer"]

#: The TRL release this module was written against and tested with.
TESTED_TRL_VERSION = "1.16.0"
#: Baselines :class:`PMDConfig` accepts (PMD-mean: ``mean``/``loo_mean``; PMD-part: the others).
PMD_BASELINES = ("mean", "loo_mean", "partition", "loo_partition")
_LOO = ("loo_mean", "loo_partition")
# Extra model inputs TRL may carry for multimodal models; forwarded untouched.
_FORWARD_KEYS = (
    "pixel_values",
    "image_grid_thw",
    "num_images",
    "pixel_attention_mask",
    "spatial_shapes",
    "num_tiles",
    "image_sizes",
    "token_type_ids",
    "mm_token_type_ids",
    "image_position_ids",
)

if trl.__version__ != TESTED_TRL_VERSION:
    warnings.warn(
        f"pmdtheory.bridge.trl was tested with trl=={TESTED_TRL_VERSION}, found "
        f"{trl.__version__}; PMDTrainer overrides private GRPOTrainer methods that may differ.",
        stacklevel=2,
    )


@dataclass
class PMDConfig(GRPOConfig):
    r"""GRPOConfig plus the PMD regression's settings.

    Parameters
    ----------
    tau : float, default 0.01
        KL strength :math:`\tau > 0` of the mirror-descent step (also the partition
        baselines' temperature).
    pmd_baseline : {"mean", "loo_mean", "partition", "loo_partition"}, default "mean"
        Baseline :math:`B_i` standing in for :math:`\tau\log Z_t`: ``mean``/``loo_mean``
        give PMD-mean, ``partition``/``loo_partition`` PMD-part (THEORY.md §3).
    pmd_agg : {"seq-mean-token-mean", "seq-mean-token-sum-norm"}
        Divide each sequence's squared residual by its length or by the padded length.
    num_iterations : int, default 2
        Optimisation passes per generation batch; TRL's default 1 makes the regression a
        plain policy gradient (module docstring).

    Raises
    ------
    ValueError
        ``tau`` not finite and > 0, an unknown ``pmd_baseline`` or ``pmd_agg``, or a GRPO
        loss option the PMD loss does not apply (``beta != 0``, ``top_entropy_quantile <
        1``, ``off_policy_mask_threshold``, an entropy bonus), each naming the argument.
    """

    tau: float = field(
        default=0.01,
        metadata={"help": "KL strength tau > 0 of the PMD step (regression target A / tau)."},
    )
    pmd_baseline: str = field(
        default="mean",
        metadata={
            "help": "Group baseline: 'mean' or 'loo_mean' (PMD-mean), 'partition' or "
            "'loo_partition' (PMD-part).",
            "choices": list(PMD_BASELINES),
        },
    )
    pmd_agg: str = field(
        default="seq-mean-token-mean",
        metadata={
            "help": "Per-sequence normalisation of the squared residual.",
            "choices": list(AGGREGATIONS),
        },
    )
    num_iterations: int = field(
        default=2,
        metadata={
            "help": "Optimisation passes per generation batch. With 1 (on-policy) the PMD "
            "regression's gradient is a plain policy gradient."
        },
    )

    def __post_init__(self):
        tau = float(self.tau)
        if not math.isfinite(tau) or tau <= 0.0:
            raise ValueError(f"tau must be finite and > 0, got {self.tau!r}")
        self.tau = tau
        if self.pmd_baseline not in PMD_BASELINES:
            raise ValueError(
                f"pmd_baseline must be one of {PMD_BASELINES}, got {self.pmd_baseline!r}"
            )
        if self.pmd_agg not in AGGREGATIONS:
            raise ValueError(f"pmd_agg must be one of {AGGREGATIONS}, got {self.pmd_agg!r}")
        if self.beta != 0.0:
            raise ValueError(
                f"beta must be 0 for PMDTrainer (got {self.beta}): the KL to the previous "
                "policy is tau; a reference-model KL term is not part of the PMD loss"
            )
        if self.top_entropy_quantile < 1.0:
            raise ValueError("top_entropy_quantile must be 1.0: PMDTrainer has no entropy mask")
        if self.off_policy_mask_threshold is not None:
            raise ValueError("off_policy_mask_threshold must be None: not applied by PMDTrainer")
        if self.entropy_coef != 0.0 or self.use_adaptive_entropy:
            raise ValueError("entropy_coef must be 0 and use_adaptive_entropy False (PMDTrainer)")
        super().__post_init__()
        generate_every = self.steps_per_generation * self.num_iterations
        if self.gradient_accumulation_steps % generate_every == 0:
            warnings.warn(
                "PMDConfig is on-policy (num_iterations=1 and steps_per_generation <= "
                "gradient_accumulation_steps): the PMD regression reduces to a plain policy "
                "gradient and tau has no effect. Use num_iterations >= 2.",
                stacklevel=2,
            )


def _score_groups(rewards, num_generations, *, baseline, tau):
    r"""PMD advantages, loss weights and group statistics of one generation batch.

    Parameters
    ----------
    rewards : Tensor, shape (N,)
        Weighted reward sum per response, NaN where no reward function scored it;
        responses ``g*k .. g*k + k - 1`` answer prompt ``g`` (``k = num_generations``).
    num_generations : int
    baseline : str
        One of :data:`PMD_BASELINES`.
    tau : float

    Returns
    -------
    advantages : Tensor, shape (N,)
        :math:`A_i = r_i - B_i`, 0 where the weight is 0. dtype/device of ``rewards``.
    weights : Tensor, shape (N,)
        1 for responses that enter the loss, 0 for unscored ones (and for the
        remainder of a leave-one-out group with fewer than 2 scored responses).
    stats : dict[str, float]
        ``pmd/beta_mean``, ``pmd/beta_median`` (NaN when every group is constant),
        ``pmd/frac_constant_groups``, ``pmd/abs_target``.
    """
    n = rewards.numel()
    if n % num_generations != 0:
        raise ValueError(f"rewards: {n} responses do not split into groups of {num_generations}")
    r = rewards.detach().to(torch.float64)
    group = torch.arange(n, device=r.device) // num_generations
    scored = torch.isfinite(r)
    n_scored = torch.zeros(n // num_generations, device=r.device, dtype=torch.long)
    n_scored.index_add_(0, group, scored.long())
    keep = scored & (n_scored[group] >= (2 if baseline in _LOO else 1))

    adv = torch.zeros_like(r)
    nan = float("nan")
    stats = {"pmd/beta_mean": nan, "pmd/beta_median": nan, "pmd/abs_target": nan}
    if bool(keep.any()):
        r_kept, g_kept = r[keep], group[keep]
        adv[keep] = group_advantages(r_kept, g_kept, baseline=baseline, tau=tau)
        stats["pmd/abs_target"] = float((adv[keep] / tau).abs().mean())
        # A group is constant when its scored rewards are all equal (then lam_t = beta_t = 0).
        n_groups = n // num_generations
        r_max = r.new_full((n_groups,), -math.inf)
        r_min = r.new_full((n_groups,), math.inf)
        r_max.scatter_reduce_(0, g_kept, r_kept, reduce="amax")
        r_min.scatter_reduce_(0, g_kept, r_kept, reduce="amin")
        varied = torch.unique(g_kept)
        varied = varied[r_max[varied] > r_min[varied]]
        stats["pmd/frac_constant_groups"] = 1.0 - varied.numel() / n_groups
        if varied.numel() > 0:
            in_varied = torch.isin(g_kept, varied)
            beta = group_implicit_beta(r_kept[in_varied], g_kept[in_varied], tau)
            stats["pmd/beta_mean"] = float(beta.mean())
            stats["pmd/beta_median"] = float(np.median(beta.cpu().numpy()))
    else:
        stats["pmd/frac_constant_groups"] = 1.0
    return adv.to(rewards.dtype), keep.to(rewards.dtype), stats


class PMDTrainer(GRPOTrainer):
    r"""GRPOTrainer whose advantages and loss are those of policy mirror descent.

    Takes the arguments of :class:`trl.GRPOTrainer`; ``args`` must be a
    :class:`PMDConfig`. Overrides three methods: ``_calculate_rewards`` (keeps the
    gathered raw rewards), ``_generate_and_score_completions`` (replaces the
    advantages by PMD ones while whole groups are together, adds per-response loss
    weights) and ``_compute_loss`` (the PMD regression). See the module docstring.
    """

    _tag_names = ["trl", "pmd", "pmdtheory"]
    _name = "PMD"

    def __init__(self, *args, **kwargs):
        config = kwargs.get("args", args[2] if len(args) > 2 else None)
        if not isinstance(config, PMDConfig):
            raise ValueError("args must be a PMDConfig")
        super().__init__(*args, **kwargs)
        self._pmd_rewards_per_func = None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(
            inputs, prompts, completions, completion_ids_list
        )
        # Gathered over processes, in generation order: whole groups are still contiguous.
        self._pmd_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        per_func = self._pmd_rewards_per_func
        weights = self.reward_weights.to(per_func.device).unsqueeze(0)
        rewards = (per_func * weights).nansum(dim=1)
        rewards[torch.isnan(per_func).all(dim=1)] = torch.nan
        adv, loss_weights, stats = _score_groups(
            rewards, num_generations, baseline=self.args.pmd_baseline, tau=self.args.tau
        )
        local = slice(
            self.accelerator.process_index * len(inputs),
            (self.accelerator.process_index + 1) * len(inputs),
        )
        device = output["advantages"].device
        output["advantages"] = adv[local].to(device=device, dtype=torch.float32)
        output["pmd_weights"] = loss_weights[local].to(device=device, dtype=torch.float32)
        for key, value in stats.items():
            self._metrics[mode][key].append(value)
        # The completions table shows the advantages the loss uses, not GRPO's.
        logged = getattr(self, "_logs", {}).get("advantages")
        if logged is not None:
            for _ in range(min(len(logged), adv.numel())):
                logged.pop()
            logged.extend(adv.tolist())
        return output

    def _compute_loss(self, model, inputs):
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask
        if "tool_mask" in inputs:
            mask = completion_mask * inputs["tool_mask"]
        logp, entropies, aux_loss = self._get_per_token_logps_and_entropies(
            model,
            input_ids,
            attention_mask,
            completion_ids.size(1),
            compute_entropy=True,
            compute_aux_loss=self.aux_loss_enabled,
            **{key: inputs.get(key) for key in _FORWARD_KEYS},
        )
        # TRL leaves old_per_token_logps out when the batch is on-policy (old == current).
        logp_old = inputs.get("old_per_token_logps")
        logp_old = logp.detach() if logp_old is None else logp_old
        # Sequence log-probs are sums over up to thousands of tokens: accumulate in float32.
        loss, metrics = pmd_loss(
            logp.float(),
            logp_old.float(),
            inputs["advantages"],
            mask,
            tau=self.args.tau,
            agg=self.args.pmd_agg,
            weights=inputs.get("pmd_weights"),
        )
        mode = "train" if self.model.training else "eval"
        # The loss is a mean over this micro-batch; TRL sums gradients over the accumulation
        # window and does not rescale (loss_is_scaled_for_ga), so divide as its grpo loss does.
        normalizer = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        loss = loss / normalizer
        if self.aux_loss_enabled:
            loss = loss + self.router_aux_loss_coef * aux_loss / normalizer

        device = logp.device
        masked = mask.to(entropies.dtype)
        values = [float((entropies.detach() * masked).sum() / masked.sum().clamp(min=1.0))]
        values += list(metrics.values())
        gathered = self.accelerator.gather(torch.tensor(values, device=device).unsqueeze(0))
        for key, value in zip(["entropy", *metrics], gathered.mean(dim=0).tolist(), strict=True):
            self._metrics[mode][key].append(value)
        return loss
