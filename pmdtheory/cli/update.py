"""``pmdtheory update``: one PMD step, exact vs PMD-mean, printed as a table."""

from __future__ import annotations

import argparse

from pmdtheory.cli._common import Parser

NAME = "update"
HELP = "one PMD step: exact vs PMD-mean"


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"expected comma-separated numbers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _parser() -> Parser:
    p = Parser(prog=f"pmdtheory {NAME}", name="pmdtheory")
    p.add_argument("--pi", type=_floats, required=True, help="probabilities, e.g. 0.01,0.99")
    p.add_argument("--r", type=_floats, required=True, help="rewards, e.g. 1,0")
    p.add_argument("--tau", type=float, required=True, help="KL strength > 0")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory update``; returns the exit code (errors: the caller's)."""
    args = _parser().parse_args(argv)
    import numpy as np

    from pmdtheory import exact_update, log_partition, mean_update

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
