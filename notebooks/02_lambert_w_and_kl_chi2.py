# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Lambert W, Wright omega and the KL-$\chi^2$ equivalence
#
# Notebook 01 showed that PMD-mean's population solution is not the exact PMD
# step. Here we derive what it *is* (THEORY.md §4-§5):
#
# 1. the stationarity condition $\log x + \lambda x = b$ and its Lambert-W solution,
#    derived with sympy and then machine-checked with `pmdtheory.symbolic`;
# 2. the Wright omega function, which makes the solution computable for tiny $\tau$;
# 3. the equivalence: PMD-mean is mirror descent with the regulariser
#    $\tau\,\mathrm{KL} + \frac{\beta_t}{2}\chi^2$, $\beta_t = \tau\lambda_t$;
# 4. your own PMD-mean solver, checked with `pmdtheory.testing`.
#
# Run time: about 20 s on a shared 2-core CPU, mostly the symbolic checks.

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from scipy.optimize import brentq

from pmdtheory import (
    exact_update,
    implicit_beta,
    kl_chi2_update,
    lambertw0,
    logsumexp,
    mean_update,
    wright_omega,
)
from pmdtheory.plotting import apply_style, method_style

apply_style()  # the package's shared figure style

# %% [markdown]
# ## 1. The derivation, by hand with sympy
#
# PMD-mean fits the log-ratio $\log x(a) = \log\pi(a)/\pi_t(a)$ to the target
# $b(a) = (r(a) - \bar r)/\tau$ under the constraint $\sum_a \pi_t(a) x(a) = 1$.
# The Lagrangian per action is
# $\pi_t(a)\,(\log x_a - b_a)^2 + 2\lambda\,\pi_t(a)\, x_a$ (one multiplier
# $\lambda$ for the whole context). Set its derivative to zero:

# %%
x, lam, p = sp.symbols("x lambda p", positive=True)
b = sp.Symbol("b", real=True)
lagrangian = p * (sp.log(x) - b) ** 2 + 2 * lam * p * x
stationarity = sp.simplify(sp.diff(lagrangian, x) * x / (2 * p))
sp.Eq(stationarity, 0)

# %% [markdown]
# That is $\log x + \lambda x = b$ (THEORY.md eq. (\*)). sympy solves it with the
# Lambert W function, $W(z)e^{W(z)} = z$:

# %%
x_mean = sp.solve(sp.Eq(stationarity, 0), x)[0]
print("x =", x_mean)
# Check it: sympy needs the defining identity log W(z) = log z - W(z) (z > 0) spelled out.
W = sp.LambertW(lam * sp.exp(b))
residual = sp.expand_log(stationarity.subs(x, x_mean), force=True)
assert sp.simplify(residual.subs(sp.log(W), sp.log(lam) + b - W)) == 0

# %% [markdown]
# Now the other problem: one mirror-descent step with a KL *and* a $\chi^2$ penalty,
#
# $$\max_\pi\ \mathbb E_\pi[r] - \tau\,\mathrm{KL}(\pi\|\pi_t)
#   - \tfrac\beta2\,\chi^2(\pi\|\pi_t),$$
#
# written in $x_a = \pi(a)/\pi_t(a)$ with a multiplier $\nu$ for normalisation.
# Its stationarity condition has the same shape, with $\lambda \to \beta/\tau$:

# %%
tau, beta, nu, r = sp.symbols("tau beta nu r", real=True)
objective_a = p * x * r - tau * p * x * sp.log(x) - beta / 2 * p * x**2 - nu * p * x
kkt = sp.expand(sp.diff(objective_a, x) / (p * tau))
x_kl_chi2 = sp.solve(sp.Eq(kkt, 0), x)[0]
print("KKT:", kkt, "= 0")
print("x   =", x_kl_chi2)
# Same function as x_mean once lambda = beta/tau and b = (r - nu - tau)/tau:
same = x_mean.subs({lam: beta / tau, b: (r - nu - tau) / tau}) - x_kl_chi2
assert abs(float(same.subs({beta: 0.7, tau: 0.3, r: 0.2, nu: -0.1}))) < 1e-12

# %% [markdown]
# The constant $(\nu + \tau)/\tau$ is fixed by normalisation, exactly as $\bar r$
# is absorbed there on the PMD-mean side. So the PMD-mean solution **is** the
# KL-$\chi^2$ step with $\beta_t = \tau\lambda_t$.
#
# ## 2. Every step machine-checked: `pmdtheory.symbolic`
#
# `pmdtheory.symbolic` redoes these derivations properly (any number of actions,
# the normalisation, uniqueness of $\lambda$) and checks each step: by sympy
# simplification, by 50-digit mpmath evaluation where sympy cannot close it, and
# against the float64 numeric core. Each function returns a record with the
# statement, the checks, `verified` and an `explanation`. (`verify_all()` runs
# all eight derivations, about 25 s; the command `pmdtheory derive` writes them
# up as Markdown.) Here are the three of this notebook:

