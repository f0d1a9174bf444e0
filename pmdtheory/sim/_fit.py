"""Private Numba kernels: the logit updates of one context for the sampled methods.

:func:`_fit_row` takes gradient steps on the PMD regression (THEORY §3),
:func:`_grpo_row` on GRPO's clipped surrogate; both start from the sampling
policy and share the start, softmax and finishing passes. Called per context by
:func:`pmdtheory.sim._kernels._sampled_step`; no validation here.
"""

import math

from numba import njit


@njit(cache=True)
def _start_row(logpi, e0, g, theta):
    """Set ``theta = logpi`` and ``g = 0``; return (max of logpi, log Z = log sum e0, 1/sum e0).

    ``theta`` is normalised on entry, so sum(e0) = 1 to rounding: no shift is needed.
    """
    s = 0.0
    m = -math.inf
    for a in range(theta.size):
        theta[a] = logpi[a]
        m = max(m, logpi[a])
        s += e0[a]
        g[a] = 0.0
    return m, math.log(s), 1.0 / s


@njit(cache=True)
def _softmax_row(theta, m, g, p):
    """Unnormalised probabilities ``p = exp(theta - m)``, ``g = 0``; return (log Z, 1/sum p).

    One set of exponentials serves both the log-sum-exp and the probabilities.
    """
    s = 0.0
    for a in range(theta.size):
        p[a] = math.exp(theta[a] - m)
        s += p[a]
        g[a] = 0.0
    return m + math.log(s), 1.0 / s


@njit(cache=True)
def _finish_row(theta, m, g, p, logpi, R):
    """Normalise ``theta`` (log-policy) and ``p`` (its probabilities) in place; return the
    expected reward, KL(new || logpi) and entropy of the new policy."""
    z, inv = _softmax_row(theta, m, g, p)
    reward = 0.0
    kl = 0.0
    ent = 0.0
    for a in range(theta.size):
        theta[a] -= z
        p[a] *= inv
        if p[a] > 0.0:
            reward += p[a] * R[a]
            kl += p[a] * (theta[a] - logpi[a])
            ent -= p[a] * theta[a]
    return reward, kl, ent


@njit(cache=True)
def _fit_row(logpi, e0, logpi_samp, y, t, R, tau, lr, fit_steps, g, theta, p):
    r"""Gradient steps on L = (tau / 2k) sum_i (t_i - (log pi_theta(y_i) - log pi_samp(y_i)))^2.

    With residuals e_i, dL/dtheta_a = (tau/k) (sum_{i: y_i = a} e_i - pi_theta(a) sum_i e_i).
    Starts from ``theta = logpi`` (normalised, -inf allowed) with ``e0 = exp(logpi)``
    given, so the first step needs no exponential. Writes the new normalised
    log-policy into ``theta`` and its probabilities into ``p``; returns the new
    expected reward, KL(new || logpi) and entropy. Loops are fused: each pass
    over the actions does all the work that it can.
    """
    k = y.size
    n = theta.size
    c = lr * tau / k
    m, z, inv = _start_row(logpi, e0, g, theta)
    src = e0
    for step in range(fit_steps):
        if step > 0:
            z, inv = _softmax_row(theta, m, g, p)
            src = p
        e_sum = 0.0
        for i in range(k):
            e = (theta[y[i]] - z) - logpi_samp[y[i]] - t[i]
            g[y[i]] += e
            e_sum += e
        ce = c * inv * e_sum
        m = -math.inf
        for a in range(n):
            # -inf entries have g = src = 0 and stay -inf: no branch needed
            theta[a] -= c * g[a] - ce * src[a]
            m = max(m, theta[a])
    return _finish_row(theta, m, g, p, logpi, R)


@njit(cache=True)
def _grpo_row(logpi, e0, logpi_samp, y, A, R, lr, epochs, clip, g, theta, p):
    r"""GRPO's update of one context: ``epochs`` gradient-ascent steps on the clipped surrogate.

    .. math:: J(\theta) = \frac1k \sum_{i=1}^k \min\big(\rho_i A_i,
              \operatorname{clip}(\rho_i, 1-\epsilon, 1+\epsilon) A_i\big),
              \qquad \rho_i = \pi_\theta(y_i) / \pi_{old}(y_i),

    on tabular logits (TRL's per-token loss with one-token responses, no KL
    term as TRL's default ``beta = 0``). Sample ``i`` contributes
    :math:`\rho_i A_i (e_{y_i} - \pi_\theta)` to :math:`\partial J/\partial\theta`,
    or nothing where the clipped branch is the smaller one (``A > 0`` and
    :math:`\rho > 1+\epsilon`, or ``A < 0`` and :math:`\rho < 1-\epsilon`).
    Each step: :math:`\theta \leftarrow \theta + \mathrm{lr}\,\partial J/\partial\theta`.
    Starts from ``theta = logpi`` (normalised, ``e0 = exp(logpi)``); writes the
    new log-policy into ``theta`` and its probabilities into ``p``; returns the
    new expected reward, KL(new || logpi) and entropy, like :func:`_fit_row`.
    """
    k = y.size
    n = theta.size
    c = lr / k
    m, z, inv = _start_row(logpi, e0, g, theta)
    src = e0
    for step in range(epochs):
        if step > 0:
            z, inv = _softmax_row(theta, m, g, p)
            src = p
        tot = 0.0
        for i in range(k):
            a = y[i]
            ratio = math.exp((theta[a] - z) - logpi_samp[a])
            if (A[i] > 0.0 and ratio > 1.0 + clip) or (A[i] < 0.0 and ratio < 1.0 - clip):
                continue  # the clipped branch is the minimum: no gradient
            w = A[i] * ratio
            g[a] += w
            tot += w
        ct = c * tot * inv
        m = -math.inf
        for a in range(n):
            # -inf entries have g = src = 0 and stay -inf
            theta[a] += c * g[a] - ct * src[a]
            m = max(m, theta[a])
    return _finish_row(theta, m, g, p, logpi, R)
