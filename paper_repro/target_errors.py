r"""Figure ``target_errors``: sampled regression targets against population targets (paper Fig. 3).

Binary rewards, success probability p from 0.01 to 0.2, groups of k in {8, 16}
responses, 100 seeds; tau = 0.05 in the paper's four panels, and swept over
``TAUS`` (0.01 to 1) with rewards in {0, 1} (``scale = "01"``) and in {-1, +1}
(``scale = "pm1"``, the scale the paper trains with) for the report. For response i
the regression target is :math:`(r_i - B_i)/\tau` (THEORY §3). Each estimator is
compared with the log ratio :math:`\log(\pi_{t+1}/\pi_t)` of its own population
solution, i.e. what the fitted policy should become (computed with
:func:`pmdtheory.exact_update` / :func:`pmdtheory.mean_update` on the two-outcome
context with the scale's rewards):

* PMD-part with the leave-one-out partition baseline
  :math:`B_i = \tau\log\frac{1}{k-1}\sum_{j\ne i} e^{r_j/\tau}` against exact PMD;
* PMD-mean with the leave-one-out mean baseline (RLOO) against the Lambert-W
  solution :math:`\log x^{\rm mean}_\pm = b_\pm - \omega_\pm` (THEORY §4).

For PMD-mean the error splits into the chi^2 pull :math:`\omega_\pm = \lambda x_\pm`
(systematic, large for positives at small p) plus the zero-mean noise of the LOO
mean; for PMD-part it is :math:`\log Z_t - B_i/\tau`, driven by whether another
response in the group succeeded. Positives and negatives are scored by conditioning:
response 0 is set to success (or failure), the other k - 1 rewards are drawn from
Bernoulli(p), once per seed. Error = sampled target - population log ratio.

The figure draws the spread of the errors (sd, solid) that the claim is about, and
their mean (dashed): PMD-mean's mean error sits on its chi^2 offset with a small
spread, PMD-part's spread is large. Panel (e): PMD-part / PMD-mean noise RMSE
against tau; panel (f): PMD-part's positive target against the number of other
successes in the group (the jump of about 1/tau at the first one).

CSV columns: scale, tau, k, p, estimator, sign (pos | neg), n_seeds, mean_error,
std_error, rmse, noise_rmse (rmse against the population target), q10, q90,
frac_no_other_success, frac_target_lone (share of seeds whose target equals the
lone-success value (hi - lo)/tau, NaN for negatives and PMD-mean), r2_other_success
(share of the targets' variance explained by "another response succeeded"),
systematic_offset (population target minus population log ratio: omega_+- for
PMD-mean, 0 for PMD-part). Second table ``target_errors_jump.csv``: tau, k, m_other,
target (PMD-part positive target with m_other other successes, {0, 1} rewards).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args, rng, save_csv

from pmdtheory import exact_update, mean_update
from pmdtheory.estimators import targets
from pmdtheory.plotting import PALETTE, figure, method_style, panel_label

NAME = "target_errors"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 10, "full": 15},
    "outputs": [
        "target_errors.png",
        "target_errors.pdf",
        "data/target_errors.csv",
        "data/target_errors_jump.csv",
    ],
    "claims": {
        "_claims_sampled.claims_noise": 12,
        "_claims_sampled.claim_stable_loo_partition": 15,
        "_claims_sampled.claim_jump": 21,
    },
}
OFFSET_LABEL = r"PMD-mean offset $\omega_\pm=\lambda x_\pm$"
TAU = 0.05  # the paper's panels
TAUS = (0.01, 0.05, 0.2, 1.0)
SCALES = {"01": (1.0, 0.0), "pm1": (1.0, -1.0)}  # (reward of a success, of a failure)
KS = (8, 16)
JUMP_TAUS = (0.01, 0.02, 0.05, 0.1, 0.2)
JUMP_KS = (4, 8, 16)
# estimator name -> (baseline kind, update rule of the population solution)
ESTIMATORS = {
    "part_loo": ("loo_partition", exact_update),
    "mean_loo": ("loo_mean", mean_update),
}
STYLE = {
    "part_loo": method_style("part_sampled", label="PMD-part (LOO partition)"),
    "mean_loo": method_style("mean_sampled", label="PMD-mean (LOO mean)"),
}


def population_log_ratios(p: float, tau: float, scale: str = "01") -> dict:
    """(log x_+, log x_-) of each estimator's population solution on the two outcomes."""
    hi, lo = SCALES[scale]
    logpi = np.log([p, 1.0 - p])
    r = np.array([hi, lo])
    out = {}
    for est, (_, update) in ESTIMATORS.items():
        lx = update(logpi, r, tau, log=True) - logpi
        out[est] = (float(lx[0]), float(lx[1]))
    return out


