r"""Finite discounted MDPs: exact policy evaluation, optimal values, Monte-Carlo Q.

A :class:`TabularMDP` holds ``S`` states, ``A`` actions, a transition tensor
``P[s, a, s']``, rewards ``R[s, a]``, a discount ``gamma`` and an initial
distribution ``rho``. Policies are arrays ``pi[s, a]`` of probabilities.
The solver API follows the shape of QuantEcon's ``DiscreteDP``: one method
returns a small result object (:class:`DPResult`).

References
----------
THEORY.md §7; M. L. Puterman, *Markov Decision Processes* (1994), ch. 6.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pmdtheory.sim._mc import _mc_q


class PolicyValue(NamedTuple):
    """Exact values of a policy: ``v`` shape (S,), ``q`` shape (S, A)."""

    v: np.ndarray
    q: np.ndarray


@dataclass(frozen=True)
class DPResult:
    """Optimal solution: values ``v``, ``q``, greedy ``policy`` (S,) ints, iteration count."""

    v: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    num_iter: int
    converged: bool


@dataclass(frozen=True)
class TabularMDP:
    r"""A finite discounted MDP :math:`(S, A, P, R, \gamma, \rho)`.

    Parameters
    ----------
    P : array_like, shape (S, A, S)
        Transition probabilities, rows summing to one.
    R : array_like, shape (S, A)
        Expected immediate reward.
    gamma : float
        Discount in [0, 1).
    rho : array_like, shape (S,), optional
        Initial state distribution (uniform if omitted).
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    rho: np.ndarray | None = None
    # rewards are the exact (or Monte-Carlo) Q values: no extra observation noise
    noise = "none"
    noise_code = 0
    sigma = 0.0

    def __post_init__(self):
        P = np.ascontiguousarray(self.P, dtype=np.float64)
        R = np.ascontiguousarray(self.R, dtype=np.float64)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
        if np.any(P < 0) or not np.allclose(P.sum(axis=2), 1.0, atol=1e-10):
            raise ValueError("P must be non-negative with rows summing to 1")
        if R.shape != P.shape[:2] or not np.all(np.isfinite(R)):
            raise ValueError(f"R must be finite with shape {P.shape[:2]}, got {R.shape}")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must lie in [0, 1), got {self.gamma}")
        S = P.shape[0]
        rho = np.full(S, 1.0 / S) if self.rho is None else np.asarray(self.rho, np.float64)
        if rho.shape != (S,) or np.any(rho < 0) or not np.isclose(rho.sum(), 1.0):
            raise ValueError(f"rho must be a distribution over {S} states")
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "rho", rho)

    @property
    def shape(self) -> tuple[int, int]:
        return self.R.shape

    @property
    def logpi0(self) -> np.ndarray:
        """Uniform initial log-policy, shape (S, A)."""
        S, A = self.R.shape
        return np.full((S, A), -np.log(A))

    def evaluate(self, pi) -> PolicyValue:
        r"""Exact :math:`V^\pi, Q^\pi` by solving :math:`(I - \gamma P_\pi) v = r_\pi`."""
        pi = np.asarray(pi, dtype=np.float64)
        if pi.shape != self.R.shape:
            raise ValueError(f"pi must have shape {self.R.shape}, got {pi.shape}")
        S = self.R.shape[0]
        P_pi = np.einsum("sa,sat->st", pi, self.P)
        r_pi = np.einsum("sa,sa->s", pi, self.R)
        v = np.linalg.solve(np.eye(S) - self.gamma * P_pi, r_pi)
        return PolicyValue(v, self.R + self.gamma * self.P @ v)

    def value(self, pi) -> float:
        r""":math:`\rho^\top V^\pi`."""
        return float(self.rho @ self.evaluate(pi).v)

    def solve(self, *, vi_tol=1e-6, max_iter=100_000) -> DPResult:
        """Optimal values by value iteration, polished by policy iteration.

        Value iteration runs until successive values differ by less than
        ``vi_tol`` (sup norm); then policy iteration (exact evaluation, greedy
        improvement keeping the current action on ties) runs until the greedy
        policy is stable, which makes ``v`` exact to rounding. ``num_iter``
        counts both kinds of sweeps.
        """
        v = np.zeros(self.R.shape[0])
        num_iter = 0
        while num_iter < max_iter:
            num_iter += 1
            v_new = (self.R + self.gamma * self.P @ v).max(axis=1)
            delta = np.max(np.abs(v_new - v))
            v = v_new
            if delta < vi_tol:
                break
        sigma = (self.R + self.gamma * self.P @ v).argmax(axis=1)
        rows = np.arange(len(sigma))
        converged = False
        while num_iter < max_iter:
            num_iter += 1
            v, q = self.evaluate(np.eye(self.R.shape[1])[sigma])
            keep = q[rows, sigma] >= q.max(axis=1) - 1e-12 * (1.0 + np.abs(v))
            new = np.where(keep, sigma, q.argmax(axis=1))
            if np.array_equal(new, sigma):
                converged = True
                break
            sigma = new
        return DPResult(v, q, sigma, num_iter, converged)

    def mc_q(self, pi, *, n_rollouts=16, horizon=None, seed=0, iteration=0) -> np.ndarray:
        r"""Monte-Carlo estimate of :math:`Q^\pi(s, a)` from ``n_rollouts`` truncated rollouts.

        Each rollout starts in ``s`` with action ``a`` and follows ``pi`` for
        ``horizon`` steps (default: until :math:`\gamma^H < 10^{-4}`). Draws come
        from the counter-based stream of ``(seed, iteration, s, a, rollout, step)``.
        """
        if n_rollouts < 1:
            raise ValueError(f"n_rollouts must be >= 1, got {n_rollouts}")
        if horizon is None:
            horizon = 1 if self.gamma == 0 else int(np.ceil(np.log(1e-4) / np.log(self.gamma)))
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        pi = np.ascontiguousarray(pi, dtype=np.float64)
        S, A = self.R.shape
        cdf_p = np.cumsum(self.P, axis=2).reshape(S * A, S)
        cdf_pi = np.cumsum(pi, axis=1)
        out = np.empty((S, A))
        _mc_q(cdf_p, cdf_pi, self.R, self.gamma, n_rollouts, horizon, seed, iteration, out)
        return out

    @classmethod
    def random(cls, n_states=20, n_actions=4, *, gamma=0.9, branching=3, seed=0):
        """Random MDP: each (s, a) moves to ``branching`` random states with Dirichlet weights."""
        if n_states < 1:
            raise ValueError(f"n_states must be >= 1, got {n_states}")
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions}")
        if not 1 <= branching <= n_states:
            raise ValueError(f"branching must lie in [1, n_states], got {branching}")
        rng = np.random.default_rng(seed)
        P = np.zeros((n_states, n_actions, n_states))
        for s in range(n_states):
            for a in range(n_actions):
                nxt = rng.choice(n_states, size=branching, replace=False)
                P[s, a, nxt] = rng.dirichlet(np.ones(branching))
        R = rng.uniform(size=(n_states, n_actions))
        return cls(P, R, gamma)

    @classmethod
    def gridworld(cls, size=4, *, gamma=0.9, slip=0.1):
        """``size x size`` grid, actions up/down/left/right, slipping to a random move.

        Start in the top-left corner; the bottom-right corner is absorbing and
        pays reward 1 per step; walls keep the agent in place.
        """
        if size < 2:
            raise ValueError(f"size must be >= 2, got {size}")
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must lie in [0, 1], got {slip}")
        S, A = size * size, 4
        moves = [(-1, 0), (1, 0), (0, -1), (0, 1)]
        goal = S - 1

        def step(s, m):
            i, j = divmod(s, size)
            di, dj = moves[m]
            i2, j2 = min(max(i + di, 0), size - 1), min(max(j + dj, 0), size - 1)
            return i2 * size + j2

        P = np.zeros((S, A, S))
        R = np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                if s == goal:
                    P[s, a, s] = 1.0
                    R[s, a] = 1.0
                    continue
                P[s, a, step(s, a)] += 1.0 - slip
                for m in range(A):
                    P[s, a, step(s, m)] += slip / A
        rho = np.zeros(S)
        rho[0] = 1.0
        return cls(P, R, gamma, rho)
