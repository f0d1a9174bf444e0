"""``pmdtheory simulate``: run the simulators from the shell, write a CSV and a plot.

Example::

    pmdtheory simulate --env prompts --methods exact,mean,loo_partition_sampled,mean_sampled \\
        --iters 50 --seed 0 --out results.csv --plot results.png
"""

import argparse
import os
from pathlib import Path

from pmdtheory.cli._common import Parser, guarded, summary

NAME = "simulate"
HELP = "run the simulators, write a CSV (and a plot)"
ENVS = ("prompts", "bandit", "mdp", "gridworld")
_MDP_BYTES = 2 * 2**30  # largest dense transition tensor --env mdp builds


def _int_at_least(lo):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value

    parse.__name__ = f"integer >= {lo}"
    return parse


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _parser():
    nonneg, pos = _int_at_least(0), _int_at_least(1)
    p = Parser(prog=f"pmdtheory {NAME}", description=summary(__doc__))
    p.add_argument("--env", choices=ENVS, default="prompts", help="environment")
    p.add_argument("--methods", default="exact,mean,loo_partition_sampled,mean_sampled",
                   help="comma-separated method names (pmdtheory.sim.METHODS)")  # fmt: skip
    p.add_argument("--iters", type=nonneg, default=50, help="PMD iterations")
    p.add_argument("--seed", default="0", help="seed, or comma-separated seeds")
    p.add_argument("--tau", type=_finite, default=0.05, help="KL strength > 0")
    p.add_argument("--beta", type=_finite, default=None, help="chi2 weight of kl_chi2")
    p.add_argument("--contexts", type=pos, default=None,
                   help="prompts / contexts / states (default 1000, 1000, 20, 25)")  # fmt: skip
    p.add_argument("--actions", type=pos, default=None,
                   help="responses / actions per context (default 64, 10, 4)")  # fmt: skip
    p.add_argument("--k", type=pos, default=16, help="samples per context (sampled methods)")
    p.add_argument("--baseline", default=None,
                   help="override the sampled baseline (pmdtheory.baselines)")  # fmt: skip
    p.add_argument("--fit-steps", type=nonneg, default=1,
                   help="gradient steps per iteration (grpo: inner epochs)")  # fmt: skip
    p.add_argument("--lr", type=_finite, default=None, help="learning rate (default 1/tau)")
    p.add_argument("--staleness", type=nonneg, default=0, help="sampling policy age in iterations")
    p.add_argument("--eps", type=_finite, default=None,
                   help="GRPO std offset (default 1e-4, TRL's)")  # fmt: skip
    p.add_argument("--clip", type=_finite, default=0.2, help="GRPO clipping epsilon")
    p.add_argument("--q", choices=("exact", "mc"), default="exact", help="MDP Q estimates")
    p.add_argument("--env-seed", type=nonneg, default=0, help="seed of the random environment")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--plot", default=None, help="figure file (.png, .pdf, .svg)")
    return p


