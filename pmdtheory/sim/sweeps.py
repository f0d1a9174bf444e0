r"""Parameter sweeps of the simulators on Dask, saved cell by cell, resumable.

A *grid* names values for the parameters of :data:`PARAMS` (a dict, or a list of
dicts whose products are joined). Every combination is one *cell*: one method,
one seed, one environment, run by :func:`pmdtheory.sim.run`. :func:`sweep` runs
the cells as tasks on ``dask.distributed`` (a ``LocalCluster`` of processes by
default, or an existing scheduler) and writes each finished cell as one Parquet
file ``<out>/<cell id>.parquet`` (temporary file + ``os.replace``, so a file is
either complete or absent). A cell's id is a hash of its parameters, so running
the same sweep again skips the finished cells: an interrupted sweep loses only
the cells that were running, and because every cell is deterministic (a
counter-based random stream from its seed), the resumed table equals an
uninterrupted one bit for bit. :func:`load_sweep` reads the folder back into one
tidy DataFrame.

Parameters that do not apply to a cell are stored as missing and do not change
its id: ``k``, ``baseline``, ``fit_steps``, ``lr``, ``staleness`` for population
methods, ``beta`` for methods other than ``kl_chi2``, ``gamma``, ``q`` and
``n_rollouts`` outside MDPs (``n_rollouts`` also with ``q="exact"``), and
``env_seed`` for the (deterministic) gridworld.

Dask and pyarrow (``pip install 'pmdtheory[sweep]'``) are imported only when a
sweep runs or is loaded.

Examples
--------
>>> import tempfile
>>> from pmdtheory.sim import load_sweep, sweep
>>> grid = {"env": "prompts", "contexts": 50, "actions": 8, "method": ["exact", "mean"],
...         "tau": [0.05, 0.1], "iters": 3}
>>> with tempfile.TemporaryDirectory() as out:  # doctest: +SKIP
...     report = sweep(grid, out, progress=False)
...     df = load_sweep(out)
>>> len(expand_grid(grid))
4
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmdtheory.sim._cells import (  # noqa: F401 - re-exported
    ENVS,
    PARAMS,
    _check_cells,
    _describe,
    _dtype,
    cell_id,
    expand_grid,
    parse_seeds,
    run_cell,
)

__all__ = [
    "ENVS",
    "PARAMS",
    "SweepError",
    "SweepReport",
    "cell_id",
    "expand_grid",
    "load_sweep",
    "parse_seeds",
    "run_cell",
    "sweep",
]


class SweepError(RuntimeError):
    """Some cells of a sweep failed; ``failed`` lists ``(params, message)`` pairs."""

    def __init__(self, failed: list[tuple[dict, str]], out: Path):
        self.failed = failed
        lines = [f"  {_describe(p)}: {m}" for p, m in failed[:10]]
        more = f"\n  ... and {len(failed) - 10} more" if len(failed) > 10 else ""
        super().__init__(
            f"{len(failed)} cell(s) failed (the others are saved in {out}):\n"
            + "\n".join(lines)
            + more
        )


@dataclass
class SweepReport:
    """What :func:`sweep` did: cell counts, and the cells that failed."""

    out: Path
    n_cells: int
    n_skipped: int
    n_done: int = 0
    failed: list[tuple[dict, str]] = field(default_factory=list)


# ------------------------------------------------------------------ running on Dask


def _cell_bytes(params: dict) -> tuple[str, bytes | str]:
    """Worker side: ("ok", Parquet bytes) or ("error", message); never raises."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        _limit_numba_threads()
        table = pa.Table.from_pandas(run_cell(params), preserve_index=False)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return "ok", buf.getvalue()
    except Exception as exc:  # reported with the cell's parameters by the client
        return "error", f"{type(exc).__name__}: {exc}"


