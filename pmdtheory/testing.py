r"""Property-testing tools for PMD updates: hypothesis strategies and checkers.

Use them to test your own PMD-mean implementation (numpy, torch, jax, ...)
against pmdtheory's:

>>> from pmdtheory import mean_update
>>> from pmdtheory.testing import check_kl_chi2_equivalence
>>> check_kl_chi2_equivalence(mean_update, max_examples=20)   # raises if it is wrong

Strategies (each draws float64 numpy arrays): :func:`policies`, :func:`rewards`,
:func:`taus` and :func:`pmd_problems` (a consistent ``(pi_t, r, tau)`` triple).
Checkers: :func:`kkt_residual` / :func:`assert_kkt` (is ``pi_new`` the PMD-mean
solution? THEORY §4 (*)) and :func:`check_kl_chi2_equivalence` (does an update
equal the KL-chi^2 step with :math:`\beta_t = \tau\lambda_t`? THEORY §5).
sympy is not imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from pmdtheory import implicit_beta, kl_chi2_update
from pmdtheory._validate import batch_param, float_array, policy_rows

__all__ = [
    "KKTReport",
    "assert_kkt",
    "check_kl_chi2_equivalence",
    "kkt_residual",
    "pmd_problems",
    "policies",
    "rewards",
    "taus",
]

REWARD_KINDS = ("continuous", "binary", "discrete")
#: log of the smallest normal float64: below it a probability may legitimately be 0
LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
#: spread of the logits behind :func:`policies` (probability ratios up to e^SPREAD)
SPREAD = 12.0


def _n_range(n_actions, name: str = "n_actions") -> tuple[int, int]:
    lo, hi = (n_actions, n_actions) if np.ndim(n_actions) == 0 else tuple(n_actions)
    if int(lo) != lo or int(hi) != hi or not 1 <= lo <= hi:
        raise ValueError(f"{name}: expected an int >= 1 or a (min, max) pair, got {n_actions!r}")
    return int(lo), int(hi)


def policies(
    n_actions: int | tuple[int, int] = (2, 8),
    *,
    min_prob: float = 1e-6,
    log: bool = False,
    allow_zero: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    r"""Strategy for policies: 1-D float64 arrays of probabilities summing to 1.

    Parameters
    ----------
    n_actions : int or (int, int)
        Number of actions, or the inclusive range it is drawn from.
    min_prob : float, keyword-only
        Smallest probability of an action in the support, ``0 <= min_prob < 1/n``.
    log : bool, keyword-only
        Draw log-probabilities instead (``-inf`` outside the support).
    allow_zero : bool, keyword-only
        Let some actions (never all) have probability exactly 0.

    Notes
    -----
    :math:`\pi = m + (1 - k m)\,\mathrm{softmax}(z)` on a support of size k, with
    logits :math:`z \in [-12, 12]` and m = ``min_prob``, so both near-uniform and
    very peaked policies occur.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of 1-D float64 ndarrays.

    Examples
    --------
    Use it in a ``@given`` test (``derandomize=True``: the same draws on every run):

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(pi=policies(3, allow_zero=True))
    ... def test_is_a_policy(pi):
    ...     assert pi.shape == (3,) and abs(pi.sum() - 1) < 1e-12 and pi.max() > 0
    >>> test_is_a_policy()  # passes silently
    """
    lo, hi = _n_range(n_actions)
    if not 0 <= min_prob < 1 / hi:
        raise ValueError(f"min_prob: must lie in [0, 1/{hi}) for up to {hi} actions")

    @st.composite
    def draw_policy(draw):
        n = draw(st.integers(lo, hi))
        z = np.array(draw(st.lists(st.floats(-SPREAD, SPREAD), min_size=n, max_size=n)))
        support = np.ones(n, dtype=bool)
        if allow_zero and n > 1 and draw(st.booleans()):
            support = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
            support[draw(st.integers(0, n - 1))] = True
        z = np.where(support, z, -np.inf)
        soft = np.exp(z - z.max())
        soft /= soft.sum()
        k = int(support.sum())
        pi = np.where(support, min_prob + (1 - k * min_prob) * soft, 0.0)
        pi /= pi.sum()
        if not log:
            return pi
        with np.errstate(divide="ignore"):
            return np.log(pi)

    return draw_policy()


def rewards(
    n_actions: int | tuple[int, int],
    *,
    low: float = -1.0,
    high: float = 1.0,
    kind: str = "continuous",
) -> st.SearchStrategy[np.ndarray]:
    """Strategy for reward vectors: 1-D float64 arrays of length ``n_actions``.

    ``kind="continuous"``: uniform-ish floats in ``[low, high]``;
    ``"binary"``: values in {0, 1}; ``"discrete"``: ``low``, ``high`` or their midpoint
    (ties between actions are common, which stresses constant-reward branches).
    ``n_actions`` may be an int or a (min, max) range.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(r=rewards((2, 5), kind="binary"))
    ... def test_binary(r):
    ...     assert 2 <= r.size <= 5 and set(r.tolist()) <= {0.0, 1.0}
    >>> test_binary()
    """
    lo, hi = _n_range(n_actions)
    if kind not in REWARD_KINDS:
        raise ValueError(f"kind: expected one of {REWARD_KINDS}, got {kind!r}")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"high: need finite low < high, got low={low!r}, high={high!r}")
    if kind == "continuous":
        element = st.floats(low, high, allow_nan=False)
    elif kind == "binary":
        element = st.sampled_from([0.0, 1.0])
    else:
        element = st.sampled_from([low, (low + high) / 2, high])
    return st.integers(lo, hi).flatmap(
        lambda n: st.lists(element, min_size=n, max_size=n).map(np.array)
    )


def taus(min_tau: float = 1e-2, max_tau: float = 1e2) -> st.SearchStrategy[float]:
    """Strategy for temperatures: floats in ``[min_tau, max_tau]``, log-uniform.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(tau=taus(1e-3, 1.0))
    ... def test_in_range(tau):
    ...     assert isinstance(tau, float) and 1e-3 <= tau <= 1.0
    >>> test_in_range()
    """
    if not (np.isfinite(min_tau) and min_tau > 0):
        raise ValueError(f"min_tau: must be finite and > 0, got {min_tau!r}")
    if not (np.isfinite(max_tau) and max_tau >= min_tau):
        raise ValueError(f"max_tau: must be finite and >= min_tau, got {max_tau!r}")
    log_lo, log_hi = np.log(min_tau), np.log(max_tau)
    return st.floats(0.0, 1.0).map(
        lambda u: float(np.clip(np.exp(log_lo + u * (log_hi - log_lo)), min_tau, max_tau))
    )


def pmd_problems(
    n_actions: int | tuple[int, int] = (2, 8),
    *,
    min_prob: float = 1e-6,
    min_tau: float = 1e-2,
    max_tau: float = 1e2,
    low: float = -1.0,
    high: float = 1.0,
    kind: str = "continuous",
    log: bool = False,
    allow_zero: bool = False,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray, float]]:
    """Strategy for one PMD problem ``(pi_t, r, tau)`` with matching shapes.

    Parameters as in :func:`policies`, :func:`rewards` and :func:`taus`.

    Examples
    --------
    A property test of :func:`pmdtheory.mean_update` against its KKT conditions:

    >>> from hypothesis import given, settings
    >>> from pmdtheory import mean_update
    >>> @settings(max_examples=20, derandomize=True, database=None)
    ... @given(problem=pmd_problems(4, kind="discrete"))
    ... def test_mean_update_is_kkt(problem):
    ...     pi_t, r, tau = problem
    ...     assert_kkt(pi_t, r, tau, mean_update(pi_t, r, tau))
    >>> test_mean_update_is_kkt()
    """
    pols = policies(n_actions, min_prob=min_prob, log=log, allow_zero=allow_zero)
    tau_st = taus(min_tau, max_tau)
    rewards(1, low=low, high=high, kind=kind)  # validates low, high, kind
    return pols.flatmap(
        lambda pi: st.tuples(
            st.just(pi), rewards(pi.shape[-1], low=low, high=high, kind=kind), tau_st
        )
    )


class KKTReport(NamedTuple):
    """KKT residuals of a claimed PMD-mean solution (see :func:`kkt_residual`).

    Examples
    --------
    >>> from pmdtheory import mean_update
    >>> pi_t, r, tau = [0.01, 0.99], [1.0, 0.0], 0.05
    >>> rep = kkt_residual(pi_t, r, tau, mean_update(pi_t, r, tau))
    >>> rep.support, rep.residual < 1e-12, round(rep.lam, 6), round(rep.beta, 6)
    (True, True, 0.426018, 0.021301)
    """

    residual: float
    """Largest scaled stationarity residual, ``max |log x - b + lam x| / (1 + max |b|)``."""
    normalisation: float
    """Largest ``|sum_a pi_new(a) - 1|``."""
    support: bool
    """``pi_new`` is zero where ``pi_t`` is, finite and non-negative (with probabilities,
    underflow to 0 on the support is allowed, see :func:`kkt_residual`)."""
    lam: np.ndarray | float
    """Least-squares multiplier of each row (batch shape)."""
    beta: np.ndarray | float
    """``tau * lam``: the chi-square strength the solution implies (THEORY §5)."""


def kkt_residual(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    pi_new: npt.ArrayLike,
    *,
    axis: int = -1,
    log: bool = False,
) -> KKTReport:
    r"""KKT residuals of ``pi_new`` as the PMD-mean solution for ``(pi_t, r, tau)``.

    PMD-mean's solution satisfies, on the support, with one multiplier per row,

    .. math:: \log x(a) + \lambda x(a) = b(a),\quad x = \pi_{new}/\pi_t,\quad
              b = (r - \bar r)/\tau,\quad \textstyle\sum_a \pi_t(a) x(a) = 1.

    :math:`\lambda` is fitted per row by least squares of :math:`s = \log x - b` on
    :math:`-x`; the residual is the worst :math:`|s + \lambda x|`, scaled by
    :math:`1 + \max|b|` (the size of the terms being cancelled). When ``pi_new``
    holds probabilities (``log=False``), those below the normal float64 range
    (< 2.2e-308, tiny tau) are left out of the residual: their logarithm has lost
    its precision. Pass log-probabilities to check them too.

    Parameters
    ----------
    pi_t, r, tau, axis, log
        As in :func:`pmdtheory.mean_update`.
    pi_new : array_like, shape of ``pi_t``
        The claimed solution (log-probabilities if ``log=True``); it is not required
        to be normalised, the report measures that.

    Returns
    -------
    KKTReport

    Examples
    --------
    PMD-mean's solution satisfies the conditions; exact PMD's does not:

    >>> from pmdtheory import exact_update, mean_update
    >>> pi_t, r, tau = [0.01, 0.99], [1.0, 0.0], 0.05
    >>> kkt_residual(pi_t, r, tau, mean_update(pi_t, r, tau)).residual < 1e-12
    True
    >>> round(kkt_residual(pi_t, r, tau, exact_update(pi_t, r, tau)).residual, 2)
    0.73
    """
    rows = policy_rows(pi_t, r, axis=axis, log=log)
    tau = batch_param(tau, "tau", rows.batch_shape, strict=True)
    new = float_array(pi_new, "pi_new")
    expected = list(rows.batch_shape)
    expected.insert(rows.axis, rows.logpi.shape[-1])
    if new.shape != tuple(expected):
        raise ValueError(f"pi_new: shape {new.shape} differs from the policy's {tuple(expected)}")
    new = np.moveaxis(new, rows.axis, -1).reshape(rows.logpi.shape)
    support = rows.logpi > -np.inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_new = new if log else np.log(new)
        p_new = np.exp(log_new) if log else new
        normalisation = float(np.max(np.abs(np.sum(np.where(support, p_new, 0.0), -1) - 1)))
        rbar = np.sum(np.where(support, np.exp(rows.logpi) * rows.r, 0.0), -1, keepdims=True)
        b = np.where(support, (rows.r - rbar) / tau[:, None], 0.0)
        # Probabilities below the normal float64 range (tiny tau) have lost their
        # relative precision, or underflowed to 0: their log says nothing about (*).
        # They are left out of the stationarity residual (their mass is < 1e-307).
        underflow = support & (log_new < LOG_TINY) if not log else np.zeros_like(support)
        active = support & ~underflow
        # a negative probability on the support has a NaN log (not finite); off it, it is not 0
        ok_support = bool(
            np.all(np.isfinite(log_new[active]))
            and (np.all(np.isneginf(log_new[~support])) if log else np.all(new[~support] == 0))
        )
        log_x = np.where(active, log_new - rows.logpi, 0.0)
        x = np.where(active, np.exp(log_x), 0.0)
        s = np.where(active, log_x - b, 0.0)
        # least squares of s ~ -lam x on the support (rows where x = 0 there fail anyway)
        lam = -np.sum(s * x, -1) / np.maximum(np.sum(x * x, -1), np.finfo(float).tiny)
        scale = 1 + np.max(np.where(active, np.abs(b), 0.0), -1)
        resid = np.max(np.abs(s + lam[:, None] * x), -1) / scale
    residual = float(np.max(np.where(np.isnan(resid), np.inf, resid)))
    return KKTReport(
        residual,
        normalisation,
        ok_support,
        rows.restore_batch(lam),
        rows.restore_batch(tau * lam),
    )


def assert_kkt(
    pi_t: npt.ArrayLike,
    r: npt.ArrayLike,
    tau: npt.ArrayLike,
    pi_new: npt.ArrayLike,
    *,
    axis: int = -1,
    log: bool = False,
    atol: float = 1e-8,
) -> KKTReport:
    """Assert that ``pi_new`` is the PMD-mean solution: KKT residual, normalisation
    and lam >= 0 within ``atol``, support preserved. Returns the :class:`KKTReport`;
    raises AssertionError with the report otherwise.

    Parameters
    ----------
    pi_t, r, tau, pi_new, axis, log
        As in :func:`kkt_residual`.
    atol : float, keyword-only
        Tolerance of the residual, the normalisation and ``lam >= 0``; ``> 0``.

    Returns
    -------
    KKTReport

    Examples
    --------
    >>> from pmdtheory import exact_update, mean_update
    >>> pi_t, r, tau = [0.01, 0.99], [1.0, 0.0], 0.05
    >>> assert_kkt(pi_t, r, tau, mean_update(pi_t, r, tau)).support
    True
    >>> assert_kkt(pi_t, r, tau, exact_update(pi_t, r, tau))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: not a PMD-mean solution (atol=1e-08): KKTReport(residual=0.73...
    """
    if not atol > 0:
        raise ValueError(f"atol: must be > 0, got {atol!r}")
    rep = kkt_residual(pi_t, r, tau, pi_new, axis=axis, log=log)
    ok = rep.support and rep.residual <= atol and rep.normalisation <= atol
    if not (ok and np.all(np.asarray(rep.lam) >= -atol)):
        raise AssertionError(f"not a PMD-mean solution (atol={atol:g}): {rep}")
    return rep


def check_kl_chi2_equivalence(
    update_fn: Callable[..., Any],
    *,
    returns_lambda: bool = False,
    n_actions: int | tuple[int, int] = (2, 8),
    min_prob: float = 1e-4,
    min_tau: float = 1e-2,
    max_tau: float = 1e2,
    kind: str = "continuous",
    rtol: float = 1e-6,
    atol: float = 1e-9,
    kkt_atol: float = 1e-7,
    max_examples: int = 100,
    seed: int = 0,
    shrink: bool = True,
    log: bool = False,
) -> None:
    r"""Property-test a PMD-mean implementation against pmdtheory's KL-chi^2 step.

    For ``max_examples`` problems ``(pi_t, r, tau)`` (100 by default, hypothesis' own
    default) drawn by :func:`pmd_problems`, ``update_fn(pi_t,
    r, tau)`` (numpy float64 in; any array convertible by ``np.asarray`` out, e.g. a
    detached CPU torch tensor) must return a policy that

    1. is finite, non-negative and sums to 1 (``atol``);
    2. satisfies PMD-mean's KKT conditions (:func:`kkt_residual`, ``kkt_atol``);
    3. equals :func:`pmdtheory.kl_chi2_update` with
       :math:`\beta_t = \tau\lambda_t` = :func:`pmdtheory.implicit_beta` (``rtol``, ``atol``):
       the equivalence of THEORY §5;
    4. with ``returns_lambda=True`` (``update_fn`` returns ``(policy, lam)``):
       :math:`\tau\lambda` matches :math:`\beta_t` (``rtol``, and ``atol`` scaled by tau).

    ``log=True``: ``update_fn`` takes and returns log-probabilities (then ``atol`` and
    ``rtol`` apply to the log-policy, and the KKT residual covers every action).
    ``seed`` fixes hypothesis' draws; ``shrink=False`` skips shrinking a failure to a
    minimal example (faster, a less readable report).

    Raises
    ------
    AssertionError
        With hypothesis' shrunk falsifying example, if any property fails.

    Examples
    --------
    pmdtheory's own update, with its multiplier, passes (the call returns None):

    >>> from pmdtheory import exact_update, mean_update
    >>> def update(pi_t, r, tau):
    ...     return mean_update(pi_t, r, tau, return_lambda=True)
    >>> check_kl_chi2_equivalence(update, returns_lambda=True, max_examples=10)

    Exact PMD is not PMD-mean, and is caught:

    >>> check_kl_chi2_equivalence(exact_update, max_examples=10, shrink=False)
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    AssertionError: KKT residual too large
    """
    if not (isinstance(max_examples, int) and max_examples >= 1):
        raise ValueError(f"max_examples: must be an int >= 1, got {max_examples!r}")
    for name, val in (("rtol", rtol), ("atol", atol), ("kkt_atol", kkt_atol)):
        if not val >= 0:
            raise ValueError(f"{name}: must be >= 0, got {val!r}")
    problems = pmd_problems(
        n_actions, min_prob=min_prob, min_tau=min_tau, max_tau=max_tau, kind=kind, log=log
    )

    @hypothesis_seed(seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else []),
    )
    @given(problem=problems)
    def equivalence(problem):
        pi_t, r, tau = problem
        out = update_fn(pi_t.copy(), r.copy(), tau)
        new, lam = out if returns_lambda else (out, None)
        new = np.asarray(new, dtype=np.float64)
        assert new.shape == pi_t.shape, f"shape {new.shape} != {pi_t.shape}"
        with np.errstate(under="ignore"):
            p_new = np.exp(new) if log else new
        assert not np.any(np.isnan(new)) and np.all(p_new >= 0), f"invalid policy {new}"
        assert np.all(p_new < np.inf), f"invalid policy {new}"
        assert abs(p_new.sum() - 1) <= max(atol, 1e-12), f"sums to {p_new.sum()!r}"
        rep = kkt_residual(pi_t, r, tau, new, log=log)
        assert rep.support and rep.residual <= kkt_atol, f"KKT residual too large: {rep}"
        beta_t = implicit_beta(pi_t, r, tau, log=log)
        ref = kl_chi2_update(pi_t, r, tau, beta_t, log=log)
        np.testing.assert_allclose(
            new, ref, rtol=rtol, atol=atol, err_msg="differs from kl_chi2_update(beta_t)"
        )
        if returns_lambda:
            got = tau * float(np.asarray(lam))
            assert abs(got - beta_t) <= rtol * abs(beta_t) + atol * tau, (
                f"tau * lam = {got!r} but beta_t = {beta_t!r}"
            )

    try:
        equivalence()
    except ExceptionGroup as group:  # hypothesis found several distinct failures
        messages = "\n".join(f"- {type(e).__name__}: {e}" for e in group.exceptions)
        raise AssertionError(f"{len(group.exceptions)} distinct failures:\n{messages}") from group
