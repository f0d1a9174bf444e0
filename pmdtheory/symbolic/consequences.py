r"""Derivations 5-6: large tau and binary rewards.

See THEORY §2, §4 and §6. Each function returns a
:class:`~pmdtheory.symbolic.check.Derivation`.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from pmdtheory import binary_update, log_partition, mean_update
from pmdtheory.symbolic.check import Derivation, Recorder
from pmdtheory.symbolic.numeric import DPS, N_CASES, mp_function, mp_mean, random_cases
from pmdtheory.symbolic.solutions import exact_solution, mean_solution

eps = sp.Symbol("epsilon", positive=True)  # 1/tau
tau = sp.Symbol("tau", positive=True)
lam = sp.Symbol("lambda", positive=True)
p = sp.Symbol("p", positive=True)
q, q1, q2 = sp.symbols("q q1 q2", positive=True)
r1, r2, r3, b = sp.symbols("r1 r2 r3 b", real=True)
x_neg, x_pos, z = sp.symbols("x_- x_+ z", positive=True)
c2, c3 = sp.symbols("c2 c3")

DOMAIN = {eps: (0, 2), tau: (0.05, 5), lam: (0.01, 5), p: (0, 1), q: (0, 1)}
DOMAIN |= {q1: (0, 0.45), q2: (0, 0.45), r1: (-1, 1), r2: (-1, 1), r3: (-1, 1), b: (-4, 4)}
DOMAIN |= {x_neg: (0.01, 5), x_pos: (0.01, 5), z: (0, 5)}

#: symbolic distributions over 2 and 3 actions: (probabilities, rewards)
DISTRIBUTIONS = {2: ((q, 1 - q), (r1, r2)), 3: ((q1, q2, 1 - q1 - q2), (r1, r2, r3))}


def _moments(qs, rs):
    rbar = sum(a * c for a, c in zip(qs, rs, strict=True))
    var = sum(a * (c - rbar) ** 2 for a, c in zip(qs, rs, strict=True))
    mu3 = sum(a * (c - rbar) ** 3 for a, c in zip(qs, rs, strict=True))
    return rbar, var, mu3


def _taylor_coeffs(expr, order):
    """Taylor coefficients of ``expr`` in eps at 0, up to ``eps**order``."""
    coeffs = []
    for k in range(order + 1):
        coeffs.append(expr.subs(eps, 0) / sp.factorial(k))
        expr = sp.diff(expr, eps)
    return coeffs


def large_tau(*, seed: int = 0) -> Derivation:
    r"""Derivation 5: the large-tau series of the log-partition gap and of :math:`\lambda`.

    :math:`\tau\log Z - \bar r = \mathrm{Var}/(2\tau) + \mu_3/(6\tau^2) + O(\tau^{-3})`
    and :math:`\lambda = \mathrm{Var}/(2\tau^2) + \mu_3/(6\tau^3) + O(\tau^{-4})`, by
    series in :math:`\epsilon = 1/\tau` on symbolic distributions over 2 and 3 actions.

    Parameters
    ----------
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        16 steps: the series of :math:`W_0`, then for 2 and 3 actions the gap's
        coefficients and the multiplier's (:math:`c_2, c_3`, one solution), and
        ``log_partition`` and ``mean_update``'s :math:`\lambda` against the series for
        r in [0, 1], tau from 30 to 300.

    Examples
    --------
    This derivation takes 2-4 s on a loaded 2-core machine (sympy series), so it
    is skipped here; :func:`binary_rewards` shows the same record cheaply.

    >>> from pmdtheory.symbolic import large_tau
    >>> d = large_tau()  # doctest: +SKIP
    >>> d.name, d.verified, len(d.checks)  # doctest: +SKIP
    ('large_tau', True, 16)
    """
    rec = Recorder(
        "large_tau",
        "Large tau: log-partition gap and multiplier",
        r"\tau\log Z_t - \bar r = \frac{\mathrm{Var}_{\pi_t}(r)}{2\tau} + \frac{\mu_3}{6\tau^2}"
        r" + O(\tau^{-3}),\qquad \lambda_t = \frac{\mathrm{Var}_{\pi_t}(r)}{2\tau^2}"
        r" + \frac{\mu_3}{6\tau^3} + O(\tau^{-4})",
        seed,
    )
    w_series = sp.series(sp.LambertW(z), z, 0, 4).removeO()
    rec.zero(
        r"W_0(z) = z - z^2 + \tfrac32 z^3 + O(z^4)", w_series - (z - z**2 + z**3 * 3 / 2), DOMAIN
    )
    x_lam = sp.expand(w_series.subs(z, lam * z) / lam)  # W(lam z)/lam, polynomial in lam
    for n, (qs, rs) in DISTRIBUTIONS.items():
        rbar, var, mu3 = _moments(qs, rs)
        # Differentiate in eps with plain symbols dev_a for the deviations r_a - rbar
        # (cheap), and substitute them only into the Taylor coefficients.
        devs = sp.symbols(f"dev1:{n + 1}", real=True)
        at_dev = {dv: c - rbar for dv, c in zip(devs, rs, strict=True)}
        # tau log Z - rbar = G(eps)/eps with G = log E[e^{eps (r - rbar)}], G(0) = 0.
        big_g = sp.log(sum(a * sp.exp(eps * dv) for a, dv in zip(qs, devs, strict=True)))
        coeffs = [sp.expand(c.subs(at_dev)) for c in _taylor_coeffs(big_g, 3)]
        rec.expressions[f"gap_coefficients_{n}"] = sp.Tuple(*coeffs[1:])
        rec.zero(
            rf"n={n}:\ [\tau^0]\ (\tau\log Z - \bar r) = 0",
            coeffs[0] ** 2 + coeffs[1] ** 2,
            DOMAIN,
        )
        rec.zero(rf"n={n}:\ [\tau^{{-1}}] = \mathrm{{Var}}/2", coeffs[2] - var / 2, DOMAIN)
        rec.zero(rf"n={n}:\ [\tau^{{-2}}] = \mu_3/6", coeffs[3] - mu3 / 6, DOMAIN)
        # lam = O(eps^2) makes lam e^{b} = O(eps^2), so W's cubic Taylor polynomial is
        # exact through eps^3 in the normalisation; its eps^k coefficients are taken as
        # k-th derivatives at eps = 0 (far cheaper than sympy.series here).
        ansatz = c2 * eps**2 + c3 * eps**3
        x_a = [x_lam.subs({lam: ansatz, z: sp.exp(eps * dv)}) for dv in devs]
        norm = sum(a * xa for a, xa in zip(qs, x_a, strict=True)) - 1
        lower = [sp.expand(c.subs(at_dev)) for c in _taylor_coeffs(norm, 3)]
        sols = sp.solve(lower[2:], [c2, c3], dict=True)
        rec.expressions[f"lambda_coefficients_{n}"] = sp.Tuple(*lower)
        rec.zero(
            rf"n={n}:\ \textstyle\sum_a \pi_t x_a - 1 = O(\epsilon^2)",
            lower[0] ** 2 + lower[1] ** 2,
            DOMAIN,
        )

        def one_solution(sols: list = sols) -> tuple[bool, str]:
            return len(sols) == 1, f"sympy.solve: {len(sols)} solution(s)"

        rec.true(
            rf"n={n}:\ [\epsilon^2], [\epsilon^3] \text{{ of the normalisation fix }} c_2, c_3",
            one_solution,
            method="symbolic",
        )
        sol = sols[0] if len(sols) == 1 else {c2: sp.nan, c3: sp.nan}
        rec.zero(rf"n={n}:\ c_2 = \mathrm{{Var}}/2", sol[c2] - var / 2, DOMAIN)
        rec.zero(rf"n={n}:\ c_3 = \mu_3/6", sol[c3] - mu3 / 6, DOMAIN)

    def vs_core():
        worst = 0.0
        for tau_ in (30.0, 100.0, 300.0):
            for pi_t, r_, _ in random_cases(rec.rng, N_CASES, r_range=(0.0, 1.0)):
                dev = r_ - pi_t @ r_
                var_, mu3_ = pi_t @ dev**2, pi_t @ dev**3
                lam_ = mean_update(pi_t, r_, tau_, return_lambda=True)[1]
                gap_ = log_partition(pi_t, r_, tau_) - pi_t @ r_
                worst = max(worst, abs(gap_ - var_ / (2 * tau_) - mu3_ / (6 * tau_**2)) * tau_**3)
                worst = max(
                    worst, abs(lam_ - var_ / (2 * tau_**2) - mu3_ / (6 * tau_**3)) * tau_**4
                )
        return worst, "of tau^3 |gap - series| and tau^4 |lam - series|, r in [0,1], tau 30..300"

    rec.core(r"\texttt{log\_partition}, \lambda \text{ follow the series}", vs_core, tol=0.1)
    return rec.finish()


def binary_rewards(*, seed: int = 0) -> Derivation:
    r"""Derivation 6: binary rewards: exact closed form, the :math:`(x_+, x_-)` system.

    Parameters
    ----------
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        9 steps: exact PMD's closed form :math:`p'` and its odds, the centred
        rewards :math:`b_\pm`, :math:`x_- < e^{-p/\tau}` and :math:`x_+ <
        e^{(1-p)/\tau}`, the small-:math:`\lambda` limit, and ``binary_update``
        (exact and mean) against the closed form and the :math:`W_0` system on a
        grid of 20 (p, tau), with THEORY §6's example p = 0.01, tau = 0.05.

    Examples
    --------
    >>> from pmdtheory.symbolic import binary_rewards
    >>> d = binary_rewards()
    >>> d.name, d.verified, len(d.checks)
    ('binary_rewards', True, 9)
    >>> print(d.checks[-1].detail)
    p=0.01, tau=0.05: exact p'=0.9999998 (THEORY: 0.9999998), mean p'=0.3794 (0.379)
    """
    rec = Recorder(
        "binary_rewards",
        "Binary rewards",
        r"p' = \frac{p e^{1/\tau}}{p e^{1/\tau} + 1 - p};\quad \log x_\pm + \lambda x_\pm = b_\pm,"
        r"\ b_+ = \tfrac{1-p}{\tau},\ b_- = -\tfrac{p}{\tau},\ p x_+ + (1-p) x_- = 1;"
        r"\quad x_- < e^{-p/\tau}",
        seed,
    )
    z_val = p * sp.exp(1 / tau) + (1 - p)
    p_new = exact_solution(p, 1, tau, z_val)
    closed = p * sp.exp(1 / tau) / (p * sp.exp(1 / tau) + 1 - p)
    rbar = p * 1 + (1 - p) * 0
    b_pos, b_neg = (1 - rbar) / tau, (0 - rbar) / tau
    system = [
        sp.Eq(sp.log(x_pos) + lam * x_pos, b_pos),
        sp.Eq(sp.log(x_neg) + lam * x_neg, b_neg),
        sp.Eq(p * x_pos + (1 - p) * x_neg, 1),
    ]
    rec.expressions |= {"p_exact": closed, "system": sp.Tuple(*system)}
    rec.zero(
        r"\text{exact PMD on } (p, 1-p),\ r = (1, 0) \text{ gives } p'", p_new - closed, DOMAIN
    )
    rec.zero(
        r"\tfrac{1-p'}{p'} = \tfrac{1-p}{p} e^{-1/\tau}\ (\text{odds of failure} / e^{1/\tau})",
        (1 - closed) / closed - (1 - p) / p * sp.exp(-1 / tau),
        DOMAIN,
    )
    rec.zero(
        r"\bar r = p,\ b_+ = (1-p)/\tau,\ b_- = -p/\tau",
        (b_pos - (1 - p) / tau) ** 2 + (b_neg + p / tau) ** 2,
        DOMAIN,
    )
    rec.sign(
        r"\log x_- - (-p/\tau) = -\lambda x_- < 0 \Rightarrow x_- < e^{-p/\tau}",
        (system[1].rhs - lam * x_neg) + p / tau,  # log x_- from its equation, plus p/tau
        DOMAIN,
        positive=False,
    )
    rec.sign(
        r"\text{likewise } x_+ < e^{(1-p)/\tau}",
        (system[0].rhs - lam * x_pos) - (1 - p) / tau,
        DOMAIN,
        positive=False,
    )
    rec.zero(
        r"x_-e^{p/\tau} = \frac{W_0(\lambda e^{-p/\tau})}{\lambda e^{-p/\tau}} \to 1"
        r"\ \text{as } \lambda e^{-p/\tau}\to 0",
        sp.limit(sp.LambertW(z) / z, z, 0) - 1,
        DOMAIN,
    )
    x_fn = mp_function((lam, b), mean_solution(lam, b))
    grid = [(pp, tt) for pp in (0.01, 0.05, 0.2, 0.5, 0.9) for tt in (0.02, 0.05, 0.3, 2.0)]

    def exact_vs_core():
        ex = mp_function((p, tau), closed)
        with mp.workdps(DPS):
            err = max(
                abs(binary_update(pp, tt, method="exact").p_new - ex(pp, tt)) for pp, tt in grid
            )
        return float(
            err
        ), f"binary_update(method='exact').p_new vs the closed form ({len(grid)} points)"

    def mean_vs_core():
        err = 0.0
        for pp, tt in grid:
            out = binary_update(pp, tt)
            pi_mp, _, resid = mp_mean(
                x_fn, np.array([pp, 1 - pp]), np.array([1.0, 0.0]), tt, lam_check=out.lam
            )
            err = max(err, float(abs(out.p_new - pi_mp[0])), float(resid))
            err = max(
                err,
                float(abs(pp * out.x_pos - pi_mp[0])),
                float(abs((1 - pp) * out.x_neg - pi_mp[1])),
            )
            # strict in exact arithmetic; in float64 lam x_- can vanish next to p/tau
            if not out.log_x_neg <= -pp / tt:
                return np.inf, f"log x_neg > -p/tau at p={pp}, tau={tt}"
        return (
            err,
            f"binary_update(method='mean') p_new, x_+, x_-, lam vs the W_0 system"
            f" ({len(grid)} points)",
        )

    def paper():
        ex = binary_update(0.01, 0.05, method="exact").p_new
        mean = binary_update(0.01, 0.05).p_new
        ok = round(ex, 7) == 0.9999998 and round(mean, 3) == 0.379
        return (
            ok,
            f"p=0.01, tau=0.05: exact p'={ex:.7f} (THEORY: 0.9999998), mean p'={mean:.4f} (0.379)",
        )

    rec.core(r"\texttt{binary\_update}(\text{exact}) = p'", exact_vs_core)
    rec.core(
        r"\texttt{binary\_update}(\text{mean}) \text{ solves the system}, x_- < e^{-p/\tau}",
        mean_vs_core,
    )
    rec.true(r"\text{THEORY §6 example: } p = 0.01, \tau = 0.05", paper, method="numeric core")
    return rec.finish()