#: Numba threads per cell on the local cluster's workers. Not NUMBA_NUM_THREADS itself:
#: Numba re-reads that variable whenever it compiles, and a worker that imported Numba
#: before the variable was set (spawn imports the parent's main module first) then fails
#: with "Cannot set NUMBA_NUM_THREADS to a different value" on its first cold compile.
_THREADS_ENV = "PMDTHEORY_SWEEP_NUMBA_THREADS"


def _limit_numba_threads() -> None:
    """Limit this thread's Numba parallel regions to the local cluster's share of cores
    (``numba.set_num_threads`` is per thread: it is called in the task's thread)."""
    n = os.environ.get(_THREADS_ENV, "")
    if n.isdigit() and int(n) >= 1:
        import numba

        numba.set_num_threads(min(int(n), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def dask_setup(worker) -> None:
    """Worker preload: Ctrl-C reaches the client only (it shuts the workers down)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to do
        pass


def _local_cluster(n_workers: int | None = None):
    """A LocalCluster of single-threaded worker processes (one per core by default).

    Ctrl-C is ignored while it starts: the worker processes inherit the ignored
    SIGINT (an ignored signal stays ignored across exec), so a Ctrl-C in the
    terminal reaches only this process and never a worker in mid start-up (its
    traceback would reach the terminal). A Ctrl-C pressed during those seconds is
    lost; the next one stops the sweep.
    """
    from distributed import LocalCluster

    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        return LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            # the scheduler's HTTP server: any free port, this machine only
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,  # worker restarts are reported per cell instead
            preload=["pmdtheory.sim.sweeps"],
            # one process per core: Numba's parallel kernels get one thread each
            env={_THREADS_ENV: "1"},
        )
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def _client(scheduler, n_workers):
    from distributed import Client

    if scheduler is not None:
        return Client(scheduler), None
    cluster = _local_cluster(n_workers)
    try:
        return Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def _write(out: Path, cid: str, data: bytes) -> None:
    tmp = out / f".{cid}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out / f"{cid}.parquet")
    finally:
        if tmp.exists():
            tmp.unlink()


def _execute(
    cells: list[dict],
    out,
    *,
    fn: Callable = _cell_bytes,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
    errors: str = "raise",
    on_error: Callable | None = None,
) -> SweepReport:
    """Run the cells not yet in ``out`` with ``fn`` on Dask (tests swap ``fn``)."""
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', got {errors!r}")
    if n_workers is not None and not (isinstance(n_workers, int) and n_workers >= 1):
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, got the file {out}")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):  # left by a client that was killed mid-write
        stale.unlink(missing_ok=True)
    done = {p.stem for p in out.glob("*.parquet")}
    ids = [cell_id(p) for p in cells]
    todo = [(cid, p) for cid, p in zip(ids, cells, strict=True) if cid not in done]
    report = SweepReport(out, len(cells), n_skipped=len(cells) - len(todo))
    if todo:
        from distributed import as_completed
        from tqdm.auto import tqdm

        client, cluster = _client(scheduler, n_workers)
        futures = {}
        try:
            with tqdm(total=len(cells), initial=report.n_skipped, unit="cell",
                      disable=None if progress is None else not progress) as bar:  # fmt: skip
                # a fresh key per run: a scheduler never hands back another run's result
                token = os.urandom(4).hex()
                for cid, p in todo:
                    fut = client.submit(fn, p, key=f"pmdtheory-cell-{cid}-{token}", pure=False)
                    futures[fut] = (cid, p)
                for fut in as_completed(futures):
                    cid, p = futures[fut]
                    try:
                        status, payload = fut.result()
                    except Exception as exc:  # e.g. KilledWorker after repeated deaths
                        status, payload = "error", f"{type(exc).__name__}: {exc}"
                    if status == "ok":
                        _write(out, cid, payload)
                        report.n_done += 1
                    else:
                        report.failed.append((p, payload))
                        if on_error is not None:
                            on_error(p, payload)
                    fut.release()
                    bar.update(1)
        finally:
            client.cancel(list(futures))
            client.close()
            if cluster is not None:
                cluster.close()
    if report.failed and errors == "raise":
        raise SweepError(report.failed, out)
    return report


def sweep(
    grid: Mapping | Iterable[Mapping],
    out,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
    errors: str = "raise",
) -> SweepReport:
    r"""Run every cell of ``grid`` on Dask, one Parquet file per finished cell in ``out``.

    The grid is checked before any cluster starts: parameter names and types,
    the ``seed`` syntax, and each distinct configuration by building its
    environment and running it for zero iterations. Cells already saved in
    ``out`` (same parameters, same id) are skipped, so rerunning an
    interrupted sweep resumes it. A worker that dies is replaced and its cells
    rerun (Dask reschedules a task up to ``distributed.scheduler.allowed-failures``
    = 3 times); a cell that raises is reported with its parameters while the
    others finish.

    Parameters
    ----------
    grid : dict or list of dict
        See :func:`expand_grid`; names in :data:`PARAMS`.
    out : str or Path
        Folder of the Parquet dataset (created if missing).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default: a
        ``LocalCluster`` of ``n_workers`` single-threaded processes, started and
        closed here.
    n_workers : int, optional
        Workers of the local cluster; default one per CPU core.
    progress : bool, optional
        tqdm progress bar (default: only on a terminal).
    errors : {"raise", "report"}
        After all other cells finished, raise :class:`SweepError` listing the
        failed cells, or return them in ``SweepReport.failed``.

    Returns
    -------
    SweepReport
        Numbers of cells in the grid, skipped (already saved) and run now.

    Raises
    ------
    ValueError
        For a bad grid, naming the parameter and the cell.
    SweepError
        With ``errors="raise"``, if any cell failed.
    KeyboardInterrupt
        On Ctrl-C, after the cluster is shut down; saved cells stay saved.

    Notes
    -----
    Tested domain: local clusters of 1 and 2 worker processes, used directly and
    through ``scheduler``; grids of 20 prompt-population cells (100 x 8, 20
    iterations); a SIGINT to the whole process group after 3 saved cells, a
    worker killed by SIGKILL in mid-cell, a cell that raises ValueError. Each of
    the four environments is tested through :func:`run_cell` against
    :func:`pmdtheory.sim.run`. Needs ``dask[distributed]`` and ``pyarrow``
    (extra ``sweep``).

    Examples
    --------
    >>> grid = {"contexts": 100, "actions": 16, "method": ["exact", "mean_sampled"],
    ...         "tau": [0.01, 0.05], "k": [4, 8], "seed": "0-9", "iters": 20}
    >>> report = sweep(grid, "results/sweep")  # doctest: +SKIP
    >>> df = load_sweep("results/sweep")  # doctest: +SKIP
    """
    cells = expand_grid(grid)
    _check_cells(cells)
    return _execute(
        cells, out, scheduler=scheduler, n_workers=n_workers, progress=progress, errors=errors
    )


def load_sweep(out) -> pd.DataFrame:
    """Read a sweep folder into one tidy DataFrame, sorted by the parameters and iter.

    Columns: :data:`PARAMS` (missing where a parameter does not apply; integer
    columns are nullable ``Int64``), then ``iter`` and the summary columns of
    :func:`pmdtheory.sim.run`. The order of the rows depends only on their
    values, so the table of a resumed sweep equals that of an uninterrupted one.

    Examples
    --------
    >>> df = load_sweep("results/sweep")  # doctest: +SKIP
    """
    import pyarrow.parquet as pq

    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"out must be an existing sweep folder, got {out}")
    files = sorted(out.glob("*.parquet"))
    if not files:
        raise ValueError(f"out holds no finished cells: {out}")
    df = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    for name in PARAMS:
        df[name] = df[name].astype(_dtype(name))
    keys = [*PARAMS, "iter"]
    return df.sort_values(keys, kind="mergesort", na_position="last", ignore_index=True)