def cell(gen, k: int, p: float, tau: float, scale: str, n_seeds: int) -> list[dict]:
    hi, lo = SCALES[scale]
    success = gen.random((n_seeds, k - 1)) < p
    others = np.where(success, hi, lo)
    any_other = success.any(axis=1)
    no_other = float(np.mean(~any_other))
    pop = population_log_ratios(p, tau, scale)
    rbar = p * hi + (1.0 - p) * lo
    rows = []
    for si, sign in enumerate(("pos", "neg")):
        own = hi if si == 0 else lo
        r = np.concatenate([np.full((n_seeds, 1), own), others], axis=1)
        for est, (kind, _) in ESTIMATORS.items():
            t0 = targets(r, kind=kind, tau=tau)[:, 0]
            err = t0 - pop[est][si]
            # population target (r - rbar)/tau minus the solution's log ratio
            offset = (own - rbar) / tau - pop[est][si] if est == "mean_loo" else 0.0
            lone = np.nan
            if est == "part_loo" and sign == "pos":
                lone = float(np.mean(np.abs(t0 - (hi - lo) / tau) <= 1e-9 * (hi - lo) / tau))
            # variance of the targets explained by the indicator "another one succeeded"
            var = t0.var()
            if var > 0 and 0 < no_other < 1:
                fit = np.where(any_other, t0[any_other].mean(), t0[~any_other].mean())
                r2 = 1.0 - np.mean((t0 - fit) ** 2) / var
            else:
                r2 = np.nan
            rows.append(
                {
                    "scale": scale,
                    "tau": tau,
                    "k": k,
                    "p": p,
                    "estimator": est,
                    "sign": sign,
                    "n_seeds": n_seeds,
                    "mean_error": err.mean(),
                    "std_error": err.std(ddof=1),
                    "rmse": np.sqrt(np.mean(err**2)),
                    # error against the population *target*: the sampling noise alone
                    "noise_rmse": np.sqrt(np.mean((err - offset) ** 2)),
                    "q10": np.quantile(err, 0.1),
                    "q90": np.quantile(err, 0.9),
                    "frac_no_other_success": no_other,
                    "frac_target_lone": lone,
                    "r2_other_success": r2,
                    "systematic_offset": offset,
                }
            )
    return rows


def jump_table() -> pd.DataFrame:
    """PMD-part's positive target with m other successes among k - 1 ({0, 1} rewards)."""
    rows = []
    for tau in JUMP_TAUS:
        for k in JUMP_KS:
            for m in range(min(4, k)):
                r = np.zeros(k)
                r[: m + 1] = 1.0
                t0 = float(targets(r, kind="loo_partition", tau=tau)[0])
                rows.append({"tau": tau, "k": k, "m_other": m, "target": t0})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_seeds = 20 if args.quick else 100
    n_p = 8 if args.quick else 20
    taus = (0.05, 1.0) if args.quick else TAUS
    p_grid = np.linspace(0.01, 0.2, n_p)
    gen = rng(args)

    rows = []
    for scale in SCALES:
        for tau in taus:
            for k in KS:
                for p in p_grid:
                    rows += cell(gen, k, p, tau, scale, n_seeds)
    df = pd.DataFrame(rows)
    jump = jump_table()

    fig, axes = figure(2, 3, panel_size=(3.3, 2.6))
    paper = df[(df.scale == "01") & (df.tau == TAU)]
    for i, k in enumerate(KS):
        for j, sign in enumerate(("pos", "neg")):
            ax = axes[i, j]
            for est in ESTIMATORS:
                d = paper[(paper.k == k) & (paper.sign == sign) & (paper.estimator == est)]
                st = STYLE[est]
                ax.plot(d.p, d.std_error, **{**st, "linestyle": "-"})
                ax.plot(d.p, d.mean_error, **{**st, "linestyle": "--", "label": None})
            d = paper[(paper.k == k) & (paper.sign == sign) & (paper.estimator == "mean_loo")]
            ax.plot(d.p, d.systematic_offset, **method_style("reference", label=OFFSET_LABEL))
            ax.axhline(0.0, color="k", linewidth=0.6)
            word = "positives" if sign == "pos" else "negatives"
            ax.set_title(rf"{word}, $k$={k}, $\tau$={TAU:g}")
            ax.set_ylabel("target error: sd (solid), mean (dashed)", fontsize=7)
            if i == len(KS) - 1:
                ax.set_xlabel(r"success probability $p_t$")
            panel_label(ax, "abde"[2 * i + j])
    axes[0, 1].legend(loc="upper right", fontsize=6)

    ex = axes[0, 2]
    small = df[(df.p <= 0.05) & (df.sign == "pos")]
    piv = small.pivot_table(
        index=["scale", "k", "tau"], columns="estimator", values="noise_rmse", aggfunc="mean"
    )
    ratio = (piv.part_loo / piv.mean_loo).reset_index(name="ratio")
    for color, k in zip(PALETTE, KS, strict=False):
        a = ratio[(ratio.k == k) & (ratio.scale == "01")]
        ex.loglog(a.tau, a.ratio, color=color, marker="o", markersize=3, label=f"$k$={k}")
        b = ratio[(ratio.k == k) & (ratio.scale == "pm1")]
        ex.loglog(b.tau, b.ratio, color=color, linestyle="none", marker="s", markersize=6,
                  markerfacecolor="none")  # fmt: skip
    ex.plot([], [], "s", color="k", markerfacecolor="none", label=r"$\pm1$ rewards")
    ex.axhline(1.0, color="k", linewidth=0.6)
    ex.set_xlabel(r"temperature $\tau$")
    ex.set_ylabel("noise RMSE, PMD-part / PMD-mean")
    ex.set_title(r"positives, $p\leq0.05$, mean over $p$")
    ex.legend(loc="upper right", fontsize=6)
    panel_label(ex, "c")

    fx = axes[1, 2]
    for color, tau in zip(PALETTE, JUMP_TAUS, strict=False):
        d = jump[(jump.tau == tau) & (jump.k == 8)]
        fx.plot(d.m_other, d.target * tau, color=color, marker="o", markersize=3,
                label=rf"$\tau$={tau:g}")  # fmt: skip
    fx.set_xticks(range(4))
    fx.set_xlabel("other successes in the group ($k$=8)")
    fx.set_ylabel(r"$\tau\,\times$ PMD-part positive target")
    fx.set_title(r"the first other success: a jump of $\approx 1/\tau$")
    fx.legend(loc="upper right", fontsize=6)
    panel_label(fx, "f")
    save_csv(jump, NAME + "_jump", args)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
