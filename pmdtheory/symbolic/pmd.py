r"""Derivations 1-4: exact PMD, PMD-mean (Lambert W), the KL-chi^2 equivalence, limits.

Each function returns a :class:`~pmdtheory.symbolic.check.Derivation`; the
Lagrangians are written for three actions (enough to exhibit the coupling through
the normaliser), the per-action stationarity conditions hold for any number of
actions. Claims can be replaced (``solution=``, ``beta_claim=``) so that tests can show
that a wrong claim is reported as failed. See THEORY §2, §4, §5.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath as mp
import numpy as np
import sympy as sp

from pmdtheory import exact_update, implicit_beta, kl_chi2_update, mean_update
from pmdtheory.symbolic.check import NUMERIC, SYMBOLIC, Derivation, Recorder
from pmdtheory.symbolic.numeric import (
    N_CASES,
    max_abs_diff,
    mp_exact,
    mp_function,
    mp_mean,
    random_cases,
)
from pmdtheory.symbolic.solutions import exact_solution, mean_solution, zero_after_w_rule

N_ACTIONS = 3

tau = sp.Symbol("tau", positive=True)
lam = sp.Symbol("lambda", positive=True)
beta = sp.Symbol("beta", nonnegative=True)
mu, nu, rbar = sp.symbols("mu nu rbar", real=True)
x = sp.Symbol("x", positive=True)
b = sp.Symbol("b", real=True)
r = sp.Symbol("r", real=True)
Z = sp.Symbol("Z", positive=True)
q_a = sp.Symbol("q", positive=True)
ps = sp.symbols(f"p1:{N_ACTIONS + 1}", positive=True)
qs = sp.symbols(f"q1:{N_ACTIONS + 1}", positive=True)
rs = sp.symbols(f"r1:{N_ACTIONS + 1}", real=True)
xs = sp.symbols(f"x1:{N_ACTIONS + 1}", positive=True)
bs = sp.symbols(f"b1:{N_ACTIONS + 1}", real=True)

DOMAIN = {
    tau: (0.05, 5),
    lam: (0.01, 5),
    beta: (0, 5),
    sp.Symbol("beta", positive=True): (0, 5),
    mu: (-3, 3),
    nu: (-3, 3),
}
DOMAIN |= {rbar: (-1, 1), x: (0.01, 5), b: (-4, 4), r: (-1, 1), Z: (0.1, 5), q_a: (0.01, 1)}
DOMAIN |= {s: (0.01, 1) for s in ps + qs} | {s: (-1, 1) for s in rs}
DOMAIN |= {s: (0.01, 5) for s in xs} | {s: (-4, 4) for s in bs}


def _star(x_, b_):
    r"""The left side minus the right side of (*): :math:`\log x + \lambda x - b`."""
    return sp.log(x_) + lam * x_ - b_


def exact_pmd(
    *,
    solution: Callable[[sp.Basic, sp.Basic, sp.Basic, sp.Basic], sp.Basic] | None = None,
    seed: int = 0,
) -> Derivation:
    r"""Derivation 1: the exact PMD step :math:`\pi_{t+1} = \pi_t e^{r/\tau}/Z_t`.

    Parameters
    ----------
    solution : callable, optional
        ``solution(pi_t_a, r_a, tau, Z) -> sympy expr``, the claimed new probability of
        one action; default :math:`\pi_t(a) e^{r(a)/\tau}/Z`.
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        10 steps, for three actions: the stationarity condition of the Lagrangian,
        each action's gradient vanishing at the claim, normalisation, a diagonal
        Hessian with negative diagonal (strict concavity), and ``exact_update``
        against the claim evaluated by mpmath. A wrong ``solution`` fails
        (``tests/test_symbolic.py``).

    Examples
    --------
    >>> import sympy as sp
    >>> from pmdtheory.symbolic import exact_pmd
    >>> d = exact_pmd()
    >>> d.name, d.verified, len(d.checks)
    ('exact_pmd', True, 10)
    >>> wrong = exact_pmd(solution=lambda q, r, tau, z: q * sp.exp(2 * r / tau) / z)
    >>> wrong.verified, "numeric core" in {c.method for c in wrong.checks if not c.passed}
    (False, True)
    """
    solution = solution or exact_solution
    rec = Recorder(
        "exact_pmd",
        "Exact PMD step",
        r"\pi_{t+1} = \arg\max_\pi \mathbb{E}_\pi[r] - \tau\,\mathrm{KL}(\pi\|\pi_t)"
        r" = \frac{\pi_t\, e^{r/\tau}}{Z_t},\quad Z_t = \mathbb{E}_{\pi_t}[e^{r/\tau}]",
        seed,
    )
    J = sum(p * ra for p, ra in zip(ps, rs, strict=True)) - tau * sum(
        p * sp.log(p / q) for p, q in zip(ps, qs, strict=True)
    )
    lagrangian = J + mu * (sum(ps) - 1)
    grad = [sp.diff(lagrangian, p) for p in ps]
    z_val = sum(q * sp.exp(ra / tau) for q, ra in zip(qs, rs, strict=True))
    claim = [solution(q, ra, tau, z_val) for q, ra in zip(qs, rs, strict=True)]
    rec.expressions |= {"objective": J, "lagrangian": lagrangian, "gradient_1": grad[0]}
    rec.expressions |= {"solution_1": claim[0], "Z": z_val}

    p_stat = sp.solve(grad[0], ps[0])
    rec.zero(
        r"\partial_{p_a} L = 0 \iff p_a = \pi_t(a)\, e^{(r_a + \mu - \tau)/\tau}",
        p_stat[0] - qs[0] * sp.exp((rs[0] + mu - tau) / tau) if len(p_stat) == 1 else 1,
        DOMAIN,
    )
    at_claim = {p: c for p, c in zip(ps, claim, strict=True)}
    mu_star = tau - tau * sp.log(z_val)
    for a in range(N_ACTIONS):
        rec.zero(
            rf"\partial_{{p_{a + 1}}} L = 0 \text{{ at the claim, }} \mu = \tau - \tau\log Z",
            grad[a].subs(at_claim).subs(mu, mu_star),
            DOMAIN,
        )
    rec.zero(r"\sum_a \pi_{t+1}(a) = 1", sum(claim) - 1, DOMAIN)
    hess = sp.hessian(J, ps)
    off = [hess[i, j] for i in range(N_ACTIONS) for j in range(N_ACTIONS) if i != j]
    rec.zero(r"\nabla^2 J \text{ is diagonal}", sum(e**2 for e in off), DOMAIN)
    for a in range(N_ACTIONS):
        rec.sign(
            rf"\partial^2 J / \partial p_{a + 1}^2 = -\tau/p_{a + 1} < 0"
            r" \text{ (strictly concave)}",
            hess[a, a],
            DOMAIN,
            positive=False,
        )

    x_fn = mp_function((q_a, r, tau, Z), solution(q_a, r, tau, Z))

    def vs_core():
        err = 0.0
        for pi_t, r_, tau_ in random_cases(rec.rng, N_CASES):
            err = max(
                err, max_abs_diff(exact_update(pi_t, r_, tau_), mp_exact(x_fn, pi_t, r_, tau_))
            )
        return err, f"exact_update vs the solution at {N_CASES} random cases"

    rec.core(r"\texttt{exact\_update} = \pi_t e^{r/\tau}/Z", vs_core)
    return rec.finish()


def pmd_mean_regression(
    *, solution: Callable[[sp.Basic, sp.Basic], sp.Basic] | None = None, seed: int = 0
) -> Derivation:
    r"""Derivation 2: PMD-mean's population solution :math:`x = W_0(\lambda e^b)/\lambda`.

    Parameters
    ----------
    solution : callable, optional
        ``solution(lam, b) -> sympy expr``, the claimed ratio :math:`x(a)`;
        default :math:`W_0(\lambda e^{b})/\lambda`.
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        10 steps: the stationarity condition :math:`\log x + \lambda x = b`, the
        inverse of :math:`w e^w`, the claim solving it, uniqueness of the root and of
        :math:`\lambda > 0`, :math:`\partial_\lambda x < 0`, and ``mean_update``
        (policy and multiplier) against the claim evaluated by mpmath. A perturbed
        multiplier fails (``tests/test_symbolic.py``).

    Examples
    --------
    This derivation takes 2-11 s on a loaded 2-core machine (sympy), so it is
    skipped here; :func:`exact_pmd` shows the same record cheaply.

    >>> from pmdtheory.symbolic import pmd_mean_regression
    >>> d = pmd_mean_regression()  # doctest: +SKIP
    >>> d.name, d.verified, len(d.checks)  # doctest: +SKIP
    ('pmd_mean_regression', True, 10)
    """
    solution = solution or mean_solution
    rec = Recorder(
        "pmd_mean_regression",
        "PMD-mean regression: Lambert W solution",
        r"\min_{x}\ \mathbb{E}_{\pi_t}\big[(\log x - b)^2\big]\ \text{s.t.}"
        r"\ \mathbb{E}_{\pi_t}[x]=1"
        r"\ \Rightarrow\ \log x(a) + \lambda x(a) = b(a),\quad x(a) = \frac{W_0(\lambda e^{b(a)})}"
        r"{\lambda},\ \lambda > 0 \text{ unique}",
        seed,
    )
    loss = sum(q * (sp.log(xa) - ba) ** 2 for q, xa, ba in zip(qs, xs, bs, strict=True))
    lagrangian = loss + mu * (sum(q * xa for q, xa in zip(qs, xs, strict=True)) - 1)
    grad = sp.diff(lagrangian, xs[0])
    star = sp.log(x) + lam * x - b
    claim = solution(lam, b)
    rec.expressions |= {"loss": loss, "lagrangian": lagrangian, "gradient_1": grad}
    rec.expressions |= {"stationarity": sp.Eq(star, 0), "solution": claim}

    rec.zero(
        r"\frac{x_a}{2 q_a}\,\partial_{x_a} L = \log x_a + \lambda x_a - b_a"
        r"\ \text{with}\ \lambda = \mu/2\ (\text{every } a)",
        (grad * xs[0] / (2 * qs[0])).subs(mu, 2 * lam) - star.subs({x: xs[0], b: bs[0]}),
        DOMAIN,
    )
    w = sp.LambertW(Z)
    w_sym = sp.Symbol("w", real=True)
    inverse = sp.solve(w_sym * sp.exp(w_sym) - Z, w_sym)
    rec.true(
        r"w e^w = z,\ z > 0 \iff w = W_0(z)",
        lambda: (inverse == [w], f"sympy.solve(w e^w - z, w) = {inverse}"),
        method=SYMBOLIC,
    )
    rec.zero(r"W_0(z)\, e^{W_0(z)} = z \ \text{(the same, evaluated)}", w * sp.exp(w) - Z, DOMAIN)
    zero_after_w_rule(
        rec,
        r"x = W_0(\lambda e^b)/\lambda \text{ solves } \log x + \lambda x = b"
        r"\ (\text{using } \log W_0(z) = \log z - W_0(z))",
        star.subs(x, claim),
        DOMAIN,
    )
    rec.sign(
        r"\partial_x(\log x + \lambda x) = 1/x + \lambda > 0 \ (\text{unique root})",
        sp.diff(sp.log(x) + lam * x, x),
        DOMAIN,
        positive=True,
    )
    w_lb = sp.LambertW(lam * sp.exp(b))
    d_claim = sp.diff(claim, lam)
    rec.expressions["d_solution_d_lambda"] = d_claim
    # the slope in W = W0(lam e^b) > 0: the step below checks its sign, this one that it
    # is the derivative (one expression for both, so the sign is that of the derivative)
    w_pos = sp.Symbol("W", positive=True)
    slope = -(w_pos**2) / (lam**2 * (1 + w_pos))
    rec.zero(
        r"\partial_\lambda \frac{W_0(\lambda e^b)}{\lambda} = -\frac{W_0^2}{\lambda^2(1+W_0)}",
        d_claim - slope.subs(w_pos, w_lb),
        DOMAIN,
    )
    rec.sign(
        r"-\frac{W^2}{\lambda^2(1+W)} < 0:\ \mathbb{E}_{\pi_t}[x]\ \text{decreases in}\ \lambda"
        r"\ (\lambda\ \text{unique})",
        slope,
        DOMAIN,
        positive=False,
    )
    lam_neg = sp.Symbol("lambda", negative=True)
    rec.sign(
        r"\lambda < 0 \Rightarrow \log x - b = -\lambda x > 0,\ x > e^b",
        -lam_neg * x,
        DOMAIN,
        positive=True,
    )
    weights = (*qs[:-1], 1 - sum(qs[:-1]))  # pi_t(a), summing to 1
    rb = sum(q * ra for q, ra in zip(weights, rs, strict=True))
    e_b = sum(q * (ra - rb) / tau for q, ra in zip(weights, rs, strict=True))
    e_exp_b = sum(q * sp.exp((ra - rb) / tau) for q, ra in zip(weights, rs, strict=True))
    rec.zero(
        r"\mathbb{E}_{\pi_t}[b] = 0,\ \mathbb{E}_{\pi_t}[e^{b}] = Z_t e^{-\bar r/\tau}\ (> 1"
        r" \text{ by Jensen, derivation 8; so } \lambda > 0)",
        e_b**2
        + (
            e_exp_b
            - sp.exp(-rb / tau)
            * sum(q * sp.exp(ra / tau) for q, ra in zip(weights, rs, strict=True))
        )
        ** 2,
        DOMAIN,
    )

    x_fn = mp_function((lam, b), claim)

    def vs_core():
        err = 0.0
        for pi_t, r_, tau_ in random_cases(rec.rng, N_CASES):
            pi_new, lam_core = mean_update(pi_t, r_, tau_, return_lambda=True)
            pi_mp, _, lam_resid = mp_mean(x_fn, pi_t, r_, tau_, lam_check=lam_core)
            err = max(err, max_abs_diff(pi_new, pi_mp), float(lam_resid))
        what = "policy, and the normalisation residual of the core's lam"
        return err, f"mean_update vs the solution: {what} ({N_CASES} cases)"

    rec.core(r"\texttt{mean\_update} = \pi_t W_0(\lambda e^b)/\lambda,\ \lambda", vs_core)
    return rec.finish()


def kl_chi2_equivalence(
    *, beta_claim: Callable[[sp.Basic, sp.Basic], sp.Basic] | None = None, seed: int = 0
) -> Derivation:
    r"""Derivation 3: PMD-mean is mirror descent with :math:`\tau\mathrm{KL} + \frac\beta2\chi^2`.

    Parameters
    ----------
    beta_claim : callable, optional
        ``beta_claim(tau, lam) -> sympy expr``, the claimed chi-square strength;
        default :math:`\beta_t = \tau\lambda_t`.
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        9 steps: the stationarity condition of the KL + chi^2 objective, its strict
        concavity, matching it with PMD-mean's (*) (one solution: the claimed
        :math:`\beta`, and :math:`\nu = \bar r`), and ``kl_chi2_update`` with
        :math:`\beta_t` against ``mean_update`` and ``implicit_beta``. A wrong
        ``beta_claim`` fails a derivation step (refuted at a random point) and the
        numeric-core check (``tests/test_symbolic.py``).

    Examples
    --------
    >>> from pmdtheory.symbolic import kl_chi2_equivalence
    >>> d = kl_chi2_equivalence()
    >>> d.name, d.verified, len(d.checks)
    ('kl_chi2_equivalence', True, 9)
    >>> wrong = kl_chi2_equivalence(beta_claim=lambda tau, lam: 2 * tau * lam)
    >>> wrong.verified, sorted({c.method for c in wrong.checks if not c.passed})
    (False, ['numeric (50 digits)', 'numeric core'])
    """
    beta_claim = beta_claim or (lambda tau_, lam_: tau_ * lam_)
    rec = Recorder(
        "kl_chi2_equivalence",
        "PMD-mean = KL-chi2 mirror descent",
        r"\pi_{\mathrm{mean}} = \arg\max_\pi \mathbb{E}_\pi[r] - \tau\,\mathrm{KL}(\pi\|\pi_t)"
        r" - \tfrac{\beta_t}{2}\chi^2(\pi\|\pi_t),\qquad \beta_t = \tau\lambda_t,\ \nu = \bar r",
        seed,
    )
    chi2 = sum(p**2 / q for p, q in zip(ps, qs, strict=True)) - 1
    J = sum(p * ra for p, ra in zip(ps, rs, strict=True)) - tau * sum(
        p * sp.log(p / q) for p, q in zip(ps, qs, strict=True)
    )
    J = J - beta / 2 * chi2
    lagrangian = J + mu * (sum(ps) - 1)
    ratio = {p: q * xa for p, q, xa in zip(ps, qs, xs, strict=True)}
    grad = sp.expand_log(sp.diff(lagrangian, ps[0]).subs(ratio))
    stat = sp.log(xs[0]) + beta / tau * xs[0] - (rs[0] - nu) / tau
    claim = beta_claim(tau, lam)
    rec.expressions |= {"objective": J, "gradient_1": grad, "stationarity": sp.Eq(stat, 0)}
    rec.expressions["beta"] = claim

    rec.zero(
        r"-\partial_{p_a} L/\tau = \log x_a + \tfrac{\beta}{\tau} x_a - \tfrac{r_a - \nu}{\tau}"
        r"\ \text{with}\ \nu = \tau - \mu",
        -grad / tau - stat.subs(nu, tau - mu),
        DOMAIN,
    )
    hess = sp.hessian(J, ps)
    off = [hess[i, j] for i in range(N_ACTIONS) for j in range(N_ACTIONS) if i != j]
    rec.zero(r"\nabla^2 J_\beta \text{ is diagonal}", sum(e**2 for e in off), DOMAIN)
    rec.sign(
        r"\partial^2 J_\beta/\partial p_a^2 = -\tau/p_a - \beta/q_a < 0\ (\beta \ge 0;"
        r" \text{unique maximiser})",
        hess[0, 0],
        DOMAIN,
        positive=False,
    )
    gap = sp.expand(
        (sp.log(x) + beta / tau * x - (r - nu) / tau) - (sp.log(x) + lam * x - (r - rbar) / tau)
    )
    solved = sp.solve(sp.Poly(gap, x, r).coeffs(), [beta, nu], dict=True)
    rec.expressions["matching"] = sp.Eq(gap, 0)
    rec.true(
        r"\text{matching with } (*) \text{ identically in } x, r \text{ has one solution}",
        lambda: (len(solved) == 1, f"sympy.solve on the coefficients: {solved}"),
        method="symbolic",
    )
    rec.zero(
        r"\text{claimed } \beta = \text{matched } \beta = \tau\lambda",
        claim - solved[0][beta],
        DOMAIN,
    )
    rec.zero(r"\nu = \bar r\ (\mu = \tau - \bar r)", solved[0][nu] - rbar, DOMAIN)
    rec.zero(
        r"\text{at } \beta = \beta_t,\ \mu = \tau - \bar r:\ \partial_{p_a} L"
        r" = -\tau(\log x_a + \lambda x_a - b_a)",
        grad.subs({beta: claim, mu: tau - rbar}) + tau * _star(xs[0], (rs[0] - rbar) / tau),
        DOMAIN,
    )
    beta_fn = sp.lambdify((tau, lam), claim, modules="numpy")

    def vs_core():
        err = 0.0
        for pi_t, r_, tau_ in random_cases(rec.rng, N_CASES):
            pi_mean, lam_core = mean_update(pi_t, r_, tau_, return_lambda=True)
            beta_t = float(beta_fn(tau_, lam_core))
            pi_beta = kl_chi2_update(pi_t, r_, tau_, beta_t)
            err = max(err, float(np.max(np.abs(pi_beta - pi_mean))))
            err = max(err, abs(implicit_beta(pi_t, r_, tau_) / beta_t - 1))
        return err, f"kl_chi2_update(beta) vs mean_update, implicit_beta vs beta ({N_CASES} cases)"

    def kkt():
        err = 0.0
        for pi_t, r_, tau_ in random_cases(rec.rng, N_CASES):
            beta_t = float(beta_fn(tau_, mean_update(pi_t, r_, tau_, return_lambda=True)[1]))
            x_ = np.log(kl_chi2_update(pi_t, r_, tau_, beta_t)) - np.log(pi_t)
            resid = tau_ * x_ + beta_t * np.exp(x_) - r_
            err = max(err, float(np.ptp(resid)) / (1 + float(np.max(np.abs(r_)))))
        return err, "spread over actions of tau log x + beta x - r, kl_chi2_update"

    rec.core(r"\texttt{kl\_chi2\_update}(\beta_t) = \texttt{mean\_update}", vs_core)
    rec.core(r"\tau\log x + \beta_t x - r \text{ constant over actions}", kkt)
    return rec.finish()


def limits(*, seed: int = 0) -> Derivation:
    r"""Derivation 4: :math:`\beta\to0` gives exact PMD, :math:`W_0(\lambda e^b)/\lambda\to e^b`.

    Parameters
    ----------
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        7 steps: the KL-chi^2 stationarity and its solution :math:`x_\beta` as
        :math:`\beta\to0`, the normaliser :math:`\nu = \tau\log Z_t` at
        :math:`\beta = 0`, the series of :math:`W_0(\lambda e^b)/\lambda` to
        :math:`O(\lambda^3)` with its remainder bound (50 digits), and
        ``kl_chi2_update`` at :math:`\beta = 0` and :math:`10^{-13}` against
        ``exact_update``.

    Examples
    --------
    >>> from pmdtheory.symbolic import limits
    >>> d = limits(seed=3)
    >>> d.name, d.verified, len(d.checks)
    ('limits', True, 7)
    """
    rec = Recorder(
        "limits",
        "Limits: beta -> 0 and lambda -> 0",
        r"\lim_{\beta\to0}\pi_\beta = \pi_t e^{r/\tau}/Z_t,\qquad \frac{W_0(\lambda e^b)}{\lambda}"
        r" = e^b - \lambda e^{2b} + \tfrac32\lambda^2 e^{3b} + O(\lambda^3)",
        seed,
    )
    beta_pos = sp.Symbol("beta", positive=True)
    stat = sp.log(x) + beta_pos / tau * x - (r - nu) / tau
    x_beta = mean_solution(beta_pos / tau, (r - nu) / tau)
    series = sp.series(mean_solution(lam, b), lam, 0, 3)
    expected = sp.exp(b) - lam * sp.exp(2 * b) + sp.Rational(3, 2) * lam**2 * sp.exp(3 * b)
    nu_sol = sp.solve(
        sum(q * sp.exp((ra - nu) / tau) for q, ra in zip(qs, rs, strict=True)) - 1, nu
    )
    z_val = sum(q * sp.exp(ra / tau) for q, ra in zip(qs, rs, strict=True))
    rec.expressions |= {"x_beta": x_beta, "series": series, "nu_at_beta_0": sp.Tuple(*nu_sol)}

    rec.zero(
        r"\lim_{\beta\to0}\big[\log x + \tfrac\beta\tau x - \tfrac{r-\nu}\tau\big]"
        r" = \log x - \tfrac{r-\nu}\tau",
        sp.limit(stat, beta_pos, 0) - (sp.log(x) - (r - nu) / tau),
        DOMAIN,
    )
    zero_after_w_rule(
        rec,
        r"x_\beta = \tfrac{\tau}{\beta} W_0\big(\tfrac\beta\tau e^{(r-\nu)/\tau}\big)"
        r" \text{ solves the KL-}\chi^2\text{ stationarity}",
        stat.subs(x, x_beta),
        DOMAIN,
    )
    rec.zero(
        r"\lim_{\beta\to0} x_\beta = e^{(r-\nu)/\tau}",
        sp.limit(x_beta, beta_pos, 0) - sp.exp((r - nu) / tau),
        DOMAIN,
    )
    rec.true(
        r"\beta = 0:\ \textstyle\sum_a \pi_t(a) e^{(r_a-\nu)/\tau} = 1 \iff \nu = \tau\log Z_t",
        lambda: (
            len(nu_sol) == 1 and sp.simplify(sp.expand_log(nu_sol[0] - tau * sp.log(z_val))) == 0,
            f"sympy.solve gives nu = {nu_sol}",
        ),
        method="symbolic",
    )
    rec.zero(
        r"\frac{W_0(\lambda e^b)}{\lambda} = e^b - \lambda e^{2b} + \tfrac32\lambda^2 e^{3b}"
        r" + O(\lambda^3)",
        series.removeO() - expected,
        DOMAIN,
    )

    def remainder():
        rng = rec.rng
        with mp.workdps(50):
            for _ in range(40):
                lam_ = mp.mpf(10.0 ** rng.uniform(-4, -2))
                b_ = mp.mpf(rng.uniform(-2, 2))
                exact = mp.lambertw(lam_ * mp.exp(b_)).real / lam_
                approx = mp.exp(b_) - lam_ * mp.exp(2 * b_) + 1.5 * lam_**2 * mp.exp(3 * b_)
                bound = 3 * lam_**3 * mp.exp(4 * b_)
                if abs(exact - approx) > bound:
                    return False, f"remainder {exact - approx} > {bound} at lam={lam_}, b={b_}"
        return True, "|remainder| <= 3 lam^3 e^{4b} at 40 random (lam, b), 50 digits"

    rec.true(r"\text{remainder} = O(\lambda^3)", remainder, method=NUMERIC)

    def vs_core():
        err = 0.0
        for pi_t, r_, tau_ in random_cases(rec.rng, N_CASES):
            pi_exact = exact_update(pi_t, r_, tau_)
            err = max(err, float(np.max(np.abs(kl_chi2_update(pi_t, r_, tau_, 0.0) - pi_exact))))
            err = max(err, float(np.max(np.abs(kl_chi2_update(pi_t, r_, tau_, 1e-13) - pi_exact))))
        return err, f"kl_chi2_update(beta=0 and 1e-13) vs exact_update ({N_CASES} cases)"

    rec.core(r"\texttt{kl\_chi2\_update}(\beta\to 0) = \texttt{exact\_update}", vs_core)
    return rec.finish()
