r"""Divergences between policies: KL and chi-square (THEORY §1).

.. math:: \mathrm{KL}(p\|q) = \sum_a p \log\frac{p}{q}, \qquad
          \chi^2(p\|q) = \sum_a \frac{(p - q)^2}{q} = \sum_a q\,(p/q - 1)^2

Both take probabilities (or log-probabilities with ``log=True``) along
``axis``, broadcast ``p`` against ``q`` and return the batch shape.
``0 log 0 = 0``; ``q = 0 < p`` gives ``inf``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._validate import broadcast, float_array, float_eps, policy_rows

__all__ = ["kl", "chi2"]

# Above this log-ratio, q (p/q - 1)^2 is computed as exp(2 log p - log q) to avoid
# overflow in the square; the dropped terms -2p + q are below 1e-17 relative.
_BIG_LOG_RATIO = 40.0


def _pair(p, q, axis, log):
    # p and q broadcast against each other (one reference policy for a batch).
    eps_p, eps_q = float_eps(p), float_eps(q)
    p_arr, q_arr = broadcast(float_array(p, "p"), float_array(q, "q"), "p", "q")
    rows_p = policy_rows(p_arr, None, axis=axis, log=log, pi_name="p", eps=eps_p)
    rows_q = policy_rows(q_arr, None, axis=axis, log=log, pi_name="q", eps=eps_q)
    return rows_p, rows_p.logpi, rows_q.logpi


def kl(
    p: npt.ArrayLike, q: npt.ArrayLike, *, axis: int = -1, log: bool = False
) -> np.ndarray | float:
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(p\|q)` along ``axis``.

    Parameters
    ----------
    p, q : array_like, shape (..., n, ...)
        Probabilities along ``axis`` (log-probabilities if ``log=True``), each
        summing to 1; broadcast against each other.
    axis : int, keyword-only
        The action axis.
    log : bool, keyword-only
        ``p`` and ``q`` are log-probabilities.

    Returns
    -------
    ndarray or float
        The divergence, of the broadcast batch shape (a float for a single pair).

    Examples
    --------
    >>> round(kl([0.5, 0.5], [0.9, 0.1]), 6)
    0.510826
    >>> kl([0.5, 0.5], [0.5, 0.5]), kl([0.5, 0.5], [1.0, 0.0])
    (0.0, inf)

    One reference policy against a batch:

    >>> kl([[0.5, 0.5], [0.9, 0.1]], [0.5, 0.5]).round(6).tolist()
    [0.0, 0.368064]
    """
    rows, logp, logq = _pair(p, q, axis, log)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = logp - logq  # -inf - x -> -inf (p = 0), x - -inf -> +inf (q = 0)
        terms = np.where(logp == -np.inf, 0.0, np.exp(logp) * diff)
        # p > 0 = q is +inf even where p (given in logs) is below the float64 range
        terms = np.where((logq == -np.inf) & (logp > -np.inf), np.inf, terms)
    return rows.restore_batch(np.sum(terms, axis=-1))


def chi2(
    p: npt.ArrayLike, q: npt.ArrayLike, *, axis: int = -1, log: bool = False
) -> np.ndarray | float:
    r"""Chi-square divergence :math:`\chi^2(p\|q)` along ``axis``.

    Parameters
    ----------
    p, q : array_like, shape (..., n, ...)
        Probabilities along ``axis`` (log-probabilities if ``log=True``), each
        summing to 1; broadcast against each other.
    axis : int, keyword-only
        The action axis.
    log : bool, keyword-only
        ``p`` and ``q`` are log-probabilities.

    Returns
    -------
    ndarray or float
        The divergence, of the broadcast batch shape (a float for a single pair).

    Examples
    --------
    :math:`0.4^2/0.9 + 0.4^2/0.1 = 16/9`:

    >>> round(chi2([0.5, 0.5], [0.9, 0.1]), 6)
    1.777778
    >>> import numpy as np
    >>> round(chi2(np.log([0.5, 0.5]), np.log([0.9, 0.1]), log=True), 6)
    1.777778
    """
    rows, logp, logq = _pair(p, q, axis, log)
    with np.errstate(invalid="ignore", over="ignore"):
        d = logp - logq
        # q (p/q - 1)^2 with expm1: exact when p and q are close, where the
        # textbook sum p^2/q - 1 cancels.
        # p = 0 < q gives d = -inf and expm1(-inf)^2 = 1: the term q, as it should be.
        terms = np.exp(logq) * np.expm1(d) ** 2
        big = d > _BIG_LOG_RATIO
        terms = np.where(big, np.exp(2 * logp - logq), terms)
        terms = np.where(logq == -np.inf, np.where(logp == -np.inf, 0.0, np.inf), terms)
    return rows.restore_batch(np.sum(terms, axis=-1))