# %%
from pmdtheory import symbolic  # noqa: E402  (imported here: it is the topic of this section)

records = [symbolic.exact_pmd(), symbolic.pmd_mean_regression(), symbolic.kl_chi2_equivalence()]
for rec in records:
    print(f"{'OK ' if rec.verified else 'FAIL'} {rec.name:22s} {rec.explanation}")
    print(f"     {rec.statement}")
assert all(rec.verified for rec in records)

# %% [markdown]
# A checker that cannot fail proves nothing. The claims can be replaced: with a
# wrong weight, say $\beta_t = 2\tau\lambda_t$, the equivalence is reported as
# failed, and the failing steps say why.

# %%
wrong = symbolic.kl_chi2_equivalence(beta_claim=lambda tau, lam: 2 * tau * lam)
print(wrong.verified, "|", wrong.explanation)
for check in wrong.checks:
    if not check.passed:
        print("  failed:", check.claim, "--", check.detail[:100])
assert not wrong.verified

# %% [markdown]
# ## 3. Computing it: the Wright omega function
#
# $x = W_0(\lambda e^{b})/\lambda$ is correct but useless at LLM temperatures:
# with $\tau = 10^{-3}$ and rewards in $[0, 1]$, $b$ reaches 1000 and $e^{b}$
# overflows. Write $\ell = \log\lambda$ and use the Wright omega function
# $\omega(y) = W_0(e^y)$, defined by $\omega + \log\omega = y$:
#
# $$\log x(a) = b(a) - \omega(\ell + b(a)),\qquad
#   \lambda x(a) = \omega(\ell + b(a)).$$
#
# $\omega$ behaves like $e^y$ for $y\to-\infty$ and like $y - \log y$ for
# $y\to+\infty$, and never overflows.

# %%
y = np.linspace(-6, 1000, 4000)
omega = wright_omega(y)
assert np.allclose(omega + np.log(omega), y, rtol=1e-13, atol=1e-13)
with np.errstate(over="ignore", invalid="ignore"):
    naive = lambertw0(np.exp(y))  # inf once exp(y) overflows (y > 709)
print(
    f"W0(e^y) finite up to y = {y[np.isfinite(naive)].max():.0f}; omega finite everywhere: "
    f"{np.all(np.isfinite(omega))}"
)

y_small = np.linspace(-6, 8, 300)
fig, ax = plt.subplots(figsize=(5.5, 3.4))
ax.plot(y_small, wright_omega(y_small), lw=2, label=r"$\omega(y)$")
ax.plot(y_small[y_small < 1], np.exp(y_small[y_small < 1]), ":", label=r"$e^y$")
ax.plot(
    y_small[y_small > 1.5],
    y_small[y_small > 1.5] - np.log(y_small[y_small > 1.5]),
    "--",
    label=r"$y - \log y$",
)
ax.set(xlabel="$y$", title=r"Wright omega: $\omega + \log\omega = y$")
ax.legend()
fig.tight_layout()

# %% [markdown]
# $\ell$ is the root of $g(\ell) = \operatorname{logsumexp}_a\big(\log\pi_t(a) + b(a)
# - \omega(\ell + b(a))\big)$, which is decreasing with
# $g'(\ell) = -\sum_a q(a)\,\omega_a/(1+\omega_a)$ ($q$ the normalised candidate),
# so Newton's method or any bracketing solver finds it.
#
# ## 4. $\beta_t = \tau\lambda_t$: one policy, two descriptions
#
# Back to the prompt of notebook 01. `implicit_beta` returns $\beta_t$, and
# `kl_chi2_update` with that $\beta$ reproduces `mean_update`; $\beta = 0$ gives
# exact PMD.

# %%
pi_t = np.array([0.40, 0.25, 0.20, 0.10, 0.05])
r_a = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
tau_0 = 0.2
beta_t = implicit_beta(pi_t, r_a, tau_0)
pi_mean = mean_update(pi_t, r_a, tau_0)
print(f"beta_t = {beta_t:.4f}")
print("mean_update          :", np.round(pi_mean, 6))
print("kl_chi2_update(beta_t):", np.round(kl_chi2_update(pi_t, r_a, tau_0, beta_t), 6))
assert np.allclose(kl_chi2_update(pi_t, r_a, tau_0, beta_t), pi_mean, atol=1e-12)
assert np.allclose(kl_chi2_update(pi_t, r_a, tau_0, 0.0), exact_update(pi_t, r_a, tau_0))

# %% [markdown]
# The KL-$\chi^2$ step traces a path from exact PMD ($\beta = 0$) towards
# $\pi_t$ ($\beta\to\infty$); PMD-mean picks the point $\beta_t$ on it,
# adaptively: $\beta_t$ depends on $\pi_t$, $r$ and $\tau$.

