r"""Figure ``target_errors``: sampled regression targets against population targets (paper Fig. 3).

Binary rewards, tau = 0.05, success probability p from 0.01 to 0.2, groups of k in
{8, 16} responses, 100 seeds. For response i the regression target is
:math:`(r_i - B_i)/\tau` (THEORY §3). Each estimator is compared with the log ratio
:math:`\log(\pi_{t+1}/\pi_t)` of its own population solution, i.e. what the fitted
policy should become:

* PMD-part with the leave-one-out partition baseline
  :math:`B_i = \tau\log\frac{1}{k-1}\sum_{j\ne i} e^{r_j/\tau}` against exact PMD,
  :math:`\log x^{\rm exact}_\pm`;
* PMD-mean with the leave-one-out mean baseline (RLOO) against the Lambert-W
  solution :math:`\log x^{\rm mean}_\pm = b_\pm - \omega_\pm` (THEORY §4).

For PMD-mean the error splits into the chi^2 pull :math:`\omega_\pm = \lambda x_\pm`
(systematic, large for positives at small p) plus the zero-mean noise of the LOO
mean; for PMD-part it is :math:`\log Z_t - B_i/\tau`, driven by whether another
response in the group succeeded. Positives and negatives are scored by conditioning:
response 0 is set to success (or failure), the other k - 1 rewards are drawn from
Bernoulli(p), once per seed. Error = sampled target - population log ratio.

CSV columns: tau, k, p, estimator, sign (pos | neg), n_seeds, mean_error, std_error,
rmse, noise_rmse (rmse against the population target), q10, q90,
frac_no_other_success, systematic_offset (population target minus
population log ratio: omega_+- for PMD-mean, 0 for PMD-part).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args, rng

from pmdtheory import binary_update
from pmdtheory.estimators import targets
from pmdtheory.plotting import figure, method_style, panel_label

NAME = "target_errors"
OFFSET_LABEL = r"PMD-mean offset $\omega_\pm=\lambda x_\pm$"
TAU = 0.05
KS = (8, 16)
# estimator name -> (baseline kind, update rule of the population solution)
ESTIMATORS = {
    "part_loo": ("loo_partition", "exact"),
    "mean_loo": ("loo_mean", "mean"),
}
STYLE = {
    "part_loo": method_style("part_sampled", label="PMD-part (LOO partition)"),
    "mean_loo": method_style("mean_sampled", label="PMD-mean (LOO mean)"),
}


def population_log_ratios(p: float, tau: float) -> dict[str, tuple[float, float]]:
    """(log x_+, log x_-) of each estimator's population solution."""
    out = {}
    for est, (_, method) in ESTIMATORS.items():
        u = binary_update(np.array([p]), tau, method=method)
        out[est] = (float(u.log_x_pos[0]), float(u.log_x_neg[0]))
    return out


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    n_seeds = 20 if args.quick else 100
    n_p = 8 if args.quick else 20
    p_grid = np.linspace(0.01, 0.2, n_p)
    gen = rng(args)

    rows = []
    for k in KS:
        for p in p_grid:
            others = (gen.random((n_seeds, k - 1)) < p).astype(float)
            no_other = float(np.mean(others.sum(axis=1) == 0))
            pop = population_log_ratios(p, TAU)
            for si, sign in enumerate(("pos", "neg")):
                r = np.concatenate([np.full((n_seeds, 1), 1.0 - si), others], axis=1)
                for est, (kind, _) in ESTIMATORS.items():
                    t0 = targets(r, kind=kind, tau=TAU)[:, 0]
                    err = t0 - pop[est][si]
                    # population target (r - rbar)/tau or log x_exact minus the solution
                    offset = ((1.0 - si) - p) / TAU - pop[est][si] if est == "mean_loo" else 0.0
                    rows.append(
                        {
                            "tau": TAU,
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
                            "systematic_offset": offset,
                        }
                    )
    df = pd.DataFrame(rows)

    fig, axes = figure(2, 2, panel_size=(3.5, 2.6), sharex=True)
    for i, k in enumerate(KS):
        for j, sign in enumerate(("pos", "neg")):
            ax = axes[i, j]
            for est in ESTIMATORS:
                d = df[(df.k == k) & (df.sign == sign) & (df.estimator == est)]
                st = STYLE[est]
                ax.plot(d.p, d.mean_error, **st)
                ax.fill_between(
                    d.p,
                    d.mean_error - d.std_error,
                    d.mean_error + d.std_error,
                    color=st["color"],
                    alpha=0.15,
                    linewidth=0,
                )
            d = df[(df.k == k) & (df.sign == sign) & (df.estimator == "mean_loo")]
            ax.plot(d.p, d.systematic_offset, **method_style("reference", label=OFFSET_LABEL))
            ax.axhline(0.0, color="k", linewidth=0.6)
            word = "positives" if sign == "pos" else "negatives"
            ax.set_title(rf"{word}, $k$={k}, $\tau$={TAU:g}")
            ax.set_ylabel("target error (mean ± sd)")
            if i == len(KS) - 1:
                ax.set_xlabel(r"success probability $p_t$")
            panel_label(ax, "abcd"[2 * i + j])
    axes[0, 1].legend(loc="upper right")
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
