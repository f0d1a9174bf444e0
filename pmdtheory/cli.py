"""The ``pmdtheory`` console script (also ``python -m pmdtheory``).

Subcommands::

    pmdtheory update --pi 0.01,0.99 --r 1,0 --tau 0.05   one step, exact vs PMD-mean
    pmdtheory derive [--out figures/derivations.md]      sympy derivations, checked
    pmdtheory simulate --env prompts --methods ...       simulators -> CSV / plot
    pmdtheory repro [--only NAME ...] [--quick]          paper figures + REPORT.md

Bad arguments, and any ValueError or OSError, print one line on stderr and exit
with code 2 (never a traceback); Ctrl-C prints one line and exits with 130; an
unexpected exception (a bug) prints one line and exits with 1 (set
``PMDTHEORY_DEBUG=1`` to see its traceback).
"""

from __future__ import annotations

import argparse
import os
import sys

# Subcommands implemented elsewhere: name -> (module, help). Imported only when used,
# so that `pmdtheory update` never pays for sympy, pandas or matplotlib.
_DELEGATED = {
    "derive": ("pmdtheory.symbolic", "verify every derivation with sympy, write Markdown"),
    "simulate": ("pmdtheory.sim.cli", "run the simulators, write a CSV (and a plot)"),
    "repro": ("pmdtheory._repro", "regenerate the paper figures and REPORT.md"),
    "sweep": ("pmdtheory._sweep_cli", "a grid of simulator runs on Dask, resumable"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, no usage dump
        print(f"pmdtheory: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"expected comma-separated numbers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _update(args) -> int:
    import numpy as np

    from . import exact_update, log_partition, mean_update

    pi, r = np.array(args.pi), np.array(args.r)
    if pi.shape != r.shape:
        raise ValueError(f"r: {r.size} rewards given for {pi.size} probabilities")
    exact = exact_update(pi, r, args.tau)
    mean, lam = mean_update(pi, r, args.tau, return_lambda=True)
    logz = log_partition(pi, r, args.tau)
    # never print NaN or inf: a result the floating-point range cannot hold is an error
    if not all(np.all(np.isfinite(v)) for v in (exact, mean, lam, logz, args.tau * lam)):
        raise ValueError(
            f"tau: the update at tau={args.tau:g} is not representable in floating point "
            "(non-finite result); use a larger tau"
        )
    print(f"{'action':>6} {'r':>10} {'pi_t':>12} {'exact':>14} {'PMD-mean':>14}")
    for a in range(pi.size):
        print(f"{a:>6} {r[a]:>10.4g} {pi[a]:>12.6g} {exact[a]:>14.8g} {mean[a]:>14.8g}")
    print(f"mean reward       {pi @ r:.8g}")
    print(f"log-partition     {logz:.8g}   (tau log E exp(r/tau))")
    print(f"lambda            {lam:.8g}")
    print(f"beta_t = tau*lam  {args.tau * lam:.8g}   (implicit chi^2 strength)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pmdtheory`` console script; returns the exit code."""
    try:
        return _main(argv)
    except (ValueError, OSError) as exc:  # a subcommand's last line of defence
        print(f"pmdtheory: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pmdtheory: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("pmdtheory: error: out of memory", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line (PMDTHEORY_DEBUG=1 shows the traceback)
        if os.environ.get("PMDTHEORY_DEBUG"):
            raise
        print(f"pmdtheory: internal error ({type(exc).__name__}: {exc}); please report it, "
              "with PMDTHEORY_DEBUG=1 for the traceback", file=sys.stderr)  # fmt: skip
        return 1


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _Parser(prog="pmdtheory", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    up = sub.add_parser("update", help="one PMD step: exact vs PMD-mean")
    up.add_argument("--pi", type=_floats, required=True, help="probabilities, e.g. 0.01,0.99")
    up.add_argument("--r", type=_floats, required=True, help="rewards, e.g. 1,0")
    up.add_argument("--tau", type=float, required=True, help="KL strength > 0")
    for name, (_, text) in _DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    if argv and argv[0] in _DELEGATED:
        import importlib

        return importlib.import_module(_DELEGATED[argv[0]][0]).main(argv[1:])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return _update(args)


if __name__ == "__main__":
    sys.exit(main())
