r"""Figure ``simplex``: three-action trajectories of exact PMD, PMD-mean and KL-chi^2.

One context, three actions with rewards r = (0, 0.5, 1), start :math:`\pi_0` with
little mass on the best action. From the same start we iterate

* exact PMD, :math:`\pi_{t+1}\propto\pi_t e^{r/\tau}` (THEORY §2);
* PMD-mean, the Lambert-W population solution (THEORY §4);
* KL-chi^2 mirror descent with a fixed :math:`\beta` (THEORY §5).

Panel (a) draws them on the probability simplex over the level sets of the
objective :math:`E_\pi[r]`. The hollow circles are KL-chi^2 steps taken from each
PMD-mean iterate with PMD-mean's own :math:`\beta_t=\tau\lambda_t`: they land on the
next PMD-mean iterate (THEORY §5). Panel (b): expected reward per iteration;
panel (c): :math:`\beta_t` per iteration against the fixed :math:`\beta`.

CSV columns: method, t, pi_0, pi_1, pi_2, expected_r, beta, equiv_err (for PMD-mean:
max |KL-chi^2(beta_t) step - PMD-mean step|, NaN otherwise), tau.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args

from pmdtheory import exact_update, implicit_beta, kl_chi2_update, mean_update
from pmdtheory.plotting import figure, method_style, panel_label

NAME = "simplex"
R = np.array([0.0, 0.5, 1.0])
PI0 = np.array([0.6, 0.38, 0.02])
SQ3 = np.sqrt(3.0) / 2.0


def to_xy(pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric -> Cartesian: action 0 at (0, 0), 1 at (1, 0), 2 at (1/2, sqrt(3)/2)."""
    pi = np.atleast_2d(pi)
    return pi[:, 1] + 0.5 * pi[:, 2], SQ3 * pi[:, 2]


def trajectories(tau: float, beta: float, iters: int) -> pd.DataFrame:
    rows = []
    for method in ("exact", "mean", "kl_chi2"):
        pi = PI0.copy()
        for t in range(iters + 1):
            b, err = {"exact": 0.0, "kl_chi2": beta}.get(method, np.nan), np.nan
            if method == "exact":
                nxt = exact_update(pi, R, tau)
            elif method == "kl_chi2":
                nxt = kl_chi2_update(pi, R, tau, beta)
            else:
                nxt = mean_update(pi, R, tau)
                b = float(implicit_beta(pi, R, tau))
                err = float(np.max(np.abs(kl_chi2_update(pi, R, tau, b) - nxt)))
            rows.append(
                {
                    "method": method,
                    "t": t,
                    "pi_0": pi[0],
                    "pi_1": pi[1],
                    "pi_2": pi[2],
                    "expected_r": float(pi @ R),
                    "beta": b,
                    "equiv_err": err,
                    "tau": tau,
                }
            )
            pi = nxt
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    def extra(parser):
        parser.add_argument("--tau", type=float, default=0.25, help="KL strength")
        parser.add_argument("--beta", type=float, default=0.1, help="fixed chi^2 strength")

    args = parse_args(__doc__, argv, extra)
    iters = 6 if args.quick else 10
    df = trajectories(args.tau, args.beta, iters)

    fig, axes = figure(1, 3, panel_size=(3.2, 3.0), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    ax, bx, cx = axes
    # level sets of E_pi[r] on a barycentric grid
    g = np.linspace(0.0, 1.0, 201)
    p1, p2 = np.meshgrid(g, g)
    inside = p1 + p2 <= 1.0
    p0 = np.where(inside, 1.0 - p1 - p2, np.nan)
    er = np.where(inside, p0 * R[0] + p1 * R[1] + p2 * R[2], np.nan)
    x, y = p1 + 0.5 * p2, SQ3 * p2
    cs = ax.contour(x, y, er, levels=np.linspace(0.1, 0.9, 9), colors="#aaaaaa", linewidths=0.6)
    ax.clabel(cs, fmt="%.1f", fontsize=6)
    ax.plot([0, 1, 0.5, 0], [0, 0, SQ3, 0], color="k", linewidth=0.8)
    for (vx, vy), a, ha in zip(
        [(0, 0), (1, 0), (0.5, SQ3)], range(3), ["right", "left", "center"]
    ):
        ax.annotate(
            f"a{a}: r={R[a]:g}",
            (vx, vy),
            xytext=(0, -10 if a < 2 else 4),
            textcoords="offset points",
            ha=ha,
            fontsize=7,
        )
    names = {
        "exact": "exact PMD",
        "mean": "PMD-mean",
        "kl_chi2": rf"KL-$\chi^2$, $\beta$={args.beta:g}",
    }
    for method in ("exact", "mean", "kl_chi2"):
        d = df[df.method == method]
        xs, ys = to_xy(d[["pi_0", "pi_1", "pi_2"]].to_numpy())
        ax.plot(xs, ys, marker="o", markersize=2.5, **method_style(method, label=names[method]))
        bx.plot(d.t, d.expected_r, marker="o", markersize=2.5, **method_style(method))
    # KL-chi2 steps with beta_t from each PMD-mean iterate
    d = df[df.method == "mean"]
    pis = d[["pi_0", "pi_1", "pi_2"]].to_numpy()
    chk = np.array([kl_chi2_update(pi, R, args.tau, b) for pi, b in zip(pis, d.beta, strict=True)])
    xs, ys = to_xy(chk)
    ax.plot(xs, ys, linestyle="none", marker="o", markersize=7, markerfacecolor="none",
            color="k", markeredgewidth=0.7, label=r"KL-$\chi^2$ step with $\beta_t$")  # fmt: skip
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(rf"iterates on the simplex, $\tau$={args.tau:g}", pad=14)
    ax.legend(loc="upper left", bbox_to_anchor=(-0.05, 1.0), fontsize=6.5)
    bx.set_xlabel("iteration $t$")
    bx.set_ylabel(r"$E_{\pi_t}[r]$")
    bx.set_title("expected reward")
    cx.semilogy(
        d.t, d.beta, marker="o", markersize=2.5, **method_style("mean", label=r"$\beta_t$")
    )
    cx.axhline(args.beta, **method_style("kl_chi2", label=rf"fixed $\beta$={args.beta:g}"))
    cx.set_xlabel("iteration $t$")
    cx.set_ylabel(r"$\beta_t=\tau\lambda_t$")
    cx.set_title(r"PMD-mean's implicit $\beta_t$")
    cx.legend()
    for a, tag in zip(axes, "abc", strict=True):
        panel_label(a, tag)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
