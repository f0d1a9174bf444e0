r"""Bandit environments: independent contexts with tabular policies.

Both environments describe a batch of ``P`` independent contexts (prompts), each
with ``n`` actions (responses), a mean-reward matrix ``R`` of shape ``(P, n)``
and an initial log-policy ``logpi0`` of the same shape (normalised per row,
``-inf`` allowed for actions outside the support). The simulators in
:mod:`pmdtheory.sim.run` only read these attributes, so a user may also build
either class directly from arrays.

References
----------
THEORY.md §1 (setting), §6 (binary rewards, hard and easy prompts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pmdtheory.sim import _check

#: observation noises of a :class:`Bandit`
NOISES = ("none", "bernoulli", "gaussian")
_NOISE_CODE = {"none": 0, "bernoulli": 1, "gaussian": 2}


def _log_normalise(logits, name):
    logits = _check.array(logits, name, ndim=2)
    if np.any(np.isnan(logits)) or np.any(logits == np.inf):
        raise ValueError(f"{name} must not contain NaN or +inf")
    m = logits.max(axis=1, keepdims=True)
    if np.any(~np.isfinite(m)):
        raise ValueError(f"{name} must give every context at least one finite logit")
    z = logits - m
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _check_rewards(R, name):
    R = _check.array(R, name, ndim=2)
    if R.shape[0] < 1 or R.shape[1] < 1:
        raise ValueError(f"{name} must have at least one context and one action, got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError(f"{name} must be finite")
    return R


@dataclass(frozen=True)
class Bandit:
    r"""Independent multi-armed bandits, one per context.

    Parameters
    ----------
    R : array_like, shape (P, n)
        Mean reward of each action in each context.
    logits : array_like, shape (P, n), optional
        Initial policy logits (``-inf`` for excluded actions); uniform if omitted.
    noise : {"none", "bernoulli", "gaussian"}
        Observed reward of a sampled action: ``R`` itself, a Bernoulli draw with
        mean ``R`` (then ``R`` must lie in [0, 1]), or ``R + sigma * N(0, 1)``.
    sigma : float, default 1.0
        Standard deviation of the Gaussian noise, finite and >= 0.

    Attributes
    ----------
    logpi0 : ndarray, shape (P, n)
        The initial log-policy: ``logits`` normalised per row.

    Raises
    ------
    ValueError
        Naming the argument: ``R`` not finite and 2-D with at least one
        context and one action (or outside [0, 1] with Bernoulli noise),
        ``logits`` of another shape, with NaN or +inf, or a row without a
        finite entry, an unknown ``noise``, a negative or infinite ``sigma``.

    Notes
    -----
    Tested (``tests/test_sim_envs.py``): logits with ``-inf`` entries are
    normalised to within 1e-12; ``R`` 1-D, empty, NaN or not numeric, or
    outside [0, 1] with Bernoulli noise, an unknown ``noise``, ``sigma``
    negative, infinite or a string, ``logits`` of another shape or all
    ``-inf`` raise a ``ValueError`` naming the argument. The sampled kernels
    draw the three noises as the plain-numpy reference does
    (``tests/test_sim_run.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from pmdtheory.sim import Bandit
    >>> env = Bandit([[0.0, 1.0, 0.5]], logits=[[0.0, -np.inf, 0.0]])
    >>> env.shape
    (1, 3)
    >>> np.exp(env.logpi0).tolist()
    [[0.5, 0.0, 0.5]]
    """

    R: np.ndarray
    logits: npt.ArrayLike | None = None  # kept as given
    noise: str = "none"
    sigma: float = 1.0
    logpi0: np.ndarray = field(init=False, repr=False)

    if TYPE_CHECKING:  # the constructor takes any array_like; the attributes are arrays

        def __init__(
            self,
            R: npt.ArrayLike,
            logits: npt.ArrayLike | None = ...,
            noise: str = ...,
            sigma: float = ...,
        ) -> None: ...  # the defaults are the fields' (a stub never runs)

    def __post_init__(self):
        R = _check_rewards(self.R, "R")
        if self.noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {self.noise!r}")
        if self.noise == "bernoulli" and (R.min() < 0.0 or R.max() > 1.0):
            raise ValueError("R must lie in [0, 1] for noise='bernoulli'")
        sigma = _check.real(self.sigma, "sigma", lo=0.0)
        logits = np.zeros_like(R) if self.logits is None else self.logits
        logpi0 = _log_normalise(logits, "logits")
        if logpi0.shape != R.shape:
            raise ValueError(f"logits must have shape {R.shape}, got {logpi0.shape}")
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "logpi0", logpi0)

    @property
    def noise_code(self) -> int:
        """The kernels' code of ``noise``: 0 none, 1 bernoulli, 2 gaussian.

        Examples
        --------
        >>> from pmdtheory.sim import Bandit
        >>> Bandit([[0.2, 0.3]], noise="gaussian", sigma=0.1).noise_code
        2
        """
        return _NOISE_CODE[self.noise]

    @property
    def shape(self) -> tuple[int, int]:
        """``(P, n)``: contexts and actions.

        Examples
        --------
        >>> from pmdtheory.sim import Bandit
        >>> Bandit([[0.2, 0.3, 0.1]]).shape
        (1, 3)
        """
        return self.R.shape

    @classmethod
    def random(
        cls,
        n_contexts: int = 100,
        n_actions: int = 10,
        *,
        noise: str = "none",
        sigma: float = 1.0,
        seed: int = 0,
    ) -> Bandit:
        """Means uniform on [0, 1], initial logits standard normal, from ``seed``.

        Parameters
        ----------
        n_contexts, n_actions : int
            Shape ``(P, n)``, each >= 1.
        noise : {"none", "bernoulli", "gaussian"}
            Observation noise, as in :class:`Bandit`.
        sigma : float
            Standard deviation of the Gaussian noise.
        seed : int
            Seed of :func:`numpy.random.default_rng`: the same seed gives the
            same bandit (tested).

        Returns
        -------
        Bandit

        Examples
        --------
        >>> from pmdtheory.sim import Bandit
        >>> env = Bandit.random(5, 3, noise="bernoulli", seed=1)
        >>> env.shape, bool(((env.R >= 0) & (env.R <= 1)).all())
        ((5, 3), True)
        >>> bool((env.R == Bandit.random(5, 3, seed=1).R).all())
        True
        """
        n_contexts = _check.integer(n_contexts, "n_contexts", lo=1)
        n_actions = _check.integer(n_actions, "n_actions", lo=1)
        rng = np.random.default_rng(seed)
        R = rng.uniform(size=(n_contexts, n_actions))
        logits = rng.standard_normal((n_contexts, n_actions))
        return cls(R, logits, noise=noise, sigma=sigma)


@dataclass(frozen=True)
class PromptPopulation:
    r"""Binary-reward prompts: the LLM post-training abstraction.

    Prompt ``j`` has ``n`` candidate responses, of which those with
    ``correct[j, a]`` earn reward 1 and the rest 0. Its success probability
    under a policy is :math:`p_j = \sum_{a \text{ correct}} \pi(a)`.

    Parameters
    ----------
    correct : array_like of bool, shape (P, n)
        Which responses are correct; every prompt needs at least one of each.
    logits : array_like, shape (P, n), optional
        Initial logits; uniform if omitted.

    Attributes
    ----------
    R : ndarray, shape (P, n)
        ``correct`` as floats: the reward of each response.
    logpi0 : ndarray, shape (P, n)
        The initial log-policy: ``logits`` normalised per row.

    Raises
    ------
    ValueError
        Naming ``correct`` if it is not 2-D boolean (or 0/1) with at least
        one prompt, two responses, and one correct and one wrong response per
        prompt; naming ``logits`` if they have another shape or NaN / +inf.

    Notes
    -----
    Tested (``tests/test_sim_envs.py``): 0/1 numbers are accepted as booleans;
    0.5, NaN, strings, prompts without a wrong (or correct) response, no
    prompts, one response, and logits of another shape raise a ``ValueError``
    naming the argument.

    Examples
    --------
    >>> from pmdtheory.sim import PromptPopulation
    >>> env = PromptPopulation([[True, False, False], [True, True, False]])
    >>> env.p0.round(4).tolist()
    [0.3333, 0.6667]
    >>> env.R.tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    """

    correct: np.ndarray
    logits: npt.ArrayLike | None = None  # kept as given
    R: np.ndarray = field(init=False, repr=False)
    logpi0: np.ndarray = field(init=False, repr=False)
    noise = "none"
    sigma = 0.0
    noise_code = 0

    if TYPE_CHECKING:  # the constructor takes any array_like; the attributes are arrays

        def __init__(
            self, correct: npt.ArrayLike, logits: npt.ArrayLike | None = None
        ) -> None: ...

    def __post_init__(self):
        raw = _check.array(self.correct, "correct", ndim=2, dtype=None)
        # 0/1 numbers are accepted as booleans; anything else (0.5, 2, NaN) is refused,
        # not rounded to True
        if raw.dtype != np.bool_ and not np.all((raw == 0) | (raw == 1)):
            raise ValueError("correct must be boolean (or 0/1), got other values")
        correct = np.ascontiguousarray(raw, dtype=bool)
        if correct.shape[0] < 1 or correct.shape[1] < 2:
            raise ValueError(
                f"correct must have >= 1 prompt and >= 2 responses, got {correct.shape}"
            )
        n_ok = correct.sum(axis=1)
        if np.any(n_ok == 0) or np.any(n_ok == correct.shape[1]):
            raise ValueError("correct must mark at least one correct and one wrong response")
        logits = np.zeros(correct.shape) if self.logits is None else self.logits
        logpi0 = _log_normalise(logits, "logits")
        if logpi0.shape != correct.shape:
            raise ValueError(f"logits must have shape {correct.shape}, got {logpi0.shape}")
        object.__setattr__(self, "correct", correct)
        object.__setattr__(self, "R", correct.astype(np.float64))
        object.__setattr__(self, "logpi0", logpi0)

    @property
    def shape(self) -> tuple[int, int]:
        """``(P, n)``: prompts and responses.

        Examples
        --------
        >>> from pmdtheory.sim import PromptPopulation
        >>> PromptPopulation([[True, False, False]]).shape
        (1, 3)
        """
        return self.R.shape

    @property
    def p0(self) -> np.ndarray:
        """Initial success probability of each prompt, shape (P,).

        Examples
        --------
        >>> from pmdtheory.sim import PromptPopulation
        >>> PromptPopulation([[True, False]], logits=[[1.0, 0.0]]).p0.round(4).tolist()
        [0.7311]
        """
        return np.where(self.correct, np.exp(self.logpi0), 0.0).sum(axis=1)

    @classmethod
    def random(
        cls,
        n_prompts: int = 1000,
        n_responses: int = 64,
        *,
        difficulty: tuple[float, float] = (0.5, 2.0),
        p_min: float = 1e-3,
        logit_scale: float = 1.0,
        seed: int = 0,
    ) -> PromptPopulation:
        r"""Prompts whose initial success probability is Beta distributed.

        Each prompt draws :math:`p_j \sim \mathrm{Beta}(a, b)` with
        ``(a, b) = difficulty`` (clipped to ``[p_min, 1 - p_min]``), a number of
        correct responses uniform on ``1..n-1``, and standard normal logits
        times ``logit_scale``; the correct responses' logits are then shifted by
        one constant so that the success probability is exactly :math:`p_j`:

        .. math:: c_j = \operatorname{logit}(p_j) + \log\sum_{a \notin C} e^{z_a}
                  - \log\sum_{a \in C} e^{z_a}.

        The default Beta(0.5, 2) has mean 0.2 and puts a tenth of the prompts
        below p = 0.004: hard and easy prompts coexist.

        Parameters
        ----------
        n_prompts : int
            Number of prompts P, >= 1.
        n_responses : int
            Responses per prompt n, >= 2.
        difficulty : (float, float)
            The Beta parameters ``(a, b)``, both > 0.
        p_min : float
            Clip of the success probabilities, in (0, 0.5).
        logit_scale : float
            Spread of the logits, finite and >= 0.
        seed : int
            Seed of :func:`numpy.random.default_rng`.

        Returns
        -------
        PromptPopulation

        Notes
        -----
        Tested (``tests/test_sim_envs.py``, 5000 prompts x 32 responses,
        Beta(0.5, 2), ``p_min`` 1e-3): :attr:`p0` equals the seeded, clipped
        Beta draws to 1e-12, every prompt has 1 to n - 1 correct responses,
        and they are the ones with its smallest seeded uniform keys
        (``tests/test_mutation_kills_envs.py``); the same seed gives the same
        population; bad arguments raise a ``ValueError`` naming them.

        Examples
        --------
        >>> from pmdtheory.sim import PromptPopulation
        >>> env = PromptPopulation.random(1000, 16, seed=0)
        >>> env.shape
        (1000, 16)
        >>> n_ok = env.correct.sum(axis=1)
        >>> bool(n_ok.min() >= 1 and n_ok.max() <= 15)
        True
        >>> bool(0.15 < env.p0.mean() < 0.25)  # Beta(0.5, 2) has mean 0.2
        True
        """
        n_responses = _check.integer(n_responses, "n_responses", lo=2)
        n_prompts = _check.integer(n_prompts, "n_prompts", lo=1)
        try:
            a, b = (_check.real(v, "difficulty", lo=0.0, lo_open=True) for v in difficulty)
        except (TypeError, ValueError):
            raise ValueError(
                f"difficulty must be two positive Beta parameters, got {difficulty!r}"
            ) from None
        p_min = _check.real(p_min, "p_min", lo=0.0, hi=0.5, lo_open=True, hi_open=True)
        logit_scale = _check.real(logit_scale, "logit_scale", lo=0.0)
        rng = np.random.default_rng(seed)
        p = np.clip(rng.beta(a, b, size=n_prompts), p_min, 1.0 - p_min)
        m = rng.integers(1, n_responses, size=n_prompts)
        # a random subset of size m per prompt: the m smallest of uniform keys
        keys = rng.uniform(size=(n_prompts, n_responses))
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        correct = rank < m[:, None]
        z = logit_scale * rng.standard_normal((n_prompts, n_responses))
        lse_ok = np.log(np.where(correct, np.exp(z), 0.0).sum(axis=1))
        lse_bad = np.log(np.where(correct, 0.0, np.exp(z)).sum(axis=1))
        shift = np.log(p) - np.log1p(-p) + lse_bad - lse_ok
        logits = z + np.where(correct, shift[:, None], 0.0)
        return cls(correct, logits)
