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
# # 03 · Hard prompts and binary rewards
#
# In LLM post-training on maths, a response is right (reward 1) or wrong
# (reward 0). Then a prompt is summarised by one number, its success
# probability $p = \pi_t(r = 1)$, and a *hard* prompt is one with small $p$.
# This notebook answers three questions:
#
# 1. What is the success probability after one step, as a function of $p$ and
#    $\tau$, for exact PMD and for PMD-mean?
# 2. Why is PMD-mean gentle on hard prompts?
# 3. With only $k$ sampled responses per prompt, how noisy are the regression
#    targets of each baseline?
#
# Formulas: `THEORY.md` §2, §3 and §6. Run time: about 5 s (a shared 2-core CPU).

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import brentq

from pmdtheory import binary_update, wright_omega
from pmdtheory.estimators import targets
from pmdtheory.plotting import apply_style

apply_style()  # the package's shared figure style
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. One step from success probability $p$
#
# All correct responses share one ratio $x_+ = \pi_{t+1}/\pi_t$, all wrong ones
# share $x_-$. Exact PMD multiplies the odds of success by $e^{1/\tau}$:
# $p' = p e^{1/\tau} / (p e^{1/\tau} + 1 - p)$. PMD-mean solves
#
# $$\log x_+ + \lambda x_+ = \frac{1-p}{\tau},\qquad
# \log x_- + \lambda x_- = -\frac{p}{\tau},\qquad p x_+ + (1-p) x_- = 1 .$$
#
# `binary_update` does both and broadcasts over $p$ and $\tau$.

# %%
p = np.logspace(-3, np.log10(0.999), 300)
taus = np.array([0.02, 0.05, 0.2, 1.0])
exact = binary_update(p[:, None], taus[None, :], method="exact")
mean = binary_update(p[:, None], taus[None, :], method="mean")

fig, ax = plt.subplots(figsize=(6, 3.8))
for j, t in enumerate(taus):
    ax.semilogx(p, exact.p_new[:, j], color=f"C{j}", label=rf"exact, $\tau={t}$")
    ax.semilogx(p, mean.p_new[:, j], color=f"C{j}", ls="--", label=rf"mean, $\tau={t}$")
ax.semilogx(p, p, "k:", lw=1, label="no change")
ax.set(
    xlabel=r"$p$ before the step",
    ylabel=r"$p$ after one step",
    title="Solid: exact PMD; dashed: PMD-mean",
)
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()

# %%
one_ex = binary_update(0.01, 0.05, method="exact")
one_mean = binary_update(0.01, 0.05, method="mean")
print(f"p = 0.01, tau = 0.05: exact PMD -> {one_ex.p_new:.7f}, PMD-mean -> {one_mean.p_new:.3f}")
assert one_ex.p_new > 0.9999 and 0.3 < one_mean.p_new < 0.45  # THEORY §6: 0.9999998, 0.379

# %% [markdown]
# ## 2. Why PMD-mean is gentle on hard prompts
#
# Since $\lambda x_- > 0$, the negative ratio satisfies $x_- < e^{-p/\tau}$: the
# failure mass after the step is **below** $(1-p)e^{-p/\tau}$, and close to it
# when $p/\tau$ is large. For a hard prompt, $p/\tau$ is small, so the failures
# are only slightly pushed down, and the success mass that normalisation allows
# is modest. Exact PMD ignores $p$: it divides the odds of failure by $e^{1/\tau}$
# whatever the difficulty.

# %%
bound = np.exp(-p[:, None] / taus[None, :])
assert np.all(mean.x_neg <= bound)  # strict in exact arithmetic; equal in floats at large p/tau

fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
for j, t in enumerate(taus):
    axs[0].loglog(p, 1 - exact.p_new[:, j], color=f"C{j}")
    axs[0].loglog(p, 1 - mean.p_new[:, j], color=f"C{j}", ls="--")
    axs[0].loglog(p, (1 - p) * bound[:, j], color=f"C{j}", ls=":", lw=1)
    axs[1].semilogy(p, mean.lam[:, j], color=f"C{j}", label=rf"$\tau={t}$")
