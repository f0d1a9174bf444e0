"""Real GRPO in the simulator (method "grpo"): the Numba kernel against the plain-numpy
reference in tests/_sim_grpo_reference.py, that reference's gradient against torch
autograd of TRL's clipped loss, the plain-policy-gradient first step, and the std
normalisation of the advantages."""

import sys
from pathlib import Path

import numpy as np
import pytest

from pmdtheory.baselines import BASELINES
from pmdtheory.sim import Bandit, PromptPopulation, run
from pmdtheory.sim import _kernels as K

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
import _sim_grpo_reference as gref  # noqa: E402
import _sim_reference as ref  # noqa: E402
from _sim_asserts import assert_step_matches  # noqa: E402

TOL_REF = 1e-11  # Numba GRPO step against the numpy reference (same draws)
TOL_GRAD = 1e-12  # numpy surrogate gradient against torch autograd
TOL_ADV = 1e-13  # group advantages against numpy
TRL_EPS = 1e-4  # TRL's std offset
GRPO = BASELINES["grpo"]  # its row kernel computes the advantages of the GRPO step


def _kernel(env, logpi, samp, *, k, lr, epochs, clip, eps, seed, it):
    P, n = logpi.shape
    out, pi_out, stats = np.empty((P, n)), np.empty((P, n)), np.empty((P, K.N_STATS))
    K._sampled_step(
        logpi, np.exp(logpi), samp, np.exp(samp), samp is logpi, env.R, env.noise_code,
        float(env.sigma), k, GRPO.row, K.EST_MEAN_STD, 0.1, eps, lr, epochs, K.FIT_GRPO, clip,
        seed, it, 1, out, pi_out, stats,
    )  # fmt: skip
    return out, pi_out, stats


def _policy(P, n, seed, holes=True):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((P, n))
    if holes:
        logits[::5, 1] = -np.inf  # actions outside the support stay there
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


@pytest.mark.parametrize(
    "stale, epochs, clip, noise, lr",
    [
        (False, 1, 0.2, "bernoulli", 2.0),  # on-policy, one epoch: ratio 1, plain PG
        (False, 4, 0.2, "none", 3.0),  # later epochs clip
        (True, 2, 0.1, "gaussian", 1.0),  # stale sampling policy: clips from the start
    ],
)
def test_grpo_kernel_matches_numpy_reference(stale, epochs, clip, noise, lr):
    env = Bandit.random(400, 9, noise=noise, sigma=0.5, seed=2)
    logpi = _policy(400, 9, 0)
    samp = _policy(400, 9, 0) if not stale else logpi + 0.4 * np.sin(np.arange(9))
    samp = samp - np.log(np.exp(samp).sum(axis=1, keepdims=True)) if stale else logpi
    k, seed, it = 6, 7, 3
    out, pi_out, stats = _kernel(
        env, logpi, samp, k=k, lr=lr, epochs=epochs, clip=clip, eps=TRL_EPS, seed=seed, it=it
    )
    y, r = ref.draw(samp, env.R, k, seed=seed, it=it, noise=noise, sigma=env.sigma)
    want, reward, kl, ent, n_clipped = gref.grpo_step(
        logpi, samp, y, r, lr=lr, epochs=epochs, clip=clip, eps=TRL_EPS, R=env.R
    )
    assert_step_matches(out, pi_out, stats, want, reward, kl, ent, TOL_REF)
    # GRPO has no regression targets: no target errors, but the implied beta
    assert np.all(stats[:, K.W_POS] + stats[:, K.W_NEG] == 0)
    assert np.all(np.isfinite(stats[:, K.LAM]))
    if epochs == 1 and not stale:
        assert n_clipped == 0  # ratio 1: nothing to clip
    else:
        assert n_clipped > 50  # the clip branch is exercised


