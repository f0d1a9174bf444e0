r"""PMD-mean and PMD-part for verl: an advantage estimator pair and the PMD policy loss.

Tested against verl 0.9.1 as installed (``make test-verl``). Importing this module
registers, when verl is importable,

=============================  ===============================================
``algorithm.adv_estimator``    ``pmd_<baseline>`` for every baseline of
                               :data:`pmdtheory.baselines.BASELINES`:
                               ``pmd_loo_mean`` (verl's ``rloo`` numbers),
                               ``pmd_loo_partition`` (OpenKimi's ``ploo``,
                               computed stably), ``pmd_mean``,
                               ``pmd_partition``, ``pmd_grpo``, and any
                               baseline registered later
``...policy_loss.loss_mode``   ``pmd`` (the sequence-level regression of
                               THEORY §3, OpenKimi's ``opmd``)
=============================  ===============================================

Renamed in 0.2.0 (the old spellings work for one release, with a ``DeprecationWarning``
naming the new one): ``pmd_part`` is ``pmd_loo_partition``, and ``+algorithm.pmd_loo``
gives way to choosing the estimator (``pmd_loo_mean`` or ``pmd_mean``). ``pmd_mean`` now
means the plain group mean, as everywhere else in pmdtheory; the leave-one-out mean it
used to default to is ``pmd_loo_mean``.

through verl's ``register_adv_est`` / ``register_policy_loss``
(``verl.trainer.ppo.core_algos``). verl is not a dependency: without it the import
registers nothing and the functions still work on plain tensors.

Every verl process (the driver, the Ray task runner, every worker on every node) must
import this module. The ``verl.plugins`` entry point in pmdtheory's package metadata does
that: verl 0.9.1 loads every ``verl.plugins`` entry point when ``verl`` is imported, so
installing pmdtheory into the Python environment that runs verl on each node is enough
(no environment variable; ``VERL_USE_EXTERNAL_PLUGINS=none`` would switch it off). For a
verl that does not load plugins, set ``VERL_USE_EXTERNAL_MODULES=pmdtheory.bridge.verl``
in every process; on a Ray cluster started beforehand with ``ray start``, a variable
exported in the launching shell does not reach the workers: pass it as
``+ray_kwargs.ray_init.runtime_env.env_vars.VERL_USE_EXTERNAL_MODULES=pmdtheory.bridge.verl``.
(``actor_rollout_ref.model.external_lib=pmdtheory.bridge.verl`` also works in verl 0.9.1,
which imports it wherever it builds the model config: the task runner and the workers.)

Config keys (``+`` adds a key that verl's YAML does not have):

- ``algorithm._target_=pmdtheory.bridge.verl.PMDAlgoConfig``: verl's ``AlgoConfig``
  plus ``pmd_tau`` and the deprecated ``pmd_loo``, so that ``+algorithm.pmd_tau``
  survives verl's dataclass conversion (verl's own ``AlgoConfig`` rejects unknown keys).
- ``+algorithm.pmd_tau`` (default 0.01; OpenKimi's ``partition_tau`` is accepted too):
  :math:`\tau` of the partition baselines.
- ``+algorithm.pmd_loo`` (deprecated): true turns ``pmd_mean``/``pmd_partition`` into
  their leave-one-out versions, false the other way round.
- ``actor_rollout_ref.actor.policy_loss._target_=pmdtheory.bridge.verl.PMDPolicyLossConfig``
  and ``+actor_rollout_ref.actor.policy_loss.pmd_tau='${algorithm.pmd_tau}'``:
  :math:`\tau` of the loss. verl's own ``PolicyLossConfig`` rejects ``pmd_tau``
  (``TypeError`` in ``validate_config``); the interpolation makes one setting drive both
  the estimator (task runner) and the loss (workers), which see different config nodes.
- ``actor_rollout_ref.actor.loss_agg_mode``: ``seq-mean-token-mean`` or
  ``seq-mean-token-sum-norm``, aggregated as verl's ``agg_loss`` does (including
  ``actor.loss_scale_factor`` and the global-batch normalisation of verl's engine).
"""

from __future__ import annotations

import functools
import numbers
import sys
import types
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from pmdtheory._validate import positive
from pmdtheory.baselines import BASELINES, GRPO_EPS, Baseline, subscribe
from pmdtheory.bridge.advantages import group_advantages
from pmdtheory.bridge.loss import AGGREGATIONS, pmd_loss

