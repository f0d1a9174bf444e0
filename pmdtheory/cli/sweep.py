"""``pmdtheory sweep``: a grid of simulator runs on Dask, saved cell by cell, resumable.

Example::

    pmdtheory sweep --env prompts --methods exact,mean_sampled,loo_partition_sampled \\
        --tau 0.01,0.05 --k 4,8 --seeds 0-99 --iters 50 --out results/sweep

Every option takes a comma-separated list; the grid is their product. Rerun the
same command to resume an interrupted sweep; ``--scheduler tcp://HOST:8786`` uses
a running Dask cluster instead of a local one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pmdtheory.cli._common import Parser, summary

NAME = "sweep"
HELP = "a grid of simulator runs on Dask, resumable"
_PROG = f"pmdtheory {NAME}"


# option -> (parameter, help); every value is a comma-separated list
_LISTS = {
    "env": ("env", "environment(s): prompts, bandit, mdp, gridworld"),
    "methods": ("method", "method names (pmdtheory.sim.METHODS)"),
    "tau": ("tau", "KL strength(s) > 0"),
    "k": ("k", "samples per context (sampled methods)"),
    "seeds": ("seed", "seeds: '0-99', '0,3,7' or '0-9,20-29'"),
    "iters": ("iters", "PMD iterations"),
    "contexts": ("contexts", "prompts / contexts / states (default 1000, 1000, 20, 25)"),
    "actions": ("actions", "responses / actions per context (default 64, 10, 4)"),
    "env-seed": ("env_seed", "seed(s) of the random environment"),
    "gamma": ("gamma", "MDP discount(s)"),
    "beta": ("beta", "chi2 weight(s) of kl_chi2"),
    "baseline": ("baseline", "override the sampled baseline"),
    "fit-steps": ("fit_steps", "gradient steps per iteration"),
    "lr": ("lr", "learning rate(s) (default 1/tau)"),
    "staleness": ("staleness", "sampling policy age(s) in iterations"),
    "q": ("q", "MDP Q estimates: exact or mc"),
    "n-rollouts": ("n_rollouts", "Monte-Carlo rollouts per (s, a) with --q mc"),
}


def _parser():
    p = Parser(prog=_PROG, description=summary(__doc__))
    for opt, (_, text) in _LISTS.items():
        p.add_argument(f"--{opt}", default=None, help=text)
    p.add_argument("--out", required=True, help="folder of the Parquet dataset")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    p.add_argument("--workers", type=int, default=None, help="local workers (default: cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _grid(args) -> dict:
    from pmdtheory.sim.sweeps import PARAMS

    grid = {}
    for opt, (name, _) in _LISTS.items():
        text = getattr(args, opt.replace("-", "_"))
        if text is None:
            continue
        if name == "seed":
            grid[name] = text
            continue
        kind = PARAMS[name][0]
        items = [v.strip() for v in text.split(",") if v.strip()]
        if not items:
            raise ValueError(f"--{opt}: expected a comma-separated list, got {text!r}")
        try:
            grid[name] = [kind(v) for v in items]
        except ValueError:
            msg = f"expected comma-separated {kind.__name__}s, got {text!r}"
            raise ValueError(f"--{opt}: {msg}") from None
    return grid


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory sweep``; returns the exit code."""
    args = _parser().parse_args(argv)
    out = Path(args.out)
    try:
        from pmdtheory.sim.sweeps import _check_cells, _describe, _execute, expand_grid

        cells = expand_grid(_grid(args))
        _check_cells(cells)
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")

        def on_error(p, message):
            from tqdm.auto import tqdm

            tqdm.write(f"{_PROG}: cell failed: {_describe(p)}: {message}", file=sys.stderr)

        report = _execute(
            cells,
            out,
            scheduler=args.scheduler,
            n_workers=args.workers,
            progress=False if args.no_progress else None,
            errors="report",
            on_error=on_error,
        )
    except KeyboardInterrupt:
        saved = len(list(out.glob("*.parquet"))) if out.is_dir() else 0
        print(f"{_PROG}: interrupted; {saved} finished cells are saved in {out}, "
              "rerun the same command to resume", file=sys.stderr)  # fmt: skip
        return 130
    except ValueError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"{_PROG}: error: {exc}; install with pip install 'pmdtheory[sweep]'",
              file=sys.stderr)  # fmt: skip
        return 2
    except OSError as exc:
        where = f"--scheduler {args.scheduler}" if args.scheduler else f"--out {out}"
        print(f"{_PROG}: error: {where}: {exc}", file=sys.stderr)
        return 2
    ran = report.n_done + len(report.failed)
    print(f"{report.n_cells} cells in {out}: {report.n_done} run now, "
          f"{report.n_skipped} already done, {len(report.failed)} failed")  # fmt: skip
    if report.failed:
        print(f"{_PROG}: {len(report.failed)} of {ran} cells failed (listed above); "
              "rerun to retry them", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
