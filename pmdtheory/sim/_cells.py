r"""Cells of a sweep: the parameters, their validation, a cell's id and its run.

Private helper of :mod:`pmdtheory.sim.sweeps`, which re-exports the public names;
no Dask here, so that checking a grid starts no cluster.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

ENVS = ("prompts", "bandit", "mdp", "gridworld")
# default (contexts, actions) per environment, as in `pmdtheory simulate`
_SIZES = {"prompts": (1000, 64), "bandit": (1000, 10), "mdp": (20, 4), "gridworld": (25, 4)}
_MDPS = ("mdp", "gridworld")

#: sweep parameters: name -> (type, default). Their order is the column order and
#: the sort order of :func:`load_sweep`. ``None`` defaults: the environment's size
#: (contexts, actions) or the default of :func:`pmdtheory.sim.run`.
PARAMS = {
    "env": (str, "prompts"),
    "contexts": (int, None),
    "actions": (int, None),
    "env_seed": (int, 0),
    "gamma": (float, 0.9),
    "method": (str, "mean"),
    "tau": (float, 0.05),
    "k": (int, 16),
    "beta": (float, None),
    "baseline": (str, None),
    "fit_steps": (int, 1),
    "lr": (float, None),
    "staleness": (int, 0),
    "q": (str, "exact"),
    "n_rollouts": (int, 16),
    "iters": (int, 50),
    "seed": (int, 0),
}
# bump when a cell's output changes meaning: it is part of every cell id
_FORMAT = 1
_SEEDS = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0-99"``, ``"3"`` or ``"0-4,10,20-22"`` (ranges inclusive).

    Examples
    --------
    >>> parse_seeds("0-3,10")
    [0, 1, 2, 3, 10]
    """
    if not isinstance(text, str):
        raise ValueError(f"seed must be a string like '0-99', got {text!r}")
    seeds: list[int] = []
    for part in text.split(","):
        m = _SEEDS.match(part)
        if m is None:
            raise ValueError(f"seed must look like '0-99' or '0,3,7', got {text!r}")
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else int(m.group(2))
        if hi < lo:
            raise ValueError(f"seed range {part.strip()!r} is empty (end before start)")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seed lists a seed twice: {text!r}")
    return seeds


def _values(name, value):
    if name == "seed" and isinstance(value, str):
        return parse_seeds(value)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return [value]
    values = list(value.tolist() if isinstance(value, np.ndarray) else value)
    if not values:
        raise ValueError(f"{name} must list at least one value")
    return values


def _typed(name, value):
    kind, default = PARAMS[name]
    if value is None:
        return default
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


