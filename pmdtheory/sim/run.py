r"""Run PMD variants on a simulated environment and collect tidy results.

:func:`run` iterates one or more methods (``METHODS``) for one or more seeds on
a :class:`~pmdtheory.sim.envs.Bandit`, a
:class:`~pmdtheory.sim.envs.PromptPopulation` or a
:class:`~pmdtheory.sim.mdp.TabularMDP`, and returns a pandas DataFrame with one
row per (method, seed, iteration).

Population methods use the exact expected reward of every action; sampled
methods draw ``k`` responses per context from the sampling policy (``staleness``
iterations old), build targets ``A_i / tau`` from a group baseline and fit the
tabular logits with ``fit_steps`` gradient steps on the regression loss of
THEORY.md §3,

.. math:: L(\theta) = \frac{\tau}{2k} \sum_{i=1}^k
          \Big(\frac{A_i}{\tau} - \log\frac{\pi_\theta(y_i)}{\pi_{old}(y_i)}\Big)^2,

the sequence-level OpenKimi loss with unit lengths and weights. The method
``"grpo"`` is real GRPO instead: TRL's clipped-ratio surrogate on
std-normalised group advantages, maximised by ``fit_steps`` policy-gradient
steps on the same samples (``"grpo_sampled"`` is the regression above on
GRPO's targets). Every baseline of :mod:`pmdtheory.baselines` gives a sampled
method ``<baseline>_sampled``; the old names ``part_sampled``, ``rloo_sampled``
and ``grpo_regression`` work for one release (:data:`DEPRECATED_METHODS`). On an MDP the
contexts are the states and the rewards are :math:`Q^{\pi_t}(s, \cdot)`, exact
(linear solve) or Monte-Carlo (``q="mc"``).

References
----------
THEORY.md §2 (exact), §3 (sampled regression), §4 (PMD-mean), §5 (KL-chi2), §7 (MDPs).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple, overload

import numpy as np
import pandas as pd

from pmdtheory import kl_chi2_update
from pmdtheory.baselines import BASELINES, ROW_SIGNATURE, Baseline
from pmdtheory.sim import _check
from pmdtheory.sim import _kernels as K
from pmdtheory.sim.envs import Bandit, PromptPopulation
from pmdtheory.sim.mdp import TabularMDP


class Method(NamedTuple):
    """How a method of :data:`METHODS` updates (a read-only record, one per name).

    ``kind`` is "population" or "sampled"; a sampled method either fits
    regression targets (``fit="regression"``) with its default ``baseline``
    or takes GRPO's clipped policy-gradient steps (``fit="grpo"``).

    Examples
    --------
    >>> from pmdtheory.sim import METHODS
    >>> METHODS["mean_sampled"].kind, METHODS["mean_sampled"].baseline
    ('sampled', 'mean')
    >>> METHODS["grpo"].fit
    'grpo'
    """

    #: "population" (exact expected rewards) or "sampled" (``k`` responses per context)
    kind: str
    #: group baseline of a sampled method (a name of :data:`BASELINES`; for a regression
    #: method the default, ``baseline=`` overrides it); None for population methods
    baseline: str | None
    #: one line for tables and ``--help``
    description: str
    #: "regression" (the PMD loss of THEORY §3) or "grpo" (TRL's clipped surrogate)
    fit: str = "regression"


_POPULATION = {
    "exact": Method("population", None, "exact PMD, pi' ~ pi exp(r/tau) (THEORY §2)"),
    "mean": Method("population", None, "PMD-mean population solution (Lambert W, §4)"),
    "kl_chi2": Method("population", None, "KL + (beta/2) chi2 regularised step, fixed beta (§5)"),
}
_GRPO = Method(
    "sampled",
    "grpo",
    "GRPO: clipped-ratio policy gradient on (r - mean)/(std + eps) (TRL's loss)",
    "grpo",
)
#: suffix of the sampled regression methods: ``<baseline>_sampled`` for every baseline
SAMPLED_SUFFIX = "_sampled"
#: old method names, accepted for one release with a DeprecationWarning: old -> new
DEPRECATED_METHODS = {
    "part_sampled": "loo_partition_sampled",
    "rloo_sampled": "loo_mean_sampled",
    "grpo_regression": "grpo_sampled",
}


class _Methods(Mapping[str, Method]):
    """The method names, live: a baseline added to the registry adds its sampled method."""

    def __getitem__(self, name: str) -> Method:
        # a deprecated name is found (old code's "name in METHODS" keeps working) but not
        # listed; run() warns about it (canonical_method)
        name = DEPRECATED_METHODS.get(name, name) if isinstance(name, str) else name
        if name in _POPULATION:
            return _POPULATION[name]
        if name == "grpo":
            return _GRPO
        if isinstance(name, str) and name.endswith(SAMPLED_SUFFIX):
            b = BASELINES.get(name[: -len(SAMPLED_SUFFIX)])
            if b is not None:
                return Method("sampled", b.name, f"PMD regression, baseline: {b.description}")
        raise KeyError(name)

    def __iter__(self):
        yield from _POPULATION
        yield from (name + SAMPLED_SUFFIX for name in BASELINES)
        yield "grpo"

    def __len__(self) -> int:
        return len(_POPULATION) + len(BASELINES) + 1

    def __repr__(self) -> str:
        return f"METHODS({', '.join(self)})"


#: the method names :func:`run` accepts, each with its :class:`Method` record:
#: population ``exact``, ``mean``, ``kl_chi2``; sampled regression
#: ``<baseline>_sampled`` for every baseline of :data:`BASELINES` (``mean_sampled``,
#: ``loo_mean_sampled``, ``partition_sampled``, ``loo_partition_sampled``,
#: ``grpo_sampled``, and any registered later); and real GRPO, ``grpo``
METHODS: Mapping[str, Method] = _Methods()


def canonical_method(name: str, arg: str = "method") -> str:
    """``name``, or the new name of a deprecated one (with a DeprecationWarning naming it).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     canonical_method("part_sampled")
    'loo_partition_sampled'
    """
    new = DEPRECATED_METHODS.get(name) if isinstance(name, str) else None
    if new is not None:
        warnings.warn(
            f"{arg} {name!r} is deprecated and will be removed in the next release; use {new!r}",
            DeprecationWarning,
            stacklevel=3,
        )
        return new
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"{arg} must be one of {tuple(METHODS)}, got {name!r}")
    return name


_FIT_CODE = {"regression": K.FIT_REGRESSION, "grpo": K.FIT_GRPO}
#: default std offset of the GRPO advantage: TRL's, 1e-4, for ``grpo`` and
#: ``grpo_sampled``; the deprecated ``grpo_regression`` keeps its old 1e-6 for one release
GRPO_EPS = {"grpo": 1e-4, "grpo_sampled": 1e-4, "grpo_regression": 1e-6}


def _estimate_code(b: Baseline) -> int:
    """The simulator's code of the population update the baseline's targets estimate."""
    if b.std_normalised:
        return K.EST_MEAN_STD
    return K.EST_EXACT if b.estimates == "exact" else K.EST_MEAN


#: summary columns of :func:`run`, in order
COLUMNS = (
    "method",
    "seed",
    "iter",
    "reward_mean",
    "reward_q10",
    "reward_q50",
    "reward_q90",
    "kl_prev",
    "entropy",
    "beta_mean",
    "beta_median",
    "target_err_pos",
    "target_err_neg",
    "target_rmse_pos",
    "target_rmse_neg",
    "value",
    "subopt",
)

# runs with more (contexts x actions x iterations x runs) than this show a progress bar
_PROGRESS_WORK = 5e8
#: with ``diagnostics=True``, the diagnostics use about this many contexts (every
#: s-th, s = ceil(P / DIAG_CONTEXTS)); ``diagnostics="full"`` uses all
DIAG_CONTEXTS = 2048
#: largest (reward spread) / tau the kernels are tested at (THEORY §4: the
#: PMD-mean solve stays accurate to 1e-13 up to about 1e150)
SPREAD_OVER_TAU_MAX = 1e100
#: smallest tau (1/tau and the learning rate 1/tau stay far from overflow)
TAU_MIN = 1e-200
#: most samples per context (scratch arrays of k entries per thread block)
K_MAX = 2**20
# a kl_chi2 row's probabilities must sum to 1 to this tolerance
_MASS_TOL = 1e-9
# Box-Muller normals are bounded: |z| <= sqrt(-2 log 2^-53) < 8.6
_NORMAL_MAX = 8.6


#: the environments :func:`run` accepts
Env = Bandit | PromptPopulation | TabularMDP


def _reward_spread(env, grpo_eps):
    """Upper bound on (max - min) of every reward the kernels see, over tau's scale."""
    R = env.R
    spread = float(R.max() - R.min())
    if isinstance(env, TabularMDP):
        spread /= 1.0 - env.gamma  # Q values (exact or Monte-Carlo) of rewards in [min, max]
    elif env.noise == "gaussian":
        spread += 2 * _NORMAL_MAX * env.sigma
    elif env.noise == "bernoulli":
        spread = 1.0
    if grpo_eps is not None:  # std-normalised diagnostics divide rewards by sd + eps
        spread *= max(1.0, 1.0 / grpo_eps)
    return spread


