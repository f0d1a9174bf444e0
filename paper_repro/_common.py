"""Shared command line and output helpers for the paper_repro figure scripts.

Every script is run as ``python paper_repro/<name>.py [--quick] [--out DIR] [--seed N]``
and writes ``<DIR>/<name>.png``, ``<DIR>/<name>.pdf`` and ``<DIR>/data/<name>.csv``;
options other than the defaults are appended to the name (``simplex_seed1_tau0.5``).
The CSV holds exactly the numbers that were plotted, plus the parameters they
were computed with (as columns), so ``report.py`` and the tests read the claims
from data and never from typed-in numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MPLBACKEND", "Agg")

from pmdtheory.plotting import save  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "figures"


def parse_args(description: str, argv=None, extra=None) -> argparse.Namespace:
    """Parse ``--quick``, ``--out`` and ``--seed`` plus the script's own options.

    Parameters
    ----------
    description : str
        The script's docstring (shown by ``--help``).
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).
    extra : callable or None
        ``extra(parser)`` adds the script's own options.
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small budget (tests, smoke runs)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="figure folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.t0 = time.perf_counter()
    # options that change the numbers name the outputs (defaults keep the plain name)
    args.tag = "".join(
        f"_{key.replace('_', '-')}{value:g}" if isinstance(value, float) else f"_{key}{value}"
        for key, value in sorted(vars(args).items())
        if key not in ("quick", "out", "t0") and value != parser.get_default(key)
    )
    return args


def rng(args) -> np.random.Generator:
    """The script's only random generator, seeded from ``--seed``."""
    return np.random.default_rng(args.seed)


def save_csv(df: pd.DataFrame, name: str, args) -> Path:
    """Write ``<out>/data/<name><tag>.csv`` (a script's second table) and return its path."""
    data = Path(args.out) / "data"
    data.mkdir(parents=True, exist_ok=True)
    csv = data / f"{name}{args.tag}.csv"
    df.to_csv(csv, index=False, float_format="%.12g")
    return csv


def unique_grid(grid, exact=()) -> np.ndarray:
    """Sorted union of `grid` and the points `exact` without near-duplicates.

    A grid point within 1e-9 (relative) of an `exact` point is replaced by it, so that
    ``linspace`` rounding (``0.49999999999999994``) never puts p = 0.5 in twice and a
    line drawn through the grid never runs back; near-duplicates inside `grid` merge.
    """
    grid = np.unique(np.asarray(grid, dtype=float))
    exact = np.unique(np.asarray(exact, dtype=float))
    if exact.size:
        gap = np.abs(grid[:, None] - exact[None, :]).min(axis=1)
        grid = grid[gap > 1e-9 * np.maximum(np.abs(grid), 1e-300)]
    x = np.unique(np.concatenate([grid, exact]))
    keep = np.ones(x.size, dtype=bool)
    keep[1:] = np.diff(x) > 1e-9 * np.maximum(np.abs(x[1:]), 1e-300)
    return x[keep]


def finish(fig, df: pd.DataFrame, name: str, args) -> None:
    """Save the figure (PNG + PDF) and its data (CSV), then print what was written.

    Non-default options are appended to `name` (``simplex_tau0.5``), so a sweep never
    overwrites the paper figure.
    """
    name = name + args.tag
    out = Path(args.out)
    paths = save(fig, name, out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    csv = data / f"{name}.csv"
    df.to_csv(csv, index=False, float_format="%.12g")
    paths.append(csv)
    dt = time.perf_counter() - args.t0
    print(f"{name}: wrote {', '.join(str(p) for p in paths)} ({len(df)} rows, {dt:.1f} s)")
