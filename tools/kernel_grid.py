"""The input grid on which equivalent mutants of ``pmdtheory/_kernels.py`` were measured.

82,500 rows of 1 to 64 actions: Dirichlet policies (alpha 0.1, 1, 10), uniform policies (ties
for the most probable action), one action of mass 1 - 1e-12, zeros on half the actions, one
mass in [1e-300, 1e-100], and (log input only, 9,000 rows) log-probabilities below -745;
rewards normal, binary, in {0..4}, 1e6 + normal, 1e12 + U(0, 1) and normal times
10^U(-6, 3); tau log-uniform on [1e-8, 1e8], a tenth of it at 1e-60 .. 1e300; beta = tau
times 10^U(-6, 6). The 73,500 rows without underflowed weights were the grid of the first
measurements (drawn from their own generator, they are the same rows).

Each public function that reaches the log-space kernels is evaluated on every row
(``mean_update`` on log-probabilities and on probabilities, ``log_partition``,
``kl_chi2_update``, ``implicit_beta``, ``exact_update``); a refused row is recorded as such.

Usage, for a mutant applied to a copy of the package in ``COPY/pmdtheory``::

    python tools/kernel_grid.py eval orig.npz
    PYTHONPATH=COPY NUMBA_CACHE_DIR=COPY/nc python tools/kernel_grid.py eval mutant.npz
    python tools/kernel_grid.py compare orig.npz mutant.npz

``compare`` prints, per function, the rows that differ, those refused by one side only, and
the largest difference: relative for values, absolute for log-probabilities whose
probability is representable; over the whole grid and within the tested domain of
``pmdtheory.updates`` (tau in [1e-4, 1e4], |r| <= 1e3, no underflowed weights).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

_ROWS = 250
_TAUS_FAR = [1e-60, 1e-30, 1e-15, 1e15, 1e30, 1e100, 1e200, 1e300]
_LOG_OUTPUT = ("mean_log", "klchi2", "exact")


def _taus(m, rng):
    t = 10.0 ** rng.uniform(-8, 8, size=m)
    t[: m // 10] = rng.choice(_TAUS_FAR, size=m // 10)
    return t


def _policies(n, m, rng, rng2):
    """Policy families as (probabilities, log-probabilities)."""
    fams = {
        "dir01": rng.dirichlet(np.full(n, 0.1), size=m),
        "dir1": rng.dirichlet(np.ones(n), size=m),
        "dir10": rng.dirichlet(np.full(n, 10.0), size=m),
        "unif": np.full((m, n), 1.0 / n),
    }
    p = rng.dirichlet(np.ones(n), size=m)
    if n > 1:
        p[:, 0] = 1 - 1e-12
        p[:, 1:] *= 1e-12 / p[:, 1:].sum(-1, keepdims=True)
    fams["dominant"] = p
    p = rng.dirichlet(np.ones(n), size=m)
    if n > 2:
        p[:, : n // 2] = 0.0
        p /= p.sum(-1, keepdims=True)
    fams["zeros"] = p
    p = rng.dirichlet(np.ones(n), size=m)
    if n > 1:
        p[:, 0] = 10.0 ** rng.uniform(-300, -100, size=m)
        p[:, 1:] *= (1 - p[:, :1]) / p[:, 1:].sum(-1, keepdims=True)
    fams["tiny"] = p
    with np.errstate(divide="ignore"):
        out = {k: (v, np.log(v)) for k, v in fams.items()}
    if n > 1:  # weights that underflow: log input only
        lp = np.log(rng2.dirichlet(np.ones(n), size=m))
        lp[:, 0] = -rng2.uniform(745, 5000, size=m)
        if n > 2:
            lp[:, 1] = -rng2.uniform(700, 800, size=m)
        top = lp.max(1, keepdims=True)
        lp -= top + np.log(np.exp(lp - top).sum(1, keepdims=True))
        out["under"] = (np.exp(lp), lp)
    return out


def grid():
    """``{name: (pi, logpi, r, tau, beta)}``, one batch of 250 rows per name."""
    rng = np.random.default_rng(2026)
    rng2 = np.random.default_rng(2027)  # the underflow family: the other rows stay as they were
    batches = {}
    for n in [1, 2, 3, 5, 8, 16, 64]:
        m = _ROWS
        for pname, (pi, lp) in _policies(n, m, rng, rng2).items():
            g = rng2 if pname == "under" else rng
            rs = {
                "normal": g.normal(size=(m, n)),
                "bin": g.integers(0, 2, size=(m, n)).astype(float),
                "int5": g.integers(0, 5, size=(m, n)).astype(float),
                "off6": 1e6 + g.normal(size=(m, n)),
                "off12": 1e12 + g.uniform(0, 1, size=(m, n)),
                "wide": g.normal(size=(m, n)) * 10.0 ** g.uniform(-6, 3, size=(m, 1)),
            }
            for rname, r in rs.items():
                t = _taus(m, g)
                beta = t * 10.0 ** g.uniform(-6, 6, size=m)
                batches[f"{n}|{pname}|{rname}"] = (pi, lp, r, t, beta)
    return batches


def _functions():
    import pmdtheory as pmd

    return {
        "mean_log": lambda pi, lp, r, t, b: pmd.mean_update(
            lp, r, t, log=True, return_lambda=True
        ),
        "mean_prob": lambda pi, lp, r, t, b: pmd.mean_update(pi, r, t, return_lambda=True),
        "logpart": lambda pi, lp, r, t, b: pmd.log_partition(lp, r, t, log=True),
        "klchi2": lambda pi, lp, r, t, b: pmd.kl_chi2_update(lp, r, t, b, log=True),
        "beta": lambda pi, lp, r, t, b: pmd.implicit_beta(lp, r, t, log=True),
        "exact": lambda pi, lp, r, t, b: pmd.exact_update(lp, r, t, log=True),
    }


def _flat(res, m):
    parts = res if isinstance(res, tuple) else (res,)
    return np.concatenate([np.asarray(x, float).reshape(m, -1) for x in parts], axis=1)


def evaluate(path):
    """Every function on every batch; the last column flags a refused row (ValueError)."""
    out = {}
    functions = _functions()
    for key, args in grid().items():
        m = len(args[0])
        for fname, f in functions.items():
            try:
                res = np.concatenate([_flat(f(*args), m), np.zeros((m, 1))], 1)
            except ValueError:  # row by row: which rows are refused
                rows = []
                for i in range(m):
                    try:
                        rows.append(_flat(f(*(a[i : i + 1] for a in args)), 1)[0])
                    except ValueError:
                        rows.append(None)
                w = max((len(x) for x in rows if x is not None), default=1)
                vals = np.array([np.full(w, np.nan) if x is None else x for x in rows])
                res = np.concatenate([vals, np.array([[x is None] for x in rows], float)], 1)
            out[f"{key}|{fname}"] = res
    np.savez(path, **out)
    print(f"{len(out)} batches written to {path}")


def compare(path_a, path_b):
    """Per function: rows differing, refused by one side only, largest difference."""
    a, b = np.load(path_a), np.load(path_b)
    batches = grid()
    stats: dict[str, list] = {}
    for k in a.files:
        key, fname = k.rsplit("|", 1)
        x, y = a[k], b[k]
        s = stats.setdefault(fname, [0, 0, 0, 0.0, 0.0])
        s[0] += len(x)
        if x.shape != y.shape:
            s[1] += len(x)
            s[2] += len(x)
            continue
        ex, ey = x[:, -1] > 0, y[:, -1] > 0
        s[2] += int(np.sum(ex != ey))
        xv, yv = x[:, :-1], y[:, :-1]
        s[1] += int(np.sum(~np.all((xv == yv) | (np.isnan(xv) & np.isnan(yv)), axis=1)))
        with np.errstate(invalid="ignore", divide="ignore"):
            if fname in _LOG_OUTPUT:
                d = np.abs(xv - yv)
                d[xv == yv] = 0.0
                d = np.where(np.fmax(xv, yv) > -745.0, d, 0.0)  # both probabilities underflow
                if fname == "mean_log":  # its last column is lam
                    d[:, -1] = np.abs(xv[:, -1] - yv[:, -1]) / np.maximum(
                        np.abs(xv[:, -1]), 1e-300
                    )
            else:
                d = np.abs(xv - yv) / np.maximum(np.abs(xv), 1e-300)
                d[xv == yv] = 0.0
        d = np.where((~ex & ~ey)[:, None], np.nan_to_num(d, nan=np.inf), 0.0)
        _, _, r, tau, _ = batches[key]
        dom = (tau >= 1e-4) & (tau <= 1e4) & (np.abs(r).max(1) <= 1e3)
        dom &= "|under|" not in f"|{key}|"
        s[3] = max(s[3], float(d.max()) if d.size else 0.0)
        s[4] = max(s[4], float(d[dom].max()) if d[dom].size else 0.0)
    for f, (n, diff, refused, worst, worst_dom) in stats.items():
        print(
            f"{f:10s} rows {n:6d}  differing {diff:6d}  refused by one side {refused:4d}  "
            f"max diff {worst:.3g}  (tested domain {worst_dom:.3g})"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("eval").add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    if args.cmd == "eval":
        evaluate(args.out)
    else:
        compare(args.a, args.b)


if __name__ == "__main__":
    main()
