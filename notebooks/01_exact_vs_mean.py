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
# # 01 · Exact PMD versus PMD-mean on one prompt
#
# One prompt, five possible responses. We take one policy mirror descent (PMD)
# step in two ways and look at what differs:
#
# 1. the **exact** step, which needs the log-partition $\tau \log Z_t$;
# 2. why an LLM cannot compute that term;
# 3. **PMD-mean**, which replaces it by the mean reward $\bar r$ (Kimi K1.5/K2,
#    Xu, Lu, Yu, Zhao 2026), and the Lambert-W policy it really converges to;
# 4. what changes: PMD-mean is more conservative.
#
# Formulas follow `THEORY.md` §2-§4 of the project. Everything here is the public
# `pmdtheory` API. Run time: about 3 s (a shared 2-core CPU).

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize

from pmdtheory import exact_update, kl, log_partition, logsumexp, mean_update
from pmdtheory.estimators import baseline
from pmdtheory.plotting import apply_style, method_style

apply_style()  # the package's shared figure style
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The setting
#
# The current policy $\pi_t$ puts most mass on poor responses; the best response
# (reward 1) has probability 0.05. The KL strength is $\tau = 0.2$.

# %%
pi_t = np.array([0.40, 0.25, 0.20, 0.10, 0.05])
r = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
tau = 0.2
rbar = pi_t @ r
print(f"mean reward under pi_t: rbar = {rbar:.3f}")

# %% [markdown]
# ## 2. The exact PMD step
#
# $$\pi_{t+1} = \arg\max_\pi\; \mathbb E_\pi[r] - \tau\,\mathrm{KL}(\pi\,\|\,\pi_t)
# \quad\Longrightarrow\quad
# \pi_{t+1}(a) = \frac{\pi_t(a)\, e^{r(a)/\tau}}{Z_t},\qquad
# Z_t = \mathbb E_{\pi_t}\!\left[e^{r/\tau}\right].$$
#
# The log-ratio $\log x(a) = \log \pi_{t+1}(a)/\pi_t(a) = (r(a) - \tau\log Z_t)/\tau$
# is a straight line in $r$ with slope $1/\tau$. The intercept is fixed by
# normalisation: that is all $\tau \log Z_t$ does.

# %%
pi_exact = exact_update(pi_t, r, tau)
tau_log_Z = log_partition(pi_t, r, tau)
log_x_exact = np.log(pi_exact / pi_t)
print("pi_exact      :", np.round(pi_exact, 4))
print(f"tau log Z_t   : {tau_log_Z:.4f}   (rbar = {rbar:.4f}, max r = {r.max():.1f})")
print("tau log x - r :", np.round(tau * log_x_exact - r, 12), "(constant = -tau log Z_t)")
assert np.allclose(tau * log_x_exact - r, -tau_log_Z)

# %% [markdown]
# ## 3. The log-partition, and why an LLM cannot compute it
#
# $\tau\log Z_t$ interpolates between the best reward and the mean reward:
# $\tau\log Z_t \to \max r$ as $\tau\to 0$, $\to \bar r$ as $\tau \to\infty$, and
# by Jensen $\tau\log Z_t \ge \bar r$ always, with the gap
# $\approx \mathrm{Var}_{\pi_t}(r)/(2\tau)$ for large $\tau$.

# %%
taus = np.logspace(-2, 2, 200)
# tau broadcasts over the batch shape: stack one copy of the prompt per tau
pi_batch, r_batch = np.tile(pi_t, (len(taus), 1)), np.tile(r, (len(taus), 1))
lp_curve = log_partition(pi_batch, r_batch, taus)
var_r = pi_t @ (r - rbar) ** 2

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(taus, lp_curve, label=r"$\tau \log Z_t$ (exact PMD baseline)")
ax.axhline(rbar, color="C1", ls="--", label=r"$\bar r$ (PMD-mean baseline)")
ax.axhline(r.max(), color="gray", ls=":", label=r"$\max r$")
ax.semilogx(
    taus[taus > 1],
    rbar + var_r / (2 * taus[taus > 1]),
    "k-.",
    lw=1,
    label=r"$\bar r + \mathrm{Var}(r)/2\tau$",
)
ax.axvline(tau, color="gray", lw=0.5)
ax.set(xlabel=r"$\tau$", ylabel="baseline", title="The two baselines differ at moderate tau")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# For an LLM, an "action" is a whole response: with a vocabulary of ~50 000
# tokens and 1 000-token answers, $Z_t$ is a sum over $50\,000^{1000}$ terms.
# All we ever see is a *group* of $k$ sampled responses per prompt. The sampled
# estimate $\tau\log\frac1k\sum_j e^{r_j/\tau}$ is biased downwards (Jensen
# again, now on the sample) and, for small $\tau$, dominated by whether the rare
# best response happened to be sampled:

# %%
k, n_groups = 8, 20_000
groups = rng.choice(len(r), size=(n_groups, k), p=pi_t)
for tau_s in (0.05, 0.2, 1.0):
    B = baseline(r[groups], kind="partition", tau=tau_s)[:, 0]
    truth = log_partition(pi_t, r, tau_s)
    print(
        f"tau={tau_s:4}: tau log Z = {truth:.3f}; sampled estimate mean {B.mean():.3f}, "
        f"std {B.std():.3f}"
    )

