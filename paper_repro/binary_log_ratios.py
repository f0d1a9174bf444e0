r"""Figure ``binary_log_ratios``: one-step log probability ratios, binary rewards (paper Fig. 2).

With rewards in {0, 1} and success probability :math:`p = \pi_t(r=1)`, every positive
response is scaled by one ratio :math:`x_+` and every negative one by :math:`x_-`
(THEORY §6). Exact PMD has :math:`\log x_+ = 1/\tau - \log(p e^{1/\tau} + 1 - p)`,
:math:`\log x_- = -\log(p e^{1/\tau} + 1 - p)`; PMD-mean solves
:math:`\log x_\pm + \lambda x_\pm = b_\pm` (Lambert W). The figure shows both ratios
against p for several tau: PMD-mean's ratios are smaller in magnitude (more
conservative) for positives and negatives alike. In panel (a) exact PMD's curves for
tau <= 0.1 coincide where :math:`p e^{1/\tau} \gg 1` (then
:math:`\log x_+ \approx -\log p` whatever tau): they are drawn with decreasing widths
(widest for the smallest tau) so that each stays visible, and the legend says so.

CSV columns: tau, p, method (exact | mean), log_x_pos, log_x_neg, lam.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args

from pmdtheory import binary_update
from pmdtheory.plotting import PALETTE, figure, panel_label

NAME = "binary_log_ratios"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 10, "full": 10},
    "outputs": ["binary_log_ratios.png", "binary_log_ratios.pdf", "data/binary_log_ratios.csv"],
    "claims": {"_claims.claims_binary": 7},
}
TAUS = (0.01, 0.05, 0.1, 0.5)
EXACT_WIDTHS = (5.0, 3.2, 1.6, 1.4)  # panel (a), by tau
LOGIT_TICKS = (0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999)


def table(p: np.ndarray, taus=TAUS) -> pd.DataFrame:
    """The figure's data for success probabilities ``p`` and temperatures ``taus``."""
    rows = []
    for tau in taus:
        for method in ("exact", "mean"):
            u = binary_update(p, tau, method=method)
            rows.append(
                pd.DataFrame(
                    {
                        "tau": tau,
                        "p": p,
                        "method": method,
                        "log_x_pos": u.log_x_pos,
                        "log_x_neg": u.log_x_neg,
                        "lam": u.lam,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_p = 60 if args.quick else 397
    # p on a logit grid: both tails (hard and easy prompts) get resolution
    df = table(1.0 / (1.0 + np.exp(-np.linspace(-6.9, 6.9, n_p))))

    fig, axes = figure(1, 2, panel_size=(3.6, 3.0))
    for j, (col, title) in enumerate(
        [("log_x_pos", r"positives: $\log x_+$"), ("log_x_neg", r"negatives: $\log x_-$")]
    ):
        ax = axes[j]
        for i, (color, tau) in enumerate(zip(PALETTE, TAUS, strict=False)):
            for method, ls in (("exact", "-"), ("mean", "--")):
                d = df[(df.tau == tau) & (df.method == method)]
                label = rf"$\tau$={tau:g}" if method == "exact" else None
                # coinciding exact curves (panel a): widest first, each one stays visible
                lw = (EXACT_WIDTHS[i] if method == "exact" else 1.4) if j == 0 else 1.4
                ax.plot(d.p, d[col], color=color, linestyle=ls, label=label, linewidth=lw)
        ax.set_xscale("logit")
        ax.set_xticks(LOGIT_TICKS, [f"{t:g}" for t in LOGIT_TICKS])
        ax.minorticks_off()
        ax.set_xlabel(r"success probability $p=\pi_t(r=1)$")
        ax.set_ylabel(col.replace("log_x_pos", r"$\log x_+$").replace("log_x_neg", r"$\log x_-$"))
        ax.set_title(title)
        ax.axhline(0.0, color="k", linewidth=0.6)
        panel_label(ax, "ab"[j])
    axes[0].plot([], [], color="k", linestyle="-", label="exact PMD")
    axes[0].plot([], [], color="k", linestyle="--", label="PMD-mean")
    axes[0].plot(
        [], [], color="none", label=r"exact, $\tau\leq0.1$: coincide" "\n" r"($\approx-\log p$)"
    )
    axes[0].legend(loc="upper right", ncol=1)
    axes[1].set_ylim(bottom=1.05 * df.log_x_neg.min())
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
