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
# # 04 · PMD on a tabular MDP: linear convergence, and PMD-mean beside it
#
# So far one prompt was one context. In a Markov decision process every state
# is a context, and the "reward" of action $a$ in state $s$ is its action value
# $Q^{\pi_t}(s, a)$ (THEORY §7, in `docs/theory.md`):
#
# $$\text{exact PMD:}\quad \pi_{t+1}(a\mid s) \propto \pi_t(a\mid s)\, e^{Q^{\pi_t}(s,a)/\tau},
# \qquad \text{PMD-mean: §4 per state with } r \to Q^{\pi_t}(s,\cdot).$$
#
# We run both on a small gridworld with the simulator `pmdtheory.sim`, watch the
# suboptimality $\rho^\top(V^\star - V^{\pi_t})$ shrink geometrically, and see
# why PMD-mean ends up tracking exact PMD here, and what Monte-Carlo estimates
# of $Q$ cost. Run time: about 15-25 s.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pmdtheory import exact_update
from pmdtheory.plotting import apply_style, method_style
from pmdtheory.sim import TabularMDP, run

apply_style()  # the package's shared figure style

# %% [markdown]
# ## 1. The gridworld
#
# A $5\times5$ grid, four moves, a 10 % chance of slipping to a random move, start
# in the top-left corner; the bottom-right corner is absorbing and pays 1 per
# step; discount $\gamma = 0.9$. `solve()` gives the optimal values.

# %%
env = TabularMDP.gridworld(5, gamma=0.9, slip=0.1)
opt = env.solve()
v_star = env.rho @ opt.v
print(f"{env.shape[0]} states, {env.shape[1]} actions; optimal value from the start {v_star:.4f}")

# %% [markdown]
# ## 2. Exact PMD and PMD-mean, three values of $\tau$
#
# `run` returns a tidy DataFrame: one row per (method, iteration), with the value
# of the start state, the suboptimality, the step's KL and the implied
# $\beta_t = \tau\lambda_t$ of a PMD-mean step (averaged over states).

# %%
taus = (0.1, 0.3, 1.0)
iters = 40
df = pd.concat(
    [run(env, ["exact", "mean"], iters=iters, tau=tau).assign(tau=tau) for tau in taus],
    ignore_index=True,
)
df[["method", "tau", "iter", "value", "subopt", "kl_prev", "beta_mean"]].head()

# %%
fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
for j, tau in enumerate(taus):
    for method in ("exact", "mean"):
        g = df[(df.tau == tau) & (df.method == method)]
        style = method_style(method, color=f"C{j}", label=rf"{method}, $\tau={tau}$")
        axs[0].semilogy(g.iter, g.subopt, **style)
        axs[1].semilogy(g.iter[1:], g.beta_mean[1:], **style)
axs[0].set(
    xlabel="iteration $t$",
    ylabel=r"$\rho^\top(V^\star - V^{\pi_t})$",
    title="Suboptimality (straight line = geometric)",
)
axs[1].set(
    xlabel="iteration $t$",
    ylabel=r"mean implied $\beta_t = \tau\lambda_t$",
    title=r"PMD-mean's $\chi^2$ weight fades",
)
axs[0].legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## 3. Linear convergence
#
# On a log scale the suboptimality becomes a straight line: it shrinks by a
# constant factor per iteration, faster for smaller $\tau$ (a larger step
# $1/\tau$). We measure that factor over the last 20 iterations.


# %%
def contraction(subopt, first=20, last=40):
    """Geometric-mean factor by which the suboptimality shrinks per iteration."""
    return (subopt[last] / subopt[first]) ** (1.0 / (last - first))


rates = {
    (method, tau): contraction(g.subopt.to_numpy())
    for (method, tau), g in df.groupby(["method", "tau"])
}
for tau in taus:
    print(f"tau={tau}: exact {rates['exact', tau]:.3f}, mean {rates['mean', tau]:.3f} per iter")
exact_rates = [rates["exact", tau] for tau in taus]
assert all(rate < 1 for rate in exact_rates) and exact_rates == sorted(exact_rates)