def _normalise(cell: dict) -> dict:
    """Fill defaults, check names and types, and blank what does not apply."""
    from pmdtheory.sim.run import METHODS, canonical_method

    p = {name: _typed(name, cell.get(name)) for name in PARAMS}
    if p["env"] not in ENVS:
        raise ValueError(f"env must be one of {ENVS}, got {p['env']!r}")
    spec = METHODS[canonical_method(p["method"])]  # a deprecated name warns, and is kept
    contexts, actions = _SIZES[p["env"]]
    p["contexts"] = contexts if p["contexts"] is None else p["contexts"]
    p["actions"] = actions if p["actions"] is None else p["actions"]
    for name in ("contexts", "actions"):
        if p[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {p[name]}")
    if p["env"] == "gridworld":
        size = round(p["contexts"] ** 0.5)
        if size < 2 or size * size != p["contexts"] or p["actions"] != 4:
            msg = "a gridworld has size**2 contexts (size >= 2) and 4 actions"
            raise ValueError(f"contexts, actions: {msg}, got {p['contexts']}, {p['actions']}")
        p["env_seed"] = None
    if p["env"] not in _MDPS:
        p["gamma"] = p["q"] = p["n_rollouts"] = None
    elif p["q"] == "exact":
        p["n_rollouts"] = None
    if spec.kind == "population":
        for name in ("k", "baseline", "fit_steps", "lr", "staleness"):
            p[name] = None
    if p["method"] != "kl_chi2":
        p["beta"] = None
    for name in ("env_seed", "iters", "seed"):
        if p[name] is not None and p[name] < 0:
            raise ValueError(f"{name} must be >= 0, got {p[name]}")
    return p


def cell_id(params: Mapping) -> str:
    """Stable id of a cell: 16 hex digits of a SHA-256 of its normalised parameters
    and the pmdtheory version (a new release recomputes, local edits do not).

    Examples
    --------
    >>> cell_id({"method": "exact", "tau": 0.1}) == cell_id({"tau": 0.1, "method": "exact"})
    True
    """
    from pmdtheory import __version__

    p = _normalise(dict(params))
    head = {"format": _FORMAT, "pmdtheory": __version__}
    text = json.dumps({**head, **p}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expand_grid(grid: Mapping | Iterable[Mapping]) -> list[dict]:
    """All cells of a grid, normalised, without duplicates, in a fixed order.

    Parameters
    ----------
    grid : dict or list of dict
        Parameter name (:data:`PARAMS`) -> a value or a list of values; ``seed``
        also takes a string such as ``"0-99"``. A list of dicts joins their
        products (like scikit-learn's ``ParameterGrid``).

    Returns
    -------
    list of dict
        One dict per distinct cell (all :data:`PARAMS`), in the order of the
        grids, then of the product (last parameter fastest).

    Examples
    --------
    >>> cells = expand_grid({"method": ["exact", "mean_sampled"], "k": [4, 8], "seed": "0-1"})
    >>> len(cells)  # exact ignores k: 2 seeds for it, 2 x 2 for mean_sampled
    6
    """
    grids = [grid] if isinstance(grid, Mapping) else list(grid)
    if not grids:
        raise ValueError("grid must hold at least one dict of parameters")
    cells: dict[str, dict] = {}
    for g in grids:
        if not isinstance(g, Mapping):
            raise ValueError(f"grid must be a dict or a list of dicts, got {g!r}")
        unknown = sorted(set(g) - set(PARAMS))
        if unknown:
            raise ValueError(f"grid: unknown parameter(s) {unknown}; known: {list(PARAMS)}")
        names = [n for n in PARAMS if n in g]
        for combo in itertools.product(*(_values(n, g[n]) for n in names)):
            cell = _normalise(dict(zip(names, combo, strict=True)))
            cells.setdefault(cell_id(cell), cell)
    return list(cells.values())


def _describe(p: Mapping) -> str:
    return " ".join(f"{k}={v}" for k, v in p.items() if v is not None)


def _env(p):
    from pmdtheory.sim import Bandit, PromptPopulation, TabularMDP

    P, n, seed = p["contexts"], p["actions"], p["env_seed"]
    if p["env"] == "prompts":
        return PromptPopulation.random(P, n, seed=seed)
    if p["env"] == "bandit":
        return Bandit.random(P, n, noise="bernoulli", seed=seed)
    if p["env"] == "mdp":
        return TabularMDP.random(P, n, gamma=p["gamma"], seed=seed)
    return TabularMDP.gridworld(round(P**0.5), gamma=p["gamma"])


_RUN_ARGS = ("tau", "k", "beta", "baseline", "fit_steps", "lr", "staleness", "q", "n_rollouts")


def run_cell(params: Mapping) -> pd.DataFrame:
    """Run one cell: its parameters as columns, then one row per iteration.

    Examples
    --------
    >>> df = run_cell({"contexts": 20, "actions": 4, "method": "exact", "iters": 2})
    >>> list(df["iter"]), bool(df["k"].isna().all())
    ([0, 1, 2], True)
    """
    from pmdtheory.sim.run import run

    p = _normalise(dict(params))
    kwargs = {name: p[name] for name in _RUN_ARGS if p[name] is not None}
    df = run(_env(p), p["method"], p["iters"], p["seed"], **kwargs)
    df = df.drop(columns=["method", "seed"])
    cols = {name: pd.Series([p[name]] * len(df), dtype=_dtype(name)) for name in PARAMS}
    return pd.concat([pd.DataFrame(cols), df], axis=1)


def _dtype(name):
    return {int: "Int64", float: "float64", str: "object"}[PARAMS[name][0]]


def _check_cells(cells: list[dict]) -> None:
    """Build each distinct environment and run each configuration for 0 iterations."""
    from pmdtheory.sim.run import run

    env_keys = ("env", "contexts", "actions", "env_seed", "gamma")
    envs = {}
    seen = set()
    for p in cells:
        key = tuple(p[n] for n in env_keys)
        conf = key + tuple(p[n] for n in ("method", *_RUN_ARGS))
        if conf in seen:
            continue
        seen.add(conf)
        try:
            if key not in envs:
                envs[key] = _env(p)
            kwargs = {name: p[name] for name in _RUN_ARGS if p[name] is not None}
            run(envs[key], p["method"], 0, p["seed"], diagnostics=False, **kwargs)
        except ValueError as exc:
            raise ValueError(f"grid cell {_describe(p)}: {exc}") from None
