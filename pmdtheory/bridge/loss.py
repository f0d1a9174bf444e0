r"""The online PMD regression loss on sequences (OpenKimi's ``opmd`` policy loss).

For response :math:`y_i` with advantage :math:`A_i`, sequence log-ratio
:math:`\delta_i = \sum_t \log\pi_\theta(y_{i,t}) - \sum_t \log\pi_{old}(y_{i,t})`
(sums over response tokens) and residual :math:`\rho_i = A_i/\tau - \delta_i`,

.. math::

    \mathcal L = \frac1{B_+} \sum_{i:\,L_i>0} \frac{\tau\, w_i\, \rho_i^2}{2\, L_i},

over the :math:`B_+` sequences with at least one response token, with :math:`L_i` the
response length (``agg="seq-mean-token-mean"``) or the padded length :math:`T` of the
batch (``agg="seq-mean-token-sum-norm"``). No clipping. Sequences without a response
token (all-zero mask, e.g. TRL's masked truncated completions) leave the sum and the
count. The population minimiser over a normalised tabular policy is the PMD step of
THEORY §3-4.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from pmdtheory._validate import positive

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["AGGREGATIONS", "pmd_loss"]

#: the ``agg`` names :func:`pmd_loss` accepts: divide each sequence's squared residual by
#: its own response length (``seq-mean-token-mean``) or by the padded length ``T``
#: (``seq-mean-token-sum-norm``); verl's ``loss_agg_mode`` spelling
AGGREGATIONS: tuple[str, ...] = ("seq-mean-token-mean", "seq-mean-token-sum-norm")


def _as_float(name, value):
    """``float(value)`` or a ValueError naming ``name`` (strings, None, tensors of size > 1)."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None


def _is_binary(mask):
    """Whether every entry of ``mask`` is 0 or 1 (a cheap test: the range, then for
    floating masks "count of non-zeros == sum", which for entries in [0, 1] holds only
    when every non-zero entry is exactly 1; NaN fails the range test)."""
    if mask.dtype == torch.bool or mask.numel() == 0:
        return True
    if mask.is_complex():
        return False
    lo, hi = torch.aminmax(mask)
    if not (bool(lo >= 0) and bool(hi <= 1)):
        return False
    if not mask.is_floating_point():
        return True
    return int(torch.count_nonzero(mask)) == float(mask.sum(dtype=torch.float64))


