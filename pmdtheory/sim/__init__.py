"""Simulators: bandits, binary-reward prompt populations and tabular MDPs under PMD updates.

>>> from pmdtheory.sim import PromptPopulation, run
>>> df = run(PromptPopulation.random(100, 8), ["exact", "mean"], iters=3)
"""

from pmdtheory.sim.envs import Bandit, PromptPopulation
from pmdtheory.sim.mdp import DPResult, PolicyValue, TabularMDP
from pmdtheory.sim.run import BASELINES, COLUMNS, METHODS, Method, run

__all__ = [
    "BASELINES",
    "COLUMNS",
    "METHODS",
    "Bandit",
    "DPResult",
    "Method",
    "PolicyValue",
    "PromptPopulation",
    "TabularMDP",
    "run",
]
