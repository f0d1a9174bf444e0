r"""Figure ``conservative``: PMD-mean's step is never larger than exact PMD's (random cases).

THEORY §6 states, from numerical checks only (no proof), that for every context

.. math:: E_{\pi_{\rm mean}}[r] \le E_{\pi_{\rm exact}}[r], \qquad
          \mathrm{KL}(\pi_{\rm mean}\|\pi_t) \le \mathrm{KL}(\pi_{\rm exact}\|\pi_t).

We draw random contexts: n from 2 to 40 actions (padded to 40 with zero
probability, which the core keeps at zero), :math:`\pi_t` from a Dirichlet with a
random concentration (so near-deterministic policies occur), rewards uniform on
[0, 1] or binary, :math:`\tau` log-uniform on [1e-3, 1e3]. Panel (a): KL of the two
steps; panel (b): their gains in expected reward. Both panels show the ratio
PMD-mean / exact against tau; a ratio above 1 beyond rounding would be a
counterexample and is marked.

CSV columns: case, n, tau, binary, rbar, gain_mean, gain_exact, kl_mean, kl_exact,
violation_kl, violation_gain (by the rule at ABS_TOL, REL_TOL below).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args, rng

from pmdtheory import exact_update, kl, mean_update
from pmdtheory.plotting import PALETTE, figure, panel_label

NAME = "conservative"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 10, "full": 10},
    "outputs": ["conservative.png", "conservative.pdf", "data/conservative.csv"],
    "claims": {"_claims.claim_conservative": 6},
}
N_MAX = 40
# verdict rule: a case breaks the claim if mean > exact + ABS_TOL + REL_TOL |exact|; KL of
# a tiny step is a sum of cancelling terms, accurate to ~1e-16 absolute only
ABS_TOL = 1e-14
REL_TOL = 1e-9
RATIO_FLOOR = 1e-12


def random_cases(gen: np.random.Generator, m: int):
    """(pi_t, r, tau, n, binary) for m random contexts, padded to N_MAX actions."""
    n = gen.integers(2, N_MAX + 1, size=m)
    alpha = 10.0 ** gen.uniform(-1.5, 1.0, size=m)
    pi = np.zeros((m, N_MAX))
    r = gen.random((m, N_MAX))
    binary = gen.random(m) < 0.3
    r[binary] = np.round(r[binary])
    for i in range(m):
        pi[i, : n[i]] = gen.dirichlet(np.full(n[i], alpha[i]))
    # a Dirichlet draw can underflow to exact zeros; keep every case a valid context
    pi = np.maximum(pi, np.where(np.arange(N_MAX) < n[:, None], 1e-300, 0.0))
    pi /= pi.sum(axis=1, keepdims=True)
    tau = 10.0 ** gen.uniform(-3.0, 3.0, size=m)
    return pi, r, tau, n, binary


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    m = 300 if args.quick else 3000
    pi, r, tau, n, binary = random_cases(rng(args), m)
    rbar = np.sum(pi * r, axis=1)
    new_mean = mean_update(pi, r, tau)
    new_exact = exact_update(pi, r, tau)
    df = pd.DataFrame(
        {
            "case": np.arange(m),
            "n": n,
            "tau": tau,
            "binary": binary,
            "rbar": rbar,
            "gain_mean": np.sum(new_mean * r, axis=1) - rbar,
            "gain_exact": np.sum(new_exact * r, axis=1) - rbar,
            "kl_mean": kl(new_mean, pi),
            "kl_exact": kl(new_exact, pi),
        }
    )

    ratios = {}
    for col in ("kl", "gain"):
        ok = df[f"{col}_exact"] > RATIO_FLOOR  # ratios of two rounding errors mean nothing
        ratios[col] = (df.tau[ok], df[f"{col}_mean"][ok] / df[f"{col}_exact"][ok])
    df["violation_kl"] = df.kl_mean > df.kl_exact + ABS_TOL + REL_TOL * df.kl_exact.abs()
    df["violation_gain"] = df.gain_mean > df.gain_exact + ABS_TOL + REL_TOL * df.gain_exact.abs()

    fig, (ax, bx) = figure(1, 2, panel_size=(3.5, 2.9), sharey=True)
    for a, col, label in (
        (
            ax,
            "kl",
            r"$\mathrm{KL}(\pi_{\rm mean}\|\pi_t)\,/\,\mathrm{KL}(\pi_{\rm exact}\|\pi_t)$",
        ),
        (bx, "gain", r"gain ratio $\Delta E_{\rm mean}[r]\,/\,\Delta E_{\rm exact}[r]$"),
    ):
        t, ratio = ratios[col]
        bad = df[f"violation_{col}"]
        a.scatter(t, ratio, s=4, alpha=0.5, linewidths=0, color=PALETTE[0], label="random context")
        a.scatter(df.tau[bad], np.ones(bad.sum()), s=30, marker="x", color=PALETTE[1],
                  label=f"counterexamples: {int(bad.sum())}")  # fmt: skip
        a.axhline(1.0, color="k", linewidth=0.8)
        a.set_xscale("log")
        a.set_xlabel(r"temperature $\tau$")
        a.set_ylabel(label)
        a.set_ylim(0.0, 1.08)
        a.legend(loc="lower right")
    ax.set_title(f"{m} random contexts: step size")
    bx.set_title("improvement of the expected reward")
    bx.yaxis.set_tick_params(labelleft=True)
    panel_label(ax, "a")
    panel_label(bx, "b")
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
