"""Torch bridge: group advantages, the PMD loss, LLM helpers and trainer integrations.

Needs the optional extra ``pmdtheory[torch]``. Importing this package imports torch
but neither transformers nor trl; :mod:`pmdtheory.bridge.llm` (transformers) and the
trainer integrations are imported on demand. ``import pmdtheory`` never imports it.
"""

from pmdtheory.bridge.advantages import BASELINES, group_advantages, group_implicit_beta
from pmdtheory.bridge.loss import AGGREGATIONS, pmd_loss

__all__ = ["AGGREGATIONS", "BASELINES", "group_advantages", "group_implicit_beta", "pmd_loss"]
