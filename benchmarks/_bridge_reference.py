"""Per-group Python-loop references for the torch bridge (benchmarks only, never the package).

Each function loops over the groups in Python and applies the formula of
THEORY §3 to one group at a time, with torch ops on that group's slice.
"""

from __future__ import annotations

import torch


def loo_partition_loop(rewards, index, tau):
    r"""Leave-one-out partition advantages, one group per Python iteration.

    :math:`A_i = r_i - M_i - \tau\log\frac1{k-1}\sum_{j\ne i} e^{(r_j - M_i)/\tau}` with
    :math:`M_i = \max_{j\ne i} r_j` (the same stable formula as the bridge).
    """
    out = torch.empty_like(rewards)
    for g in torch.unique(index).tolist():
        sel = (index == g).nonzero().squeeze(-1)
        r = rewards[sel]
        k = r.numel()
        others = ~torch.eye(k, dtype=torch.bool)  # row i: the responses j != i
        r_others = torch.where(others, r[None, :], -torch.inf)
        m = r_others.max(dim=1).values
        s = torch.where(others, torch.exp((r[None, :] - m[:, None]) / tau), 0.0).sum(dim=1)
        out[sel] = r - (m + tau * torch.log(s / (k - 1)))
    return out


def pmd_loss_bare(logp, logp_old, adv, mask, tau):
    """The PMD regression loss with no validation and no dtype handling (mean over
    non-empty sequences): the floor that pmd_loss's checks are measured against."""
    on = mask > 0
    log_ratio = torch.where(on, logp - logp_old, 0.0).sum(-1)
    length = mask.sum(-1)
    per_seq = 0.5 * tau * (adv / tau - log_ratio) ** 2 / length.clamp(min=1)
    active = length > 0
    return torch.where(active, per_seq, 0.0).sum() / active.sum().clamp(min=1)
