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

from dataclasses import dataclass, field

import numpy as np

NOISES = ("none", "bernoulli", "gaussian")
_NOISE_CODE = {"none": 0, "bernoulli": 1, "gaussian": 2}


def _log_normalise(logits, name):
    logits = np.ascontiguousarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (contexts, actions), got ndim={logits.ndim}")
    if np.any(np.isnan(logits)) or np.any(logits == np.inf):
        raise ValueError(f"{name} must not contain NaN or +inf")
    m = logits.max(axis=1, keepdims=True)
    if np.any(~np.isfinite(m)):
        raise ValueError(f"{name} must give every context at least one finite logit")
    z = logits - m
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _check_rewards(R, name, shape=None):
    R = np.ascontiguousarray(R, dtype=np.float64)
    if R.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (contexts, actions), got ndim={R.ndim}")
    if shape is not None and R.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {R.shape}")
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
    sigma : float
        Standard deviation of the Gaussian noise.
    """

    R: np.ndarray
    logits: np.ndarray | None = None
    noise: str = "none"
    sigma: float = 1.0
    logpi0: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        R = _check_rewards(self.R, "R")
        if self.noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {self.noise!r}")
        if self.noise == "bernoulli" and (R.min() < 0.0 or R.max() > 1.0):
            raise ValueError("R must lie in [0, 1] for noise='bernoulli'")
        if not (np.isfinite(self.sigma) and self.sigma >= 0.0):
            raise ValueError(f"sigma must be finite and >= 0, got {self.sigma}")
        logits = np.zeros_like(R) if self.logits is None else self.logits
        logpi0 = _log_normalise(logits, "logits")
        if logpi0.shape != R.shape:
            raise ValueError(f"logits must have shape {R.shape}, got {logpi0.shape}")
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "logpi0", logpi0)

    @property
    def noise_code(self) -> int:
        return _NOISE_CODE[self.noise]

    @property
    def shape(self) -> tuple[int, int]:
        return self.R.shape

    @classmethod
    def random(cls, n_contexts=100, n_actions=10, *, noise="none", sigma=1.0, seed=0):
        """Means uniform on [0, 1], initial logits standard normal, from ``seed``."""
        if n_contexts < 1:
            raise ValueError(f"n_contexts must be >= 1, got {n_contexts}")
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions}")
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
    """

    correct: np.ndarray
    logits: np.ndarray | None = None
    R: np.ndarray = field(init=False, repr=False)
    logpi0: np.ndarray = field(init=False, repr=False)
    noise = "none"
    sigma = 0.0
    noise_code = 0

    def __post_init__(self):
        correct = np.ascontiguousarray(self.correct, dtype=bool)
        if correct.ndim != 2:
            raise ValueError(f"correct must be a 2-d array, got ndim={correct.ndim}")
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
        return self.R.shape

    @property
    def p0(self) -> np.ndarray:
        """Initial success probability of each prompt, shape (P,)."""
        return np.where(self.correct, np.exp(self.logpi0), 0.0).sum(axis=1)

    @classmethod
    def random(
        cls,
        n_prompts=1000,
        n_responses=64,
        *,
        difficulty=(0.5, 2.0),
        p_min=1e-3,
        logit_scale=1.0,
        seed=0,
    ):
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
        """
        if n_responses < 2:
            raise ValueError(f"n_responses must be >= 2, got {n_responses}")
        if n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {n_prompts}")
        a, b = difficulty
        if not (a > 0 and b > 0):
            raise ValueError(f"difficulty must be two positive Beta parameters, got {difficulty}")
        if not 0.0 < p_min < 0.5:
            raise ValueError(f"p_min must lie in (0, 0.5), got {p_min}")
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