# %% [markdown]
# ## 4. Why PMD-mean tracks exact PMD here
#
# PMD-mean's step is the KL step plus a $\chi^2$ penalty of weight
# $\beta_t = \tau\lambda_t$ (notebook 02), and for large $\tau$,
# $\lambda_t \approx \mathrm{Var}_{\pi_t}(Q)/(2\tau^2)$. As the policy
# concentrates on one action per state, the variance of $Q$ under $\pi_t$ goes
# to zero, $\beta_t$ fades (right panel above), and the two updates coincide:
# PMD-mean is slower in the first steps only, where the policy is spread out.

# %%
first = df[df.iter == 1].set_index(["method", "tau"]).subopt
later = df[df.iter == iters].set_index(["method", "tau"]).subopt
for tau in taus:
    print(
        f"tau={tau}: subopt after 1 step exact {first['exact', tau]:.3f} vs mean "
        f"{first['mean', tau]:.3f};  after {iters}: {later['exact', tau]:.2e} vs "
        f"{later['mean', tau]:.2e}"
    )
    assert first["mean", tau] > first["exact", tau]  # conservative first step
beta = df[df.method == "mean"].groupby("tau").beta_mean
assert np.all(beta.nth(-1).to_numpy() < 1e-2 * beta.nth(1).to_numpy())

# %% [markdown]
# The value function itself, from the uniform policy to iteration 40 of exact
# PMD ($\tau = 0.1$): the goal's value spreads backwards through the grid.

# %%
pi = np.exp(env.logpi0)
snapshots = {}
for t in range(iters + 1):
    if t in (0, 2, iters):
        snapshots[t] = env.evaluate(pi).v.reshape(5, 5)
    pi = exact_update(pi, env.evaluate(pi).q, 0.1)
fig, axs = plt.subplots(1, 4, figsize=(11, 2.8), gridspec_kw={"width_ratios": [1, 1, 1, 0.05]})
for ax, (t, v) in zip(axs, snapshots.items(), strict=False):
    im = ax.imshow(v, vmin=0, vmax=10, cmap="viridis")
    ax.set(title=f"$V^{{\\pi_{{{t}}}}}$", xticks=[], yticks=[])
fig.colorbar(im, cax=axs[3])
fig.tight_layout()

# %% [markdown]
# ## 5. Monte-Carlo $Q$: what sampling costs
#
# An LLM never gets exact action values: it estimates them from rollouts.
# `env.mc_q(pi, n_rollouts=n)` does the same here: $n$ truncated rollouts from each
# $(s, a)$, following $\pi$ (horizon $H$ with $\gamma^H < 10^{-4}$, so the truncation
# bias is below $10^{-3}$). The estimate is unbiased up to that truncation, and its
# variance is the variance of one discounted return divided by $n$. We measure both
# at the uniform policy, over 12 seeds.

# %%
pi0 = np.exp(env.logpi0)
q_exact = env.evaluate(pi0).q
mc_seeds = range(12)
noise = {}
for n in (4, 16, 64):
    est = np.stack([env.mc_q(pi0, n_rollouts=n, seed=s) for s in mc_seeds])
    err = est - q_exact
    noise[n] = {
        "mean error": err.mean(),  # over seeds and (s, a): the bias, up to noise
        "variance": err.var(axis=0, ddof=1).mean(),  # per (s, a), averaged
        "variance x n": n * err.var(axis=0, ddof=1).mean(),
    }
noise = pd.DataFrame(noise).T.rename_axis("n_rollouts")
noise.round(4)

# %% [markdown]
# The variance falls as $1/n$ (the last column is constant: about 2.8 per rollout,
# against $Q$ values between 0 and 10), the mean error stays at the noise level. The
# PMD step divides $Q$ by $\tau$, so with $\tau = 0.1$ and $n = 16$ the logits move by
# random amounts of standard deviation $\sqrt{2.8/16}/0.1 \approx 4$ per step: noise
# that exact $Q$ does not have. Next, exact PMD ($\tau = 0.1$) fed with Monte-Carlo
# $Q$ (`run(..., q="mc", n_rollouts=n)`), three seeds each, against exact $Q$.

# %%
per_rollout = noise["variance x n"].to_numpy()
assert np.all(np.abs(per_rollout / per_rollout.mean() - 1) < 0.25)  # variance ~ 1/n
assert np.all(np.abs(noise["mean error"]) < 3 * np.sqrt(noise["variance"] / (12 * 100)))