axs[0].set(
    xlabel="$p$",
    ylabel="failure mass after the step",
    ylim=(1e-12, 2),
    title=r"exact (solid), mean (dashed), $(1-p)e^{-p/\tau}$ (dotted)",
)
axs[1].set(xlabel="$p$", ylabel=r"$\lambda_t$", title=r"PMD-mean's multiplier $\lambda$")
axs[1].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# $\lambda$ as a function of $p$ is unimodal and peaks near $p = 1/2$, where the
# reward variance $p(1-p)$ is largest: that is where PMD-mean's implicit
# $\chi^2$ penalty $\beta_t = \tau\lambda_t$ (notebook 02) bites hardest.

# %%
p_peak = p[np.argmax(mean.lam, axis=0)]
print("p at the peak of lambda, per tau:", np.round(p_peak, 3))
assert np.all(np.abs(p_peak - 0.5) < 0.2)

# %% [markdown]
# ## 3. Sampled baselines and their noise
#
# In practice we see $k$ responses per prompt and form regression targets
# $A_i/\tau = (r_i - B_i)/\tau$ with a sampled baseline $B_i$ (`pmdtheory.estimators`).
# Each method should reproduce the log-ratio its own population update converges
# to: $\log x^{\rm exact}_\pm$ for the partition baselines, $\log x^{\rm mean}_\pm$
# for the mean baselines. We draw 2 000 groups of $k = 8$ at $\tau = 0.05$ and
# measure the error of positive and negative targets.
#
# Groups with no success (or no failure) carry no signal for the missing class;
# they are skipped for that class.

# %%
k, n_groups, tau = 8, 2000, 0.05
p_grid = np.array([0.01, 0.02, 0.05, 0.1, 0.2])
kinds = ("mean", "loo_mean", "partition", "loo_partition")
bias = {kind: np.zeros((len(p_grid), 2)) for kind in kinds}  # [p, positive/negative]
noise = {kind: np.zeros((len(p_grid), 2)) for kind in kinds}
omega_pos = np.zeros(len(p_grid))  # PMD-mean's chi^2 pull on positives, lam * x_+
for ip, pp in enumerate(p_grid):
    rewards = (rng.random((n_groups, k)) < pp).astype(float)
    ref_mean = binary_update(pp, tau, method="mean")
    omega_pos[ip] = ref_mean.lam * ref_mean.x_pos
    for kind in kinds:
        ref = binary_update(pp, tau, method="exact") if "partition" in kind else ref_mean
        y = targets(rewards, kind=kind, tau=tau)
        for ic, (mask, log_x) in enumerate(
            [(rewards == 1, ref.log_x_pos), (rewards == 0, ref.log_x_neg)]
        ):
            e = y[mask] - log_x
            bias[kind][ip, ic], noise[kind][ip, ic] = e.mean(), e.std()

fig, axs = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for j, kind in enumerate(kinds):
    for ic, name in enumerate(["positive", "negative"]):
        axs[ic].errorbar(
            p_grid * (1 + 0.06 * (j - 1.5)),
            bias[kind][:, ic],
            yerr=noise[kind][:, ic],
            fmt="o-",
            capsize=3,
            label=kind,
        )
        axs[ic].set(xscale="log", xlabel="$p$", title=f"target error, {name} responses")
axs[0].plot(p_grid, omega_pos, "k:", label=r"$\lambda x_+$ (PMD-mean)")
axs[0].set_ylabel(r"mean $\pm$ std of target $-$ $\log x$")
axs[0].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# The partition baselines aim at the right answer for exact PMD but are very
# noisy, on negatives as much as on positives: at $\tau = 0.05$ the
# leave-one-out partition baseline of a correct response is 0 when no *other*
# sample succeeded (target $1/\tau = 20$) and jumps by about $1/\tau$ as soon as
# one did. The mean baselines are far less noisy; their main error is a
# *systematic offset* of the positive targets, and that offset is exactly the
# $\chi^2$ pull $\lambda x_+$ of the Lambert-W solution: the regression target
# is $b$, the solution it converges to is $\log x = b - \lambda x$.

