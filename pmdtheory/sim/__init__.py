"""Simulators: bandits, binary-reward prompt populations and tabular MDPs under PMD updates.

An environment (:class:`Bandit`, :class:`PromptPopulation`, :class:`TabularMDP`)
and :func:`run` give a tidy DataFrame (columns :data:`COLUMNS`) per method of
:data:`METHODS`, seed and iteration.

Examples
--------
>>> from pmdtheory.sim import PromptPopulation, run
>>> df = run(PromptPopulation.random(100, 8), ["exact", "mean"], iters=3)
>>> df.shape, sorted(set(df["method"]))
((8, 17), ['exact', 'mean'])
"""

from pmdtheory.sim.envs import Bandit, PromptPopulation
from pmdtheory.sim.mdp import DPResult, PolicyValue, TabularMDP
from pmdtheory.sim.run import BASELINES, COLUMNS, METHODS, Method, run
from pmdtheory.sim.sweeps import load_sweep, sweep  # dask is imported only when a sweep runs

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