# %%
betas = np.logspace(-3, 2, 120)
n_b = len(betas)
path = kl_chi2_update(np.tile(pi_t, (n_b, 1)), np.tile(r_a, (n_b, 1)), tau_0, betas)
taus = np.logspace(-2, 2, 120)
n_t = len(taus)
beta_of_tau = implicit_beta(np.tile(pi_t, (n_t, 1)), np.tile(r_a, (n_t, 1)), taus)
var_r = pi_t @ (r_a - pi_t @ r_a) ** 2

fig, axs = plt.subplots(1, 2, figsize=(10, 3.5))
axs[0].semilogx(betas, path @ r_a, **method_style("kl_chi2", label=r"KL-$\chi^2$ step"))
axs[0].axhline(exact_update(pi_t, r_a, tau_0) @ r_a, **method_style("exact"))
axs[0].plot(
    [beta_t],
    [pi_mean @ r_a],
    "o",
    color=method_style("mean")["color"],
    label=r"PMD-mean $=$ step at $\beta_t$",
)
axs[0].set(xlabel=r"$\beta$", ylabel=r"$\mathbb{E}_{\pi}[r]$", title=rf"$\tau = {tau_0}$")
axs[0].legend()
axs[1].loglog(taus, beta_of_tau, **method_style("mean", label=r"$\beta_t = \tau\lambda_t$"))
axs[1].loglog(
    taus[taus > 1],
    var_r / (2 * taus[taus > 1]),
    **method_style("reference", label=r"$\mathrm{Var}_{\pi_t}(r)/2\tau$"),
)
axs[1].set(xlabel=r"$\tau$", ylabel=r"$\beta_t$", title="the implied weight")
axs[1].legend()
fig.tight_layout()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Write your own PMD-mean solver for one context: compute $b$,
# find $\ell$ with `brentq` (bracket: $g > 0$ at $\ell = -\max b - 40$ and
# $g < 0$ at $\ell = \log\max(b_{\max}, 1) + 1$) and return $\pi_{t+1}$. Then
# `pmdtheory.testing` checks it: the KKT residual $\tau\log x + \beta_t x - r$
# must be constant over actions, and an independent KL-$\chi^2$ solver at
# $\beta_t$ must reproduce it, on many random cases.


# %%
def my_mean_update(pi_t, r, tau):
    """PMD-mean's population solution for one context (your code here)."""
    raise NotImplementedError


# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
def my_mean_update(pi_t, r, tau):  # noqa: F811 (replaces your version)
    """PMD-mean's population solution for one context, via Wright omega."""
    pi_t, r = np.asarray(pi_t, float), np.asarray(r, float)
    on = pi_t > 0  # actions outside the support stay at zero
    log_pi, b = np.log(pi_t[on]), (r[on] - pi_t[on] @ r[on]) / tau
    if np.ptp(b) == 0:  # constant reward: nothing to learn, lambda = 0
        return pi_t.copy()

    def g(ell):  # log of the total mass of the candidate policy; decreasing in ell
        return logsumexp(log_pi + b - wright_omega(ell + b))

    ell = brentq(g, -b.max() - 40.0, np.log(max(b.max(), 1.0)) + 1.0, xtol=1e-14, rtol=1e-15)
    out = np.zeros_like(pi_t)
    log_new = log_pi + b - wright_omega(ell + b)
    out[on] = np.exp(log_new - logsumexp(log_new))
    return out


# %%
from pmdtheory.testing import assert_kkt, check_kl_chi2_equivalence  # noqa: E402

pi_mine = my_mean_update(pi_t, r_a, tau_0)
assert np.allclose(pi_mine, pi_mean, atol=1e-10)
assert_kkt(pi_t, r_a, tau_0, pi_mine)
check_kl_chi2_equivalence(my_mean_update, max_examples=50)  # hypothesis draws 50 problems
print("Exercise 1 passed: your solver satisfies the KKT conditions and the equivalence")

# %% [markdown]
# **Exercise 2.** For large $\tau$, $\lambda_t \approx \mathrm{Var}_{\pi_t}(r)/(2\tau^2)$,
# so $\beta_t \approx \mathrm{Var}_{\pi_t}(r)/(2\tau)$: PMD-mean's extra penalty
# fades, and it agrees with exact PMD to first order. Compute the ratio of
# `implicit_beta` to this prediction at $\tau = 100$, as `ratio`.

# %%
ratio = None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
ratio = implicit_beta(pi_t, r_a, 100.0) / (var_r / (2 * 100.0))

# %%
assert abs(ratio - 1) < 0.01, ratio
print(f"Exercise 2 passed: beta_t / (Var/2tau) = {ratio:.5f} at tau = 100")
