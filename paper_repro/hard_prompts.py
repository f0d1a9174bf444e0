r"""Figure ``hard_prompts``: one step from success probability p, exact PMD vs PMD-mean.

Binary rewards; exact PMD divides the odds of failure by :math:`e^{1/\tau}`, so even a
prompt solved 1% of the time is almost solved after one step at small tau.
PMD-mean's failure mass stays below :math:`(1-p)e^{-p/\tau}` but approaches it when
:math:`p/\tau` is large, so its step is gentle on hard prompts (THEORY §6; e.g.
p = 0.01, tau = 0.05: 0.9999998 vs 0.379). Panel (a): new success probability;
panel (b): failure mass after the step, with the bound :math:`(1-p)e^{-p/\tau}`.
In (b) PMD-mean's curve (dashed) lies on its bound (dotted) wherever p/tau is large,
so the two coincide there; exact PMD's failure mass at tau = 0.01 is below 1e-40 and
its curve lies under the panel's floor (1e-12; the numbers are in the CSV).

CSV columns: tau, p, method (exact | mean), p_new, fail_new, fail_bound, lam.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args, unique_grid

from pmdtheory import binary_update
from pmdtheory.plotting import PALETTE, figure, panel_label

NAME = "hard_prompts"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 10, "full": 10},
    "outputs": ["hard_prompts.png", "hard_prompts.pdf", "data/hard_prompts.csv"],
    "claims": {"_claims.claims_binary": 7},
}
TAUS = (0.01, 0.05, 0.1, 0.5, 1.0)


def table(p: np.ndarray, taus=TAUS) -> pd.DataFrame:
    """The figure's data for success probabilities ``p`` and temperatures ``taus``."""
    rows = []
    for tau in taus:
        for method in ("exact", "mean"):
            u = binary_update(p, tau, method=method)
            # failure mass (1-p) x_-, from the log ratio: exact 1 - p_new would round to 0
            fail = np.exp(np.log1p(-p) + u.log_x_neg)
            rows.append(
                pd.DataFrame(
                    {
                        "tau": tau,
                        "p": p,
                        "method": method,
                        "p_new": u.p_new,
                        "fail_new": fail,
                        "fail_bound": (1.0 - p) * np.exp(-p / tau),
                        "lam": u.lam,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_p = 50 if args.quick else 197
    df = table(unique_grid(np.linspace(0.01, 0.99, n_p), [0.01, 0.05, 0.1, 0.2, 0.5]))

    fig, (ax, bx) = figure(1, 2, panel_size=(3.6, 3.0))
    for color, tau in zip(PALETTE, TAUS, strict=False):
        for method, ls in (("exact", "-"), ("mean", "--")):
            d = df[(df.tau == tau) & (df.method == method)]
            label = rf"$\tau$={tau:g}" if method == "exact" else None
            ax.plot(d.p, d.p_new, color=color, linestyle=ls, label=label)
            bx.semilogy(d.p, d.fail_new, color=color, linestyle=ls,
                        linewidth=2.4 if method == "mean" else 1.2)  # fmt: skip
        d = df[(df.tau == tau) & (df.method == "mean")]
        # the bound on top, thin and dotted, so that where it coincides with PMD-mean
        # (large p/tau) the thick dashed curve shows through
        bx.semilogy(d.p, d.fail_bound, color="k", linestyle=":", linewidth=0.9)
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, label="no change")
    ax.plot([], [], color="k", linestyle="-", label="exact PMD")
    ax.plot([], [], color="k", linestyle="--", label="PMD-mean")
    ax.set_xlabel(r"success probability before the step $p$")
    ax.set_ylabel(r"after one step $p_{t+1}$")
    ax.set_title("one step on a prompt of difficulty $p$")
    ax.legend(loc="lower right", fontsize=6.5)
    bx.plot([], [], color="k", linestyle=":", label=r"bound $(1-p)e^{-p/\tau}$")
    bx.plot([], [], color="k", linestyle="--", label="PMD-mean")
    bx.plot([], [], color="k", linestyle="-", label="exact PMD")
    bx.set_ylim(1e-12, 2.0)
    bx.set_xlabel(r"success probability before the step $p$")
    bx.set_ylabel(r"failure mass after the step $1-p_{t+1}$")
    bx.set_title(r"failure mass vs the bound $(1-p)e^{-p/\tau}$")
    bx.text(0.98, 0.02, "PMD-mean meets its bound where $p/\\tau$ is large;\n"
            r"exact PMD at $\tau$=0.01: below 1e-40 (off the panel)", transform=bx.transAxes,
            ha="right", va="bottom", fontsize=5.5)  # fmt: skip
    bx.legend(loc="lower left")
    panel_label(ax, "a")
    panel_label(bx, "b")
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
