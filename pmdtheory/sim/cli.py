"""``pmdtheory simulate``: run the simulators from the shell, write a CSV and a plot.

Example::

    pmdtheory simulate --env prompts --methods exact,mean,part_sampled,mean_sampled \\
        --iters 50 --seed 0 --out results.csv --plot results.png
"""

import argparse
import sys
from pathlib import Path

ENVS = ("prompts", "bandit", "mdp", "gridworld")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit code 2, no usage dump
        print(f"pmdtheory simulate: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser():
    p = _Parser(prog="pmdtheory simulate", description=__doc__.split("\n")[0])
    p.add_argument("--env", choices=ENVS, default="prompts", help="environment")
    p.add_argument("--methods", default="exact,mean,part_sampled,mean_sampled",
                   help="comma-separated method names (pmdtheory.sim.METHODS)")  # fmt: skip
    p.add_argument("--iters", type=int, default=50, help="PMD iterations")
    p.add_argument("--seed", default="0", help="seed, or comma-separated seeds")
    p.add_argument("--tau", type=float, default=0.05, help="KL strength > 0")
    p.add_argument("--beta", type=float, default=None, help="chi2 weight of kl_chi2")
    p.add_argument("--contexts", type=int, default=None,
                   help="prompts / contexts / states (default 1000, 1000, 20, 25)")  # fmt: skip
    p.add_argument("--actions", type=int, default=None,
                   help="responses / actions per context (default 64, 10, 4)")  # fmt: skip
    p.add_argument("--k", type=int, default=16, help="samples per context (sampled methods)")
    p.add_argument("--baseline", default=None, help="override the sampled baseline")
    p.add_argument("--fit-steps", type=int, default=1, help="gradient steps per iteration")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1/tau)")
    p.add_argument("--staleness", type=int, default=0, help="sampling policy age in iterations")
    p.add_argument("--q", choices=("exact", "mc"), default="exact", help="MDP Q estimates")
    p.add_argument("--env-seed", type=int, default=0, help="seed of the random environment")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--plot", default=None, help="figure file (.png, .pdf, .svg)")
    return p


# default (contexts, actions) per environment; a gridworld has 4 actions
_SIZES = {"prompts": (1000, 64), "bandit": (1000, 10), "mdp": (20, 4), "gridworld": (25, 4)}


def _env(args):
    from pmdtheory.sim import Bandit, PromptPopulation, TabularMDP

    contexts, actions = _SIZES[args.env]
    args.contexts = contexts if args.contexts is None else args.contexts
    args.actions = actions if args.actions is None else args.actions
    if args.env == "prompts":
        return PromptPopulation.random(args.contexts, args.actions, seed=args.env_seed)
    if args.env == "bandit":
        return Bandit.random(args.contexts, args.actions, noise="bernoulli", seed=args.env_seed)
    if args.env == "mdp":
        return TabularMDP.random(args.contexts, args.actions, seed=args.env_seed)
    return TabularMDP.gridworld(max(2, round(args.contexts**0.5)))


def plot(df, path, *, mdp=False):
    """Reward (or MDP suboptimality) and KL step size per iteration, one line per method."""
    import numpy as np

    from pmdtheory.plotting import METHOD_STYLES, figure, method_style, save

    extra = iter([("#000000", ":"), ("#009E73", "-."), ("#56B4E9", "--"), ("#999999", "-")])
    fig, (ax0, ax1) = figure(1, 2)
    for name, g in df.groupby("method", sort=False):
        g = g.groupby("iter").mean(numeric_only=True)
        if name in METHOD_STYLES:
            kw = method_style(name)
        else:
            color, ls = next(extra, (None, "-"))
            kw = {"label": name, "color": color, "linestyle": ls}
        if mdp:
            ax0.semilogy(g.index, g["subopt"], **kw)
        else:
            ax0.plot(g.index, g["reward_mean"], **kw)
        kl = g["kl_prev"].to_numpy()[1:]
        # KL below 1e-15 is rounding noise (it can even be slightly negative)
        ax1.semilogy(g.index[1:], np.where(kl > 1e-15, kl, np.nan), **kw)
    ax0.set(xlabel="iteration", ylabel="suboptimality" if mdp else "mean reward")
    ax1.set(xlabel="iteration", ylabel=r"KL$(\pi_t \| \pi_{t-1})$")
    ax0.legend()
    path = Path(path)
    return save(fig, path.stem, path.parent, formats=(path.suffix.lstrip(".") or "png",))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory simulate``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        seeds = [int(s) for s in args.seed.split(",") if s.strip()]
    except ValueError:
        seeds = None
    if not seeds:
        print(f"pmdtheory simulate: error: --seed: expected integers, got {args.seed!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.plot is not None and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        print("pmdtheory simulate: error: --plot must end in .png, .pdf or .svg", file=sys.stderr)
        return 2
    from pmdtheory.sim import TabularMDP, run

    try:
        env = _env(args)
        df = run(
            env,
            [m.strip() for m in args.methods.split(",") if m.strip()],
            iters=args.iters,
            seed=seeds,
            tau=args.tau,
            beta=args.beta,
            k=args.k,
            baseline=args.baseline,
            fit_steps=args.fit_steps,
            lr=args.lr,
            staleness=args.staleness,
            q=args.q,
        )
    except ValueError as exc:
        print(f"pmdtheory simulate: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    last = df[df["iter"] == df["iter"].max()].groupby("method", sort=False)
    col = "subopt" if isinstance(env, TabularMDP) else "reward_mean"
    print(f"wrote {out} ({len(df)} rows); final {col}:")
    for name, value in last[col].mean().items():
        print(f"  {name:<14} {value:.6g}")
    if args.plot:
        for p in plot(df, args.plot, mdp=isinstance(env, TabularMDP)):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