# %%
for ip, pp in enumerate(p_grid):
    print(
        f"p={pp:4}: loo_mean positives bias {bias['loo_mean'][ip, 0]:5.2f} "
        f"(lam x_+ = {omega_pos[ip]:5.2f}), std {noise['loo_mean'][ip, 0]:4.2f}; "
        f"loo_partition std {noise['loo_partition'][ip, 0]:4.2f} / "
        f"{noise['loo_partition'][ip, 1]:4.2f} (pos / neg)"
    )
assert np.allclose(bias["loo_mean"][:, 0], omega_pos, atol=0.5)
assert np.all(noise["loo_partition"] > 2 * noise["loo_mean"])

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Exact PMD on binary rewards in closed form: write
# `my_exact_binary(p, tau)` returning $p'$. Make it stable for
# $\tau = 10^{-3}$ (hint: work with the log-odds).


# %%
def my_exact_binary(p, tau):
    """Success probability after one exact PMD step (your code here)."""
    raise NotImplementedError


# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
def my_exact_binary(p, tau):  # noqa: F811 (replaces your version)
    """Success probability after one exact PMD step: odds multiplied by e^{1/tau}."""
    from scipy.special import expit, logit

    return expit(logit(p) + 1.0 / tau)


# %%
pp, tt = np.meshgrid([1e-4, 0.01, 0.3, 0.9], [1e-3, 0.05, 1.0, 10.0])
assert np.allclose(my_exact_binary(pp, tt), binary_update(pp, tt, method="exact").p_new)
print("Exercise 1 passed")

# %% [markdown]
# **Exercise 2.** Solve PMD-mean's binary system yourself. Use the stable form
# $\log x = b - \omega(\log\lambda + b)$ with the Wright omega function
# (`wright_omega`), and find $\ell = \log\lambda$ with `scipy.optimize.brentq`
# so that $p x_+ + (1-p) x_- = 1$. Return $p' = p\,x_+$.


# %%
def my_mean_binary(p, tau):
    """Success probability after one PMD-mean step (your code here)."""
    raise NotImplementedError


# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
def my_mean_binary(p, tau):  # noqa: F811 (replaces your version)
    """Success probability after one PMD-mean step, via Wright omega."""
    b_pos, b_neg = (1 - p) / tau, -p / tau

    def excess_mass(ell):  # decreasing in ell; zero at the multiplier's log
        x_pos = np.exp(b_pos - wright_omega(ell + b_pos))
        x_neg = np.exp(b_neg - wright_omega(ell + b_neg))
        return p * x_pos + (1 - p) * x_neg - 1.0

    ell = brentq(excess_mass, -50.0, 50.0 + b_pos, xtol=1e-14)
    return p * np.exp(b_pos - wright_omega(ell + b_pos))


# %%
for pp, tt in [(0.01, 0.05), (0.3, 0.01), (0.5, 1.0), (0.9, 0.2)]:
    mine, ref = my_mean_binary(pp, tt), binary_update(pp, tt, method="mean").p_new
    assert np.isclose(mine, ref, rtol=1e-8), (pp, tt, mine, ref)
print("Exercise 2 passed")

# %% [markdown]
# **Exercise 3.** The leave-one-out mean baseline of response $i$ averages the
# other $k-1$ rewards, so its target has variance $p(1-p)/((k-1)\tau^2)$ (for a
# fixed $r_i$). Estimate the variance of the target of response 0, given that it
# succeeded, for $p = 0.2$, $k = 8$, $\tau = 0.05$ from 50 000 simulated groups,
# and store it in `var_sim`.

# %%
var_sim = None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
rewards = (rng.random((50_000, 8)) < 0.2).astype(float)
rewards[:, 0] = 1.0  # condition on response 0 being correct
var_sim = targets(rewards, kind="loo_mean", tau=0.05)[:, 0].var()

# %%
var_theory = 0.2 * 0.8 / (8 - 1) / 0.05**2
assert abs(var_sim / var_theory - 1) < 0.05, (var_sim, var_theory)
print(f"Exercise 3 passed: simulated {var_sim:.2f}, theory {var_theory:.2f}")
