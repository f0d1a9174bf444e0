"""Simulators: bandits, binary-reward prompt populations and tabular MDPs under PMD updates.

>>> from pmdtheory.sim import PromptPopulation, run
>>> df = run(PromptPopulation.random(100, 8), ["exact", "mean"], iters=3)
"""

from pmdtheory.sim.envs import Bandit, PromptPopulation
from pmdtheory.sim.mdp import DPResult, PolicyValue, TabularMDP
from pmdtheory.sim.run import BASELINES, COLUMNS, METHODS, Method, run
from pmdtheory.sim.sweep import load_sweep, sweep  # dask is imported only when a sweep runs

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
    "load_sweep",
    "run",
    "sweep",
]
