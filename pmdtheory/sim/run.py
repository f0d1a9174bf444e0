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

the sequence-level OpenKimi loss with unit lengths and weights. On an MDP the
contexts are the states and the rewards are :math:`Q^{\pi_t}(s, \cdot)`, exact
(linear solve) or Monte-Carlo (``q="mc"``).

References
----------
THEORY.md §2 (exact), §3 (sampled regression), §4 (PMD-mean), §5 (KL-chi2), §7 (MDPs).
"""

from typing import NamedTuple

import numpy as np
import pandas as pd

from pmdtheory import kl_chi2_update
from pmdtheory.estimators import BASELINES
from pmdtheory.sim import _kernels as K
from pmdtheory.sim.envs import Bandit, PromptPopulation
from pmdtheory.sim.mdp import TabularMDP


class Method(NamedTuple):
    """How a method updates: ``kind`` is "population" or "sampled"."""

    kind: str
    baseline: str | None
    description: str


METHODS = {
    "exact": Method("population", None, "exact PMD, pi' ~ pi exp(r/tau) (THEORY §2)"),
    "mean": Method("population", None, "PMD-mean population solution (Lambert W, §4)"),
    "kl_chi2": Method("population", None, "KL + (beta/2) chi2 regularised step, fixed beta (§5)"),
    "part_sampled": Method(
        "sampled", "loo_partition", "regression, leave-one-out log-partition (OpenKimi ploo)"
    ),
    "mean_sampled": Method("sampled", "mean", "regression, group mean baseline (PMD-mean)"),
    "rloo_sampled": Method("sampled", "loo_mean", "regression, leave-one-out mean (RLOO)"),
    "grpo": Method("sampled", "grpo", "regression on GRPO advantages (r - mean)/std"),
}
_BASELINE_CODE = {
    "mean": K.MEAN,
    "loo_mean": K.LOO_MEAN,
    "partition": K.PARTITION,
    "loo_partition": K.LOO_PARTITION,
    "grpo": K.GRPO,
}
assert set(_BASELINE_CODE) == set(BASELINES)

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


def _check_config(env, methods, iters, seeds, tau, beta, k, baseline, fit_steps, lr, staleness):
    if not isinstance(env, Bandit | PromptPopulation | TabularMDP):
        raise ValueError(f"env must be a Bandit, PromptPopulation or TabularMDP, got {env!r}")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"method must be one of {tuple(METHODS)}, got {m!r}")
    if not methods:
        raise ValueError("method must name at least one method")
    if not (isinstance(iters, int | np.integer) and iters >= 0):
        raise ValueError(f"iters must be a non-negative integer, got {iters!r}")
    for s in seeds:
        if not (isinstance(s, int | np.integer) and 0 <= s < 2**63):
            raise ValueError(f"seed must be a non-negative integer, got {s!r}")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be finite and > 0, got {tau}")
    if "kl_chi2" in methods and (beta is None or not (np.isfinite(beta) and beta >= 0)):
        raise ValueError(f"beta must be finite and >= 0 for method 'kl_chi2', got {beta}")
    sampled = [m for m in methods if METHODS[m].kind == "sampled"]
    if sampled:
        if not (isinstance(k, int | np.integer) and k >= 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if baseline is not None and baseline not in _BASELINE_CODE:
            raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
        for m in sampled:
            b = baseline or METHODS[m].baseline
            if k < 2 and b in ("loo_mean", "loo_partition", "grpo"):
                raise ValueError(f"k must be >= 2 for the {b!r} baseline (method {m!r}), got {k}")
        if not (isinstance(fit_steps, int | np.integer) and fit_steps >= 0):
            raise ValueError(f"fit_steps must be a non-negative integer, got {fit_steps!r}")
        if lr is not None and not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be finite and > 0, got {lr}")
        if not (isinstance(staleness, int | np.integer) and staleness >= 0):
            raise ValueError(f"staleness must be a non-negative integer, got {staleness!r}")


def _summary(stats, tau, rewards):
    """One summary row from per-context statistics (NaN where undefined)."""
    q10, q50, q90 = np.quantile(rewards, [0.1, 0.5, 0.9])
    beta = tau * stats[:, K.LAM]
    row = {
        "reward_mean": rewards.mean(),
        "reward_q10": q10,
        "reward_q50": q50,
        "reward_q90": q90,
        "kl_prev": stats[:, K.KL].mean(),
        "entropy": stats[:, K.ENTROPY].mean(),
        "beta_mean": beta.mean() if not np.isnan(beta).all() else np.nan,
        "beta_median": np.median(beta) if not np.isnan(beta).all() else np.nan,
    }
    for sign, col in (("pos", K.ERR_POS), ("neg", K.ERR_NEG)):
        w = stats[:, col + 2].sum()
        err = stats[:, col].sum() / w if w > 0 else np.nan
        rmse = np.sqrt(stats[:, col + 1].sum() / w) if w > 0 else np.nan
        row[f"target_err_{sign}"] = err
        row[f"target_rmse_{sign}"] = rmse
    return row


def run(
    env,
    method="mean",
    iters=50,
    seed=0,
    *,
    tau=0.05,
    beta=None,
    k=16,
    baseline=None,
    fit_steps=1,
    lr=None,
    staleness=0,
    eps=1e-6,
    q="exact",
    n_rollouts=16,
    horizon=None,
    diagnostics=True,
    per_prompt=False,
    progress=None,
):
    r"""Iterate PMD methods on ``env`` and return a tidy DataFrame.

    Parameters
    ----------
    env : Bandit, PromptPopulation or TabularMDP
        The environment; its ``logpi0`` is the initial policy of every run.
    method : str or sequence of str
        Names from :data:`METHODS`: population ``"exact"``, ``"mean"``,
        ``"kl_chi2"``; sampled ``"part_sampled"`` (leave-one-out partition
        baseline), ``"mean_sampled"`` (group mean), ``"rloo_sampled"``
        (leave-one-out mean), ``"grpo"`` (``(r - mean)/std``).
    iters : int
        Number of PMD iterations (the frame also has iteration 0, the start).
    seed : int or sequence of int
        Seeds of the counter-based random stream (sampled methods, ``q="mc"``).
    tau : float
        KL strength, > 0: the step is :math:`\pi_{t+1} \propto \pi_t e^{r/\tau}`.
    beta : float, optional
        Fixed chi2 weight of ``"kl_chi2"`` (required for it), >= 0.
    k : int
        Responses sampled per context; >= 2 for leave-one-out and GRPO baselines.
    baseline : str, optional
        Override the method's baseline: one of :data:`BASELINES`.
    fit_steps : int
        Gradient steps on the regression loss per iteration (sampled methods).
    lr : float, optional
        Learning rate of those steps; default ``1/tau``. The loss Hessian in the
        logits is at most ``tau`` (times a sample frequency), so any
        ``lr < 2/tau`` is stable near the minimiser.
    staleness : int
        Sample from the policy of ``staleness`` iterations ago (0: on-policy;
        before iteration ``staleness + 1`` the initial policy). The regression
        is then relative to that stale policy, as in asynchronous RL. Sampled
        methods only; population methods ignore it.
    eps : float
        GRPO's std offset.
    q : {"exact", "mc"}
        MDPs only: Q by linear solve, or by ``n_rollouts`` Monte-Carlo rollouts
        of length ``horizon`` per state-action pair.
    diagnostics : bool
        Compute the implied :math:`\beta_t = \tau\lambda_t` (a PMD-mean solve per
        context, for methods that do not produce it anyway) and the target
        errors; without them those columns are NaN (PMD-mean keeps its beta)
        and a sampled step is about 1.5x faster.
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
        rewards scaled by :math:`1/\mathrm{sd}_\pi(r)` for GRPO. Population
        methods: 0 for ``exact``, :math:`\omega` for ``mean`` (weights
        :math:`\pi_t`), NaN for ``kl_chi2``. NaN also where no positive
        (negative) response was sampled or keeps a nonzero probability.
        ``value`` (:math:`\rho^\top V^{\pi_t}`) and ``subopt``
        (:math:`\rho^\top (V^* - V^{\pi_t})`) for MDPs, NaN otherwise.
    per_prompt : pandas.DataFrame
        Only with ``per_prompt=True``: columns method, seed, iter, context, reward.

    Examples
    --------
    >>> from pmdtheory.sim import PromptPopulation, run
    >>> env = PromptPopulation.random(200, 16, seed=0)
    >>> df = run(env, ["exact", "mean", "mean_sampled"], iters=5, tau=0.1)
    >>> list(df.groupby("method").size())
    [6, 6, 6]
    """
    methods = [method] if isinstance(method, str) else list(method)
    seeds = [seed] if isinstance(seed, int | np.integer) else list(seed)
    _check_config(env, methods, iters, seeds, tau, beta, k, baseline, fit_steps, lr, staleness)
    if q not in ("exact", "mc"):
        raise ValueError(f"q must be 'exact' or 'mc', got {q!r}")
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    P, n = env.shape
    if progress is None:
        progress = P * n * iters * len(methods) * len(seeds) > _PROGRESS_WORK
    opts = dict(
        tau=float(tau),
        beta=beta,
        k=int(k),
        baseline=baseline,
        fit_steps=int(fit_steps),
        lr=float(1.0 / tau if lr is None else lr),
        staleness=int(staleness),
        eps=float(eps),
        q=q,
        n_rollouts=n_rollouts,
        horizon=horizon,
        diagnostics=bool(diagnostics),
    )
    v_star = env.solve().v if isinstance(env, TabularMDP) else None
    from tqdm.auto import tqdm

    rows, frames = [], []
    with tqdm(total=len(methods) * len(seeds) * iters, disable=not progress) as bar:
        for name in methods:
            for s in seeds:
                r, f = _run_one(env, name, int(s), int(iters), opts, v_star, per_prompt, bar)
                rows.extend(r)
                frames.extend(f)
    summary = pd.DataFrame(rows, columns=list(COLUMNS))
    if not per_prompt:
        return summary
    return summary, pd.concat(frames, ignore_index=True)


def _run_one(env, name, seed, iters, o, v_star, per_prompt, bar):
    """All iterations of one (method, seed): summary rows and per-context frames."""
    spec = METHODS[name]
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
    pi = np.exp(logpi)
    if mdp:
        values, R_exact = env.evaluate(pi)
    else:
        values, R_exact = (pi * env.R).sum(axis=1), env.R
    record(0, values, -np.where(pi > 0, pi * logpi, 0.0).sum(axis=1), {})
    # A ring of staleness + 2 (log-policy, policy) buffers, allocated once: the
    # newest staleness + 1 are the sampling history, the next one takes the
    # output. Fresh arrays every iteration would page-fault on first touch, which
    # costs as much as a third of a sampled step at 100k x 64.
    ring = o["staleness"] + 2 if spec.kind == "sampled" else 2
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
            K._population_step(logpi, R, tau, code, o["diagnostics"], out, stats)
        else:
            base = o["baseline"] or spec.baseline
            old = (cur - min(o["staleness"], t - 1)) % ring  # the sampling policy's slot
            K._sampled_step(
                logpi, pi_buf[cur], lp_buf[old], pi_buf[old], old == cur, R, env.noise_code,
                float(env.sigma), o["k"], _BASELINE_CODE[base], tau, o["eps"], o["lr"],
                o["fit_steps"], seed, t, o["diagnostics"], out, pi_buf[nxt], stats,
            )  # fmt: skip
        logpi = out
        if mdp:
            values, R_exact = env.evaluate(np.exp(logpi))
        else:
            values = stats[:, K.REWARD]
        record(t, values, stats[:, K.ENTROPY], _summary(stats, tau, values))
        bar.update(1)
    return rows, frames