def _as_list(value, name, kind):
    if isinstance(value, kind):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise ValueError(
            f"{name} must be one value or a sequence of them, got {value!r}"
        ) from None


def _check_config(env, methods, iters, seeds, o):
    """Check every argument of :func:`run` before any work, once: returns the checked
    options as a read-only mapping, so nothing downstream re-checks or alters them."""
    if not isinstance(env, Bandit | PromptPopulation | TabularMDP):
        raise ValueError(f"env must be a Bandit, PromptPopulation or TabularMDP, got {env!r}")
    if not methods:
        raise ValueError("method must name at least one method")
    # the caller's spelling stays the frame's method name; deprecated ones warn once here
    specs = {m: METHODS[canonical_method(m)] for m in methods}
    iters = _check.integer(iters, "iters", lo=0)
    if not seeds:
        raise ValueError("seed must name at least one seed, got an empty sequence")
    seeds = [_check.integer(s, "seed", lo=0, hi=2**63 - 1) for s in seeds]
    tau = _check.real(o["tau"], "tau", lo=0.0, lo_open=True)
    if tau < TAU_MIN:
        raise ValueError(f"tau must be >= {TAU_MIN:g}, got {tau!r}")
    c = dict(o, tau=tau, specs=specs)
    if "kl_chi2" in methods:
        if o["beta"] is None:
            raise ValueError("beta must be given for method 'kl_chi2'")
        c["beta"] = _check.real(o["beta"], "beta", lo=0.0, hi=SPREAD_OVER_TAU_MAX)
    sampled = [m for m in methods if specs[m].kind == "sampled"]
    c["k"] = _check.integer(o["k"], "k", lo=1, hi=K_MAX) if sampled else 1
    if o["baseline"] is not None and o["baseline"] not in BASELINES:
        raise ValueError(f"baseline must be one of {tuple(BASELINES)}, got {o['baseline']!r}")
    c["baselines"] = {}
    for m in sampled:
        spec = specs[m]
        b = BASELINES[spec.baseline if spec.fit == "grpo" else o["baseline"] or spec.baseline]
        if c["k"] < b.min_group:
            raise ValueError(
                f"k must be >= {b.min_group} for method {m!r} (baseline {b.name!r}), got {o['k']}"
            )
        c["baselines"][m] = b
    c["fit_steps"] = _check.integer(o["fit_steps"], "fit_steps", lo=0)
    c["lr"] = 1.0 / tau if o["lr"] is None else _check.real(o["lr"], "lr", lo=0.0, lo_open=True)
    c["staleness"] = _check.integer(o["staleness"], "staleness", lo=0)
    c["clip"] = _check.real(o["clip"], "clip", lo=0.0, lo_open=True)
    # eps = 0 divides a constant group's zero advantages by zero (checked for any method)
    given = None if o["eps"] is None else _check.real(o["eps"], "eps", lo=0.0, lo_open=True)
    eps = {}
    for m in sampled:
        if c["baselines"][m].std_normalised:
            eps[m] = GRPO_EPS.get(m, GRPO_EPS["grpo"]) if given is None else given
    c["eps"] = eps
    for m in methods:
        grpo_eps = eps[m] if m in eps and specs[m].fit == "regression" else None
        spread = _reward_spread(env, grpo_eps)
        if spread / tau > SPREAD_OVER_TAU_MAX:
            raise ValueError(
                f"tau must be >= {spread / SPREAD_OVER_TAU_MAX:.3g} for method {m!r}, got "
                f"{tau:g}: the rewards span up to {spread:.3g}"
                f"{' (over eps)' if grpo_eps else ''} and spread/tau must be "
                f"<= {SPREAD_OVER_TAU_MAX:g} (the updates would overflow)"
            )
    if o["q"] not in ("exact", "mc"):
        raise ValueError(f"q must be 'exact' or 'mc', got {o['q']!r}")
    if isinstance(env, TabularMDP) and o["q"] == "mc":
        c["n_rollouts"], c["horizon"] = env._mc_budget(o["n_rollouts"], o["horizon"])
    if o["diagnostics"] not in (True, False, "full"):
        raise ValueError(f"diagnostics must be True, False or 'full', got {o['diagnostics']!r}")
    P = env.shape[0]
    if o["diagnostics"] == "full":
        c["diag_stride"] = 1
    elif o["diagnostics"]:
        c["diag_stride"] = -(-P // DIAG_CONTEXTS)  # ceil: about DIAG_CONTEXTS rows
    else:
        c["diag_stride"] = 0
    return iters, seeds, MappingProxyType(c)


def _summary(stats, tau, rewards):
    """One summary row from per-context statistics (NaN where undefined)."""
    q10, q50, q90 = np.quantile(rewards, [0.1, 0.5, 0.9])
    beta = tau * stats[:, K.LAM]
    beta = beta[~np.isnan(beta)]  # rows without diagnostics
    row = {
        "reward_mean": rewards.mean(),
        "reward_q10": q10,
        "reward_q50": q50,
        "reward_q90": q90,
        "kl_prev": stats[:, K.KL].mean(),
        "entropy": stats[:, K.ENTROPY].mean(),
        "beta_mean": beta.mean() if beta.size else np.nan,
        "beta_median": np.median(beta) if beta.size else np.nan,
    }
    for sign, col in (("pos", K.ERR_POS), ("neg", K.ERR_NEG)):
        w = stats[:, col + 2].sum()
        err = stats[:, col].sum() / w if w > 0 else np.nan
        rmse = np.sqrt(stats[:, col + 1].sum() / w) if w > 0 else np.nan
        row[f"target_err_{sign}"] = err
        row[f"target_rmse_{sign}"] = rmse
    return row


@overload
def run(
    env: Env,
    method: str | Iterable[str] = ...,
    iters: int = ...,
    seed: int | Iterable[int] = ...,
    *,
    tau: float = ...,
    beta: float | None = ...,
    k: int = ...,
    baseline: str | None = ...,
    fit_steps: int = ...,
    lr: float | None = ...,
    staleness: int = ...,
    eps: float | None = ...,
    clip: float = ...,
    q: str = ...,
    n_rollouts: int = ...,
    horizon: int | None = ...,
    diagnostics: bool | str = ...,
    per_prompt: Literal[False] = ...,
    progress: bool | None = ...,
) -> pd.DataFrame: ...


@overload
def run(
    env: Env,
    method: str | Iterable[str] = ...,
    iters: int = ...,
    seed: int | Iterable[int] = ...,
    *,
    tau: float = ...,
    beta: float | None = ...,
    k: int = ...,
    baseline: str | None = ...,
    fit_steps: int = ...,
    lr: float | None = ...,
    staleness: int = ...,
    eps: float | None = ...,
    clip: float = ...,
    q: str = ...,
    n_rollouts: int = ...,
    horizon: int | None = ...,
    diagnostics: bool | str = ...,
    per_prompt: Literal[True],
    progress: bool | None = ...,
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


@overload
def run(
    env: Env,
    method: str | Iterable[str] = ...,
    iters: int = ...,
    seed: int | Iterable[int] = ...,
    *,
    tau: float = ...,
    beta: float | None = ...,
    k: int = ...,
    baseline: str | None = ...,
    fit_steps: int = ...,
    lr: float | None = ...,
    staleness: int = ...,
    eps: float | None = ...,
    clip: float = ...,
    q: str = ...,
    n_rollouts: int = ...,
    horizon: int | None = ...,
    diagnostics: bool | str = ...,
    per_prompt: bool,
    progress: bool | None = ...,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]: ...


def run(
    env: Env,
    method: str | Iterable[str] = "mean",
    iters: int = 50,
    seed: int | Iterable[int] = 0,
    *,
    tau: float = 0.05,
    beta: float | None = None,
    k: int = 16,
    baseline: str | None = None,
    fit_steps: int = 1,
    lr: float | None = None,
    staleness: int = 0,
    eps: float | None = None,
    clip: float = 0.2,
    q: str = "exact",
    n_rollouts: int = 16,
    horizon: int | None = None,
    diagnostics: bool | str = True,
    per_prompt: bool = False,
    progress: bool | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    r"""Iterate PMD methods on ``env`` and return a tidy DataFrame.

    Parameters
    ----------
    env : Bandit, PromptPopulation or TabularMDP
        The environment; its ``logpi0`` is the initial policy of every run.
    method : str or sequence of str
        Names from :data:`METHODS`: population ``"exact"``, ``"mean"``,
        ``"kl_chi2"``; sampled regression (THEORY §3) ``"<baseline>_sampled"``
        for every baseline of :data:`BASELINES`: ``"loo_partition_sampled"``
        (leave-one-out partition baseline), ``"partition_sampled"``,
        ``"mean_sampled"`` (group mean), ``"loo_mean_sampled"`` (leave-one-out
        mean), ``"grpo_sampled"`` (the PMD regression on GRPO's std-normalised
        targets, not GRPO); and ``"grpo"``, real GRPO: TRL's clipped-ratio
        policy gradient (see ``clip``). A deprecated name of
        :data:`DEPRECATED_METHODS` warns and is kept in the frame as given.
    iters : int
        Number of PMD iterations (the frame also has iteration 0, the start).
    seed : int or sequence of int
        Non-empty; seeds of the counter-based random stream (sampled methods, ``q="mc"``),
        each an integer in [0, 2**63 - 1].
    tau : float
        KL strength: the step is :math:`\pi_{t+1} \propto \pi_t e^{r/\tau}`.
        Tested domain: tau >= 1e-200 and (reward spread)/tau <= 1e100 (the
        spread of Q values on an MDP is bounded by (max R - min R)/(1 - gamma);
        for ``"grpo_sampled"`` it is divided by ``eps``); outside, ValueError.
        A step that still overflows raises ValueError naming tau: never NaN.
    beta : float, optional
        Fixed chi2 weight of ``"kl_chi2"`` (required for it), >= 0.
    k : int
        Responses sampled per context, 1 to 2**20, at least the baseline's
        ``min_group``. A group of one follows the registry (verl's convention):
        the leave-one-out baselines give baseline 0, GRPO mean 0 and std 1.
    baseline : str, optional
        Override the regression methods' baseline: one of :data:`BASELINES`
        (``"grpo"`` itself ignores it).
    fit_steps : int
        Gradient steps per iteration of the sampled methods, all on the same
        on-policy sample set: steps on the regression loss, or for ``"grpo"``
        its inner epochs (TRL's ``num_iterations``; the default 1 is TRL's).
    lr : float, optional
        Learning rate of those steps; default ``1/tau``. The regression loss's
        Hessian in the logits is at most ``tau`` (times a sample frequency), so
        any ``lr < 2/tau`` is stable near the minimiser. For ``"grpo"`` it is
        the logit step per unit of advantage: one step moves
        :math:`\theta \leftarrow \theta + \frac{lr}{k}\sum_i \rho_i A_i
        (e_{y_i} - \pi_\theta)`; the default ``1/tau`` keeps ``tau`` the one
        step-size knob of every method.
    staleness : int
        Sample from the policy of ``staleness`` iterations ago (0: on-policy;
        before iteration ``staleness + 1`` the initial policy). The regression
        is then relative to that stale policy, as in asynchronous RL. Sampled
        methods only; population methods ignore it.
    eps : float, optional
        GRPO's std offset, > 0: the advantage is :math:`(r - \bar r)/(s + \epsilon)`
        with :math:`s` the group's standard deviation (Bessel-corrected, as
        TRL). Default 1e-4, TRL's (the deprecated ``"grpo_regression"`` keeps
        its old 1e-6 for one release).
    clip : float
        GRPO's clipping :math:`\epsilon` (TRL's ``epsilon``, default 0.2), > 0:
        the surrogate is :math:`\frac1k\sum_i \min(\rho_i A_i,
        \operatorname{clip}(\rho_i, 1-\epsilon, 1+\epsilon) A_i)` with
        :math:`\rho_i = \pi_\theta(y_i)/\pi_{old}(y_i)`, :math:`\pi_{old}` the
        sampling policy. With ``fit_steps=1`` on-policy :math:`\rho = 1` and
        the step is plain policy gradient; clipping acts from the second inner
        epoch on (or with ``staleness``). No KL penalty (TRL's default
        ``beta = 0``).
    q : {"exact", "mc"}
        MDPs only: Q by linear solve, or by ``n_rollouts`` (default 16)
        Monte-Carlo rollouts of length ``horizon`` per state-action pair (default:
        where gamma^horizon reaches 1e-4; at most 1e9 transitions per estimate,
        see :meth:`TabularMDP.mc_q`).
    diagnostics : {True, "full", False}
        The implied :math:`\beta_t = \tau\lambda_t` (a PMD-mean solve per
        context, for methods that do not produce it anyway) and the target
        errors. ``"full"``: over every context. ``True`` (default): over every
        s-th context, s = ceil(P / :data:`DIAG_CONTEXTS`) (all contexts up to
        2048; at 100k contexts every 49th), so that they cost little (a
        PMD-mean solve costs several times a sampled step); the
        ``beta_*`` and ``target_*`` columns then describe that systematic
        sample of contexts, everything else is unchanged. ``False``: those
        columns are NaN (PMD-mean keeps its beta).
    per_prompt : bool
        Also return a frame with the expected reward (MDP: ``V(s)``) of every
        context at every iteration (P x iters rows per run: mind the memory).
    progress : bool, optional
        tqdm progress bar; default: on for long runs only.

    Returns
    -------
    summary : pandas.DataFrame
        Columns :data:`COLUMNS`, one row per (method, seed, iter). Row ``iter = t``
        describes :math:`\pi_t`: ``reward_*`` are the mean and 10/50/90 %
        quantiles over contexts of :math:`E_{\pi_t}[r]` (success probability for
        prompts; :math:`V^{\pi_t}(s)` for MDPs), ``entropy`` the mean entropy.
        The step columns describe the update :math:`\pi_{t-1} \to \pi_t`:
        ``kl_prev`` the mean :math:`KL(\pi_t \| \pi_{t-1})`, ``beta_*`` the
        implied :math:`\beta = \tau\lambda` of the PMD-mean step at
        :math:`\pi_{t-1}` (mean, median over contexts), ``target_err_*`` and
        ``target_rmse_*`` the signed mean and RMS error of the regression
        targets :math:`A_i/\tau` over sampled positive (:math:`r > \bar r`) and
        negative responses. The error is measured against the log-ratio
        :math:`\log(\pi_{t+1}/\pi_{old})` of the population solution that the
        estimator stands in for (paper Fig. 3): exact PMD,
        :math:`(r - \tau\log Z)/\tau`, for the partition baselines; PMD-mean
        (Lambert W) for the mean baselines, so that its chi2 pull
        :math:`\omega = \lambda x` shows as a systematic offset; PMD-mean with
        rewards scaled by :math:`1/\mathrm{sd}_\pi(r)` for ``grpo_sampled``;
        NaN for ``grpo`` (it fits no targets). Population
        methods: 0 for ``exact``, :math:`\omega` for ``mean`` (weights
        :math:`\pi_t`), NaN for ``kl_chi2``. NaN also where no positive
        (negative) response was sampled or keeps a nonzero probability.
        ``value`` (:math:`\rho^\top V^{\pi_t}`) and ``subopt``
        (:math:`\rho^\top (V^* - V^{\pi_t})`) for MDPs, NaN otherwise.
    per_prompt : pandas.DataFrame
        Only with ``per_prompt=True``: columns method, seed, iter, context, reward.

    Raises
    ------
    ValueError
        Naming the argument, for any argument outside its domain (checked
        before any work), and naming ``tau`` (and ``beta``) for a step that
        overflows.

    Notes
    -----
    Tested domain (``tests/test_sim_run.py``, ``test_sim_grpo.py``,
    ``test_sim_mdp.py``):

    - population methods equal repeated :func:`pmdtheory.exact_update`,
      :func:`pmdtheory.mean_update` and :func:`pmdtheory.kl_chi2_update` to
      1e-10 (300 prompts x 12 responses, tau 0.3), also over 45 iterations at
      tau 0.05 where wrong answers' probabilities underflow, and at the edge
      (spread/tau = 1e100; tau = 1e-200 for rewards of size 1e-110);
    - the sampled step (every baseline, noise, ``fit_steps`` 0 to 4,
      ``staleness``, 9 to 300 actions; random shapes up to 30 x 12, k 2 to 9,
      tau 0.01 to 10) equals a plain-numpy reference on the same draws to
      1e-11; ``"grpo"``'s gradient equals torch autograd of TRL's clipped loss
      to 1e-12; as k grows (1,000 and 16,000) sampled fits approach the
      population limit at the CLT rate;
    - results are bit-identical with 1 and 2 Numba threads;
    - any arguments (300 random combinations, tau 1e-8 to 1e8 with odd values
      mixed in) give finite step statistics or a ``ValueError``;
    - on MDPs, exact and PMD-mean converge linearly at rate
      :math:`e^{-\Delta/\tau}` (to 1 %, tau 0.25 and 0.5, 15 states x 3
      actions) and PMD-mean never gains more per step than exact PMD.

    Examples
    --------
    Population and sampled methods on a small prompt population:

    >>> from pmdtheory.sim import PromptPopulation, TabularMDP, run
    >>> env = PromptPopulation.random(200, 16, seed=0)
    >>> df = run(env, ["exact", "mean", "mean_sampled"], iters=5, tau=0.1)
    >>> list(df.groupby("method").size())
    [6, 6, 6]
    >>> exact = df[df["method"] == "exact"]["reward_mean"]
    >>> bool(exact.is_monotonic_increasing)
    True

    With ``per_prompt=True`` a second frame holds every context's reward:

    >>> df, per = run(env, "exact", iters=2, per_prompt=True)
    >>> per.shape, list(per.columns)
    ((600, 5), ['method', 'seed', 'iter', 'context', 'reward'])

    On an MDP, the ``subopt`` column shrinks to zero:

    >>> mdp = TabularMDP.gridworld(3, gamma=0.9, slip=0.0)
    >>> df = run(mdp, "mean", iters=40, tau=0.1)
    >>> bool(df["subopt"].iloc[-1] < 1e-3 * df["subopt"].iloc[0])
    True
    """
    methods = _as_list(method, "method", str)
    seeds = _as_list(seed, "seed", int | np.integer)
    opts = dict(
        tau=tau,
        beta=beta,
        k=k,
        baseline=baseline,
        fit_steps=fit_steps,
        lr=lr,
        staleness=staleness,
        eps=eps,
        clip=clip,
        q=q,
        n_rollouts=n_rollouts,
        horizon=horizon,
        diagnostics=diagnostics,
    )
    iters, seeds, opts = _check_config(env, methods, iters, seeds, opts)
    P, n = env.shape
    if progress is None:
        progress = P * n * iters * len(methods) * len(seeds) > _PROGRESS_WORK
    v_star = env.solve().v if isinstance(env, TabularMDP) else None
    from tqdm.auto import tqdm

    rows, frames = [], []
    with tqdm(total=len(methods) * len(seeds) * iters, disable=not progress) as bar:
        for name in methods:
            for s in seeds:
                r, f = _run_one(env, name, s, iters, opts, v_star, bool(per_prompt), bar)
                rows.extend(r)
                frames.extend(f)
    summary = pd.DataFrame(rows, columns=list(COLUMNS))
    if not per_prompt:
        return summary
    return summary, pd.concat(frames, ignore_index=True)


def _run_one(env, name, seed, iters, o, v_star, per_prompt, bar):
    """All iterations of one (method, seed): summary rows and per-context frames."""
    spec = o["specs"][name]
    mdp = isinstance(env, TabularMDP)
    tau = o["tau"]
    logpi = env.logpi0.copy()
    P, n = logpi.shape

    def record(t, values, entropy, step):
        row = {"method": name, "seed": seed, "iter": t, "value": np.nan, "subopt": np.nan}
        row.update(step)
        q10, q50, q90 = np.quantile(values, [0.1, 0.5, 0.9])
        row.update(
            reward_mean=values.mean(),
            reward_q10=q10,
            reward_q50=q50,
            reward_q90=q90,
            entropy=entropy.mean(),
        )
        if mdp:
            row["value"] = float(env.rho @ values)
            row["subopt"] = float(env.rho @ (v_star - values))
        rows.append(row)
        if per_prompt:
            cols = {"method": name, "seed": seed, "iter": t, "context": np.arange(P)}
            frames.append(pd.DataFrame({**cols, "reward": values.copy()}))

    rows, frames = [], []
    if spec.kind == "sampled":
        base = o["baselines"][name]
        row = base.row
        row.compile(ROW_SIGNATURE)  # the step takes it as a first-class function
    pi = np.exp(logpi)
    if mdp:
        values, R_exact = env.evaluate(pi)
    else:
        values, R_exact = (pi * env.R).sum(axis=1), env.R
    with np.errstate(invalid="ignore"):  # 0 * -inf off the support, replaced by 0
        entropy = -np.where(pi > 0, pi * logpi, 0.0).sum(axis=1)
    record(0, values, entropy, {})
    # A ring of staleness + 2 (log-policy, policy) buffers, allocated once: the
    # newest staleness + 1 are the sampling history, the next one takes the
    # output. Fresh arrays every iteration would page-fault on first touch, which
    # costs as much as a third of a sampled step at 100k x 64.
    # staleness beyond iters acts like staleness = iters (always the initial policy)
    ring = min(o["staleness"], iters) + 2 if spec.kind == "sampled" else 2
    lp_buf = [logpi] + [np.empty_like(logpi) for _ in range(ring - 1)]
    pi_buf = [pi] + [np.empty_like(pi) for _ in range(ring - 1)] if spec.kind == "sampled" else []
    stats = np.empty((P, K.N_STATS))
    for t in range(1, iters + 1):
        if mdp and o["q"] == "mc":
            R = env.mc_q(
                np.exp(logpi),
                n_rollouts=o["n_rollouts"],
                horizon=o["horizon"],
                seed=seed,
                iteration=t,
            )
        else:
            R = R_exact
        cur, nxt = (t - 1) % ring, t % ring
        out = lp_buf[nxt]
        if spec.kind == "population":
            code = {"exact": K.POP_EXACT, "mean": K.POP_MEAN}.get(name, K.POP_NONE)
            if code == K.POP_NONE:
                out[:] = kl_chi2_update(logpi, R, tau, o["beta"], log=True)
                # the core's answer must be a distribution: a row that is not one is an
                # error here (with the arguments' names), not a wrong next iteration
                with np.errstate(over="ignore", invalid="ignore"):
                    mass = np.exp(out).sum(axis=1)
                if not np.all(np.abs(mass - 1.0) <= _MASS_TOL):
                    raise ValueError(
                        f"beta ({o['beta']:g}) and tau ({tau:g}) out of range: kl_chi2_update "
                        f"returned rows that are not distributions at iteration {t}"
                    )
            K._population_step(logpi, R, tau, code, o["diag_stride"], out, stats)
        else:
            old = (cur - min(o["staleness"], t - 1)) % ring  # the sampling policy's slot
            K._sampled_step(
                logpi, pi_buf[cur], lp_buf[old], pi_buf[old], old == cur,
                np.ascontiguousarray(R), int(env.noise_code), float(env.sigma), o["k"], row,
                _estimate_code(base), tau, o["eps"].get(name, 1.0),
                o["lr"], o["fit_steps"], _FIT_CODE[spec.fit], o["clip"], seed, t,
                o["diag_stride"], out, pi_buf[nxt], stats,
            )  # fmt: skip
        if not np.all(np.isfinite(stats[:, K.REWARD : K.ENTROPY + 1])):
            # never return NaN: a step that left the floating-point range is an error
            what = f"beta ({o['beta']:g}) and " if name == "kl_chi2" else ""
            raise ValueError(
                f"{what}tau ({tau:g}) out of range: method {name!r} produced a non-finite "
                f"policy at iteration {t} (the update overflowed); use a larger tau or a "
                "smaller learning rate lr"
            )
        logpi = out
        if mdp:
            values, R_exact = env.evaluate(np.exp(logpi))
        else:
            values = stats[:, K.REWARD]
        record(t, values, stats[:, K.ENTROPY], _summary(stats, tau, values))
        bar.update(1)
    return rows, frames
