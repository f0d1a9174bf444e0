"""pmdtheory.sim (run.py and its helpers): survivors of `make mutation`.

Each test was checked to fail on the mutant named in its comment.
"""

import pandas as pd
import pytest

from pmdtheory.sim import PromptPopulation, TabularMDP, run

ENV = PromptPopulation.random(12, 6, seed=4)


def _frame(method, **kw):
    return run(ENV, method, iters=3, seed=1, **kw)


@pytest.mark.parametrize(
    ("method", "documented"),
    [
        # fit_steps 1 (TRL's num_iterations), k 16, tau 0.05, staleness 0
        ("mean_sampled", {"fit_steps": 1, "k": 16, "tau": 0.05, "staleness": 0}),
        # and GRPO's clip 0.2 and eps 1e-4 (TRL's)
        ("grpo", {"fit_steps": 1, "k": 16, "tau": 0.05, "clip": 0.2, "eps": 1e-4}),
    ],
)
def test_run_defaults_are_the_documented_ones(method, documented):
    # mutant: run's `fit_steps: int = 1` -> `2` (only an @overload stub's copy is never run)
    pd.testing.assert_frame_equal(_frame(method), _frame(method, **documented))
    # and the options do matter, so the comparison can fail
    assert not _frame(method).equals(_frame(method, **{**documented, "fit_steps": 2}))


def test_monte_carlo_q_defaults_to_16_rollouts():
    mdp = TabularMDP.random(4, 2, gamma=0.5, seed=0)
    got = run(mdp, "mean_sampled", iters=2, q="mc")
    pd.testing.assert_frame_equal(got, run(mdp, "mean_sampled", iters=2, q="mc", n_rollouts=16))
    assert not got.equals(run(mdp, "mean_sampled", iters=2, q="mc", n_rollouts=17))


def test_progress_bar_counts_every_iteration(capsys):
    # mutant: `bar.update(1)` -> `bar.update(0)` (the bar never moved)
    run(ENV, ["mean", "exact"], iters=3, seed=[0, 1], progress=True)
    err = capsys.readouterr().err
    assert "12/12" in err  # 2 methods x 2 seeds x 3 iterations


def test_a_ragged_array_is_refused_naming_the_argument():
    # mutant: `except Exception` -> a class nothing raises (numpy's own ValueError for the
    # ragged list then escapes without the argument's name)
    from pmdtheory.sim import Bandit

    with pytest.raises(ValueError, match="^R must be a numeric array"):
        Bandit([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="^logits must be a numeric array"):
        PromptPopulation([[True, False]], logits=[[1.0, 0.0], [2.0]])
