"""Tests for pmdtheory.sim.envs (bandits, prompt populations) and the counter-based RNG."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pmdtheory.sim import Bandit, PromptPopulation
from pmdtheory.sim._rng import STREAM_ACTION, STREAM_REWARD, normal, uniform, uniforms

TOL_NORM = 1e-12  # log-policies sum to one
TOL_P0 = 1e-12  # constructed success probability against the drawn one
P_MIN_TEST = 1e-6  # smallest p-value accepted from the distribution tests (seeded, fixed)


@given(
    seed=st.integers(0, 2**63 - 1),
    it=st.integers(0, 10**6),
    ctx=st.integers(0, 10**7),
    sample=st.integers(0, 10**4),
)
@settings(max_examples=50, deadline=None)
def test_numpy_uniforms_equal_numba_bit_for_bit(seed, it, ctx, sample):
    u = uniform(seed, it, ctx, sample, STREAM_ACTION)
    assert uniforms(seed, it, ctx, sample, STREAM_ACTION) == u
    assert 0.0 <= u < 1.0


def test_uniforms_are_uniform_and_streams_independent():
    ctx = np.arange(200_000, dtype=np.uint64)
    u = uniforms(7, 3, ctx, 0, STREAM_ACTION)
    assert stats.kstest(u, "uniform").pvalue > P_MIN_TEST
    v = uniforms(7, 3, ctx, 0, STREAM_REWARD)
    w = uniforms(7, 4, ctx, 0, STREAM_ACTION)  # next iteration
    s = uniforms(7, 3, ctx, 1, STREAM_ACTION)  # next sample
    for other in (v, w, s):
        # independent uniforms: correlation ~ N(0, 1/N); 6 sigma
        assert abs(np.corrcoef(u, other)[0, 1]) < 6 / np.sqrt(u.size)
    # consecutive contexts are not correlated either (a weak hash would be)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 6 / np.sqrt(u.size)


def test_normal_draws_are_standard_normal():
    z = np.array([normal(1, 2, c, 0, 2) for c in range(20_000)])
    assert stats.kstest(z, "norm").pvalue > P_MIN_TEST


def test_prompt_population_hits_the_drawn_success_probabilities():
    env = PromptPopulation.random(5000, 32, difficulty=(0.5, 2.0), p_min=1e-3, seed=0)
    np.testing.assert_allclose(np.exp(env.logpi0).sum(axis=1), 1.0, atol=TOL_NORM)
    # the same Beta draws, clipped, come first from the seeded generator
    p = np.clip(np.random.default_rng(0).beta(0.5, 2.0, size=5000), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(env.p0, p, rtol=TOL_P0, atol=TOL_P0)
    n_ok = env.correct.sum(axis=1)
    assert n_ok.min() >= 1 and n_ok.max() <= 31
    np.testing.assert_array_equal(env.R, env.correct.astype(float))
    # hard and easy prompts coexist
    assert (env.p0 < 0.01).mean() > 0.05 and (env.p0 > 0.5).mean() > 0.05


def test_random_envs_are_seeded():
    a = PromptPopulation.random(50, 8, seed=3)
    b = PromptPopulation.random(50, 8, seed=3)
    c = PromptPopulation.random(50, 8, seed=4)
    np.testing.assert_array_equal(a.logpi0, b.logpi0)
    assert not np.array_equal(a.logpi0, c.logpi0)
    x = Bandit.random(5, 3, seed=1)
    np.testing.assert_array_equal(x.R, Bandit.random(5, 3, seed=1).R)
    assert x.R.min() >= 0 and x.R.max() <= 1


def test_bandit_from_arrays_normalises_logits():
    env = Bandit([[0.0, 1.0, 0.5]], logits=[[1.0, -np.inf, 2.0]])
    pi = np.exp(env.logpi0)
    np.testing.assert_allclose(pi, [[1 / (1 + np.e), 0.0, np.e / (1 + np.e)]], atol=TOL_NORM)
    assert env.shape == (1, 3) and env.noise_code == 0
    assert Bandit([[0.2, 0.3]], noise="gaussian", sigma=0.1).noise_code == 2


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: Bandit([1.0, 2.0]), "R"),
        (lambda: Bandit([[1.0, np.nan]]), "R"),
        (lambda: Bandit([[0.5, 0.5]], noise="poisson"), "noise"),
        (lambda: Bandit([[0.5, 2.0]], noise="bernoulli"), "R"),
        (lambda: Bandit([[0.5, 0.5]], sigma=-1.0), "sigma"),
        (lambda: Bandit([[0.5, 0.5]], logits=[[0.0, 0.0, 0.0]]), "logits"),
        (lambda: Bandit([[0.5, 0.5]], logits=[[-np.inf, -np.inf]]), "logits"),
        (lambda: PromptPopulation([[True, True]]), "correct"),
        (lambda: PromptPopulation([[True, False]], logits=[[0.0]]), "logits"),
        (lambda: PromptPopulation.random(10, 1), "n_responses"),
        (lambda: PromptPopulation.random(0, 4), "n_prompts"),
        (lambda: PromptPopulation.random(10, 4, difficulty=(0, 1)), "difficulty"),
        (lambda: PromptPopulation.random(10, 4, p_min=0.6), "p_min"),
        (lambda: PromptPopulation.random(10, 4, p_min=0.5), "p_min"),  # open at 0.5
        (lambda: PromptPopulation.random(10, 4, p_min=0.0), "p_min"),  # open at 0
        (lambda: Bandit.random(0, 4), "n_contexts"),
        (lambda: Bandit.random(3, 0), "n_actions"),
        # issue 12: empty environments, non-boolean correctness, non-numeric input
        (lambda: PromptPopulation(np.zeros((0, 4), bool)), "correct"),
        (lambda: PromptPopulation(np.zeros((3, 1), bool)), "correct"),
        (lambda: PromptPopulation([[0.5, 0.0]]), "correct"),
        (lambda: PromptPopulation([[np.nan, 1.0]]), "correct"),
        (lambda: PromptPopulation([["a", "b"]]), "correct"),
        (lambda: Bandit(np.zeros((0, 3))), "R"),
        (lambda: Bandit(np.zeros((3, 0))), "R"),
        (lambda: Bandit([["x", "y"]]), "R"),
        (lambda: Bandit([[0.5, 0.5]], sigma="1"), "sigma"),
        (lambda: Bandit([[0.5, 0.5]], sigma=np.inf), "sigma"),
        (lambda: Bandit.random(2.5, 3), "n_contexts"),
        (lambda: PromptPopulation.random(10, 4, difficulty=(1, 2, 3)), "difficulty"),
        (lambda: PromptPopulation.random(10, 4, logit_scale=np.nan), "logit_scale"),
        (lambda: PromptPopulation.random(10, 4, logit_scale=-0.5), "logit_scale"),
    ],
)
def test_bad_environments_raise_naming_the_parameter(make, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        make()


def test_zero_one_correctness_is_accepted_as_boolean():
    a = PromptPopulation([[1, 0, 0]])
    b = PromptPopulation([[True, False, False]])
    assert a.correct.dtype == bool and np.array_equal(a.correct, b.correct)


def test_bernoulli_noise_accepts_rewards_on_the_closed_interval():
    env = Bandit([[0.0, 1.0, 0.5]], noise="bernoulli")
    assert env.R.tolist() == [[0.0, 1.0, 0.5]] and env.noise_code == 1
    with pytest.raises(ValueError, match="^R "):
        Bandit([[-1e-12, 0.5]], noise="bernoulli")


def test_noise_code_names_the_noise():
    """The kernels read noise_code: it must agree with noise (prompts are noiseless)."""
    for code, noise in enumerate(("none", "bernoulli", "gaussian")):
        assert Bandit([[0.2, 0.3]], noise=noise).noise_code == code
    env = PromptPopulation([[True, False]])
    assert (env.noise, env.noise_code, env.sigma) == ("none", 0, 0.0)


def test_easy_prompts_are_clipped_below_one_minus_p_min():
    """Beta(2, 0.5) puts about 15% of the draws above 0.99: they come out at 1 - p_min."""
    p_min = 0.01
    env = PromptPopulation.random(2000, 8, difficulty=(2.0, 0.5), p_min=p_min, seed=0)
    p = np.clip(np.random.default_rng(0).beta(2.0, 0.5, size=2000), p_min, 1 - p_min)
    assert (p == 1 - p_min).mean() > 0.1  # the upper clip is exercised
    np.testing.assert_allclose(env.p0, p, rtol=TOL_P0, atol=TOL_P0)
    assert env.p0.max() <= 1 - p_min + TOL_P0


def test_random_envs_documented_defaults():
    """The signatures' defaults, as documented: seed 0, sigma 1, Beta(0.5, 2), p_min 1e-3."""
    b = Bandit.random(noise="gaussian")
    assert b.shape == (100, 10) and b.sigma == 1.0 and b.noise == "gaussian"
    np.testing.assert_array_equal(b.R, Bandit.random(100, 10, seed=0).R)
    p = PromptPopulation.random()
    q = PromptPopulation.random(
        1000, 64, difficulty=(0.5, 2.0), p_min=1e-3, logit_scale=1.0, seed=0
    )
    np.testing.assert_array_equal(p.logpi0, q.logpi0)
    np.testing.assert_array_equal(p.correct, q.correct)


def test_random_envs_signatures():
    """Shapes by position or by name; the options only by name (keyword-only)."""
    assert PromptPopulation.random(n_prompts=3, n_responses=4).shape == (3, 4)
    assert Bandit.random(n_contexts=2, n_actions=3).shape == (2, 3)
    with pytest.raises(TypeError):
        PromptPopulation.random(3, 4, (0.5, 2.0))
    with pytest.raises(TypeError):
        Bandit.random(2, 3, "gaussian")
