r"""Figure ``stability``: sampled PMD-part vs PMD-mean with few responses, over tau, stale data.

A population of binary-reward prompts (Beta(0.5, 2) initial success probabilities,
32 responses each) trained with :func:`pmdtheory.sim.run` by the sampled regression
methods: PMD-part with the leave-one-out partition baseline (``part_sampled``) and
PMD-mean with the group-mean baseline (``mean_sampled``), one fitted gradient step
per iteration (THEORY §3, §6 "sample noise"), ``N_SEEDS = 5`` seeds: 1000 prompts and 30
iterations (``--quick``: 150 prompts, 8 iterations, 2 seeds).

Rewards in {0, 1} (``scale = "01"``, the simulator's prompt population) for tau from
0.01 to 1, and in {-1, +1} (``scale = "pm1"``, the scale the paper trains with: the
same prompts as a :class:`pmdtheory.sim.Bandit` with ``R = 2 correct - 1``) for a
few taus. Every baseline here is shift invariant, so +-1 rewards at tau are {0, 1}
rewards at tau/2 (the fitted step's learning rate 1/tau scales along); the report
checks that the runs agree.

* (a) hard prompts (initial success probability below ``HARD_P``): the fraction
  whose success probability is lower after training than at the start, by more
  than the relative tolerance ``WORSE_RTOL`` (prompts that never moved differ from
  p0 by rounding only), against tau, mean and 95% confidence interval over seeds;
* (b) final mean success against tau;
* (c) staleness (samples from the policy s iterations old) at k = 8: final
  mean success;
* (d) mean KL(pi_t || pi_{t-1}) per step against k (on-policy, {0, 1} rewards).

CSV columns: scale (01 | pm1), tau, k, staleness, method, seed, iters, final_success,
kl_mean, kl_max, n_hard, hard_frac_backwards (with WORSE_RTOL), hard_frac_backwards_notol
(``final < p0``, the old rule), hard_frac_collapsed (final < initial / 10),
hard_final_median, all_frac_backwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args
from scipy import stats

from pmdtheory.plotting import PALETTE, figure, panel_label
from pmdtheory.sim import Bandit, PromptPopulation, run

NAME = "stability"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 20, "full": 45},
    "outputs": ["stability.png", "stability.pdf", "data/stability.csv"],
    "claims": {"_claims_sampled.claim_robust": 17},
}
METHODS = ("part_sampled", "mean_sampled")
LABEL = {"part_sampled": "PMD-part (LOO partition)", "mean_sampled": "PMD-mean"}
LS = {"part_sampled": "-.", "mean_sampled": "--"}
TAUS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
TAUS_PM1 = (0.02, 0.1, 1.0)  # +-1 rewards; tau/2 is in TAUS, so the runs can be compared
KS = (4, 8, 16)
STALE_TAUS = (0.01, 0.05)
HARD_P = 0.02
STALE_K = 8
N_SEEDS = 5
WORSE_RTOL = 1e-9  # "worse" = final < p0 (1 - WORSE_RTOL); unmoved prompts differ by ~1e-17
CI = 0.95
PM1_MARKER = {"marker": "s", "markersize": 6, "markerfacecolor": "none"}  # +-1 runs and legend


def ci_halfwidth(x: np.ndarray, level: float = CI) -> float:
    """Half width of the t confidence interval of the mean of `x` (NaN for one value)."""
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))


def summarise(s: pd.DataFrame, pp: pd.DataFrame, p0: np.ndarray, iters: int, **cfg) -> list:
    hard = p0 < HARD_P
    rows = []
    pm1 = cfg["scale"] == "pm1"
    for (method, seed), d in s.groupby(["method", "seed"]):
        fin = pp[(pp.method == method) & (pp.seed == seed) & (pp.iter == iters)]
        f = fin.sort_values("context").reward.to_numpy()
        if pm1:
            f = (f + 1.0) / 2.0  # expected reward in {-1, 1} -> success probability
        steps = d[d.iter > 0]
        worse = f < p0 * (1.0 - WORSE_RTOL)
        rows.append(
            {
                **cfg,
                "method": method,
                "seed": seed,
                "iters": iters,
                "final_success": f.mean(),
                "kl_mean": steps.kl_prev.mean(),
                "kl_max": steps.kl_prev.max(),
                "n_hard": int(hard.sum()),
                "hard_frac_backwards": np.mean(worse[hard]),
                "hard_frac_backwards_notol": np.mean(f[hard] < p0[hard]),
                "hard_frac_collapsed": np.mean(f[hard] < 0.1 * p0[hard]),
                "hard_final_median": np.median(f[hard]),
                "all_frac_backwards": np.mean(worse),
            }
        )
    return rows


def mean_ci(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    g = df.groupby(keys)[col]
    return pd.DataFrame({"mean": g.mean(), "ci": g.agg(ci_halfwidth)}).reset_index()


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    q = args.quick
    n_prompts, iters = (150, 8) if q else (1000, 30)
    taus = (0.01, 0.1) if q else TAUS
    taus_pm1 = (0.02,) if q else TAUS_PM1
    ks = (4, 16) if q else KS
    stales = (0, 4) if q else (0, 1, 2, 4)
    seeds = [args.seed + i for i in range(2 if q else N_SEEDS)]
    env = PromptPopulation.random(n_prompts, 32, seed=args.seed)
    envs = {"01": env, "pm1": Bandit(2.0 * env.R - 1.0, env.logpi0)}
    p0 = env.p0

    configs = {("01", tau, k, 0) for tau in taus for k in ks}
    configs |= {("pm1", tau, k, 0) for tau in taus_pm1 for k in ks}
    configs |= {("01", tau, STALE_K, s) for tau in STALE_TAUS[: len(taus)] for s in stales}
    rows = []
    for scale, tau, k, st in sorted(configs):
        s, pp = run(
            envs[scale], list(METHODS), iters=iters, tau=tau, k=k, seed=seeds, staleness=st,
            per_prompt=True, diagnostics=False, progress=False,
        )  # fmt: skip
        rows += summarise(s, pp, p0, iters, scale=scale, tau=tau, k=k, staleness=st)
    df = pd.DataFrame(rows)

    fig, axes = figure(2, 2, panel_size=(3.6, 2.7))
    on = df[(df.staleness == 0)]
    k_show = (min(ks), max(ks))
    for ax, col in ((axes[0, 0], "hard_frac_backwards"), (axes[0, 1], "final_success")):
        for color, k in zip(PALETTE, k_show, strict=False):
            for method in METHODS:
                d = mean_ci(on[(on.k == k) & (on.method == method)], ["scale", "tau"], col)
                a = d[d.scale == "01"]
                ax.errorbar(a.tau, a["mean"], yerr=a.ci, color=color, linestyle=LS[method],
                            marker="o", markersize=3, capsize=2,
                            label=f"{LABEL[method]}, $k$={k}")  # fmt: skip
                b = d[d.scale == "pm1"]
                ax.errorbar(b.tau, b["mean"], yerr=b.ci, color=color, linestyle="none",
                            capsize=2, **PM1_MARKER)  # fmt: skip
        ax.plot([], [], color="k", linestyle="none", label=r"$\pm1$ rewards", **PM1_MARKER)
        ax.set_xscale("log")
        ax.set_xlabel(r"temperature $\tau$")
    axes[0, 0].set_ylabel(f"hard prompts (p0<{HARD_P:g}) worse")
    axes[0, 0].set_title(f"hard prompts after {iters} iterations")
    axes[0, 0].set_ylim(bottom=-0.01)
    axes[0, 0].legend(loc="upper right", fontsize=5.5)
    axes[0, 1].set_ylabel("final mean success")
    axes[0, 1].set_title("on-policy, mean and 95% CI")

    cx, dx = axes[1, 0], axes[1, 1]
    stale = df[(df.k == STALE_K) & (df.scale == "01")]
    for color, tau in zip(PALETTE, STALE_TAUS, strict=False):
        for method in METHODS:
            sub = stale[(stale.tau == tau) & (stale.method == method)]
            d = mean_ci(sub, ["staleness"], "final_success")
            cx.errorbar(d.staleness, d["mean"], yerr=d.ci, color=color, linestyle=LS[method],
                        marker="o", markersize=3, capsize=2,
                        label=rf"{LABEL[method]}, $\tau$={tau:g}")  # fmt: skip
    cx.set_xticks(stales)
    cx.set_xlabel("staleness (iterations)")
    cx.set_ylabel("final mean success")
    cx.set_title(rf"stale samples, $k$={STALE_K}")
    cx.legend(loc="lower left", fontsize=5.5)
    for color, tau in zip(PALETTE, STALE_TAUS, strict=False):
        for method in METHODS:
            sub = on[(on.scale == "01") & (on.tau == tau) & (on.method == method)]
            d = mean_ci(sub, ["k"], "kl_mean")
            dx.errorbar(d.k, d["mean"], yerr=d.ci, color=color, linestyle=LS[method],
                        marker="o", markersize=3, capsize=2)  # fmt: skip
    dx.set_xscale("log", base=2)
    dx.set_xticks(ks, [str(k) for k in ks])
    dx.set_yscale("log")
    dx.set_xlabel("responses per prompt $k$")
    dx.set_ylabel(r"mean $\mathrm{KL}(\pi_t\|\pi_{t-1})$ per step")
    dx.set_title(r"update size (on-policy; colours as in c)")
    for ax, tag in zip(axes.ravel(), "abcd", strict=True):
        panel_label(ax, tag)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
