"""Every field of :class:`trl.GRPOConfig`, classified for PMDTrainer.

Each field is honoured (:data:`HONOURED`: PMDTrainer's own code reads it), refused
(:data:`REFUSED`: it selects another algorithm; any value other than GRPOConfig's default
raises in :class:`~pmdtheory.bridge.trl.PMDConfig`), or irrelevant to the loss
(:data:`IRRELEVANT`, and every ``transformers.TrainingArguments`` field not honoured:
used unchanged by the inherited generation, logging and Trainer code).
:func:`option_status` looks a field up; the tests fail on a GRPOConfig field it does
not know, so a TRL upgrade cannot add a silently ignored option.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import transformers
from trl import GRPOConfig

__all__ = [
    "GRPO_DEFAULTS",
    "HONOURED",
    "IRRELEVANT",
    "REFUSED",
    "SEQUENCE_IS_MODES",
    "option_status",
]

#: The importance-sampling modes with one ratio per sequence (the others are per token).
SEQUENCE_IS_MODES: tuple[str, ...] = ("sequence_mask", "sequence_truncate")

_NO_REF = (
    "PMD has no reference model: its anchor is the previous policy, with strength tau",
    "set tau (PMDConfig) and leave this option at its default",
)
_OTHER_LOSS = (
    "it belongs to another policy loss than the PMD regression",
    "use GRPOTrainer for that loss; PMDConfig's pmd_agg sets the per-sequence normalisation",
)
_NO_CLIP = (
    "the PMD regression has no ratio clipping: its squared residual already pulls the "
    "log-ratio to A/tau",
    "set the step size with tau (larger tau: smaller step)",
)
_NO_ENTROPY = (
    "an entropy bonus or entropy mask is not part of the PMD update",
    "the KL term (tau) keeps the policy close to the previous one; raise tau instead",
)

#: GRPOConfig fields that select another algorithm than the PMD regression:
#: field -> (reason, what to use instead). Any value other than GRPOConfig's default
#: raises (``scale_rewards``: any value but ``"none"``).
REFUSED: dict[str, tuple[str, str]] = {
    "beta": _NO_REF,
    "sync_ref_model": _NO_REF,
    "ref_model_mixup_alpha": _NO_REF,
    "ref_model_sync_steps": _NO_REF,
    "use_bias_correction_kl": _NO_REF,
    "loss_type": _OTHER_LOSS,
    "importance_sampling_level": (
        "it selects token- or sequence-level PPO ratios; the PMD regression always uses "
        "the sequence log-ratio",
        "leave it at 'token' (it has no effect on PMD)",
    ),
    "sapo_temperature_neg": _OTHER_LOSS,
    "sapo_temperature_pos": _OTHER_LOSS,
    "vespo_k_pos": _OTHER_LOSS,
    "vespo_lambda_pos": _OTHER_LOSS,
    "vespo_k_neg": _OTHER_LOSS,
    "vespo_lambda_neg": _OTHER_LOSS,
    "epsilon": _NO_CLIP,
    "epsilon_high": _NO_CLIP,
    "delta": _NO_CLIP,
    "top_entropy_quantile": _NO_ENTROPY,
    "entropy_coef": _NO_ENTROPY,
    "use_adaptive_entropy": _NO_ENTROPY,
    "entropy_coef_min": _NO_ENTROPY,
    "entropy_coef_max": _NO_ENTROPY,
    "entropy_coef_delta": _NO_ENTROPY,
    "entropy_target": _NO_ENTROPY,
    "off_policy_mask_threshold": (
        "the DeepSeek-V3.2 off-policy mask drops sequences by a KL estimate, which the PMD "
        "regression does not apply",
        "vllm_importance_sampling_mode='sequence_mask' drops sequences whose importance "
        "ratio leaves [clip_min, clip_max]",
    ),
    "scale_rewards": (
        "the PMD target A/tau is in reward units; dividing by a group's (or the batch's) "
        "standard deviation changes tau from group to group",
        "scale_rewards='none' (PMDConfig's default); rescale the reward function or tau",
    ),
}

#: GRPOConfig fields that PMDTrainer's own code reads: field -> what it does there.
HONOURED: dict[str, str] = {
    "num_generations": "group size of the PMD baselines",
    "num_generations_eval": "group size in evaluation",
    "generation_batch_size": "the batch whose groups are scored together and whose "
    "non-empty responses normalise the loss",
    "steps_per_generation": "splits the generation batch; enters the loss normaliser",
    "num_iterations": "passes per generation batch (PMDConfig default 2)",
    "gradient_accumulation_steps": "the loss normaliser: micro-batch losses add up to "
    "the batch loss",
    "per_device_train_batch_size": "micro-batch size",
    "reward_weights": "weights of the reward sum that the baselines act on",
    "multi_objective_aggregation": "'sum_then_normalize': weighted sum of raw rewards; "
    "'normalize_then_sum': per-function group standardisation, then the weighted sum",
    "mask_truncated_completions": "a masked completion leaves the loss and its normaliser",
    "vllm_importance_sampling_correction": "sequence weights w = pi_old/mu of the regression",
    "vllm_importance_sampling_mode": "'sequence_mask' or 'sequence_truncate' (token modes "
    "are refused: the regression has one term per sequence)",
    "vllm_importance_sampling_clip_min": "lower bound of the sequence ratio (TRL's code)",
    "vllm_importance_sampling_clip_max": "upper bound of the sequence ratio (TRL's code)",
    "vllm_importance_sampling_cap": "deprecated alias of vllm_importance_sampling_clip_max",
    "router_aux_loss_coef": "mixture-of-experts router loss, added as in GRPOTrainer",
    "log_completions": "the completions table shows PMD's advantages",
}

_GENERATION = "generation (inherited, unchanged); the loss sees only its completions"
_VLLM = "vLLM server/colocate set-up (inherited, unchanged)"
_MODEL = "model loading (inherited, unchanged)"
_LOGGING = "logging (inherited, unchanged)"
#: GRPOConfig's own fields that do not reach PMD's advantages or loss except through the
#: inherited, unchanged GRPOTrainer code: field -> where it acts. Every field of
#: :class:`transformers.TrainingArguments` not in :data:`HONOURED` is handled by
#: ``transformers.Trainer`` exactly as for GRPOTrainer and counts as irrelevant too
#: (:func:`option_status`).
IRRELEVANT: dict[str, str] = {
    "model_init_kwargs": _MODEL,
    "trust_remote_code": _MODEL,
    "disable_dropout": _MODEL,
    "cast_lm_head_to_fp32": _MODEL,
    "max_completion_length": _GENERATION + " (GRPO's dr_grpo loss also used it; refused)",
    "ds3_gather_for_generation": _GENERATION,
    "shuffle_dataset": "prompt sampler (inherited, unchanged)",
    "pad_to_multiple_of": "padding (inherited); padded positions are masked in the loss",
    "temperature": _GENERATION + "; TRL also divides the logits by it when it computes the "
    "log-probs that the loss reads (inherited, unchanged)",
    "top_p": _GENERATION,
    "top_k": _GENERATION,
    "min_p": _GENERATION,
    "generation_kwargs": _GENERATION,
    "chat_template_kwargs": _GENERATION,
    "repetition_penalty": _GENERATION,
    "cache_implementation": _GENERATION,
    "use_transformers_continuous_batching": _GENERATION,
    "transformers_continuous_batching_config": _GENERATION,
    "use_transformers_paged": _GENERATION,
    "max_tool_calling_iterations": _GENERATION + " (tool tokens are masked by tool_mask)",
    "use_vllm": _VLLM + "; with it the importance-sampling correction applies",
    "vllm_mode": _VLLM,
    "vllm_model_impl": _VLLM,
    "vllm_enable_sleep_mode": _VLLM,
    "vllm_structured_outputs_regex": _VLLM,
    "vllm_server_base_url": _VLLM,
    "vllm_server_host": _VLLM,
    "vllm_server_port": _VLLM,
    "vllm_server_timeout": _VLLM,
    "vllm_group_port": _VLLM,
    "vllm_gpu_memory_utilization": _VLLM,
    "vllm_max_model_length": _VLLM,
    "vllm_tensor_parallel_size": _VLLM,
    "log_multimodal": _LOGGING,
    "num_completions_to_print": _LOGGING,
    "log_unique_prompts": _LOGGING,
    "log_completions_hub_repo": _LOGGING,
}

_TRAINING_ARGUMENTS = frozenset(f.name for f in dataclasses.fields(transformers.TrainingArguments))


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


#: GRPOConfig's defaults, against which :data:`REFUSED` fields are checked.
GRPO_DEFAULTS: dict[str, Any] = {f.name: _default(f) for f in dataclasses.fields(GRPOConfig)}


def option_status(name: str) -> Literal["honoured", "refused", "irrelevant"] | None:
    """How :class:`~pmdtheory.bridge.trl.PMDTrainer` treats GRPOConfig field ``name``.

    Parameters
    ----------
    name : str
        A field name of :class:`trl.GRPOConfig` (or of ``transformers.TrainingArguments``).

    Returns
    -------
    {"honoured", "refused", "irrelevant"} or None
        None for a GRPOConfig field that is in none of :data:`HONOURED`, :data:`REFUSED`,
        :data:`IRRELEVANT` and not a ``transformers.TrainingArguments`` field (a TRL
        release newer than this module; the tests fail on it), and for any other name.

    Notes
    -----
    Tested with trl 1.16.0 (tests/test_bridge_trl.py): every GRPOConfig field has exactly
    one status (GRPOConfig's own 77 fields each listed in exactly one table, no stale
    entry), a made-up field name gives None, and every refused field raises in
    :class:`~pmdtheory.bridge.trl.PMDConfig` for a value GRPOConfig accepts.

    Examples
    --------
    >>> option_status("loss_type"), option_status("reward_weights"), option_status("top_p")
    ('refused', 'honoured', 'irrelevant')
    >>> option_status("learning_rate")  # a transformers.TrainingArguments field
    'irrelevant'
    >>> option_status("grpo_option_from_the_future") is None
    True
    >>> REFUSED["beta"][0]
    'PMD has no reference model: its anchor is the previous policy, with strength tau'
    """
    if name in REFUSED:
        return "refused"
    if name in HONOURED:
        return "honoured"
    if name in IRRELEVANT or name in _TRAINING_ARGUMENTS:
        return "irrelevant"
    return None
