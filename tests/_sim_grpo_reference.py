"""Plain-numpy reference of the simulator's real GRPO step (tests only).

Independent of the Numba kernel ``pmdtheory.sim._fit._grpo_row``: it shares
only the counter-based draws (``benchmarks/_sim_reference.draw``, so that both
see the same responses). Written from TRL's ``GRPOTrainer`` loss with one-token
responses: advantages ``(r - mean)/(std + eps)`` (std with Bessel's
correction), ratio ``rho = pi_theta(y)/pi_old(y)``, per-sample loss
``-min(rho A, clip(rho, 1 - c, 1 + c) A)`` averaged over the k samples, and
``epochs`` plain gradient-descent steps on it in the logits.
"""

import numpy as np


def advantages(r, eps):
    """GRPO group advantages of a (P, k) reward array."""
    std = np.std(r, axis=1, ddof=1, keepdims=True)
    return (r - r.mean(axis=1, keepdims=True)) / (std + eps)


def _log_softmax(theta):
    m = np.max(theta, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return theta - (m + np.log(np.exp(theta - m).sum(axis=1, keepdims=True)))


def surrogate_grad(theta, y, A, logp_old_y, clip):
    """Gradient in ``theta`` (P, n) of the mean clipped surrogate; also the active mask.

    d/dtheta_a of rho_i A_i is rho_i A_i (1[a = y_i] - pi_theta(a)); a sample whose
    clipped branch is the smaller one (A > 0, rho > 1 + clip; A < 0, rho < 1 - clip)
    contributes nothing.
    """
    P, n = theta.shape
    k = y.shape[1]
    logp = _log_softmax(theta)
    rho = np.exp(np.take_along_axis(logp, y, axis=1) - logp_old_y)
    clipped = ((A > 0) & (rho > 1 + clip)) | ((A < 0) & (rho < 1 - clip))
    w = np.where(clipped, 0.0, rho * A)
    onehot = np.zeros((P, k, n))
    np.put_along_axis(onehot, y[:, :, None], 1.0, axis=2)
    pi = np.exp(logp)
    grad = (w[:, :, None] * (onehot - pi[:, None, :])).sum(axis=1) / k
    return np.where(np.isfinite(theta), grad, 0.0), ~clipped


def grpo_step(logpi, logpi_old, y, r, *, lr, epochs, clip, eps, R):
    """``epochs`` ascent steps from ``logpi``; returns (new log-policy, reward, KL, entropy,
    number of clipped sample-steps)."""
    A = advantages(r, eps)
    logp_old_y = np.take_along_axis(logpi_old, y, axis=1)
    theta = logpi.copy()
    n_clipped = 0
    for _ in range(epochs):
        grad, active = surrogate_grad(theta, y, A, logp_old_y, clip)
        n_clipped += int((~active & (A != 0)).sum())
        theta = np.where(np.isfinite(theta), theta + lr * grad, theta)
    theta = _log_softmax(theta)
    pi = np.exp(theta)
    support = pi > 0
    safe_new = np.where(support, theta, 0.0)
    safe_old = np.where(support, logpi, 0.0)
    reward = (pi * R).sum(axis=1)
    kl = (pi * (safe_new - safe_old)).sum(axis=1)
    entropy = -(pi * safe_new).sum(axis=1)
    return theta, reward, kl, entropy, n_clipped