try:  # verl's config dataclasses, extended below when verl is installed
    from verl.trainer.config import AlgoConfig as _AlgoConfig
    from verl.workers.config import PolicyLossConfig as _PolicyLossConfig
except ImportError:
    _AlgoConfig = _PolicyLossConfig = None

__all__ = [
    "ADV_ESTIMATORS",
    "DEPRECATED_ESTIMATORS",
    "POLICY_LOSSES",
    "REGISTERED",
    "PMDAlgoConfig",
    "PMDPolicyLossConfig",
    "compute_pmd_advantage",
    "compute_pmd_mean_advantage",
    "compute_pmd_part_advantage",
    "compute_policy_loss_pmd",
    "register",
]

_DEFAULT_TAU = 0.01


def _check_tau(tau, name):
    # numbers only (a YAML string stays an error here), then the shared check
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real):
        raise ValueError(f"{name} must be a number > 0, got {tau!r}")
    return positive(tau, name)


def _post_init(self, base):
    if base is not None and hasattr(base, "__post_init__"):
        base.__post_init__(self)
    _check_tau(self.pmd_tau, "pmd_tau")


if _PolicyLossConfig is not None:

    @dataclass
    class PMDPolicyLossConfig(_PolicyLossConfig):
        """verl's ``PolicyLossConfig`` with the loss's :math:`\\tau` (``pmd_tau``, > 0).

        Select it with
        ``actor_rollout_ref.actor.policy_loss._target_=pmdtheory.bridge.verl.PMDPolicyLossConfig``.
        Without verl installed it is a plain dataclass with ``loss_mode`` and ``pmd_tau``.

        Examples
        --------
        >>> PMDPolicyLossConfig(pmd_tau=0.05).pmd_tau
        0.05
        """

        loss_mode: str = "pmd"
        pmd_tau: float = _DEFAULT_TAU

        def __post_init__(self):
            _post_init(self, _PolicyLossConfig)

    @dataclass
    class PMDAlgoConfig(_AlgoConfig):
        """verl's ``AlgoConfig`` with ``pmd_tau`` (> 0) and the deprecated ``pmd_loo``.

        Select it with ``algorithm._target_=pmdtheory.bridge.verl.PMDAlgoConfig``.
        Without verl installed it is a plain dataclass with ``adv_estimator``,
        ``pmd_tau`` and ``pmd_loo``.

        Examples
        --------
        >>> PMDAlgoConfig(adv_estimator="pmd_loo_partition", pmd_tau=0.1).pmd_tau
        0.1
        """

        adv_estimator: str = "pmd_loo_mean"
        pmd_tau: float = _DEFAULT_TAU
        pmd_loo: bool | None = None

        def __post_init__(self):
            _post_init(self, _AlgoConfig)

else:

    @dataclass
    class PMDPolicyLossConfig:  # type: ignore[no-redef]  # the same class without verl
        loss_mode: str = "pmd"
        pmd_tau: float = _DEFAULT_TAU

        def __post_init__(self):
            _post_init(self, None)

    @dataclass
    class PMDAlgoConfig:  # type: ignore[no-redef]  # the same class without verl
        adv_estimator: str = "pmd_loo_mean"
        pmd_tau: float = _DEFAULT_TAU
        pmd_loo: bool | None = None

        def __post_init__(self):
            _post_init(self, None)

    PMDPolicyLossConfig.__doc__ = "verl's PolicyLossConfig fields for PMD (verl not installed)."
    PMDAlgoConfig.__doc__ = "verl's AlgoConfig fields for PMD (verl not installed)."


def _get(config, key, default=None):
    """``config[key]`` for a DictConfig, a verl BaseConfig, a dict or an object; else default."""
    if config is None:
        return default
    if hasattr(config, "get"):
        value = config.get(key, default)
    else:
        value = getattr(config, key, default)
    return default if value is None else value


