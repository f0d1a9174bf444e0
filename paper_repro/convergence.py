r"""Figure ``convergence``: PMD variants on a random tabular MDP and on a prompt population.

Built on :func:`pmdtheory.sim.run` (THEORY §7).

* Panel (a): random MDP (20 states, 4 actions, gamma = 0.9), exact Q. Suboptimality
  :math:`\rho^\top(V^* - V^{\pi_t})` of exact PMD (solid) and PMD-mean (dashed) on a
  log axis for several tau: straight lines are linear (geometric) rates, steeper for
  smaller tau.
* Panel (b): the same MDP at one tau with the sampled regression methods (k actions
  per state, targets from a group baseline, one fitted gradient step), averaged over
  seeds: they stall at a noise floor.
* Panel (c): a population of binary-reward prompts (Beta(0.5, 2) initial success
  probabilities): mean success probability against iteration, mean over seeds, with
  the seed range shaded.

The three panels are one grid run by :func:`pmdtheory.sim.sweep` (a local Dask
cluster; ``--scheduler ADDRESS`` for a running one). The cells go to a temporary
folder, or to ``--sweep-dir DIR``, where a rerun resumes an interrupted run (stale
cells from older code are reused there: delete the folder after changing the code).

CSV columns: panel, env, tau, k, method, seed, iter, reward_mean, reward_q10, kl_prev,
beta_mean, subopt.
"""

from __future__ import annotations

import argparse
import tempfile

from _common import finish, parse_args

from pmdtheory.plotting import PALETTE, figure, method_style, panel_label
from pmdtheory.sim import load_sweep, sweep

NAME = "convergence"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 20, "full": 30},
    "outputs": ["convergence.png", "convergence.pdf", "data/convergence.csv"],
    "claims": {"_claims_sampled.claim_linear": 16},
}
MDP_TAUS = (0.03, 0.1, 0.3)
SAMPLED = ("part_sampled", "mean_sampled", "grpo", "grpo_regression")
ALL_METHODS = ("exact", "mean", *SAMPLED)
KEEP = ["method", "seed", "iter", "reward_mean", "reward_q10", "kl_prev", "beta_mean", "subopt"]
SUBOPT_FLOOR = 1e-14  # below this the MDP suboptimality is rounding noise


def _sweep_options(argv):
    """``--scheduler`` and ``--sweep-dir`` say where to run, not what: not in the file name."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--sweep-dir", default=None)
    return p.parse_known_args(argv)


def main(argv=None) -> None:
    def extra(parser):
        parser.add_argument("--tau-prompts", type=float, default=0.05)
        parser.add_argument("--tau-sampled-mdp", type=float, default=0.1)
        parser.add_argument("--k", type=int, default=8, help="responses per context")

    where, argv = _sweep_options(argv)
    args = parse_args(__doc__, argv, extra)
    q = args.quick
    pop_iters, mdp_iters, prompt_iters = (40, 20, 10) if q else (300, 120, 40)
    seeds = [args.seed] if q else [args.seed + i for i in range(3)]
    n_prompts = 100 if q else 1000
    tau_s, tau_p = args.tau_sampled_mdp, args.tau_prompts
    mdp = {"env": "mdp", "contexts": 20, "actions": 4, "gamma": 0.9, "env_seed": args.seed}
    prompts = {"env": "prompts", "contexts": n_prompts, "actions": 32, "env_seed": args.seed}
    grid = [
        {**mdp, "method": ["exact", "mean"], "tau": list(MDP_TAUS), "iters": pop_iters},
        {**mdp, "method": list(ALL_METHODS), "tau": tau_s, "k": args.k, "iters": mdp_iters,
         "seed": seeds},
        {**prompts, "method": list(ALL_METHODS), "tau": tau_p, "k": args.k,
         "iters": prompt_iters, "seed": seeds},
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out = where.sweep_dir or tmp
        sweep(grid, out, scheduler=where.scheduler, progress=False)
        df = load_sweep(out)
    # the panels' cells differ in env and iters (the population panel runs longer)
    assert pop_iters != mdp_iters
    panel = {("mdp", pop_iters): "a", ("mdp", mdp_iters): "b", ("prompts", prompt_iters): "c"}
    df["panel"] = [panel[key] for key in zip(df["env"], df["iters"], strict=True)]
    df["k"] = [0 if p == "a" else args.k for p in df["panel"]]
    df["seed"] = df["seed"].astype(int)
    # rows in the order of the old per-panel loops: method as listed, then seed, iter
    order = {m: i for i, m in enumerate(ALL_METHODS)}
    df = df.assign(_m=df["method"].map(order))
    df = df.sort_values(["panel", "tau", "_m", "seed", "iter"], kind="mergesort")
    cols = ["panel", "env", "tau", "k"]
    df = df[cols + KEEP].reset_index(drop=True)

    fig, (ax, bx, cx) = figure(1, 3, panel_size=(3.3, 2.9))
    for color, tau in zip(PALETTE, MDP_TAUS, strict=False):
        for method, ls in (("exact", "-"), ("mean", "--")):
            d = df[(df.panel == "a") & (df.tau == tau) & (df.method == method)]
            keep = d.subopt > SUBOPT_FLOOR
            label = rf"$\tau$={tau:g}" if method == "exact" else None
            ax.semilogy(d.iter[keep], d.subopt[keep], color=color, linestyle=ls, label=label)
    ax.plot([], [], color="k", linestyle="-", label="exact PMD")
    ax.plot([], [], color="k", linestyle="--", label="PMD-mean")
    ax.set_title("random MDP: population updates")
    ax.set_xlabel("iteration $t$")
    ax.set_ylabel(r"suboptimality $\rho^\top(V^*-V^{\pi_t})$")
    ax.legend(loc="upper right", fontsize=6.5)

    for method in ALL_METHODS:
        d = df[(df.panel == "b") & (df.method == method)].groupby("iter").subopt.mean()
        d = d[d > SUBOPT_FLOOR]
        bx.semilogy(d.index, d.values, **method_style(method))
    bx.set_title(rf"random MDP, sampled ($k$={args.k}, $\tau$={tau_s:g})")
    bx.set_xlabel("iteration $t$")
    bx.set_ylabel("suboptimality (mean over seeds)")
    bx.legend(loc="lower left", fontsize=6)

    for method in ALL_METHODS:
        g = df[(df.panel == "c") & (df.method == method)].groupby("iter").reward_mean
        m, lo, hi = g.mean(), g.min(), g.max()
        st = method_style(method)
        cx.plot(m.index, m.values, **st)
        cx.fill_between(m.index, lo.values, hi.values, color=st["color"], alpha=0.15, lw=0)
    cx.set_title(rf"{n_prompts} prompts, binary reward ($\tau$={tau_p:g})")
    cx.set_xlabel("iteration $t$")
    cx.set_ylabel("mean success probability")
    cx.set_ylim(0.0, 1.02)
    cx.legend(loc="lower right", fontsize=6)
    for a, tag in zip((ax, bx, cx), "abc", strict=True):
        panel_label(a, tag)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
