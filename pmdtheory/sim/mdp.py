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

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from pmdtheory.sim import _check
from pmdtheory.sim._mc import _mc_q

#: tolerance on the row sums of P, rho and policies (they are renormalised)
_SUM_ATOL = 1e-9
#: most transitions one Monte-Carlo Q estimate may simulate
MC_MAX_STEPS = 1e9


class PolicyValue(NamedTuple):
    r"""Exact values of a policy, as returned by :meth:`TabularMDP.evaluate`.

    Examples
    --------
    >>> import numpy as np
    >>> from pmdtheory.sim import TabularMDP
    >>> mdp = TabularMDP.random(4, 2, gamma=0.5, seed=0)
    >>> v, q = mdp.evaluate(np.full((4, 2), 0.5))
    >>> v.shape, q.shape
    ((4,), (4, 2))
    """

    #: :math:`V^\pi(s)`, shape (S,)
    v: np.ndarray
    #: :math:`Q^\pi(s, a)`, shape (S, A)
    q: np.ndarray


@dataclass(frozen=True)
class DPResult:
    """Optimal solution from :meth:`TabularMDP.solve`, like QuantEcon's ``DPSolveResult``.

    Examples
    --------
    >>> from pmdtheory.sim import TabularMDP
    >>> res = TabularMDP.gridworld(3, gamma=0.9, slip=0.0).solve()
    >>> res.policy.shape, res.converged
    ((9,), True)
    >>> bool(abs(res.q.max(axis=1) - res.v).max() < 1e-12)  # v = max_a Q
    True
    """

    #: optimal values :math:`V^*(s)`, shape (S,)
    v: np.ndarray
    #: optimal action values :math:`Q^*(s, a)`, shape (S, A)
    q: np.ndarray
    #: a deterministic optimal policy: one action index per state, shape (S,)
    policy: np.ndarray
    #: number of policy evaluations (improvement steps) made
    num_iter: int
    #: whether the policy stabilised (always True: otherwise ``solve`` raises)
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
        Initial state distribution (renormalised); if omitted, uniform: every entry
        the float nearest 1/S.

    Raises
    ------
    ValueError
        Naming ``P`` unless it is finite, non-negative, of shape (S, A, S)
        with S, A >= 1 and rows summing to 1 within 1e-9 (they are
        renormalised); ``R`` unless finite of shape (S, A); ``gamma`` unless a
        real number in [0, 1); ``rho`` unless a distribution over S states
        (sum 1 within 1e-9).

    Notes
    -----
    Tested (``tests/test_sim_mdp.py``): ``P`` of a wrong shape, empty, NaN or
    not numeric, ``R`` of a wrong shape, ``gamma`` = 1, NaN or a string, and
    ``rho`` NaN or summing to 2 raise a ``ValueError`` naming the argument.
    The methods state their own tested domains.

    Examples
    --------
    >>> import numpy as np
    >>> from pmdtheory.sim import TabularMDP
    >>> P = np.zeros((2, 2, 2))
    >>> P[:, 0, 0] = P[:, 1, 1] = 1.0  # action a moves to state a
    >>> mdp = TabularMDP(P, R=[[0.0, 1.0], [0.0, 1.0]], gamma=0.5)
    >>> mdp.shape, mdp.rho.tolist()
    ((2, 2), [0.5, 0.5])
    >>> mdp.solve().v.tolist()  # always take action 1: 1 / (1 - 0.5)
    [2.0, 2.0]
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    rho: np.ndarray = None  # type: ignore[assignment]  # an array after __post_init__
    # rewards are the exact (or Monte-Carlo) Q values: no extra observation noise
    noise = "none"
    noise_code = 0
    sigma = 0.0

    def __post_init__(self):
        P = _check.array(self.P, "P", ndim=3)
        R = _check.array(self.R, "R", ndim=2)
        if P.shape[0] != P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
        if P.shape[0] < 1 or P.shape[1] < 1:
            raise ValueError(f"P must have at least one state and one action, got {P.shape}")
        if not np.all(np.isfinite(P)) or np.any(P < 0):
            raise ValueError("P must be finite and non-negative")
        if not np.allclose(P.sum(axis=2), 1.0, rtol=0, atol=_SUM_ATOL):
            raise ValueError(f"P must have rows summing to 1 (to {_SUM_ATOL})")
        if R.shape != P.shape[:2] or not np.all(np.isfinite(R)):
            raise ValueError(f"R must be finite with shape {P.shape[:2]}, got {R.shape}")
        gamma = _check.real(self.gamma, "gamma", lo=0.0, hi=1.0, hi_open=True)
        S = P.shape[0]
        if self.rho is None:
            # the float nearest 1/S in every entry (renormalising would move it by up to
            # 4 ulps where S of them do not sum to exactly 1, as for S = 20)
            rho = np.full(S, 1.0 / S)
        else:
            rho = _check.array(self.rho, "rho", ndim=1)
            if rho.shape != (S,) or not np.all(np.isfinite(rho)) or np.any(rho < 0):
                raise ValueError(f"rho must be a distribution over {S} states")
            if not abs(rho.sum() - 1.0) <= _SUM_ATOL:
                raise ValueError(f"rho must be a distribution over {S} states (sum 1)")
            rho = rho / rho.sum()
        object.__setattr__(self, "P", P / P.sum(axis=2, keepdims=True))
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "rho", rho)

    if TYPE_CHECKING:  # the constructor takes any array_like; the attributes are arrays

        def __init__(
            self,
            P: npt.ArrayLike,
            R: npt.ArrayLike,
            gamma: float,
            rho: npt.ArrayLike | None = None,
        ) -> None: ...

    @property
    def shape(self) -> tuple[int, int]:
        """``(S, A)``: states and actions.

        Examples
        --------
        >>> from pmdtheory.sim import TabularMDP
        >>> TabularMDP.gridworld(3).shape
        (9, 4)
        """
        return self.R.shape

    @property
    def logpi0(self) -> np.ndarray:
        """Uniform initial log-policy, shape (S, A).

        Examples
        --------
        >>> import numpy as np
        >>> from pmdtheory.sim import TabularMDP
        >>> logpi0 = TabularMDP.random(5, 4).logpi0
        >>> logpi0.shape, np.exp(logpi0[0]).round(12).tolist()
        ((5, 4), [0.25, 0.25, 0.25, 0.25])
        """
        S, A = self.R.shape
        return np.full((S, A), -np.log(A))

    def _policy(self, pi) -> np.ndarray:
        """``pi`` checked (shape, finite, >= 0, rows summing to 1) and renormalised."""
        pi = _check.array(pi, "pi", ndim=2)
        if pi.shape != self.R.shape:
            raise ValueError(f"pi must have shape {self.R.shape}, got {pi.shape}")
        if not np.all(np.isfinite(pi)) or np.any(pi < 0):
            raise ValueError("pi must be finite and non-negative")
        total = pi.sum(axis=1, keepdims=True)
        if not np.all(np.abs(total - 1.0) <= _SUM_ATOL):
            raise ValueError(f"pi must have rows summing to 1 (to {_SUM_ATOL})")
        return pi / total

    def _evaluate(self, pi) -> PolicyValue:
        S = self.R.shape[0]
        P_pi = np.einsum("sa,sat->st", pi, self.P)
        r_pi = np.einsum("sa,sa->s", pi, self.R)
        v = np.linalg.solve(np.eye(S) - self.gamma * P_pi, r_pi)
        return PolicyValue(v, self.R + self.gamma * self.P @ v)

    def evaluate(self, pi: npt.ArrayLike) -> PolicyValue:
        r"""Exact :math:`V^\pi, Q^\pi` by solving :math:`(I - \gamma P_\pi) v = r_\pi`.

        One dense linear solve (no iteration), so every ``gamma < 1`` works; the
        system's condition number grows like :math:`1/(1-\gamma)`. ``pi`` rows
        must sum to 1 to within 1e-9 (they are renormalised).

        Parameters
        ----------
        pi : array_like, shape (S, A)
            Policy: finite, non-negative, rows summing to 1.

        Returns
        -------
        PolicyValue
            ``v`` (S,) and ``q = R + gamma P v`` (S, A).

        Raises
        ------
        ValueError
            Naming ``pi`` if its shape, values or row sums are wrong.

        Notes
        -----
        Tested (``tests/test_sim_mdp.py``): on a random MDP (15 states, 3
        actions, gamma 0.9, a random policy) ``v`` and ``q`` equal a
        2000-term Neumann series to 1e-10, and :math:`\sum_a \pi(a|s) Q(s, a)
        = V(s)`; a wrong shape, NaN or rows summing to 1.5 raise.

        Examples
        --------
        >>> import numpy as np
        >>> from pmdtheory.sim import TabularMDP
        >>> mdp = TabularMDP.random(4, 2, gamma=0.5, seed=0)
        >>> pi = np.full((4, 2), 0.5)
        >>> v, q = mdp.evaluate(pi)
        >>> bool(np.allclose((pi * q).sum(axis=1), v))
        True
        """
        return self._evaluate(self._policy(pi))

    def value(self, pi: npt.ArrayLike) -> float:
        r""":math:`\rho^\top V^\pi`: the expected discounted return from ``rho``.

        ``pi`` is checked as in :meth:`evaluate` (tested there, to 1e-10).

        Examples
        --------
        >>> import numpy as np
        >>> from pmdtheory.sim import TabularMDP
        >>> g = TabularMDP.gridworld(3, gamma=0.9, slip=0.0)
        >>> round(g.value(np.eye(4)[g.solve().policy]), 6)  # 0.9**4 / (1 - 0.9)
        6.561
        """
        return float(self.rho @ self.evaluate(pi).v)

    def solve(self, *, max_iter: int = 10_000) -> DPResult:
        r"""Optimal values and a deterministic optimal policy by policy iteration.

        Howard's policy iteration, as QuantEcon's
        ``DiscreteDP.solve("policy_iteration")``: start from the policy greedy
        for :math:`v_0(s) = \max_a R(s, a)`, evaluate it exactly (one linear solve of
        :math:`(I - \gamma P_\sigma) v = r_\sigma`), switch every state to a
        greedy action of :math:`Q = R + \gamma P v`, and stop when no state
        switches. A state keeps its action unless another one is better by more
        than rounding (``1e-12 (1 + |v|)``), so ties cannot make it cycle. The
        iteration count is finite for every ``gamma < 1`` (no value-iteration
        sweeps, no tolerance on ``v``); ``v`` is exact to the accuracy of the
        last linear solve. Tested: values equal QuantEcon's to 1e-10 on random
        MDPs (gamma up to 0.9999) and brute force over all deterministic policies.

        Parameters
        ----------
        max_iter : int
            Cap on improvement steps (never reached in practice: each strictly
            improves the policy); reaching it raises ``ValueError``.

        Returns
        -------
        DPResult
            ``v`` (S,), ``q`` (S, A), ``policy`` (S,) ints, ``num_iter`` (policy
            evaluations), ``converged`` (always True).

        Examples
        --------
        >>> from pmdtheory.sim import TabularMDP
        >>> res = TabularMDP.gridworld(4, gamma=0.9, slip=0.0).solve()
        >>> round(float(res.v[0]), 6), res.num_iter <= 10
        (5.31441, True)
        """
        max_iter = _check.integer(max_iter, "max_iter", lo=1)
        S, A = self.R.shape
        rows = np.arange(S)
        eye = np.eye(S)
        # QuantEcon's start: greedy for v0(s) = max_a R(s, a)
        sigma = (self.R + self.gamma * (self.P @ self.R.max(axis=1))).argmax(axis=1)
        for num_iter in range(1, max_iter + 1):
            # exact evaluation of the deterministic policy sigma: one linear solve
            v = np.linalg.solve(eye - self.gamma * self.P[rows, sigma], self.R[rows, sigma])
            q = self.R + self.gamma * (self.P @ v)
            best = q.max(axis=1)
            keep = q[rows, sigma] >= best - 1e-12 * (1.0 + np.abs(v))
            if keep.all():
                return DPResult(v, q, sigma, num_iter, True)
            sigma = np.where(keep, sigma, q.argmax(axis=1))
        raise ValueError(f"max_iter: policy iteration did not stabilise in {max_iter} steps")

    def mc_q(
        self,
        pi: npt.ArrayLike,
        *,
        n_rollouts: int = 16,
        horizon: int | None = None,
        seed: int = 0,
        iteration: int = 0,
    ) -> np.ndarray:
        r"""Monte-Carlo estimate of :math:`Q^\pi(s, a)` from ``n_rollouts`` truncated rollouts.

        Each rollout starts in ``s`` with action ``a`` and follows ``pi`` for
        ``horizon`` steps (default: until :math:`\gamma^H < 10^{-4}`). Draws come
        from the counter-based stream of ``(seed, iteration, s, a, rollout, step)``.
        The work, ``S * A * n_rollouts * horizon`` transitions, must stay below
        ``MC_MAX_STEPS`` (1e9, about a minute on one core); beyond, a ValueError
        names ``horizon`` (the default horizon at gamma = 0.9999 is 92,099).

        Parameters
        ----------
        pi : array_like, shape (S, A)
            Policy, checked as in :meth:`evaluate`.
        n_rollouts : int
            Rollouts per state-action pair, >= 1.
        horizon : int, optional
            Steps per rollout, >= 1.
        seed, iteration : int
            Keys of the random stream, 0 to 2**63 - 1: the same keys give the
            same estimate on any machine and thread count.

        Returns
        -------
        ndarray, shape (S, A)

        Notes
        -----
        Tested (``tests/test_sim_mdp.py``, 15 states x 3 actions, gamma 0.9,
        400 rollouts of 200 steps): every entry lies within 5 standard errors
        (bounded by Popoviciu's inequality) plus the truncation bias of the
        exact Q, the errors are not trivially zero, and the same seed gives
        the same array; bad ``pi``, ``n_rollouts`` and ``horizon`` raise a
        ``ValueError`` naming them.

        Examples
        --------
        >>> import numpy as np
        >>> from pmdtheory.sim import TabularMDP
        >>> mdp = TabularMDP.random(4, 2, gamma=0.5, seed=0)  # rewards in [0, 1]
        >>> pi = np.full((4, 2), 0.5)
        >>> q_mc = mdp.mc_q(pi, n_rollouts=2000, horizon=30, seed=1)
        >>> sd_max = 0.5 / (1 - mdp.gamma)  # a return lies in [0, 1 / (1 - gamma)]
        >>> bool(np.abs(q_mc - mdp.evaluate(pi).q).max() < 5 * sd_max / np.sqrt(2000))
        True
        """
        pi = self._policy(pi)
        n_rollouts, horizon = self._mc_budget(n_rollouts, horizon)
        seed = _check.integer(seed, "seed", lo=0, hi=2**63 - 1)
        iteration = _check.integer(iteration, "iteration", lo=0, hi=2**63 - 1)
        S, A = self.R.shape
        cdf_p = np.cumsum(self.P, axis=2).reshape(S * A, S)
        cdf_pi = np.cumsum(pi, axis=1)
        out = np.empty((S, A))
        _mc_q(cdf_p, cdf_pi, self.R, self.gamma, n_rollouts, horizon, seed, iteration, out)
        return out

    def _mc_budget(self, n_rollouts, horizon) -> tuple[int, int]:
        """Checked (n_rollouts, horizon) of :meth:`mc_q`, default horizon filled in."""
        n_rollouts = _check.integer(n_rollouts, "n_rollouts", lo=1)
        if horizon is None:
            horizon = 1 if self.gamma == 0 else int(np.ceil(np.log(1e-4) / np.log(self.gamma)))
        horizon = _check.integer(horizon, "horizon", lo=1)
        S, A = self.R.shape
        work = S * A * n_rollouts * horizon
        if work > MC_MAX_STEPS:
            raise ValueError(
                f"horizon is too long: {S} x {A} state-actions x {n_rollouts} rollouts x "
                f"{horizon} steps = {work:.3g} transitions per Q estimate, above "
                f"{MC_MAX_STEPS:.0e}; lower horizon or n_rollouts"
            )
        return n_rollouts, horizon

    @classmethod
    def random(
        cls,
        n_states: int = 20,
        n_actions: int = 4,
        *,
        gamma: float = 0.9,
        branching: int = 3,
        seed: int = 0,
    ) -> TabularMDP:
        """Random MDP: each (s, a) moves to ``branching`` random states with Dirichlet weights.

        Rewards are uniform on [0, 1], ``rho`` uniform, all drawn from
        :func:`numpy.random.default_rng` with ``seed``.

        Parameters
        ----------
        n_states, n_actions : int
            S and A, each >= 1.
        gamma : float
            Discount in [0, 1).
        branching : int
            Successor states of each (s, a), in [1, S].
        seed : int
            Seed of the generator.

        Returns
        -------
        TabularMDP

        Notes
        -----
        The solver and evaluation tests use these MDPs with S from 1 to 30,
        A from 1 to 5 and gamma from 0 to 0.999999 (``tests/test_sim_mdp.py``).

        Examples
        --------
        >>> import numpy as np
        >>> from pmdtheory.sim import TabularMDP
        >>> mdp = TabularMDP.random(6, 3, branching=2, seed=0)
        >>> mdp.P.shape, int((mdp.P > 0).sum(axis=2).max())
        ((6, 3, 6), 2)
        """
        n_states = _check.integer(n_states, "n_states", lo=1)
        n_actions = _check.integer(n_actions, "n_actions", lo=1)
        branching = _check.integer(branching, "branching", lo=1, hi=n_states)
        rng = np.random.default_rng(seed)
        P = np.zeros((n_states, n_actions, n_states))
        for s in range(n_states):
            for a in range(n_actions):
                nxt = rng.choice(n_states, size=branching, replace=False)
                P[s, a, nxt] = rng.dirichlet(np.ones(branching))
        R = rng.uniform(size=(n_states, n_actions))
        return cls(P, R, gamma)

    @classmethod
    def gridworld(cls, size: int = 4, *, gamma: float = 0.9, slip: float = 0.1) -> TabularMDP:
        """``size x size`` grid, actions up/down/left/right, slipping to a random move.

        Start in the top-left corner; the bottom-right corner is absorbing and
        pays reward 1 per step; walls keep the agent in place.

        Parameters
        ----------
        size : int
            Side of the grid, 2 to 64 (S = size**2 states, A = 4 actions).
        gamma : float
            Discount in [0, 1).
        slip : float
            Probability in [0, 1] that the move is replaced by a uniformly
            random one.

        Returns
        -------
        TabularMDP

        Notes
        -----
        Tested (``tests/test_sim_mdp.py``, size 4, gamma 0.9, no slip): the
        goal's value is 1/(1 - gamma), the start's gamma**6/(1 - gamma), and
        the optimal policy steps right / down into the goal.

        Examples
        --------
        >>> from pmdtheory.sim import TabularMDP
        >>> g = TabularMDP.gridworld(4, gamma=0.9, slip=0.0)
        >>> round(float(g.solve().v[-1]), 6)  # the goal pays 1 forever
        10.0
        """
        size = _check.integer(size, "size", lo=2, hi=64)
        slip = _check.real(slip, "slip", lo=0.0, hi=1.0)
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
