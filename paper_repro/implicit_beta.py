r"""Figure ``implicit_beta``: PMD-mean's implicit chi^2 strength for binary rewards.

PMD-mean's population solution is the KL-chi^2 mirror-descent step with
:math:`\beta_t = \tau\lambda_t` (THEORY §5). For binary rewards with success
probability p the only data are (p, tau). Panel (a): :math:`\beta_t` over the
(p, tau) plane (log colour scale). Panel (b): slices in p for several tau, with the
large-tau asymptote :math:`\beta_t \approx \mathrm{Var}(r)/(2\tau) = p(1-p)/(2\tau)`
(from :math:`\lambda \sim \mathrm{Var}/(2\tau^2)`). Panel (c): slices in tau for
several p with the same asymptote.

CSV columns: p, tau, beta, lam, asym_large_tau.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args
from matplotlib.colors import LogNorm

from pmdtheory import binary_update
from pmdtheory.plotting import PALETTE, figure, panel_label

NAME = "implicit_beta"
P_SLICES = (0.01, 0.1, 0.5, 0.9)
TAU_SLICES = (0.01, 0.1, 1.0, 10.0)


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_p, n_tau = (41, 31) if args.quick else (101, 81)
    p = np.unique(np.concatenate([np.linspace(0.005, 0.995, n_p), P_SLICES]))
    tau = np.unique(np.concatenate([np.logspace(-2, 2, n_tau), TAU_SLICES]))
    P, T = np.meshgrid(p, tau, indexing="ij")
    u = binary_update(P, T, method="mean")
    beta = T * u.lam
    df = pd.DataFrame(
        {
            "p": P.ravel(),
            "tau": T.ravel(),
            "beta": beta.ravel(),
            "lam": u.lam.ravel(),
            "asym_large_tau": (P * (1.0 - P) / (2.0 * T)).ravel(),
        }
    )

    fig, axes = figure(1, 3, panel_size=(3.3, 2.9))
    ax, bx, cx = axes
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
    for a, tag in zip(axes, "abc", strict=True):
        panel_label(a, tag)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