def _compute_dtype(dtype):
    """float64 stays float64; float32, bfloat16 and float16 are computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def pmd_loss(
    logp: torch.Tensor,
    logp_old: torch.Tensor | npt.ArrayLike,
    advantages: torch.Tensor | npt.ArrayLike,
    mask: torch.Tensor | npt.ArrayLike,
    *,
    tau: float,
    agg: str = "seq-mean-token-mean",
    weights: torch.Tensor | npt.ArrayLike | None = None,
    num_sequences: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    r"""Sequence-level PMD regression loss and its diagnostics.

    .. math::

        \mathcal L = \frac1{B_+} \sum_{i:\,L_i > 0} \tfrac12\,\tau\, w_i
        \Big(\frac{A_i}{\tau} - \sum_t m_{it}(\log\pi_\theta - \log\pi_{old})_{it}\Big)^2
        \Big/ L_i

    Parameters
    ----------
    logp : Tensor, shape (B, T)
        Per-token log-probabilities of the response tokens under the trained policy,
        float64, float32, bfloat16 or float16.
    logp_old : Tensor or array_like, shape (B, T)
        The same under the sampling policy :math:`\pi_{old}` (no gradient flows into it).
    advantages : Tensor or array_like, shape (B,)
        :math:`A_i = r_i - B_i`, e.g. from :func:`~pmdtheory.bridge.group_advantages`;
        finite (no gradient flows into it).
    mask : Tensor or array_like, shape (B, T)
        1 on response tokens, 0 on padding (bool, integer, floating or a numpy array,
        with every entry equal to 0 or 1).
    tau : float
        KL strength, ``> 0``.
    agg : {"seq-mean-token-mean", "seq-mean-token-sum-norm"}
        Divide each sequence's loss by its own length :math:`L_i`, or by ``T``.
    weights : Tensor or array_like, shape (B,), optional
        Per-sequence weights :math:`w_i \ge 0` (default 1), e.g. importance weights of the
        sampler (:class:`~pmdtheory.bridge.trl.PMDTrainer`).
    num_sequences : float, optional
        The normaliser :math:`B_+`; default the number of sequences with at least one
        response token. Trainers pass the count over a whole batch that is split into
        micro-batches, so that the micro-batch losses add up to the batch loss.

    Returns
    -------
    loss : Tensor, scalar
        Differentiable in ``logp``. float64 for float64 input, else float32: every
        input is converted to that dtype first (a bfloat16 sum of a thousand
        log-probabilities, or a float16 square of :math:`A/\tau`, is not usable).
        A sequence whose mask is all zero adds nothing to the loss or to :math:`B_+`;
        when every sequence is empty (or ``T = 0``) the loss is 0.
    metrics : dict[str, float]
        Over the non-empty sequences: ``pmd/residual_sq`` (mean :math:`\rho_i^2`),
        ``pmd/abs_log_ratio`` (mean :math:`|\delta_i|`), ``pmd/frac_residual_gt1``
        (fraction with :math:`|\rho_i| > 1`), NaN when there is none; ``pmd/loss``.

    Raises
    ------
    ValueError
        Wrong shapes, ``B = 0``, a mask value other than 0 and 1, negative or
        non-finite weights, non-finite advantages, ``tau`` not a finite number > 0,
        an unknown ``agg``, ``num_sequences`` not finite and > 0; each names the argument.

    Notes
    -----
    The gradient is

    .. math::

        \frac{\partial\mathcal L}{\partial \log\pi_\theta(y_{i,t})}
        = -\frac{\tau\, w_i\, \rho_i\, m_{it}}{B_+\, L_i}.

    Tested domain (tests/test_bridge_loss.py unless named): float64 value, metrics and
    gradient against a numpy transcription and the hand-derived gradient above to 1e-13
    (B = 5, T = 7, ragged masks, weights in [0.5, 1.5], tau = 0.5, both ``agg``),
    ``gradcheck``/``gradgradcheck`` (B = 3, T = 4); ``-inf`` log-probs on padding,
    all-zero mask rows and ``T = 0``; ``num_sequences`` from 1 to 12.5; bool, integer
    and numpy masks; a tabular population fit converging to
    :func:`pmdtheory.mean_update` and :func:`pmdtheory.exact_update` to 1e-6 (tau 0.1
    to 1); one SGD step against a numpy transcription (tau = 0.05) and 1 or 5 against
    the simulator's ``mean_sampled`` fit (tau = 0.1), to 1e-10; bfloat16/float16 inputs
    against float64 on the same rounded values to 1e-5 relative (B = 4, T = 1,000,
    A/tau up to 300, tau = 0.01); float32 output and no gradient into ``logp_old`` or
    ``advantages`` (tau = 0.05); importance weights over B = 200,000 one-token
    sequences (tests/test_bridge_trl.py). So: B from 1 to 200,000, T from 0 to 1,000,
    tau from 0.01 to 1.

    References
    ----------
    THEORY §3; Kimi K1.5 (arXiv:2501.12599) online mirror descent;
    OpenKimi ``opmd`` loss.

    Examples
    --------
    On-policy (``logp == logp_old``) the residual is :math:`A/\tau`: two sequences of
    lengths 2 and 1, :math:`A/\tau = \pm 1`:

    >>> import torch
    >>> logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]])
    >>> mask = torch.tensor([[1, 1], [1, 0]])
    >>> loss, m = pmd_loss(logp, logp, torch.tensor([0.1, -0.1]), mask, tau=0.1)
    >>> round(loss.item(), 6)  # (0.5*0.1*1/2 + 0.5*0.1*1/1) / 2
    0.0375
    >>> m["pmd/residual_sq"], m["pmd/abs_log_ratio"], m["pmd/frac_residual_gt1"]
    (1.0, 0.0, 0.0)

    The gradient pulls each sequence's log-ratio towards :math:`A/\tau`
    (:math:`-\tau w_i \rho_i m_{it} / (B_+ L_i)`, Notes):

    >>> theta = logp.clone().requires_grad_(True)
    >>> loss, _ = pmd_loss(theta, logp, torch.tensor([0.1, -0.1]), mask, tau=0.1)
    >>> loss.backward()
    >>> theta.grad
    tensor([[-0.0250, -0.0250],
            [ 0.0500,  0.0000]])

    An all-zero mask row leaves the loss and its count; ``seq-mean-token-sum-norm``
    divides by ``T`` instead of :math:`L_i`:

    >>> empty = torch.tensor([[1, 1], [0, 0]])
    >>> adv = torch.tensor([0.1, 5.0])
    >>> round(pmd_loss(logp, logp, adv, empty, tau=0.1)[0].item(), 6)  # (0.5*0.1*1/2) / 1
    0.025
    >>> adv = torch.tensor([0.1, -0.1])
    >>> loss, _ = pmd_loss(logp, logp, adv, mask, tau=0.1, agg="seq-mean-token-sum-norm")
    >>> round(loss.item(), 6)  # (0.5*0.1*1/2 + 0.5*0.1*1/2) / 2
    0.025
    """
    tau = positive(tau, "tau")
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg must be one of {AGGREGATIONS}, got {agg!r}")
    if not isinstance(logp, torch.Tensor) or logp.ndim != 2:
        raise ValueError("logp must be a 2-D tensor (B, T)")
    if not logp.is_floating_point():
        raise ValueError("logp must be a floating-point tensor")
    shape = logp.shape
    if shape[0] == 0:
        raise ValueError("logp must hold at least one sequence (B = 0)")
    dtype, device = _compute_dtype(logp.dtype), logp.device
    logp = logp.to(dtype)  # differentiable: the gradient flows back in the input dtype
    logp_old = torch.as_tensor(logp_old, device=device).detach().to(dtype)
    if logp_old.shape != shape:
        raise ValueError(f"logp_old must have shape {tuple(shape)}, got {tuple(logp_old.shape)}")
    mask = torch.as_tensor(mask, device=device)
    if mask.shape != shape:
        raise ValueError(f"mask must have shape {tuple(shape)}, got {tuple(mask.shape)}")
    mask = mask.detach()
    if not _is_binary(mask):
        raise ValueError(
            "mask must hold only 0 and 1 (a fractional or negative mask rescales the loss); "
            "put per-sequence weights in weights"
        )
    mask = mask.to(dtype)
    advantages = torch.as_tensor(advantages, device=device).detach().to(dtype)
    if advantages.shape != shape[:1]:
        raise ValueError(
            f"advantages must have shape ({shape[0]},), got {tuple(advantages.shape)}"
        )
    if not bool(torch.isfinite(advantages).all()):
        raise ValueError("advantages must be finite")
    w: torch.Tensor  # the weights as a tensor (the parameter may be array_like or None)
    if weights is None:
        w = torch.ones_like(advantages)
    else:
        w = torch.as_tensor(weights, device=device).detach().to(dtype)
        if w.shape != shape[:1]:
            raise ValueError(f"weights must have shape ({shape[0]},), got {tuple(w.shape)}")
        if not bool((torch.isfinite(w) & (w >= 0)).all()):
            raise ValueError("weights must be finite and >= 0")

    # Mask with where, not a product: padded positions may hold -inf log-probs.
    on = mask > 0
    zero = logp.new_zeros(())
    log_ratio = torch.where(on, logp - logp_old, zero).sum(-1)
    residual = advantages / tau - log_ratio
    length = mask.sum(-1)
    active = length > 0  # an all-zero mask: no response token, no term, not counted
    if agg == "seq-mean-token-sum-norm":
        length = torch.full_like(length, float(shape[1]))
    n_active = active.sum()
    if num_sequences is None:
        denom = n_active.clamp(min=1).to(dtype)
    else:
        denom = _as_float("num_sequences", num_sequences)
        if not np.isfinite(denom) or denom <= 0.0:
            raise ValueError(f"num_sequences must be finite and > 0, got {num_sequences!r}")
    per_seq = 0.5 * tau * w * residual.square() / length.clamp(min=1.0)
    loss = torch.where(active, per_seq, zero).sum() / denom

    with torch.no_grad():
        n = int(n_active)
        nan = float("nan")
        rho, delta = residual[active], log_ratio[active]
        metrics = {
            "pmd/loss": float(loss),
            "pmd/residual_sq": float(rho.square().mean()) if n else nan,
            "pmd/abs_log_ratio": float(delta.abs().mean()) if n else nan,
            "pmd/frac_residual_gt1": float((rho.abs() > 1.0).to(dtype).mean()) if n else nan,
        }
    return loss, metrics
