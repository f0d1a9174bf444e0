"""Private Numba kernel of Monte-Carlo Q estimation on tabular MDPs.

Parallel over start states; every draw is a hash of (seed, iteration,
state-action, rollout step), so estimates do not depend on the thread count.
"""

import numpy as np
from numba import njit, prange

from pmdtheory.sim._kernels import _search
from pmdtheory.sim._rng import STREAM_TRANSITION, uniform


@njit(cache=True, parallel=True)
def _mc_q(cdf_p, cdf_pi, R, gamma, n_rollouts, horizon, seed, it, out):
    """Monte-Carlo Q(s, a): mean discounted return of truncated rollouts.

    ``cdf_p`` (S*A, S) and ``cdf_pi`` (S, A) are cumulative transition and policy
    rows; each rollout step draws the next state, then the next action.
    """
    S, A = R.shape
    for s0 in prange(S):
        for a0 in range(A):
            ctx = s0 * A + a0
            total = 0.0
            for j in range(n_rollouts):
                s = np.int64(s0)
                a = np.int64(a0)
                ret = 0.0
                disc = 1.0
                for h in range(horizon):
                    ret += disc * R[s, a]
                    disc *= gamma
                    if h == horizon - 1:
                        break
                    key = (j * horizon + h) * 2
                    row = cdf_p[s * A + a]
                    u = uniform(seed, it, ctx, key, STREAM_TRANSITION) * row[S - 1]
                    s = _search(row, u)
                    u = uniform(seed, it, ctx, key + 1, STREAM_TRANSITION) * cdf_pi[s, A - 1]
                    a = _search(cdf_pi[s], u)
                total += ret
            out[s0, a0] = total / n_rollouts
