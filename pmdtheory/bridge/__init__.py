"""Torch bridge: group advantages, the PMD loss, LLM helpers and trainer integrations.

Needs the optional extra ``pmdtheory[torch]``. Importing this package imports torch
but neither transformers nor trl; :mod:`pmdtheory.bridge.llm` (transformers) and the
trainer integrations are imported on demand. ``import pmdtheory`` never imports it.

Examples
--------
One PMD-mean regression step on a toy policy over 3 answers, 4 samples of one prompt:
the group advantages are the regression targets' numerators, and the loss's gradient
raises the log-probability of the rewarded answer.

>>> import torch
>>> from pmdtheory.bridge import group_advantages, pmd_loss
>>> theta = torch.zeros(3, requires_grad=True)  # logits of the policy
>>> answers, rewards = torch.tensor([0, 1, 1, 2]), torch.tensor([1.0, 0.0, 0.0, 0.0])
>>> adv = group_advantages(rewards, [0, 0, 0, 0], baseline="mean")
>>> logp = torch.log_softmax(theta, 0)[answers][:, None]  # one token per response
>>> loss, metrics = pmd_loss(logp, logp.detach(), adv, torch.ones(4, 1), tau=0.1)
>>> loss.backward()
>>> theta.grad  # sum over responses of -tau*(A/tau)/4 * (e_answer - pi)
tensor([-0.1875,  0.1250,  0.0625])
"""

from pmdtheory.bridge.advantages import BASELINES, group_advantages, group_implicit_beta
from pmdtheory.bridge.loss import AGGREGATIONS, pmd_loss

__all__ = ["AGGREGATIONS", "BASELINES", "group_advantages", "group_implicit_beta", "pmd_loss"]
