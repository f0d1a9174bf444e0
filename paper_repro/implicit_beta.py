r"""Figure ``implicit_beta``: PMD-mean's implicit chi^2 strength for binary rewards.

PMD-mean's population solution is the KL-chi^2 mirror-descent step with
:math:`\beta_t = \tau\lambda_t` (THEORY §5). For binary rewards with success
probability p the only data are (p, tau). Panel (a): :math:`\beta_t` over the
(p, tau) plane (log colour scale). Panel (b): slices in p for several tau, with the
large-tau asymptote :math:`\beta_t \approx \mathrm{Var}(r)/(2\tau) = p(1-p)/(2\tau)`
(from :math:`\lambda \sim \mathrm{Var}/(2\tau^2)`). Panel (c): slices in tau for
several p with the same asymptote. Panel (d) reconciles "beta_t peaks at p = 0.5"
with "gentle on hard prompts" (THEORY §6) at tau = ``TAU_PULL``: the positives'
log ratio is :math:`\log x_+ = b_+ - \omega_+` with :math:`b_+ = (1-p)/\tau` and the
chi^2 pull :math:`\omega_+ = \lambda x_+`. At small p, :math:`\beta_t` is small but
:math:`x_+` is large, so the pull :math:`\omega_+` is as large as anywhere (it decreases
in p), and PMD-mean's :math:`\log x_+` falls furthest below exact PMD's
(:math:`\approx -\log p`) there: the restraint on hard prompts comes from
:math:`\lambda x_+`, not from :math:`\lambda` (or :math:`\beta_t`) alone.

CSV columns: p, tau, beta, lam, asym_large_tau, b_pos, omega_pos (lam x+), log_x_pos,
log_x_pos_exact (exact PMD's log x+, for the restraint log x+_exact - log x+).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args, unique_grid
from matplotlib.colors import LogNorm

from pmdtheory import binary_update
from pmdtheory.plotting import PALETTE, figure, panel_label

NAME = "implicit_beta"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 10, "full": 15},
    "outputs": ["implicit_beta.png", "implicit_beta.pdf", "data/implicit_beta.csv"],
    "claims": {"_claims.claims_beta": 10, "_claims.claim_gentle_pull": 22},
}
P_SLICES = (0.01, 0.1, 0.5, 0.9)
TAU_SLICES = (0.01, 0.1, 1.0, 10.0)
TAU_PULL = 0.05  # panel (d); a grid point of tau


def table(p: np.ndarray, tau: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The figure's data on the (p, tau) grid, and beta as a (p, tau) array."""
    P, T = np.meshgrid(p, tau, indexing="ij")
    u = binary_update(P, T, method="mean")
    ue = binary_update(P, T, method="exact")
    beta = T * u.lam
    df = pd.DataFrame(
        {
            "p": P.ravel(),
            "tau": T.ravel(),
            "beta": beta.ravel(),
            "lam": u.lam.ravel(),
            "asym_large_tau": (P * (1.0 - P) / (2.0 * T)).ravel(),
            "b_pos": ((1.0 - P) / T).ravel(),
            "omega_pos": (u.lam * u.x_pos).ravel(),
            "log_x_pos": u.log_x_pos.ravel(),
            "log_x_pos_exact": ue.log_x_pos.ravel(),
        }
    )
    return df, beta


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_p, n_tau = (41, 31) if args.quick else (101, 81)
    p = unique_grid(np.linspace(0.005, 0.995, n_p), P_SLICES)
    tau = unique_grid(np.logspace(-2, 2, n_tau), (*TAU_SLICES, TAU_PULL))
    df, beta = table(p, tau)

    fig, axes = figure(1, 4, panel_size=(3.1, 2.9))
    ax, bx, cx, dx = axes
    im = ax.pcolormesh(p, tau, beta.T, norm=LogNorm(), shading="nearest", rasterized=True)
    ax.set_yscale("log")
    ax.set_xlabel(r"success probability $p$")
    ax.set_ylabel(r"temperature $\tau$")
    ax.set_title(r"$\beta_t=\tau\lambda_t$")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label=r"$\beta_t$")

    for color, t in zip(PALETTE, TAU_SLICES, strict=False):
        d = df[np.isclose(df.tau, t)]
        bx.semilogy(d.p, d.beta, color=color, label=rf"$\tau$={t:g}")
        bx.semilogy(d.p, d.asym_large_tau, color=color, linestyle=":", linewidth=1.0)
    bx.plot([], [], color="k", linestyle=":", label=r"$p(1-p)/(2\tau)$")
    bx.set_xlabel(r"success probability $p$")
    bx.set_ylabel(r"$\beta_t$")
    bx.set_title(r"slices in $p$ (unimodal)")
    bx.legend(loc="lower center", ncol=2, fontsize=6.5)

    for color, pp in zip(PALETTE, P_SLICES, strict=False):
        d = df[np.isclose(df.p, pp)]
        cx.loglog(d.tau, d.beta, color=color, label=f"p={pp:g}")
        cx.loglog(d.tau, d.asym_large_tau, color=color, linestyle=":", linewidth=1.0)
    cx.plot([], [], color="k", linestyle=":", label="large-$\\tau$ asymptote")
    cx.set_xlabel(r"temperature $\tau$")
    cx.set_ylabel(r"$\beta_t$")
    cx.set_title(r"slices in $\tau$")
    cx.legend(loc="lower left", fontsize=6.5)
    d = df[np.isclose(df.tau, TAU_PULL)]
    dx.semilogx(d.p, d.b_pos, color="k", linestyle=":", label=r"$b_+=(1-p)/\tau$")
    dx.semilogx(d.p, d.omega_pos, color=PALETTE[1], label=r"$\chi^2$ pull $\omega_+=\lambda x_+$")
    dx.semilogx(d.p, d.log_x_pos, color=PALETTE[0], label=r"$\log x_+=b_+-\omega_+$")
    dx.semilogx(d.p, d.log_x_pos_exact, color=PALETTE[0], linestyle="-.", linewidth=1.0,
                label=r"exact PMD's $\log x_+$")  # fmt: skip
    dx.semilogx(d.p, 100 * d.beta, color=PALETTE[2], linestyle="--",
                label=r"$100\,\beta_t$ (peaks near 0.5)")  # fmt: skip
    dx.set_xlabel(r"success probability $p$")
    dx.set_title(rf"gentle on hard prompts, $\tau$={TAU_PULL:g}")
    dx.legend(loc="center left", fontsize=5.5)
    for a, tag in zip(axes, "abcd", strict=True):
        panel_label(a, tag)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
