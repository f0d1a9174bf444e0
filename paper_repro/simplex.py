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

Independent check (second table ``simplex_scipy.csv``): ``N_RANDOM`` random contexts
(2 to 6 actions, tau log-uniform on [0.05, 5], some with constant rewards) are solved
with :func:`scipy.optimize.minimize` (BFGS on the softmax logits, i.e. on the
interior of the simplex, with hand-written gradients; nothing of Lambert W or omega):
the population regression :math:`\min_\pi E_{\pi_t}[(\log(\pi/\pi_t) - b)^2]` from
``N_STARTS`` random starts, and the KL-chi^2 problem with :math:`\beta = \tau\lambda`,
:math:`\lambda` read off the regression's own solution
(:math:`\log x + \lambda x = b` by least squares), with :math:`\beta = 0` and, as a
control that must *disagree*, with :math:`\beta = 2\tau\lambda`. Columns: case, n,
tau, constant, lam (mean_update), lam_scipy, err_regression, spread_starts,
err_klchi2 (both against mean_update, max abs over actions), err_beta0_core
(kl_chi2_update with beta = 0 against exact_update), err_beta0_scipy, err_control.

Sampled-regression limit (third table ``simplex_limit.csv``): the simulator's sampled
PMD-mean fit (:func:`pmdtheory.sim.run`, ``mean_sampled`` with the group-mean
baseline, ``LIMIT_FIT_STEPS`` gradient steps) on a 6-context, 4-action bandit at
``LIMIT_TAU`` for growing k and ``LIMIT_SEEDS`` seeds. Columns: k, seed, context,
reward_fit, reward_mean (Lambert-W population solution), reward_exact (exact PMD).

CSV columns (trajectories): method, t, pi_0, pi_1, pi_2, expected_r, beta, equiv_err
(for PMD-mean: max |KL-chi^2(beta_t) step - PMD-mean step|, NaN otherwise), tau.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import finish, parse_args, rng, save_csv
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from pmdtheory import exact_update, implicit_beta, kl_chi2_update, mean_update
from pmdtheory.plotting import PALETTE, figure, method_style, panel_label
from pmdtheory.sim import Bandit, run

NAME = "simplex"
# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py)
REPRO = {
    "default": True,
    "budget_s": {"quick": 20, "full": 40},
    "outputs": [
        "simplex.png",
        "simplex.pdf",
        "data/simplex.csv",
        "data/simplex_scipy.csv",
        "data/simplex_limit.csv",
    ],
    "claims": {
        "_claims.claim_equivalence": 5,
        "_claims.claim_lambda_unique": 18,
        "_claims.claim_beta_zero": 19,
        "_claims.claim_sampled_limit": 20,
    },
}
R = np.array([0.0, 0.5, 1.0])
PI0 = np.array([0.6, 0.38, 0.02])
SQ3 = np.sqrt(3.0) / 2.0
N_RANDOM = 240
N_CONSTANT = 20  # of them with constant rewards (then lam = 0 and the step is the identity)
N_STARTS = 2
GTOL = 1e-11
LIMIT_TAU = 0.5
LIMIT_KS = (250, 1000, 4000, 16000)
LIMIT_SEEDS = 8
LIMIT_FIT_STEPS = 150


# ------------------------------------------------- independent scipy.optimize solves


