r"""The online PMD regression loss on sequences (OpenKimi's ``opmd`` policy loss).

For response :math:`y_i` with advantage :math:`A_i`, sequence log-ratio
:math:`\delta_i = \sum_t \log\pi_\theta(y_{i,t}) - \sum_t \log\pi_{old}(y_{i,t})`
(sums over response tokens) and residual :math:`\rho_i = A_i/\tau - \delta_i`,

.. math::

    \mathcal L = \frac1B \sum_{i=1}^B \frac{\tau\, w_i\, \rho_i^2}{2\, L_i},

with :math:`L_i` the response length (``agg="seq-mean-token-mean"``) or the padded
length :math:`T` of the batch (``agg="seq-mean-token-sum-norm"``). No clipping. The
population minimiser over a normalised tabular policy is the PMD step of
../shared/THEORY.md §3-4.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["AGGREGATIONS", "pmd_loss"]

AGGREGATIONS = ("seq-mean-token-mean", "seq-mean-token-sum-norm")


def pmd_loss(logp, logp_old, advantages, mask, *, tau, agg="seq-mean-token-mean", weights=None):
    r"""Sequence-level PMD regression loss and its diagnostics.

    .. math::

        \mathcal L = \frac1B \sum_i \tfrac12\,\tau\, w_i
        \Big(\frac{A_i}{\tau} - \sum_t m_{it}(\log\pi_\theta - \log\pi_{old})_{it}\Big)^2
        \Big/ L_i

    Parameters
    ----------
    logp : Tensor, shape (B, T)
        Per-token log-probabilities of the response tokens under the trained policy.
    logp_old : Tensor, shape (B, T)
        The same under the sampling policy :math:`\pi_{old}` (no gradient flows into it).
    advantages : Tensor, shape (B,)
        :math:`A_i = r_i - B_i`, e.g. from :func:`~pmdtheory.bridge.group_advantages`.
    mask : Tensor, shape (B, T)
        1 on response tokens, 0 on padding.
    tau : float
        KL strength, ``> 0``.
    agg : {"seq-mean-token-mean", "seq-mean-token-sum-norm"}
        Divide each sequence's loss by its own length :math:`L_i` (at least 1), or by
        ``T``.
    weights : Tensor, shape (B,), optional
        Per-sequence weights :math:`w_i` (default 1).

    Returns
    -------
    loss : Tensor, scalar
        Differentiable in ``logp``.
    metrics : dict[str, float]
        ``pmd/residual_sq`` (mean :math:`\rho_i^2`), ``pmd/abs_log_ratio`` (mean
        :math:`|\delta_i|`), ``pmd/frac_residual_gt1`` (fraction with :math:`|\rho_i| > 1`),
        ``pmd/loss``.

    Notes
    -----
    The gradient is

    .. math::

        \frac{\partial\mathcal L}{\partial \log\pi_\theta(y_{i,t})}
        = -\frac{\tau\, w_i\, \rho_i\, m_{it}}{B\, L_i}.

    References
    ----------
    ../shared/THEORY.md §3; Kimi K1.5 (arXiv:2501.12599) online mirror descent;
    OpenKimi ``opmd`` loss.
    """
    if not isinstance(logp, torch.Tensor) or logp.ndim != 2:
        raise ValueError("logp must be a 2-D tensor (B, T)")
    if not logp.is_floating_point():
        raise ValueError("logp must be a floating-point tensor")
    shape = logp.shape
    logp_old = torch.as_tensor(logp_old, dtype=logp.dtype, device=logp.device)
    if logp_old.shape != shape:
        raise ValueError(f"logp_old must have shape {tuple(shape)}, got {tuple(logp_old.shape)}")
    mask = torch.as_tensor(mask, device=logp.device).to(logp.dtype)
    if mask.shape != shape:
        raise ValueError(f"mask must have shape {tuple(shape)}, got {tuple(mask.shape)}")
    advantages = torch.as_tensor(advantages, dtype=logp.dtype, device=logp.device)
    if advantages.shape != shape[:1]:
        raise ValueError(
            f"advantages must have shape ({shape[0]},), got {tuple(advantages.shape)}"
        )
    if weights is None:
        weights = torch.ones_like(advantages)
    else:
        weights = torch.as_tensor(weights, dtype=logp.dtype, device=logp.device)
        if weights.shape != shape[:1]:
            raise ValueError(f"weights must have shape ({shape[0]},), got {tuple(weights.shape)}")
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0.0:
        raise ValueError(f"tau must be finite and > 0, got {tau}")
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg must be one of {AGGREGATIONS}, got {agg!r}")
    if shape[0] == 0:
        raise ValueError("logp must hold at least one sequence")

    # Mask with where, not a product: padded positions may hold -inf log-probs.
    zero = logp.new_zeros(())
    on = mask > 0
    log_ratio = torch.where(on, logp, zero).sum(-1) - torch.where(on, logp_old.detach(), zero).sum(
        -1
    )
    residual = advantages.detach() / tau - log_ratio
    if agg == "seq-mean-token-mean":
        length = mask.sum(-1).clamp(min=1.0)
    else:
        length = logp.new_full((shape[0],), float(max(shape[1], 1)))
    loss = (0.5 * tau * weights.detach() * residual.square() / length).mean()

    with torch.no_grad():
        metrics = {
            "pmd/loss": float(loss),
            "pmd/residual_sq": float(residual.square().mean()),
            "pmd/abs_log_ratio": float(log_ratio.abs().mean()),
            "pmd/frac_residual_gt1": float((residual.abs() > 1.0).to(logp.dtype).mean()),
        }
    return loss, metrics
