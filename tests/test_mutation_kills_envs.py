"""pmdtheory.sim.envs: held-out survivors of `make mutation` (seed 3).

Each test was checked to fail on the mutant named in its comment.
"""

import numpy as np

from pmdtheory.sim import Bandit


def test_a_bandit_may_have_a_single_action():
    # mutant: `lo=2` for n_actions (the documented range is n_actions >= 1)
    env = Bandit.random(3, 1, seed=0)
    assert np.asarray(env.R).shape == (3, 1)