def test_first_on_policy_step_is_plain_policy_gradient():
    """One epoch on-policy: rho = 1, the clip is inactive whatever its width, and the
    step is theta + (lr/k) sum_i A_i (e_{y_i} - pi), the REINFORCE gradient with the
    group-normalised advantage (by hand here, not through the reference)."""
    env = PromptPopulation.random(200, 8, seed=4)
    logpi, lr, k = env.logpi0, 5.0, 8
    outs = [
        _kernel(env, logpi, logpi, k=k, lr=lr, epochs=1, clip=c, eps=TRL_EPS, seed=1, it=1)[0]
        for c in (0.2, 1e-3)
    ]
    assert np.array_equal(outs[0], outs[1])
    y, r = ref.draw(logpi, env.R, k, seed=1, it=1)
    A = (r - r.mean(1, keepdims=True)) / (r.std(1, ddof=1, keepdims=True) + TRL_EPS)
    pi = np.exp(logpi)
    theta = logpi.copy()
    for i in range(k):
        onehot = np.eye(8)[y[:, i]]
        theta += lr / k * A[:, i : i + 1] * (onehot - pi)
    theta -= np.log(np.exp(theta).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(outs[0], theta, atol=TOL_REF, rtol=0)


def test_reference_gradient_equals_autograd_of_trl_loss():
    """The reference's hand-written gradient equals torch autograd of TRL's per-token
    loss -min(coef_1 A, clamp(coef_1, 1 - eps, 1 + eps) A), coef_1 = exp(logp - old)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    P, n, k, clip = 50, 7, 5, 0.2
    theta = rng.standard_normal((P, n))
    y = rng.integers(0, n, size=(P, k))
    A = rng.standard_normal((P, k))
    logp = np.take_along_axis(gref._log_softmax(theta), y, axis=1)
    old = logp + 0.3 * rng.standard_normal((P, k))  # ratios on both sides of the clip
    grad, active = gref.surrogate_grad(theta, y, A, old, clip)
    assert 0.2 < active.mean() < 0.95
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    logp_t = torch.log_softmax(th, dim=-1).gather(1, torch.tensor(y))
    coef_1 = torch.exp(logp_t - torch.tensor(old))
    coef_2 = torch.clamp(coef_1, 1 - clip, 1 + clip)
    At = torch.tensor(A)
    loss = -torch.min(coef_1 * At, coef_2 * At).mean(dim=1).sum()
    loss.backward()
    np.testing.assert_allclose(grad, -th.grad.numpy(), atol=TOL_GRAD, rtol=0)


def test_grpo_advantages_are_std_normalised():
    rng = np.random.default_rng(6)
    for r in (rng.uniform(size=9), (rng.uniform(size=16) < 0.3).astype(float), np.ones(4)):
        B = np.empty_like(r)
        d = GRPO.row(r, 0.5, TRL_EPS, B)  # the kernel the GRPO step uses
        A = (r - B) / d
        want = (r - r.mean()) / (np.std(r, ddof=1) + TRL_EPS)  # Bessel, as TRL's nanstd
        np.testing.assert_allclose(A, want, atol=TOL_ADV, rtol=0)
        np.testing.assert_allclose(
            gref.advantages(r[None], TRL_EPS)[0], want, atol=TOL_ADV, rtol=0
        )
    assert np.all(A == 0.0)  # a constant group has no signal (and no 0/0)


def test_grpo_in_run_defaults_and_learning():
    env = PromptPopulation.random(150, 8, seed=1)
    a = run(env, "grpo", iters=4, seed=3)
    b = run(env, "grpo", iters=4, seed=3, eps=TRL_EPS, clip=0.2)
    assert a.drop(columns="method").equals(b.drop(columns="method"))  # TRL's defaults
    c = run(env, "grpo", iters=4, seed=3, eps=1e-2)
    assert not np.array_equal(a["reward_mean"], c["reward_mean"])
    assert a["reward_mean"].iloc[-1] > a["reward_mean"].iloc[0]
    assert a[["target_err_pos", "target_rmse_neg"]].isna().all().all()
    reg = run(env, "grpo_sampled", iters=4, seed=3)
    assert not np.array_equal(a["reward_mean"], reg["reward_mean"])  # two methods
