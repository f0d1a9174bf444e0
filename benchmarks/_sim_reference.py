"""Vectorized plain-numpy reference of one sampled PMD iteration (pmdtheory.sim).

Independent of the Numba kernels in ``pmdtheory/sim/_kernels.py``: it shares
only the counter-based uniforms (so that both draw the same responses) and uses
:mod:`pmdtheory.estimators` for the group baselines. The tests compare the
kernels with it to rounding; ``bench_sim.py`` times both.
"""

import numpy as np

from pmdtheory.estimators import targets
from pmdtheory.sim._rng import STREAM_ACTION, STREAM_NORMAL, STREAM_REWARD, uniforms

# rows per chunk when drawing samples: bounds the (rows, k, n) comparison array
_CHUNK = 4096


def _lse(x):
    m = np.max(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))[..., 0]


def draw(logpi_samp, R, k, *, seed, it, noise="none", sigma=0.0):
    """Indices ``y`` (P, k) drawn by inverse CDF and their observed rewards ``r``."""
    P, n = logpi_samp.shape
    cdf = np.cumsum(np.exp(logpi_samp), axis=1)
    ctx = np.arange(P, dtype=np.uint64)[:, None]
    sample = np.arange(k, dtype=np.uint64)[None, :]
    u = uniforms(seed, it, ctx, sample, STREAM_ACTION) * cdf[:, -1:]
    y = np.empty((P, k), dtype=np.int64)
    for lo in range(0, P, _CHUNK):
        hi = min(P, lo + _CHUNK)
        y[lo:hi] = (cdf[lo:hi, None, :] <= u[lo:hi, :, None]).sum(axis=2)
    y = np.minimum(y, n - 1)
    mean = np.take_along_axis(R, y, axis=1)
    if noise == "none":
        r = mean
    elif noise == "bernoulli":
        r = (uniforms(seed, it, ctx, sample, STREAM_REWARD) < mean).astype(np.float64)
    else:
        u1 = uniforms(seed, it, ctx, 2 * sample, STREAM_NORMAL)
        u2 = uniforms(seed, it, ctx, 2 * sample + 1, STREAM_NORMAL)
        r = mean + sigma * np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
    return y, r


def sampled_step(
    logpi,
    logpi_samp,
    R,
    *,
    k,
    baseline,
    tau,
    lr,
    fit_steps,
    seed,
    it,
    eps=1e-6,
    noise="none",
    sigma=0.0,
):
    """One sampled iteration: returns (new log-policy, reward, KL(new||old), entropy, targets).

    Gradient descent on ``(tau/2k) sum_i (t_i - log pi_theta(y_i) + log pi_samp(y_i))^2``
    per row, written with dense numpy operations over all rows at once.
    """
    P, n = logpi.shape
    y, r = draw(logpi_samp, R, k, seed=seed, it=it, noise=noise, sigma=sigma)
    t = targets(r, kind=baseline, tau=tau, eps=eps)
    theta = logpi.copy()
    old_y = np.take_along_axis(logpi_samp, y, axis=1)
    flat = (np.arange(P)[:, None] * n + y).ravel()
    for _ in range(fit_steps):
        z = _lse(theta)[:, None]
        e = np.take_along_axis(theta, y, axis=1) - z - old_y - t
        g = np.bincount(flat, weights=e.ravel(), minlength=P * n).reshape(P, n)
        grad = (tau / k) * (g - np.exp(theta - z) * e.sum(axis=1, keepdims=True))
        theta = np.where(np.isfinite(theta), theta - lr * grad, theta)
    theta = theta - _lse(theta)[:, None]
    pi = np.exp(theta)
    support = pi > 0
    reward = (pi * R).sum(axis=1)
    safe_new = np.where(support, theta, 0.0)  # 0 * (-inf) would be NaN
    safe_old = np.where(support, logpi, 0.0)
    kl = (pi * (safe_new - safe_old)).sum(axis=1)
    entropy = -(pi * safe_new).sum(axis=1)
    return theta, reward, kl, entropy, t


def run_sampled(logpi0, R, iters, *, seed=0, **kw):
    """``iters`` on-policy iterations: the final log-policy and the mean reward curve."""
    logpi = logpi0.copy()
    curve = []
    for it in range(1, iters + 1):
        logpi, reward, *_ = sampled_step(logpi, logpi, R, seed=seed, it=it, **kw)
        curve.append(reward.mean())
    return logpi, np.array(curve)