def _outcome_advantage(token_level_rewards, response_mask, index, *, baseline, tau, eps):
    """Sequence reward = sum of token rewards; group advantage broadcast over response tokens."""
    if not isinstance(token_level_rewards, torch.Tensor) or token_level_rewards.ndim != 2:
        raise ValueError("token_level_rewards must be a 2-D tensor (batch, response_length)")
    if tuple(response_mask.shape) != tuple(token_level_rewards.shape):
        raise ValueError("response_mask must have the shape of token_level_rewards")
    n = token_level_rewards.shape[0]
    if index is None:
        raise ValueError("index (verl's uid) is required: the baselines are per prompt group")
    index = np.asarray(index)
    if index.shape != (n,):
        raise ValueError(f"index must have shape ({n},), got {index.shape}")
    # verl's uids are strings (one per prompt): map them to integer group ids.
    _, group = np.unique(index, return_inverse=True)
    with torch.no_grad():
        scores = token_level_rewards.sum(dim=-1)  # in the rewards' dtype, as verl's rloo
        if not scores.is_floating_point():
            scores = scores.to(torch.get_default_dtype())
        if not bool(torch.isfinite(scores).all()):
            raise ValueError("token_level_rewards must be finite (no NaN or inf)")
        # a group of one follows the registry (verl's rloo and grpo: baseline 0)
        ids = torch.as_tensor(group.reshape(-1), device=scores.device)
        adv = group_advantages(scores, ids, baseline=baseline, tau=tau, eps=eps).to(scores.dtype)
        adv = adv.unsqueeze(-1) * response_mask.to(adv.dtype)
    return adv, adv


