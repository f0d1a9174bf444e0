r"""PMD-mean and PMD-part inside TRL: :class:`PMDConfig` and :class:`PMDTrainer`.

Switching a TRL GRPO script to PMD-mean is a change of two class names::

    from pmdtheory.bridge.trl import PMDConfig, PMDTrainer

    args = PMDConfig(output_dir="out", tau=0.01, pmd_baseline="mean", num_generations=8)
    trainer = PMDTrainer(model=model, reward_funcs=reward_fn, args=args, train_dataset=ds)
    trainer.train()

What changes against :class:`trl.GRPOTrainer` (tested with trl 1.16.0, :data:`TESTED_TRL_VERSION`):

1. Advantages. After the rewards of the whole generation batch are gathered from every
   process (before TRL shuffles and splits it into micro-batches), each prompt's
   ``num_generations`` responses form a group and
   :func:`~pmdtheory.bridge.group_advantages` gives :math:`A_i = r_i - B_i` on the
   weighted reward sum. Rewards are not standardised: ``scale_rewards`` must be
   ``"none"`` (the default of :class:`PMDConfig`), because the regression target
   :math:`A/\tau` is in reward units and dividing by a group's standard deviation would
   change :math:`\tau` group by group. With
   ``multi_objective_aggregation="normalize_then_sum"`` each reward function is first
   standardised within its group (TRL's formula), then weighted and summed.
2. Loss. :func:`~pmdtheory.bridge.pmd_loss`, the sequence-level regression of
   THEORY §3,

   .. math:: \frac1{B_+}\sum_{i:\,L_i>0} \tfrac12\tau w_i\big(A_i/\tau -
             \log\tfrac{\pi_\theta(y_i)}{\pi_{old}(y_i)}\big)^2 / L_i ,

   on the completion mask (times the tool mask). :math:`B_+` counts the responses with
   at least one unmasked token over the whole generation batch and every process,
   divided as TRL's ``dapo`` loss divides its token count, so that the micro-batch
   losses of one optimizer step add up to the loss of the whole batch (gradient
   accumulation and data parallelism give the large-batch update). A completion
   masked by ``mask_truncated_completions`` drops out of the sum and of :math:`B_+`.
   No clipping.
3. Sampler mismatch. With vLLM generation and ``vllm_importance_sampling_correction``
   (TRL's default), the responses come from the sampler :math:`\mu` (vLLM), not from
   :math:`\pi_{old}` (the trainer's weights). The sequence weight is TRL's sequence-level
   ratio :math:`w_i = \pi_{old}(y_i)/\mu(y_i)`, truncated at
   ``vllm_importance_sampling_clip_max`` (mode ``sequence_truncate``) or set to 0
   outside ``[clip_min, clip_max]`` (``sequence_mask``, TRL's default). The weighted
   loss is then the (truncated) importance-sampling estimate of the regression's
   expectation under :math:`\pi_{old}`,
   :math:`\mathbb E_{y\sim\mu}[w(y)\,\ell(y)] = \mathbb E_{y\sim\pi_{old}}[\ell(y)]`
   (exact without truncation), like OpenKimi's ``opmd`` with its rollout weights.
   Token-level modes are refused: the regression has one term per sequence.
4. Metrics beside TRL's: ``pmd/beta_mean`` and ``pmd/beta_median`` (the implied
   :math:`\chi^2` strength :math:`\beta_t = \tau\lambda_t` of THEORY.md §5 over the
   groups whose rewards are not all equal), ``pmd/frac_constant_groups``,
   ``pmd/abs_target`` (mean :math:`|A_i/\tau|`), and from the loss
   ``pmd/residual_sq``, ``pmd/abs_log_ratio``, ``pmd/frac_residual_gt1``, ``pmd/loss``.

Every field of :class:`trl.GRPOConfig` is in exactly one of :data:`HONOURED`,
:data:`REFUSED` (any value other than GRPOConfig's default raises a ``ValueError``
naming the field, the reason and what to use instead) and :data:`IRRELEVANT` (used
unchanged by the inherited generation, logging and ``transformers.Trainer`` code);
the tests fail when an installed TRL has a field in none of them.

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
are left out of their group's baseline (a group left with one scored response gets the
registry's convention for a group of one, verl's: baseline 0 under the leave-one-out
baselines; a group below a baseline's ``min_group`` gets weight 0).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import trl
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import get_config_model_id, nanstd

from pmdtheory._validate import positive
from pmdtheory.baselines import BASELINES
from pmdtheory.bridge.advantages import group_advantages, group_implicit_beta
from pmdtheory.bridge.loss import AGGREGATIONS, pmd_loss
from pmdtheory.bridge.trl_options import (
    GRPO_DEFAULTS,
    HONOURED,
    IRRELEVANT,
    REFUSED,
    SEQUENCE_IS_MODES,
    option_status,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = [
    "GRPO_DEFAULTS",
    "HONOURED",
    "IRRELEVANT",
    "PMD_BASELINES",
    "REFUSED",
    "TESTED_TRL_VERSION",
    "PMDConfig",
    "PMDTrainer",
    "option_status",
]

#: The TRL release this module was written against and tested with.
TESTED_TRL_VERSION: str = "1.16.0"
#: Baselines :class:`PMDConfig` accepts: the registry :data:`pmdtheory.baselines.BASELINES`
#: (PMD-mean: ``mean``/``loo_mean``; PMD-part: ``partition``/``loo_partition``; ``grpo``)
PMD_BASELINES = BASELINES
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

    Every field other than the five below is GRPOConfig's; :data:`HONOURED`,
    :data:`REFUSED` and :data:`IRRELEVANT` say what PMDTrainer does with each. The
    fields parse from the command line with ``transformers.HfArgumentParser`` as
    GRPOConfig's do.

    Parameters
    ----------
    tau : float, default 0.01
        KL strength :math:`\tau > 0` of the mirror-descent step (also the partition
        baselines' temperature).
    pmd_baseline : str, default "mean"
        A name of :data:`PMD_BASELINES`, the baseline :math:`B_i` standing in for
        :math:`\tau\log Z_t`: ``mean``/``loo_mean`` give PMD-mean,
        ``partition``/``loo_partition`` PMD-part (THEORY.md §3).
    pmd_agg : {"seq-mean-token-mean", "seq-mean-token-sum-norm"}
        Divide each sequence's squared residual by its length or by the padded length.
    num_iterations : int, default 2
        Optimisation passes per generation batch; TRL's default 1 makes the regression a
        plain policy gradient (module docstring).
    scale_rewards : {"none"}, default "none"
        TRL's reward standardisation; only ``"none"`` (``False`` is mapped to it, as
        GRPOConfig does; see :data:`REFUSED`).

    Raises
    ------
    ValueError
        ``tau`` not finite and > 0, an unknown ``pmd_baseline`` or ``pmd_agg``, a
        :data:`REFUSED` field away from GRPOConfig's default, a token-level
        ``vllm_importance_sampling_mode`` with the correction on, or
        ``num_iterations < 1``; each names the field, says why and what to use instead.

    Warns
    -----
    UserWarning
        The setting is on-policy (``num_iterations=1`` and ``steps_per_generation <=
        gradient_accumulation_steps``): the regression is then a plain policy gradient.

    Notes
    -----
    Tested with trl 1.16.0 (tests/test_bridge_trl.py): the defaults, the on-policy
    warning, each bad ``tau`` (0, NaN, None, a string), ``pmd_baseline``, ``pmd_agg`` and
    ``num_iterations=0``; every :data:`REFUSED` field at a value GRPOConfig accepts (and
    each of the seven other ``loss_type`` values, ``scale_rewards`` ``"group"``,
    ``"batch"`` and ``True``); GRPOConfig's defaults of the refused fields accepted; the
    fields and refusals through ``HfArgumentParser``. Token-level
    ``vllm_importance_sampling_mode`` is refused in tests/test_trl_parity.py.

    Examples
    --------
    >>> args = PMDConfig(output_dir="out", use_cpu=True, report_to="none", tau=0.05)
    >>> args.tau, args.pmd_baseline, args.num_iterations, args.scale_rewards
    (0.05, 'mean', 2, 'none')
    >>> PMDConfig(output_dir="out", use_cpu=True, loss_type="dr_grpo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: loss_type='dr_grpo' is not supported by PMDTrainer: ...
    >>> PMDConfig(output_dir="out", use_cpu=True, tau=0.0)
    Traceback (most recent call last):
    ...
    ValueError: tau must be finite and > 0, got 0.0
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
    scale_rewards: str = field(
        default="none",
        metadata={
            "help": "Reward standardisation; PMD needs rewards in their own units: 'none'.",
        },
    )

    def __post_init__(self) -> None:
        self.tau = positive(self.tau, "tau")
        if self.pmd_baseline not in PMD_BASELINES:
            raise ValueError(
                f"pmd_baseline must be one of {tuple(PMD_BASELINES)}, got {self.pmd_baseline!r}"
            )
        if self.pmd_agg not in AGGREGATIONS:
            raise ValueError(f"pmd_agg must be one of {AGGREGATIONS}, got {self.pmd_agg!r}")
        if not isinstance(self.num_iterations, int) or self.num_iterations < 1:
            raise ValueError(
                f"num_iterations must be an integer >= 1, got {self.num_iterations!r}"
            )
        super().__post_init__()  # maps scale_rewards True/False, the deprecated IS cap, ...
        for name, (why, instead) in REFUSED.items():
            value = getattr(self, name)
            allowed = "none" if name == "scale_rewards" else GRPO_DEFAULTS[name]
            if value != allowed:
                raise ValueError(
                    f"{name}={value!r} is not supported by PMDTrainer: {why}. Instead: "
                    f"{instead} ({name}={allowed!r})."
                )
        if (
            self.vllm_importance_sampling_correction
            and self.vllm_importance_sampling_mode not in SEQUENCE_IS_MODES
        ):
            raise ValueError(
                f"vllm_importance_sampling_mode={self.vllm_importance_sampling_mode!r} is not "
                "supported by PMDTrainer: the PMD regression has one term per sequence, so it "
                "takes one importance weight per sequence. Instead: use one of "
                f"{SEQUENCE_IS_MODES}, or vllm_importance_sampling_correction=False."
            )
        generate_every = self.steps_per_generation * self.num_iterations
        if self.gradient_accumulation_steps % generate_every == 0:
            warnings.warn(
                "PMDConfig is on-policy (num_iterations=1 and steps_per_generation <= "
                "gradient_accumulation_steps): the PMD regression reduces to a plain policy "
                "gradient and tau has no effect. Use num_iterations >= 2.",
                stacklevel=3,  # the caller of the dataclass's generated __init__
            )


def _pmd_rewards(rewards_per_func, reward_weights, num_generations, aggregation):
    """The reward each PMD baseline acts on, NaN where no reward function scored.

    ``sum_then_normalize``: the weighted sum of raw rewards. ``normalize_then_sum``: each
    function standardised within its group as TRL does (``(r - mean) / (std + 1e-4)``,
    NaN-aware, ``ddof=1``), then the weighted sum; TRL's final batch standardisation is
    left out, as ``scale_rewards`` is.
    """
    weights = reward_weights.to(rewards_per_func.device).unsqueeze(0)
    unscored = torch.isnan(rewards_per_func).all(dim=1)
    if aggregation == "sum_then_normalize":
        rewards = (rewards_per_func * weights).nansum(dim=1)
    elif aggregation == "normalize_then_sum":
        n_funcs = rewards_per_func.shape[1]
        grouped = rewards_per_func.view(-1, num_generations, n_funcs)
        mean_k = torch.nanmean(grouped, dim=1, keepdim=True)
        std_k = nanstd(grouped, dim=1, keepdim=True)
        normalised = ((grouped - mean_k) / (std_k + 1e-4)).view(-1, n_funcs)
        rewards = (normalised * weights).nansum(dim=1)
    else:
        raise ValueError(
            "multi_objective_aggregation must be 'sum_then_normalize' or 'normalize_then_sum', "
            f"got {aggregation!r}"
        )
    rewards[unscored] = torch.nan
    return rewards


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
        remainder of a group with fewer scored responses than the baseline's
        ``min_group``).
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
    keep = scored & (n_scored[group] >= BASELINES[baseline].min_group)

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

    Takes the arguments of :class:`trl.GRPOTrainer`. ``args`` must be a
    :class:`PMDConfig`; without it a default one is built (output directory
    ``"<model name>-PMD"``), as GRPOTrainer builds a default GRPOConfig. Overrides three
    methods: ``_calculate_rewards`` (keeps the gathered raw rewards),
    ``_generate_and_score_completions`` (replaces the advantages by PMD ones while whole
    groups are together; adds per-response loss weights and the batch's count of
    non-empty responses) and ``_compute_loss`` (the PMD regression). See the module
    docstring.

    Parameters
    ----------
    model : str or transformers.PreTrainedModel
        The policy, as for GRPOTrainer (a model id or path, or a loaded model).
    reward_funcs : callable, str, model or a list of them
        The reward functions, as for GRPOTrainer; their weighted sum (``reward_weights``)
        is what the PMD baselines act on.
    args : PMDConfig, optional
        The configuration; default ``PMDConfig("<model name>-PMD")``.
    *rest, **kwargs
        Passed on to :class:`trl.GRPOTrainer` unchanged (``train_dataset``,
        ``processing_class``, ...).

    Raises
    ------
    ValueError
        ``args`` given but not a :class:`PMDConfig`.

    Notes
    -----
    Tested with trl 1.16.0 on CPU. Unit tests drive the overrides on stubs
    (tests/test_bridge_trl.py): the group advantages and statistics against numpy, scipy
    and Lambert-W references (baselines of :data:`PMD_BASELINES`, tau 0.01 and 0.5),
    unscored responses, evaluation groups of ``num_generations_eval``, the loss with
    tool masks, accumulation (1 to 3 steps, 1 or 2 processes, ``steps_per_generation``
    up to 4), importance weights and the router loss. Real TRL runs: SmolLM2-135M for 2
    steps (slow); a tiny random model against GRPOTrainer for each supported option,
    fully masked truncated completions, the default ``args`` and the vLLM
    importance-sampling correction with a stand-in sampler (tests/test_trl_parity.py);
    2 processes, and 2 accumulation steps, equal to one process with the whole batch
    to 1e-5 (tests/test_trl_distributed.py). No GPU or vLLM run is in the tests.

    Examples
    --------
    ``args`` must be a :class:`PMDConfig` (checked before any model is loaded):

    >>> from trl import GRPOConfig
    >>> grpo_args = GRPOConfig(output_dir="out", use_cpu=True, report_to="none")
    >>> PMDTrainer(model="any", reward_funcs=[], args=grpo_args)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: args must be a PMDConfig, got GRPOConfig: ...

    Training, skipped in the doctests (it loads a model and generates; the README has a
    complete offline script, ``paper_repro/trl_pmd.py`` a longer run):

    >>> from datasets import Dataset  # doctest: +SKIP
    >>> from pmdtheory.bridge.llm import load_model  # doctest: +SKIP
    >>> model, tokenizer = load_model()  # doctest: +SKIP
    >>> rows = {"prompt": ["What is 2 + 3?"] * 8, "answer": ["5"] * 8}
    >>> data = Dataset.from_dict(rows)  # doctest: +SKIP
    >>> def correct(completions, answer, **kwargs):  # doctest: +SKIP
    ...     return [float(a in c) for c, a in zip(completions, answer)]
    >>> args = PMDConfig(output_dir="pmd-run", tau=0.01, num_generations=4,
    ...                  per_device_train_batch_size=8, max_completion_length=16,
    ...                  max_steps=2, use_cpu=True, report_to="none")  # doctest: +SKIP
    >>> trainer = PMDTrainer(model=model, reward_funcs=correct, args=args,
    ...                      train_dataset=data, processing_class=tokenizer)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    _tag_names = ["trl", "pmd", "pmdtheory"]
    _name = "PMD"

    def __init__(
        self,
        model: str | PreTrainedModel,
        reward_funcs: Any,
        args: PMDConfig | None = None,
        *rest: Any,
        **kwargs: Any,
    ) -> None:
        if args is None:
            name = model if isinstance(model, str) else get_config_model_id(model.config)
            args = PMDConfig(f"{name.split('/')[-1]}-PMD")
        elif not isinstance(args, PMDConfig):
            raise ValueError(
                f"args must be a PMDConfig, got {type(args).__name__}: build a PMDConfig "
                "with the same keyword arguments (its defaults differ from GRPOConfig's in "
                "num_iterations=2 and scale_rewards='none')"
            )
        super().__init__(model, reward_funcs, args, *rest, **kwargs)
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
        rewards = _pmd_rewards(
            self._pmd_rewards_per_func,
            self.reward_weights,
            num_generations,
            self.args.multi_objective_aggregation,
        )
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
        # Responses with at least one loss token, over the generation batch of every process
        # (0-d: TRL's shuffle and split pass it to every micro-batch, like num_items_in_batch).
        loss_mask = output["completion_mask"]
        if "tool_mask" in output:
            loss_mask = loss_mask * output["tool_mask"]
        n_local = (loss_mask.sum(-1) > 0).sum().to(torch.float32)
        output["pmd_num_sequences"] = self.accelerator.gather(n_local.reshape(1)).sum()
        for key, value in stats.items():
            self._metrics[mode][key].append(value)
        # The completions table shows the advantages the loss uses, not GRPO's.
        logged = getattr(self, "_logs", {}).get("advantages")
        if logged is not None:
            for _ in range(min(len(logged), adv.numel())):
                logged.pop()
            logged.extend(adv.tolist())
        return output

    def _loss_normaliser(self, inputs, mask, mode):
        """:math:`B_+` of this micro-batch.

        Training: the non-empty responses of the generation batch over all processes, per
        process and per accumulation window (TRL's ``dapo`` rule), so that DDP's average of
        the summed micro-batch losses is the mean over the optimizer step's batch. Without
        the count (inputs not made by ``_generate_and_score_completions``): this
        micro-batch's non-empty responses times the accumulation steps. Evaluation: the
        micro-batch's own count (None).
        """
        if mode != "train":
            return None
        steps = self.current_gradient_accumulation_steps
        total = inputs.get("pmd_num_sequences")
        if total is None:
            return max(float((mask.sum(-1) > 0).sum()), 1.0) * steps
        # TRL's dapo rule floors the global count at 1 (no response at all: the loss is 0
        # anyway), then divides: a share below 1 per process is kept, so that DDP's average
        # over processes still gives the mean over the batch's responses
        per_process = max(float(total), 1.0) / self.accelerator.num_processes
        return per_process * steps / self.args.steps_per_generation

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
        weights = inputs.get("pmd_weights")
        ratio = inputs.get("importance_sampling_ratio")
        if ratio is not None and self.vllm_importance_sampling_correction:
            # TRL's sequence-level ratio pi_old(y)/mu(y), (B, 1), truncated or masked.
            if ratio.ndim != 2 or ratio.shape[1] != 1:
                raise ValueError(
                    "importance_sampling_ratio must be per sequence (B, 1): set "
                    f"vllm_importance_sampling_mode to one of {SEQUENCE_IS_MODES}"
                )
            ratio = ratio[:, 0].float()
            weights = ratio if weights is None else weights * ratio
        mode = "train" if self.model.training else "eval"
        # Sequence log-probs are sums over up to thousands of tokens: pmd_loss works in
        # float32 (float64 when given float64) whatever the model's dtype.
        loss, metrics = pmd_loss(
            logp,
            logp_old,
            inputs["advantages"],
            mask,
            tau=self.args.tau,
            agg=self.args.pmd_agg,
            weights=weights,
            num_sequences=self._loss_normaliser(inputs, mask, mode),
        )
        # TRL sums gradients over the accumulation window without rescaling
        # (loss_is_scaled_for_ga); the normaliser above already covers the whole window.
        # Logged: this micro-batch's share times the window, so that the mean over the
        # window's micro-batches (TRL averages logged values) is the step's loss.
        if mode == "train":
            metrics["pmd/loss"] = float(loss.detach()) * self.current_gradient_accumulation_steps
        if self.aux_loss_enabled:
            normalizer = self.current_gradient_accumulation_steps if mode == "train" else 1.0
            loss = loss + self.router_aux_loss_coef * aux_loss / normalizer

        # Logged over all processes: the entropy as TRL logs it (mean of the processes'
        # token means), pmd/loss as the mean of the processes' shares (their sum is the loss),
        # the per-sequence metrics as sums over every process's non-empty responses divided
        # by their total count (equal to the one-process numbers whatever the split).
        masked = mask.to(entropies.dtype)
        n_seq = float((mask.sum(-1) > 0).sum())
        per_seq = [k for k in metrics if k != "pmd/loss"]
        values = [float((entropies.detach() * masked).sum() / masked.sum().clamp(min=1.0))]
        values += [metrics["pmd/loss"], n_seq]
        values += [metrics[k] * n_seq if n_seq else 0.0 for k in per_seq]
        gathered = self.accelerator.gather(torch.tensor(values, device=logp.device)[None, :])
        logged = {"entropy": float(gathered[:, 0].mean())}
        logged["pmd/loss"] = float(gathered[:, 1].mean())
        count = float(gathered[:, 2].sum())
        for col, key in enumerate(per_seq, start=3):
            logged[key] = float(gathered[:, col].sum()) / count if count else math.nan
        for key, value in logged.items():
            self._metrics[mode][key].append(value)
        return loss