mc_runs = []
for n in (4, 16):
    frame = run(env, "exact", iters=30, tau=0.1, q="mc", n_rollouts=n, seed=[0, 1, 2])
    mc_runs.append(frame.assign(n_rollouts=n))
mc_runs = pd.concat(mc_runs, ignore_index=True)
exact_q = df[(df.method == "exact") & (df.tau == 0.1) & (df.iter <= 30)]
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogy(exact_q.iter, exact_q.subopt, color="k", label="exact $Q$")
for j, (n, g) in enumerate(mc_runs.groupby("n_rollouts")):
    band = g.groupby("iter").subopt
    ax.semilogy(band.mean().index, band.mean(), color=f"C{j}", label=f"MC $Q$, n = {n}")
    ax.fill_between(band.min().index, band.min(), band.max(), color=f"C{j}", alpha=0.2)
ax.set(
    xlabel="iteration $t$",
    ylabel=r"$\rho^\top(V^\star - V^{\pi_t})$",
    title=r"Exact PMD, $\tau = 0.1$: Monte-Carlo $Q$ stalls at a noise floor",
)
ax.legend(fontsize=8)
fig.tight_layout()


# %%
def window(frame, lo, hi):
    """Mean suboptimality over iterations lo..hi (and over seeds)."""
    return frame[frame.iter.between(lo, hi)].subopt.mean()


early_x, late_x = window(exact_q, 10, 15), window(exact_q, 25, 30)
print(f"exact Q:       iterations 10-15 {early_x:.4f}, 25-30 {late_x:.4f}")
for n, g in mc_runs.groupby("n_rollouts"):
    early, late = window(g, 10, 15), window(g, 25, 30)
    print(f"MC Q, n = {n:2d}: iterations 10-15 {early:.4f}, 25-30 {late:.4f}")
    assert late > 0.7 * early and late > 5 * late_x  # stalled, far above exact Q
assert late_x < 0.5 * early_x  # exact Q keeps converging linearly

# %% [markdown]
# With exact $Q$ the suboptimality keeps shrinking geometrically; with sampled $Q$ it
# stops at a floor set by the noise, lower with more rollouts per estimate. This is
# the tabular picture of the paper's concern with sampled targets: notebook 03 shows
# the same noise in the baselines of one prompt.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Write exact PMD on the MDP yourself: start from the uniform
# policy `np.exp(env.logpi0)`, and at each of 40 iterations evaluate the policy
# (`env.evaluate(pi).q`) and take the step with `exact_update`. Record
# `env.value(pi)` before each step and after the last one (41 numbers) in
# `my_values`. It must reproduce the simulator.

# %%
my_values = None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
pi = np.exp(env.logpi0)
my_values = [env.value(pi)]
for _ in range(iters):
    pi = exact_update(pi, env.evaluate(pi).q, 0.1)
    my_values.append(env.value(pi))

# %%
sim_values = df[(df.method == "exact") & (df.tau == 0.1)].value.to_numpy()
assert np.allclose(my_values, sim_values, rtol=0, atol=1e-10)
print("Exercise 1 passed")

# %% [markdown]
# **Exercise 2.** Constant $\tau$ converges linearly, but at a rate that depends
# on $\tau$ and the MDP. With *increasing* steps, $\tau_t = \tau_0\gamma^t$, exact
# PMD contracts at least like $\gamma^t$ (Xiao 2022; Johnson, Dong, Pike-Burke
# 2023). Run 40 iterations from the uniform policy with $\tau_0 = 0.5$ and store
# the 41 suboptimalities $v^\star - $ `env.value(pi)` in `sub_geo`.

# %%
sub_geo = None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
pi = np.exp(env.logpi0)
sub_geo = [v_star - env.value(pi)]
for t in range(iters):
    pi = exact_update(pi, env.evaluate(pi).q, 0.5 * env.gamma**t)
    sub_geo.append(v_star - env.value(pi))

# %%
sub_geo = np.asarray(sub_geo)
sub_const = df[(df.method == "exact") & (df.tau == 0.1)].subopt.to_numpy()
print(f"after {iters} iterations: geometric steps {sub_geo[-1]:.1e}, tau=0.1 {sub_const[-1]:.1e}")
assert sub_geo.shape == (iters + 1,)
assert sub_geo[-1] < 1e-4 and sub_geo[-1] < 0.1 * sub_const[-1]
print("Exercise 2 passed")