def _outside() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this module,
    whichever of its functions the caller came through (``pmd_mean`` reaches the warning
    through three of them, ``compute_pmd_advantage`` through one)."""
    frame: types.FrameType | None = sys._getframe(1)  # the function that warns
    level = 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _chosen_baseline(name, config):
    """``name``, or its (non-)leave-one-out twin under the deprecated ``pmd_loo`` key."""
    loo = _get(config, "pmd_loo")
    if loo is None:
        return name
    family = name.removeprefix("loo_")
    chosen = f"loo_{family}" if bool(loo) and f"loo_{family}" in BASELINES else family
    chosen = chosen if chosen in BASELINES else name
    warnings.warn(
        f"algorithm.pmd_loo is deprecated and will be removed in the next release; "
        f"use algorithm.adv_estimator=pmd_{chosen}",
        DeprecationWarning,
        stacklevel=_outside(),
    )
    return chosen


def compute_pmd_advantage(
    token_level_rewards,
    response_mask,
    index=None,
    epsilon=GRPO_EPS,
    config=None,
    *,
    baseline,
    **kwargs,
):
    r"""Advantages :math:`A_i = (r_i - B_i)/d` of any registered baseline, verl's signature.

    ``algorithm.adv_estimator=pmd_<baseline>`` calls it with ``baseline`` set; every
    baseline of :data:`pmdtheory.baselines.BASELINES` is registered that way.

    Parameters
    ----------
    token_level_rewards : Tensor, shape (bs, response_length)
        Token rewards; a response's reward :math:`r_i` is their sum (finite).
    response_mask : Tensor, shape (bs, response_length)
        1 (or True) on response tokens.
    index : array, shape (bs,)
        Prompt id (verl's ``uid``, any hashable scalars) of each response; groups may be
        ragged and in any order.
    epsilon : float
        The std offset of ``grpo`` (default 1e-4, TRL's; verl's own ``grpo`` uses 1e-6).
    config : PMDAlgoConfig, AlgoConfig, DictConfig or dict, optional
        ``pmd_tau`` (or OpenKimi's ``partition_tau``, default 0.01, > 0): :math:`	au`
        of the partition baselines; ``pmd_loo`` (deprecated).
    baseline : str
        A name of :data:`pmdtheory.baselines.BASELINES`.

    Returns
    -------
    advantages, returns : Tensor, shape (bs, response_length)
        Both :math:`A_i` on response tokens, 0 elsewhere (verl's convention), in the
        rewards' dtype. A group of one response follows verl's ``rloo`` and ``grpo``:
        baseline 0 (:math:`A_i = r_i`) for the leave-one-out baselines, mean 0 and std 1
        for ``grpo``; advantage 0 for ``mean`` and ``partition``.

    Raises
    ------
    ValueError
        Shapes that disagree, a missing ``index``, non-finite rewards (singletons too),
        a bad ``pmd_tau``.

    Notes
    -----
    Tested domain: float32 and float64 rewards, groups of 1 to 8 responses, string and
    integer uids; ``loo_mean`` equal to verl 0.9.1's ``rloo`` and ``grpo`` (with
    ``epsilon=1e-6``) to verl's ``grpo`` to float32 rounding; the partition baselines
    against 50-digit mpmath for :math:`	au \in [10^{-3}, 2]`, rewards in [-1, 2].

    References
    ----------
    THEORY §3.

    Examples
    --------
    >>> r = torch.tensor([[1.0], [0.0], [0.0], [3.0]])
    >>> adv, _ = compute_pmd_advantage(r, torch.ones_like(r), ["a", "a", "b", "b"],
    ...                                baseline="loo_mean")
    >>> adv[:, 0].tolist()
    [1.0, -1.0, -3.0, 3.0]
    """
    name = _chosen_baseline(baseline, config)
    tau = None
    if BASELINES[name].needs_tau:
        tau = _get(config, "pmd_tau", _get(config, "partition_tau", _DEFAULT_TAU))
        tau = _check_tau(tau, "pmd_tau")
    return _outcome_advantage(
        token_level_rewards, response_mask, index, baseline=name, tau=tau, eps=epsilon
    )


@functools.cache  # one function per name: registering it again is a no-op for verl
def _estimator(baseline: str):
    """verl's estimator ``pmd_<baseline>``: :func:`compute_pmd_advantage` with it set."""

    def compute(token_level_rewards, response_mask, index=None, epsilon=GRPO_EPS, config=None,
                **kwargs):  # fmt: skip
        return compute_pmd_advantage(
            token_level_rewards, response_mask, index, epsilon, config, baseline=baseline
        )

    compute.__name__ = compute.__qualname__ = f"compute_pmd_{baseline}_advantage"
    compute.__doc__ = f"``adv_estimator=pmd_{baseline}``: :func:`compute_pmd_advantage`."
    return compute


_plain_mean = _estimator("mean")


def compute_pmd_mean_advantage(
    token_level_rewards, response_mask, index=None, epsilon=GRPO_EPS, config=None, **kwargs
):
    r"""``pmd_mean``: :func:`compute_pmd_advantage` with the plain group-mean baseline.

    Before 0.2.0 ``pmd_mean`` meant the leave-one-out mean (now ``pmd_loo_mean``), so a
    config that names it without the deprecated ``pmd_loo`` key gets a ``FutureWarning``
    saying so, rather than a silent change of estimator.

    Examples
    --------
    >>> import warnings
    >>> r = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     adv, _ = compute_pmd_mean_advantage(r, torch.ones_like(r), [0, 0, 0, 0])
    >>> adv[:, 0].tolist()
    [0.75, -0.25, -0.25, -0.25]
    """
    if _get(config, "pmd_loo") is None:
        warnings.warn(
            "algorithm.adv_estimator=pmd_mean now uses the plain group mean; before "
            "pmdtheory 0.2.0 it meant the leave-one-out mean, which is now "
            "algorithm.adv_estimator=pmd_loo_mean",
            FutureWarning,
            stacklevel=_outside(),
        )
    return _plain_mean(token_level_rewards, response_mask, index, epsilon, config, **kwargs)


def compute_pmd_part_advantage(
    token_level_rewards, response_mask, index=None, epsilon=GRPO_EPS, config=None, **kwargs
):
    r"""Deprecated ``pmd_part``: ``pmd_loo_partition`` (``pmd_partition`` with ``pmd_loo=False``).

    Warns (``DeprecationWarning`` naming the new estimator) and returns what ``pmd_part``
    returned: the leave-one-out partition baseline unless ``pmd_loo`` is false.

    Examples
    --------
    >>> import warnings
    >>> r = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     adv, _ = compute_pmd_part_advantage(r, torch.ones_like(r), [0, 0, 0, 0])
    >>> adv[0, 0].item()
    1.0
    """
    loo = _get(config, "pmd_loo", True)
    new = "loo_partition" if bool(loo) else "partition"
    warnings.warn(
        f"algorithm.adv_estimator=pmd_part is deprecated and will be removed in the next "
        f"release; use algorithm.adv_estimator=pmd_{new}",
        DeprecationWarning,
        stacklevel=_outside(),
    )
    cfg = {"pmd_tau": _get(config, "pmd_tau", _get(config, "partition_tau", _DEFAULT_TAU))}
    return compute_pmd_advantage(
        token_level_rewards, response_mask, index, epsilon, cfg, baseline=new
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

        \mathcal L = \frac{D}{G}\sum_{i:\,L_i>0} \tfrac12\tau w_i
        \Big(\frac{A_i}{\tau} - \sum_t m_{it}(\log\pi_\theta - \log\pi_{old})_{it}\Big)^2
        \Big/ N_i

    with verl's ``agg_loss`` normalisation: :math:`D` the data-parallel size and
    :math:`G` the global batch size (from ``config.global_batch_info``, which verl's
    engine fills), else :math:`D = 1` and :math:`G` the number of sequences with at
    least one response token (fully masked sequences drop out, as in verl).

    Parameters
    ----------
    old_log_prob, log_prob : Tensor, shape (bs, T)
        Token log-probabilities under the sampling and the trained policy. Any float
        dtype; bfloat16/float16 are upcast to float32 before the loss (the residual
        :math:`A_i/\tau - \delta_i` cancels), so the loss is float32 or float64.
    advantages : Tensor, shape (bs, T)
        Token advantages; :math:`A_i` is their mean over the response tokens (for
        outcome estimators every token carries :math:`A_i`).
    response_mask : Tensor, shape (bs, T)
        1 or True on response tokens (verl's ``ppo_loss`` passes a bool mask).
    loss_agg_mode : {"seq-mean-token-mean", "seq-mean-token-sum-norm"}
        :math:`N_i` = the response length :math:`L_i`, or ``loss_scale_factor`` when
        set (``actor.loss_scale_factor``), else ``T``. In verl 0.9.1 ``T`` is the padded
        width of the *micro-batch* (its longest response), not
        ``data.max_response_length``: set ``actor.loss_scale_factor`` for a constant
        normaliser.
    config : ActorConfig, DictConfig or dict, optional
        :math:`\tau` from ``config.policy_loss.pmd_tau`` (see
        :class:`PMDPolicyLossConfig`; else ``config.pmd_tau``, default 0.01);
        ``global_batch_info`` (``dp_size``, ``global_batch_size``, ``loss_scale_factor``)
        and ``loss_scale_factor``.
    rollout_is_weights : Tensor, shape (bs, T), optional
        verl's rollout-correction weights; their masked token mean is the sequence
        weight :math:`w_i` (the sequence weight itself for sequence-level modes).

    Returns
    -------
    loss : Tensor, scalar
    metrics : dict[str, float]
        ``actor/ppo_kl`` (mean of :math:`-\delta_i/L_i`), ``actor/pg_clipfrac`` and
        ``actor/pg_clipfrac_lower`` (0: no clipping), ``actor/pmd/tau`` and
        ``actor/pmd/...`` from :func:`~pmdtheory.bridge.pmd_loss`, over the sequences
        with response tokens.

    Raises
    ------
    ValueError
        An aggregation mode other than the two above; tensors whose shapes differ from
        ``log_prob``'s; ``tau`` or ``loss_scale_factor`` not > 0; ``dp_size > 1``
        without ``global_batch_size`` (as verl's ``agg_loss``).

    Notes
    -----
    Tested domain: float64, float32 and bfloat16 inputs, micro-batches with fully
    masked rows, through verl 0.9.1's ``workers/utils/losses.py:ppo_loss``.

    Examples
    --------
    >>> old = torch.zeros(2, 3)
    >>> new = torch.zeros(2, 3, requires_grad=True)
    >>> adv = torch.tensor([[0.02, 0.02, 0.0], [-0.01, -0.01, -0.01]])
    >>> mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    >>> loss, m = compute_policy_loss_pmd(old, new, adv, mask, config={"pmd_tau": 0.01})
    >>> round(loss.item(), 6)  # (0.5*0.01*4/2 + 0.5*0.01*1/3) / 2
    0.005833
    """
    if loss_agg_mode not in AGGREGATIONS:
        raise ValueError(f"loss_agg_mode must be one of {AGGREGATIONS}, got {loss_agg_mode!r}")
    if not isinstance(log_prob, torch.Tensor) or log_prob.ndim != 2:
        raise ValueError("log_prob must be a 2-D tensor (bs, T)")
    if not log_prob.is_floating_point():
        raise ValueError("log_prob must be a floating-point tensor")
    for name, value in (
        ("old_log_prob", old_log_prob),
        ("advantages", advantages),
        ("response_mask", response_mask),
        ("rollout_is_weights", rollout_is_weights),
    ):
        if value is not None and tuple(value.shape) != tuple(log_prob.shape):
            raise ValueError(f"{name} must have the shape of log_prob {tuple(log_prob.shape)}")
    policy_loss = _get(config, "policy_loss")
    tau = _check_tau(_get(policy_loss, "pmd_tau", _get(config, "pmd_tau", _DEFAULT_TAU)), "tau")
    info = _get(config, "global_batch_info", {}) or {}
    dp_size = int(info.get("dp_size") or 1)
    global_batch_size = info.get("global_batch_size")
    scale = info.get("loss_scale_factor", None)
    if scale is None:
        scale = _get(config, "loss_scale_factor")
    if scale is not None:
        scale = _check_tau(scale, "loss_scale_factor")
    if dp_size > 1 and not global_batch_size:
        raise ValueError("global_batch_size is required when dp_size > 1 (verl's agg_loss)")

    # Half precision cannot hold the residual A/tau - delta: compute in float32 or wider.
    dtype = torch.promote_types(log_prob.dtype, torch.float32)
    logp = log_prob.to(dtype)
    old = old_log_prob.detach().to(dtype)
    mask = response_mask.to(dtype)
    length = mask.sum(-1)
    keep = length > 0
    n_seq = int(keep.sum())
    width = logp.shape[-1]
    seq_adv = (advantages.detach().to(dtype) * mask).sum(-1) / length.clamp(min=1.0)
    weights = None
    if rollout_is_weights is not None:
        weights = (rollout_is_weights.detach().to(dtype) * mask).sum(-1) / length.clamp(min=1.0)

    metrics = {"actor/pg_clipfrac": 0.0, "actor/pg_clipfrac_lower": 0.0, "actor/pmd/tau": tau}
    if n_seq == 0:  # nothing to fit: a zero that still reaches log_prob's graph
        metrics["actor/ppo_kl"] = 0.0
        return (logp * 0.0).sum(), metrics
    # Only sequences with response tokens enter pmd_loss, so its mean runs over them.
    rows = keep.nonzero().squeeze(-1)
    loss, pmd_metrics = pmd_loss(
        logp[rows],
        old[rows],
        seq_adv[rows],
        mask[rows],
        tau=tau,
        agg=loss_agg_mode,
        weights=None if weights is None else weights[rows],
    )
    # From pmd_loss's mean over n_seq to verl's sum / global_batch_size * dp_size.
    loss = loss * (n_seq * dp_size / (global_batch_size or n_seq))
    if loss_agg_mode == "seq-mean-token-sum-norm" and scale is not None:
        loss = loss * (width / scale)  # pmd_loss divides by the padded width T

    with torch.no_grad():
        log_ratio = ((logp - old) * mask).sum(-1)[rows]
        metrics["actor/ppo_kl"] = float((-log_ratio / length[rows]).mean())
    metrics.update({f"actor/{key}": value for key, value in pmd_metrics.items()})
    return loss, metrics


#: Names under which :func:`register` adds the estimators to verl: ``pmd_<baseline>`` for
#: every registered baseline (kept up to date as baselines are registered)
ADV_ESTIMATORS: dict = {}
#: old estimator names, registered for one release: old -> new
DEPRECATED_ESTIMATORS = {"pmd_part": "pmd_loo_partition"}
POLICY_LOSSES = {"pmd": compute_policy_loss_pmd}


def _add_estimator(b: Baseline) -> None:
    name = f"pmd_{b.name}"
    fn = compute_pmd_mean_advantage if b.name == "mean" else _estimator(b.name)
    ADV_ESTIMATORS[name] = fn
    # a baseline registered after verl was imported joins verl's registry at once
    core_algos = sys.modules.get("verl.trainer.ppo.core_algos")
    if core_algos is not None and hasattr(core_algos, "register_adv_est"):
        core_algos.register_adv_est(name)(fn)


subscribe(_add_estimator)


def register(core_algos=None):
    """Add :data:`ADV_ESTIMATORS`, the deprecated names and :data:`POLICY_LOSSES` to verl.

    Idempotent (verl's ``register_adv_est`` accepts the same function twice). Baselines
    registered later (:func:`pmdtheory.baselines.register`) join the same registries.

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

    Examples
    --------
    >>> import types
    >>> reg = {}
    >>> fake = types.SimpleNamespace(
    ...     register_adv_est=lambda name: lambda fn: reg.setdefault(name, fn),
    ...     register_policy_loss=lambda name: lambda fn: reg.setdefault(name, fn))
    >>> register(fake), sorted(reg)[:4]
    (True, ['pmd', 'pmd_grpo', 'pmd_loo_mean', 'pmd_loo_partition'])
    """
    if core_algos is None:
        try:
            from verl.trainer.ppo import core_algos
        except ImportError:
            return False
    for name, fn in ADV_ESTIMATORS.items():
        core_algos.register_adv_est(name)(fn)
    core_algos.register_adv_est("pmd_part")(compute_pmd_part_advantage)
    for name, fn in POLICY_LOSSES.items():
        core_algos.register_policy_loss(name)(fn)
    return True


#: Whether importing this module registered the PMD functions with an installed verl.
REGISTERED = register()