# %% [markdown]
# ## 4. PMD-mean: replace $\tau\log Z_t$ by $\bar r$
#
# The LLM update is fitted by regression: $\log x(a)$ should match the target
# $b(a) = (r(a) - B)/\tau$. PMD-mean uses $B = \bar r$. But
# $\mathbb E_{\pi_t}[e^{b}] = Z_t e^{-\bar r/\tau} > 1$, so $x = e^b$ is not a
# distribution; the best *normalised* fit solves
#
# $$\min_{x:\ \mathbb E_{\pi_t} x = 1}\ \mathbb E_{\pi_t}\big[(\log x - b)^2\big]
# \;\Longrightarrow\; \log x(a) + \lambda\, x(a) = b(a),\qquad
# x(a) = \frac{W_0(\lambda e^{b(a)})}{\lambda},$$
#
# one multiplier $\lambda>0$ per prompt. `mean_update` returns that policy and
# $\lambda$.

# %%
pi_mean, lam = mean_update(pi_t, r, tau, return_lambda=True)
x_mean = pi_mean / pi_t
b = (r - rbar) / tau
print("pi_mean :", np.round(pi_mean, 4), f"   lam = {lam:.4f}")
print("stationarity log x + lam x - b:", np.round(np.log(x_mean) + lam * x_mean - b, 12))
assert np.allclose(np.log(x_mean) + lam * x_mean, b)
assert np.isclose(pi_mean.sum(), 1.0)

# %% [markdown]
# ## 5. What changes
#
# The $\lambda x$ term pulls large ratios back: PMD-mean moves less mass to the
# best response than the exact step.

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
w = 0.27
idx = np.arange(len(r))
ax.bar(idx - w, pi_t, w, label=r"$\pi_t$")
ax.bar(idx, pi_exact, w, label="exact PMD")
ax.bar(idx + w, pi_mean, w, label="PMD-mean")
ax.set_xticks(idx, [f"r={v}" for v in r])
ax.set(ylabel="probability", title=rf"One step at $\tau={tau}$")
ax.legend()
fig.tight_layout()

# %% [markdown]
# Over a range of $\tau$, PMD-mean gains less reward **and** moves less
# (smaller KL from $\pi_t$). THEORY.md §6 reports this on thousands of random
# cases; here we check it on our prompt.

# %%
pi_ex_all = exact_update(pi_batch, r_batch, taus)
pi_mean_all = mean_update(pi_batch, r_batch, taus)
gain_ex, gain_mean = pi_ex_all @ r, pi_mean_all @ r
kl_ex, kl_mean = kl(pi_ex_all, pi_batch), kl(pi_mean_all, pi_batch)
assert np.all(gain_mean <= gain_ex + 1e-12) and np.all(kl_mean <= kl_ex + 1e-12)

fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
axs[0].semilogx(taus, gain_ex, **method_style("exact", label="exact PMD"))
axs[0].semilogx(taus, gain_mean, **method_style("mean"))
axs[0].set(xlabel=r"$\tau$", ylabel=r"$\mathbb{E}_{\pi_{t+1}}[r]$")
axs[1].loglog(taus, kl_ex, **method_style("exact"))
axs[1].loglog(taus, kl_mean, **method_style("mean"))
axs[1].set(xlabel=r"$\tau$", ylabel=r"KL$(\pi_{t+1}\|\pi_t)$")
axs[0].legend()
fig.tight_layout()

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for you, a hidden solution cell (click to expand) and
# an `assert` that checks the answer.
#
# **Exercise 1.** Write the exact PMD step yourself, in log space, with
# `logsumexp`: $\log\pi_{t+1} = \log\pi_t + r/\tau - \operatorname{logsumexp}(\log\pi_t
# + r/\tau)$. It must also work for $\tau = 10^{-3}$, where $e^{r/\tau}$
# overflows.


# %%
def my_exact_update(pi_t, r, tau):
    """Return pi_{t+1} of the exact PMD step (your code here)."""
    raise NotImplementedError


# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
def my_exact_update(pi_t, r, tau):  # noqa: F811 (replaces your version)
    """Return pi_{t+1} of the exact PMD step, computed in log space."""
    z = np.log(pi_t) + r / tau
    return np.exp(z - logsumexp(z))


# %%
for t in (1e-3, 0.2, 50.0):
    assert np.allclose(my_exact_update(pi_t, r, t), exact_update(pi_t, r, t), atol=1e-12)
print("Exercise 1 passed")

# %% [markdown]
# **Exercise 2.** Check the large-$\tau$ expansion
# $\tau\log Z_t - \bar r = \mathrm{Var}_{\pi_t}(r)/(2\tau) + O(\tau^{-2})$ at
# $\tau = 100$: compute the gap `gap` and the prediction `pred`.

# %%
gap, pred = None, None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
gap = log_partition(pi_t, r, 100.0) - rbar
pred = (pi_t @ (r - rbar) ** 2) / (2 * 100.0)

# %%
assert abs(gap - pred) / pred < 1e-2, (gap, pred)
print(f"Exercise 2 passed: gap {gap:.6e}, Var/(2 tau) {pred:.6e}")

# %% [markdown]
# **Exercise 3.** PMD-mean *is* a regression. Minimise the population loss
# $\mathbb E_{\pi_t}[(\log x - b)^2]$ over normalised policies yourself
# (parametrise $\pi = \mathrm{softmax}(\theta)$ and use `scipy.optimize.minimize`),
# and store the result in `pi_fit`. It should match `mean_update`.

# %%
pi_fit = None  # your code here


# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
def regression_loss(theta):
    log_pi = theta - logsumexp(theta)
    return pi_t @ (log_pi - np.log(pi_t) - b) ** 2


res = minimize(regression_loss, np.log(pi_t), method="BFGS", options={"gtol": 1e-10})
pi_fit = np.exp(res.x - logsumexp(res.x))

# %%
assert np.allclose(pi_fit, pi_mean, atol=1e-5), (pi_fit, pi_mean)
assert not np.allclose(pi_fit, pi_exact, atol=1e-2)  # and it is NOT the exact step
print("Exercise 3 passed: the regression minimiser is the Lambert-W policy")
