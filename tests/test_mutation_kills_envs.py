"""pmdtheory.sim.envs: held-out survivors of `make mutation` (seed 3).

Each test was checked to fail on the mutant named in its comment.
"""

import numpy as np
import pytest

from pmdtheory.sim import Bandit, PromptPopulation


def test_a_bandit_may_have_a_single_action():
    # mutant: `lo=2` for n_actions (the documented range is n_actions >= 1)
    env = Bandit.random(3, 1, seed=0)
    assert np.asarray(env.R).shape == (3, 1)


def test_each_prompts_correct_set_is_its_own_smallest_seeded_keys():
    # mutant: the inner `argsort(keys, axis=1)` -> `axis=0` (ranks across prompts). Each
    # row is still a subset of size m, so only the documented recipe tells them apart:
    # after the Beta draws and the sizes m, the generator's uniform keys pick, per prompt,
    # the m responses with the smallest keys.
    P, n, seed = 40, 12, 5
    env = PromptPopulation.random(P, n, seed=seed)
    rng = np.random.default_rng(seed)
    rng.beta(0.5, 2.0, size=P)
    m = rng.integers(1, n, size=P)
    keys = rng.uniform(size=(P, n))
    for i in range(P):
        want = np.sort(np.argsort(keys[i])[: m[i]])
        np.testing.assert_array_equal(np.flatnonzero(env.correct[i]), want)


# ---- lines its mutation targets never reached (coverage, session 5)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_logits_with_nan_or_plus_inf_are_refused(bad):
    with pytest.raises(ValueError, match=r"^logits must not contain NaN or \+inf$"):
        Bandit([[0.0, 1.0]], logits=[[0.0, bad]])
    with pytest.raises(ValueError, match=r"^logits must not contain NaN or \+inf$"):
        PromptPopulation([[True, False]], logits=[[bad, 0.0]])
    # -inf is an action outside the support: allowed while one logit per row is finite
    assert Bandit([[0.0, 1.0]], logits=[[0.0, -np.inf]]).R.shape == (1, 2)


@pytest.mark.parametrize(("R", "msg"), [
    (np.ones((2, 2), dtype=complex), r"^R must be real, got dtype complex128$"),
    (np.ones(3), r"^R must be a 2-d array, got ndim=1$"),
    (np.ones((1, 2, 2)), r"^R must be a 2-d array, got ndim=3$"),
])  # fmt: skip
def test_rewards_must_be_a_real_2d_array(R, msg):
    with pytest.raises(ValueError, match=msg):
        Bandit(R)


def test_environments_are_frozen():
    # held-out (seed 5) mutant: `@dataclass(frozen=False)` let an environment's arrays be
    # swapped after __init__ checked them (and its hash change under a sweep's feet)
    import dataclasses

    from pmdtheory.sim import TabularMDP

    envs = [Bandit([[0.0, 1.0]]), PromptPopulation([[True, False]]),
            TabularMDP.random(3, 2, seed=0)]  # fmt: skip
    for env in envs:
        with pytest.raises(dataclasses.FrozenInstanceError):
            env.R = np.zeros((1, 2))


@pytest.mark.parametrize("row", [[False, False, False], [True, True, True]])
def test_a_prompt_without_a_correct_or_a_wrong_response_is_refused(row):
    # held-out (seed 7) mutant: `n_ok == -1` let a prompt with no correct response through
    # (its success rate would be 0 forever: no signal, and the p0 tiers divide by nothing)
    correct = np.array([[True, False, False], row])
    with pytest.raises(ValueError, match="at least one correct and one wrong response"):
        PromptPopulation(correct)


def test_gaussian_noise_has_standard_deviation_1_by_default():
    # full run (session 9): the dataclass field's default sigma 1.0 -> 0.0
    assert Bandit([[0.2, 0.3]], noise="gaussian").sigma == 1.0


@pytest.mark.parametrize("env", [Bandit, PromptPopulation])
def test_large_logits_are_normalised_without_overflow(env):
    # full run (session 9): the max-shift `logits - m` -> `logits + m` overflowed exp
    # for logits near 1000 (the shift is what makes large logits safe)
    R = [[0.0, 1.0]]
    got = env(R, logits=[[1000.0, 999.0]]).logpi0
    want = -np.log1p(np.exp([-1.0, 1.0]))  # log of e^1000 / (e^1000 + e^999), and e^999's
    np.testing.assert_allclose(got, [want], rtol=1e-15)


def test_a_population_may_hold_a_single_prompt():
    # full run (session 9): `n_prompts` lo=1 -> 2 refused a population of one prompt
    pop = PromptPopulation.random(1, 4, seed=0)
    assert pop.R.shape == (1, 4)


def test_the_derived_arrays_stay_out_of_the_repr():
    # full run (session 9): `repr=False` -> `True` on the fields derived at construction
    # (logpi0; a population's R): the repr shows what was given, not every array
    assert "logpi0" not in repr(Bandit([[0.2, 0.3]]))
    pop = PromptPopulation([[True, False]])
    assert "logpi0" not in repr(pop) and "R=" not in repr(pop)


def test_the_smallest_random_environments_are_accepted():
    # full run (session 9): the lower bounds n_contexts 1 -> 2, n_responses 2 -> 3 and
    # logit_scale 0 -> 1 refused valid sizes (at scale 0 the responses of a set are alike)
    assert Bandit.random(1, 3).R.shape == (1, 3)
    assert PromptPopulation.random(3, 2, seed=0).R.shape == (3, 2)
    flat = PromptPopulation.random(3, 4, logit_scale=0.0, seed=0)
    for logp, correct in zip(flat.logpi0, flat.correct, strict=True):  # no spread in a set
        assert np.ptp(logp[correct]) == 0 and np.ptp(logp[~correct]) == 0
    assert Bandit.random(2, 2, noise="gaussian").sigma == 1.0  # sigma 1.0 -> 2.0


def test_a_prompt_needs_two_responses():
    # full run (session 9): `correct.shape[1] < 2` -> `< 1` let a one-response prompt in
    # (it also lacks a correct or a wrong response, refused next with another message)
    with pytest.raises(ValueError, match=r">= 2 responses, got \(2, 1\)"):
        PromptPopulation([[True], [False]])
