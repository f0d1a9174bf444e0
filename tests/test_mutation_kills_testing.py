"""pmdtheory.testing's strategies: survivors of `make mutation`.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import numpy as np
from hypothesis import given, settings

from pmdtheory.testing import taus


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
