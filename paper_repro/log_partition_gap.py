r"""Figure ``log_partition_gap``: the gap between the log-partition term and the mean reward.

For a context with policy :math:`\pi_t` and rewards :math:`r`, PMD-part's baseline is
:math:`\tau\log Z_t = \tau\log E_{\pi_t}[e^{r/\tau}]` and PMD-mean's is
:math:`\bar r = E_{\pi_t}[r]` (THEORY §2-§3). Panel (a) draws the gap
:math:`\tau\log Z_t - \bar r \ge 0` against :math:`\tau` with its two limits,
:math:`\max r - \bar r` as :math:`\tau\to 0` and :math:`\mathrm{Var}_{\pi_t}(r)/(2\tau)`
for large :math:`\tau`. Panel (b) shows that the two baselines lead to different
policies: :math:`\mathrm{KL}(\pi_{\rm mean}\,\|\,\pi_{\rm exact})` after one step,
with its large-tau asymptote :math:`\mathrm{Var}_{\pi_t}(r)^3/(8\tau^6)` (our derivation:
with :math:`a = (r-\bar r)/\tau`, PMD-mean's log ratio is :math:`a - \lambda(1 + a) +
O(\tau^{-4})` with :math:`\lambda \approx \mathrm{Var}(a)/2`, exact PMD's is :math:`a -`
const, so the two differ by :math:`-\lambda a` + const and the KL is
:math:`\lambda^2\mathrm{Var}(a)/2`). Any other pair of updates that agree to first
order would not follow this law, so the report rules on it.

Cases: binary rewards with success probability p = 0.05, 0.2, 0.5, and 16 actions
under a uniform policy with rewards spread uniformly over [0, 1].

CSV columns: case, tau, rbar, var, max_gap, gap, asym_large_tau, kl_mean_exact,
kl_asym_large_tau.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args

from pmdtheory import exact_update, kl, log_partition, mean_update
from pmdtheory.plotting import PALETTE, figure, method_style, panel_label

NAME = "log_partition_gap"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 10, "full": 20},
    "outputs": ["log_partition_gap.png", "log_partition_gap.pdf", "data/log_partition_gap.csv"],
    "claims": {"_claims.claims_gap": 1},
}


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(pi_t, r) for every curve of the figure."""
    out = {}
    for p in (0.05, 0.2, 0.5):
        out[f"binary p={p:g}"] = (np.array([p, 1.0 - p]), np.array([1.0, 0.0]))
    n = 16
    out["16 actions, uniform r"] = (np.full(n, 1.0 / n), np.linspace(0.0, 1.0, n))
    return out


def table(tau: np.ndarray) -> pd.DataFrame:
    """The figure's data for the temperatures ``tau`` (1-d, increasing)."""
    n_tau = tau.size
    rows = []
    for case, (pi_t, r) in cases().items():
        pi_b = np.broadcast_to(pi_t, (n_tau, pi_t.size))
        r_b = np.broadcast_to(r, (n_tau, r.size))
        rbar = float(pi_t @ r)
        var = float(pi_t @ (r - rbar) ** 2)
        gap = log_partition(pi_b, r_b, tau) - rbar
        # in log space: exact PMD's losing actions underflow to 0 in probability space at tiny tau
        logpi = np.log(pi_b)
        kl_me = kl(
            mean_update(logpi, r_b, tau, log=True),
            exact_update(logpi, r_b, tau, log=True),
            log=True,
        )
        rows.append(
            pd.DataFrame(
                {
                    "case": case,
                    "tau": tau,
                    "rbar": rbar,
                    "var": var,
                    "max_gap": float(r.max() - rbar),
                    "gap": gap,
                    "asym_large_tau": var / (2.0 * tau),
                    "kl_mean_exact": kl_me,
                    "kl_asym_large_tau": var**3 / (8.0 * tau**6),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_tau = 60 if args.quick else 241
    df = table(np.logspace(-3, 2, n_tau))

    fig, (ax, bx) = figure(1, 2, panel_size=(3.6, 2.9))
    for color, (case, d) in zip(PALETTE, df.groupby("case", sort=False), strict=False):
        ax.loglog(d.tau, d.gap, color=color, label=case)
        ax.loglog(d.tau, d.asym_large_tau, color=color, linestyle=":", linewidth=1.0)
        ax.axhline(d.max_gap.iloc[0], color=color, linestyle="--", linewidth=0.8, alpha=0.7)
        bx.loglog(d.tau, d.kl_mean_exact, color=color, label=case)
        bx.loglog(d.tau, d.kl_asym_large_tau, color=color, linestyle=":", linewidth=1.0)
    ax.plot([], [], **method_style("reference", label=r"$\mathrm{Var}(r)/(2\tau)$"))
    ax.plot([], [], color="#555555", linestyle="--", linewidth=0.8, label=r"$\max r-\bar r$")
    gmin = df.gap[df.gap > 0].min()
    ax.set_ylim(max(gmin, 1e-4) / 2, 2.0)
    ax.set_xlabel(r"temperature $\tau$")
    ax.set_ylabel(r"$\tau\log Z_t-\bar r$")
    ax.set_title("log-partition minus mean reward")
    ax.legend(loc="lower left")
    bx.plot([], [], **method_style("reference", label=r"$\mathrm{Var}(r)^3/(8\tau^6)$"))
    bx.legend(loc="lower left", fontsize=6)
    bx.set_xlabel(r"temperature $\tau$")
    bx.set_ylabel(r"$\mathrm{KL}(\pi_{\rm mean}\,\|\,\pi_{\rm exact})$")
    bx.set_title("PMD-mean and PMD-part policies differ")
    bx.set_ylim(1e-8, 10 * df.kl_mean_exact.max())
    panel_label(ax, "a")
    panel_label(bx, "b")
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