def _check_writable(path, flag):
    """Raise ``ValueError`` naming ``flag`` unless ``path`` can be written as a file.

    Done before any simulation: creates missing parent folders (they would be
    created anyway), and opens the file for appending (nothing is truncated; a
    file that did not exist is removed again).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag}: {path} is a directory, not a file")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        raise ValueError(f"{flag}: cannot write {path} ({exc.strerror or exc})") from None
    if not existed:
        os.remove(path)


# default (contexts, actions) per environment; a gridworld has 4 actions
_SIZES = {"prompts": (1000, 64), "bandit": (1000, 10), "mdp": (20, 4), "gridworld": (25, 4)}


def _sizes(args) -> tuple[int, int]:
    """(contexts, actions) of the environment: as given, else its default in _SIZES."""
    contexts, actions = _SIZES[args.env]
    return (
        contexts if args.contexts is None else args.contexts,
        actions if args.actions is None else args.actions,
    )


def _env(args):
    from pmdtheory.sim import Bandit, PromptPopulation, TabularMDP

    args.contexts, args.actions = _sizes(args)
    if args.env == "prompts":
        return PromptPopulation.random(args.contexts, args.actions, seed=args.env_seed)
    if args.env == "bandit":
        return Bandit.random(args.contexts, args.actions, noise="bernoulli", seed=args.env_seed)
    if args.env == "mdp":
        return TabularMDP.random(args.contexts, args.actions, seed=args.env_seed)
    return TabularMDP.gridworld(max(2, round(args.contexts**0.5)))


def plot(df, path, *, mdp=False):
    """Reward (or MDP suboptimality) and KL step size per iteration, one line per method.

    The only plotting of the simulate subcommand: :mod:`pmdtheory.sim` itself never
    imports matplotlib or :mod:`pmdtheory.plotting`.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from pmdtheory.plotting import METHOD_STYLES, figure, method_style
    from pmdtheory.sim.run import DEPRECATED_METHODS

    extra = iter([("#000000", ":"), ("#009E73", "-."), ("#56B4E9", "--"), ("#999999", "-")])
    fig, (ax0, ax1) = figure(1, 2)
    for name, g in df.groupby("method", sort=False):
        g = g.groupby("iter").mean(numeric_only=True)
        if DEPRECATED_METHODS.get(name, name) in METHOD_STYLES:
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
    fmt = path.suffix.lstrip(".").lower() or "png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fixed creation date keeps PDFs byte-stable across reruns (as plotting.save)
    fig.savefig(path, format=fmt, metadata={"CreationDate": None} if fmt == "pdf" else {})
    plt.close(fig)
    return [path]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory simulate``; returns the exit code.

    Bad arguments, unwritable outputs and every ``ValueError``/``OSError`` print
    one line on stderr and return 2; Ctrl-C prints one line and returns 130.
    Arguments and output paths are checked before any simulation runs.
    """
    args = _parser().parse_args(argv)
    oom = "out of memory (use fewer --contexts)"
    return guarded(f"pmdtheory {NAME}", _main, args, oom=oom)


def _main(args) -> int:
    try:
        seeds = [int(s) for s in args.seed.split(",") if s.strip()]
    except ValueError:
        seeds = None
    if not seeds:
        raise ValueError(f"--seed: expected integers, got {args.seed!r}")
    if args.plot is not None and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError("--plot must end in .png, .pdf or .svg")
    if args.env == "prompts" and args.actions is not None and args.actions < 2:
        raise ValueError(f"--actions must be >= 2 for --env prompts, got {args.actions}")
    if args.env == "gridworld" and args.contexts is not None and args.contexts > 64**2:
        raise ValueError(f"--contexts must be <= 4096 for --env gridworld, got {args.contexts}")
    if args.env == "mdp":
        states, actions = _sizes(args)  # what _env builds
        if states**2 * actions * 8 > _MDP_BYTES:
            raise ValueError(
                f"--contexts: a {states}-state, {actions}-action MDP's transition tensor "
                f"(S x A x S) would take more than {_MDP_BYTES / 2**30:.0f} GiB"
            )
    args.out = os.path.expanduser(args.out)
    args.plot = os.path.expanduser(args.plot) if args.plot else None
    _check_writable(args.out, "--out")
    if args.plot:
        _check_writable(args.plot, "--plot")
    from pmdtheory.sim import TabularMDP, run

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
        eps=args.eps,
        clip=args.clip,
        q=args.q,
    )
    out = Path(args.out)
    df.to_csv(out, index=False)
    last = df[df["iter"] == df["iter"].max()].groupby("method", sort=False)
    col = "subopt" if isinstance(env, TabularMDP) else "reward_mean"
    print(f"wrote {out} ({len(df)} rows); final {col}:")
    for name, value in last[col].mean().items():
        print(f"  {name:<16} {value:.6g}")
    if args.plot:
        for p in plot(df, args.plot, mdp=isinstance(env, TabularMDP)):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
