r"""Figure ``stability``: sampled PMD-part vs PMD-mean with few responses, small tau, stale data.

A population of binary-reward prompts (Beta(0.5, 2) initial success probabilities,
32 responses each) trained with :func:`pmdtheory.sim.run` by the sampled regression
methods: PMD-part with the leave-one-out partition baseline (``part_sampled``) and
PMD-mean with the group-mean baseline (``mean_sampled``), one fitted gradient step
per iteration (THEORY §3, §6 "sample noise").

* (a) size of the update: mean KL(pi_t || pi_{t-1}) per step, against k;
* (b) hard prompts (initial success probability below ``HARD_P``): the fraction
  whose success probability is lower after training than at the start;
* (c), (d) staleness (samples from the policy s iterations old) at k = 8: final
  mean success and mean KL per step.

Averaged over seeds. CSV columns: tau, k, staleness, method, seed, iters,
final_success, kl_mean, kl_max, n_hard, hard_frac_backwards, hard_frac_collapsed
(final < initial / 10), hard_final_median, all_frac_backwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args

from pmdtheory.plotting import PALETTE, figure, panel_label
from pmdtheory.sim import PromptPopulation, run

NAME = "stability"
METHODS = ("part_sampled", "mean_sampled")
LABEL = {"part_sampled": "PMD-part (LOO partition)", "mean_sampled": "PMD-mean"}
LS = {"part_sampled": "-.", "mean_sampled": "--"}
TAUS = (0.01, 0.05)
HARD_P = 0.02
STALE_K = 8


def summarise(s: pd.DataFrame, pp: pd.DataFrame, p0: np.ndarray, iters: int, **cfg) -> list:
    hard = p0 < HARD_P
    rows = []
    for (method, seed), d in s.groupby(["method", "seed"]):
        fin = pp[(pp.method == method) & (pp.seed == seed) & (pp.iter == iters)]
        f = fin.sort_values("context").reward.to_numpy()
        steps = d[d.iter > 0]
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
                "hard_frac_backwards": np.mean(f[hard] < p0[hard]),
                "hard_frac_collapsed": np.mean(f[hard] < 0.1 * p0[hard]),
                "hard_final_median": np.median(f[hard]),
                "all_frac_backwards": np.mean(f < p0),
            }
        )
    return rows


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    q = args.quick
    n_prompts, iters = (150, 8) if q else (1000, 30)
    ks = (4, 16) if q else (4, 8, 16)
    stales = (0, 4) if q else (0, 1, 2, 4)
    seeds = [args.seed] if q else [args.seed, args.seed + 1]
    env = PromptPopulation.random(n_prompts, 32, seed=args.seed)
    p0 = env.p0

    configs = {(tau, k, 0) for tau in TAUS for k in ks}
    configs |= {(tau, STALE_K, s) for tau in TAUS for s in stales}
    rows = []
    for tau, k, st in sorted(configs):
        s, pp = run(
            env, list(METHODS), iters=iters, tau=tau, k=k, seed=seeds, staleness=st,
            per_prompt=True, diagnostics=False,
        )  # fmt: skip
        rows += summarise(s, pp, p0, iters, tau=tau, k=k, staleness=st)
    df = pd.DataFrame(rows)
    avg = df.groupby(["tau", "k", "staleness", "method"], as_index=False).mean(numeric_only=True)

    fig, axes = figure(2, 2, panel_size=(3.5, 2.6))
    panels = (
        (axes[0, 0], "k", 0, "kl_mean", r"mean $\mathrm{KL}(\pi_t\|\pi_{t-1})$ per step"),
        (axes[0, 1], "k", 0, "hard_frac_backwards", f"hard prompts (p0<{HARD_P:g}) worse"),
        (axes[1, 0], "staleness", STALE_K, "final_success", "final mean success"),
        (axes[1, 1], "staleness", STALE_K, "kl_mean", r"mean $\mathrm{KL}$ per step"),
    )
    for ax, xcol, fixed, ycol, ylabel in panels:
        # the first tau gets larger markers so that coinciding curves stay visible
        for (color, tau), ms in zip(zip(PALETTE, TAUS, strict=False), (6.5, 3.5), strict=False):
            for method in METHODS:
                if xcol == "k":
                    d = avg[(avg.tau == tau) & (avg.staleness == 0) & (avg.method == method)]
                else:
                    d = avg[(avg.tau == tau) & (avg.k == fixed) & (avg.method == method)]
                label = rf"{LABEL[method]}, $\tau$={tau:g}"
                ax.plot(d[xcol], d[ycol], color=color, linestyle=LS[method], marker="o",
                        markersize=ms, label=label)  # fmt: skip
        ax.set_xlabel("responses per prompt $k$" if xcol == "k" else "staleness (iterations)")
        ax.set_ylabel(ylabel)
        if xcol == "k":
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks, [str(k) for k in ks])
        else:
            ax.set_xticks(stales)
    axes[0, 0].set_title("update size (on-policy)")
    axes[0, 1].set_title(f"hard prompts after {iters} iterations")
    axes[1, 0].set_title(rf"stale samples, $k$={STALE_K}")
    axes[1, 1].set_title(rf"stale samples, $k$={STALE_K}")
    axes[0, 1].set_ylim(bottom=0)
    axes[1, 1].set_yscale("log")
    axes[0, 1].legend(loc="upper left", fontsize=6)
    for ax, tag in zip(axes.ravel(), "abcd", strict=True):
        panel_label(ax, tag)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