def _regression(pi: np.ndarray, b: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """argmin over the simplex of E_pi[(log(q/pi) - b)^2], BFGS on the logits of q."""
    logpi = np.log(pi)

    def f(z):
        d = log_softmax(z) - logpi - b
        s = softmax(z)
        w = pi * d
        return float(np.sum(w * d)), 2.0 * (w - s * np.sum(w))

    res = minimize(f, z0, jac=True, method="BFGS", options={"gtol": GTOL, "maxiter": 10000})
    return softmax(res.x)


def _kl_chi2(pi: np.ndarray, r: np.ndarray, tau: float, beta: float, z0) -> np.ndarray:
    """argmax over the simplex of E_q[r] - tau KL(q||pi) - beta/2 chi2(q||pi), by BFGS."""
    logpi = np.log(pi)

    def f(z):
        q = softmax(z)
        lq = log_softmax(z)
        val = -q @ r + tau * q @ (lq - logpi) + 0.5 * beta * (np.sum(q * q / pi) - 1.0)
        g = -r + tau * (lq - logpi + 1.0) + beta * q / pi  # d/dq
        return float(val), q * (g - q @ g)

    res = minimize(f, z0, jac=True, method="BFGS", options={"gtol": GTOL, "maxiter": 10000})
    return softmax(res.x)


def scipy_table(gen: np.random.Generator, m: int, n_constant: int) -> pd.DataFrame:
    rows = []
    for case in range(m):
        n = int(gen.integers(2, 7))
        pi = gen.dirichlet(np.ones(n))
        pi = np.maximum(pi, 1e-3)
        pi /= pi.sum()
        constant = case < n_constant
        if constant:
            r = np.full(n, gen.random())
        elif gen.random() < 0.3:
            r = np.zeros(n)
            r[gen.permutation(n)[: int(gen.integers(1, n))]] = 1.0
        else:
            r = gen.random(n)
        tau = float(10.0 ** gen.uniform(np.log10(0.05), np.log10(5.0)))
        b = (r - pi @ r) / tau
        new, lam = mean_update(pi, r, tau, return_lambda=True)
        sols = [_regression(pi, b, z0) for z0 in 3.0 * gen.standard_normal((N_STARTS, n))]
        reg = sols[0]
        x = reg / pi
        lam_s = float(np.sum(pi * x * (b - np.log(x))) / np.sum(pi * x * x))
        z0 = np.zeros(n)
        kc = _kl_chi2(pi, r, tau, tau * max(lam_s, 0.0), z0)
        ctrl = _kl_chi2(pi, r, tau, 2.0 * tau * max(lam_s, 0.0), z0)
        ex_plain = pi * np.exp((r - r.max()) / tau)
        ex_plain /= ex_plain.sum()
        rows.append(
            {
                "case": case,
                "n": n,
                "tau": tau,
                "constant": constant,
                "lam": float(lam),
                "lam_scipy": lam_s,
                "err_regression": float(np.max(np.abs(reg - new))),
                "spread_starts": float(max(np.max(np.abs(s_ - reg)) for s_ in sols)),
                "err_klchi2": float(np.max(np.abs(kc - new))),
                "err_beta0_core": float(
                    np.max(np.abs(kl_chi2_update(pi, r, tau, 0.0) - exact_update(pi, r, tau)))
                ),
                "err_beta0_scipy": float(np.max(np.abs(_kl_chi2(pi, r, tau, 0.0, z0) - ex_plain))),
                "err_control": float(np.max(np.abs(ctrl - new))),
            }
        )
    return pd.DataFrame(rows)


def limit_table(ks, n_seeds: int) -> pd.DataFrame:
    env = Bandit.random(6, 4, seed=4)
    want = {
        name: (np.exp(update(env.logpi0, env.R, LIMIT_TAU, log=True)) * env.R).sum(axis=1)
        for name, update in (("mean", mean_update), ("exact", exact_update))
    }
    frames = []
    for k in ks:
        for seed in range(n_seeds):
            _, per = run(
                env, "mean_sampled", iters=1, tau=LIMIT_TAU, k=k, baseline="mean",
                fit_steps=LIMIT_FIT_STEPS, per_prompt=True, seed=seed, progress=False,
            )  # fmt: skip
            fit = per[per["iter"] == 1].sort_values("context").reward.to_numpy()
            frames.append(
                pd.DataFrame(
                    {
                        "k": k,
                        "seed": seed,
                        "context": np.arange(fit.size),
                        "reward_fit": fit,
                        "reward_mean": want["mean"],
                        "reward_exact": want["exact"],
                    }
                )
            )
    return pd.DataFrame(pd.concat(frames, ignore_index=True)).assign(tau=LIMIT_TAU)


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
    q = args.quick
    sc = scipy_table(rng(args), 40 if q else N_RANDOM, 4 if q else N_CONSTANT)
    lim = limit_table(LIMIT_KS[:2] if q else LIMIT_KS, 3 if q else LIMIT_SEEDS)

    fig, axes = figure(2, 3, panel_size=(3.2, 3.0), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    ax, bx, cx = axes[0]
    dx, ex, fx = axes[1]
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
    floor = 1e-17  # exact agreement drawn at the floor of the log axis
    for col, color, label in (
        ("err_regression", PALETTE[0], "regression (BFGS) vs mean_update"),
        ("err_klchi2", PALETTE[1], r"KL-$\chi^2$, $\beta=\tau\lambda$ (BFGS) vs mean_update"),
        ("err_beta0_scipy", PALETTE[2], r"KL-$\chi^2$, $\beta=0$ (BFGS) vs exact PMD"),
        ("err_control", "#777777", r"control: $\beta=2\tau\lambda$ vs mean_update"),
    ):
        dx.scatter(sc.tau, np.maximum(sc[col], floor), s=5, alpha=0.6, color=color,
                   linewidths=0, label=label)  # fmt: skip
    dx.set_xscale("log")
    dx.set_yscale("log")
    dx.set_xlabel(r"temperature $\tau$")
    dx.set_ylabel(r"max $|\pi - \pi_{\rm core}|$ over actions")
    dx.set_title(f"{len(sc)} random contexts, scipy.optimize")
    dx.legend(loc="lower left", fontsize=5.5)
    g = lim.groupby(["k", "context"]).reward_fit
    st = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.size()}).reset_index()
    st = st.merge(lim.drop_duplicates("context")[["context", "reward_mean", "reward_exact"]])
    for color, (_, d) in zip(PALETTE * 2, st.groupby("context"), strict=False):
        se = d.sd / np.sqrt(d.n)
        ex.errorbar(d.k, d["mean"] - d.reward_mean, yerr=2 * se, color=color, marker="o",
                    markersize=3, capsize=2)  # fmt: skip
        ex.plot(d.k, d.reward_exact - d.reward_mean, color=color, linestyle=":", linewidth=1.0)
    ex.axhline(0.0, color="k", linewidth=0.8)
    ex.plot([], [], color="k", marker="o", label="sampled fit (mean, 2 s.e.)")
    ex.plot([], [], color="k", linestyle=":", label="exact PMD")
    ex.set_xscale("log")
    ex.set_xlabel("responses per context $k$")
    ex.set_ylabel(r"$E[r]$ minus Lambert-W solution's")
    ex.set_title(rf"sampled fit $\to$ Lambert W ($\tau$={LIMIT_TAU:g})")
    ex.legend(loc="lower right", fontsize=6)
    rms = st.groupby("k").sd.apply(lambda s_: np.sqrt(np.mean(s_**2)))
    fx.loglog(rms.index, rms.values, marker="o", **method_style("mean", label="sd over seeds"))
    fx.loglog(rms.index, rms.values[0] * np.sqrt(rms.index[0] / rms.index), **method_style(
        "reference", label=r"$\propto k^{-1/2}$"))  # fmt: skip
    fx.set_xlabel("responses per context $k$")
    fx.set_ylabel("RMS sd of the fitted $E[r]$")
    fx.set_title("noise shrinks like $k^{-1/2}$")
    fx.legend()
    for a, tag in zip(axes.ravel(), "abcdef", strict=True):
        panel_label(a, tag)
    save_csv(sc, NAME + "_scipy", args)
    save_csv(lim, NAME + "_limit", args)
    finish(fig, df, NAME, args)


if __name__ == "__main__":
    main()
