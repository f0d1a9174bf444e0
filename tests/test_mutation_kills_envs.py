"""pmdtheory.sim.envs: held-out survivors of `make mutation` (seed 3).

Each test was checked to fail on the mutant named in its comment.
"""

import numpy as np

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
