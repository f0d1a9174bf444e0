"""pmdtheory: policy mirror descent for LLM post-training, exact and checkable.

The numeric core (this namespace) needs numpy, scipy and numba only; its
Numba kernels compile on first use, not at import. Submodules:
:mod:`pmdtheory.estimators` (sampled baselines), :mod:`pmdtheory.sim`
(simulators), :mod:`pmdtheory.symbolic` (sympy derivations),
:mod:`pmdtheory.testing` (hypothesis tools), :mod:`pmdtheory.bridge` (torch).
"""

from .divergences import chi2, kl
from .special import lambertw0, logsumexp, wright_omega
from .updates import (
    BinaryUpdate,
    binary_update,
    exact_update,
    implicit_beta,
    kl_chi2_update,
    log_partition,
    mean_update,
)

__version__ = "0.2.0"

__all__ = [
    "BinaryUpdate",
    "binary_update",
    "chi2",
    "exact_update",
    "implicit_beta",
    "kl",
    "kl_chi2_update",
    "lambertw0",
    "log_partition",
    "logsumexp",
    "mean_update",
    "wright_omega",
]
