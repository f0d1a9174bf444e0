r"""One figure style for every pmdtheory script.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot
state machine), so scripts and tests never depend on an interactive backend and
never leak open figures.

Typical use::

    from pmdtheory.plotting import figure, save, method_style

    fig, ax = figure()
    ax.plot(tau, gap, **method_style("exact"))
    save(fig, "log_partition_gap", "figures")   # figures/log_partition_gap.png and .pdf

Colours follow the Okabe-Ito palette (readable for colour-blind readers and in
grey scale thanks to distinct line styles); each PMD variant keeps one colour
and one line style across all figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler  # the object matplotlib exports as mpl.cycler

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "PALETTE",
    "METHOD_STYLES",
    "STYLE",
    "apply_style",
    "figure",
    "method_style",
    "save",
    "panel_label",
]

#: Okabe-Ito colours, in the order used for unnamed series.
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # green
    "#CC79A7",  # purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: One colour, line style and label per update rule / estimator.
METHOD_STYLES: dict[str, dict[str, Any]] = {
    "exact": {"color": PALETTE[0], "linestyle": "-", "label": "exact PMD (PMD-part, oracle Z)"},
    "mean": {"color": PALETTE[1], "linestyle": "--", "label": "PMD-mean"},
    "kl_chi2": {"color": PALETTE[2], "linestyle": ":", "label": r"KL-$\chi^2$ (fixed $\beta$)"},
    "loo_partition_sampled": {
        "color": PALETTE[5],
        "linestyle": "-.",
        "label": "PMD-part (sampled, LOO)",
    },
    "partition_sampled": {
        "color": "#8C564B",  # brown
        "linestyle": (0, (5, 2, 1, 2)),
        "label": "PMD-part (sampled)",
    },
    "mean_sampled": {"color": PALETTE[4], "linestyle": (0, (5, 1)), "label": "PMD-mean (sampled)"},
    "grpo": {"color": PALETTE[3], "linestyle": (0, (3, 1, 1, 1)), "label": "GRPO (clipped PG)"},
    "grpo_sampled": {
        "color": "#7F7F7F",  # grey: yellow (PALETTE[6]) is too faint for a line
        "linestyle": (0, (3, 1, 1, 1, 1, 1)),
        "label": "PMD regression on GRPO targets",
    },
    "loo_mean_sampled": {
        "color": PALETTE[7],
        "linestyle": (0, (1, 1)),
        "label": "PMD-RLOO (sampled)",
    },
    "reference": {"color": "#555555", "linestyle": ":", "label": "reference"},
}

#: rcParams applied by :func:`apply_style`.
STYLE: dict[RcKeyType, Any] = {  # mypy checks the keys
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,  # the smallest text; journals print nothing under 7 pt
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # embed TrueType so the PDF text stays editable and searchable
    "svg.fonttype": "none",
}

#: Width and height (inches) of one panel.
PANEL_SIZE = (3.4, 2.7)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def apply_style() -> None:
    """Set the shared matplotlib rcParams :data:`STYLE` (idempotent).

    :func:`figure` calls it; call it yourself before plotting with pyplot.
    Tested (``tests/test_plotting.py``): it overwrites a changed rcParam and a
    second call changes nothing.

    Examples
    --------
    >>> import matplotlib as mpl
    >>> from pmdtheory.plotting import apply_style
    >>> apply_style()
    >>> mpl.rcParams["savefig.bbox"], mpl.rcParams["axes.spines.top"]
    ('tight', False)
    """
    mpl.rcParams.update(STYLE)


def figure(
    nrows: int = 1, ncols: int = 1, *, panel_size: tuple[float, float] = PANEL_SIZE, **kw: Any
) -> tuple[Figure, Any]:
    """A styled figure with a grid of axes, like ``plt.subplots`` but without pyplot.

    Parameters
    ----------
    nrows, ncols : int
        Grid of panels.
    panel_size : (float, float), keyword-only
        Size of one panel in inches; the figure is ``ncols * w`` by ``nrows * h``
        unless ``figsize`` is given.
    **kw
        Passed to :meth:`Figure.subplots` (``sharex``, ``sharey``, ``squeeze``,
        ``subplot_kw``, ``gridspec_kw``); ``figsize`` and ``layout`` go to the
        figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes
        A single Axes for a 1x1 grid (``squeeze=True``), otherwise an array.

    Raises
    ------
    ValueError
        Naming ``nrows`` or ``ncols`` unless it is a positive integer.

    Notes
    -----
    Tested (``tests/test_plotting.py``): grid shapes, the figure size from
    :data:`PANEL_SIZE` or ``figsize``, shared axes; 0, -1 and 1.5 raise.

    Examples
    --------
    >>> from pmdtheory.plotting import figure
    >>> fig, axes = figure(2, 3)
    >>> axes.shape, fig.get_size_inches().round(2).tolist()
    ((2, 3), [10.2, 5.4])
    >>> fig, ax = figure()  # one panel: a single Axes
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> len(ax.lines)
    1
    """
    if not (isinstance(nrows, int | np.integer) and nrows >= 1):
        raise ValueError(f"nrows must be a positive integer, got {nrows!r}")
    if not (isinstance(ncols, int | np.integer) and ncols >= 1):
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    apply_style()
    w, h = panel_size
    figsize = kw.pop("figsize", (w * ncols, h * nrows))
    layout = kw.pop("layout", "constrained")
    fig = Figure(figsize=figsize, layout=layout)
    axes = fig.subplots(int(nrows), int(ncols), **kw)
    return fig, axes


def method_style(method: str, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``ax.plot`` that draw `method` in its shared style.

    Parameters
    ----------
    method : str
        A key of :data:`METHOD_STYLES` ("exact", "mean", "kl_chi2",
        "loo_partition_sampled", "partition_sampled", "mean_sampled", "grpo",
        "grpo_sampled", "loo_mean_sampled", "reference"), or a deprecated method
        name of :data:`pmdtheory.sim.run.DEPRECATED_METHODS` (drawn as its new name).
    **overrides
        Replace or add keyword arguments (e.g. ``label=...``).

    Returns
    -------
    dict
        ``color``, ``linestyle`` and ``label`` (and the overrides): a new
        dict, so changing it leaves :data:`METHOD_STYLES` as it is.

    Raises
    ------
    ValueError
        Naming ``method`` if it is not a key of :data:`METHOD_STYLES`.

    Notes
    -----
    Tested (``tests/test_plotting.py``): every method has its own colour, an
    override does not leak into :data:`METHOD_STYLES`, an unknown name raises.

    Examples
    --------
    >>> from pmdtheory.plotting import method_style
    >>> style = method_style("mean", label="PMD-mean, tau = 0.1")
    >>> style["color"], style["linestyle"], style["label"]
    ('#D55E00', '--', 'PMD-mean, tau = 0.1')
    """
    from pmdtheory.sim.run import DEPRECATED_METHODS  # old spellings keep their style

    method = DEPRECATED_METHODS.get(method, method)
    if method not in METHOD_STYLES:
        raise ValueError(f"method must be one of {sorted(METHOD_STYLES)}, got {method!r}")
    return {**METHOD_STYLES[method], **overrides}


def panel_label(ax: Axes, text: str) -> None:
    """Write a bold panel tag (``"a"``, ``"b"``, ...) in the upper left corner of `ax`.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    text : str

    Examples
    --------
    >>> from pmdtheory.plotting import figure, panel_label
    >>> fig, ax = figure()
    >>> panel_label(ax, "a")
    >>> ax.texts[0].get_text(), ax.texts[0].get_fontweight()
    ('a', 'bold')
    """
    ax.text(
        -0.02,
        1.02,
        text,
        transform=ax.transAxes,
        fontweight="bold",
        fontsize=10,
        ha="right",
        va="bottom",
    )


def save(
    fig: Figure,
    name: str,
    out_dir: str | Path,
    *,
    formats: Iterable[str] = ("png", "pdf"),
) -> list[Path]:
    """Write `fig` as ``<out_dir>/<name>.<fmt>`` for every format; create `out_dir`.

    Parameters
    ----------
    fig : Figure
    name : str
        File stem: letters, digits, ``_``, ``-``, ``.``; no path separators.
    out_dir : str or Path
    formats : iterable of str, keyword-only
        File formats understood by matplotlib; default PNG and PDF.

    Returns
    -------
    list of Path
        The files written, in the order of `formats`.

    Raises
    ------
    ValueError
        Naming ``name`` (empty, a path, a space, not a string) or ``formats``
        (empty, not alphanumeric).

    Notes
    -----
    Tested (``tests/test_plotting.py``): PNG and PDF files start with their
    magic bytes, two PDFs of the same figure are byte-identical (no creation
    date), the bad names and formats above raise.

    Examples
    --------
    >>> import tempfile
    >>> from pmdtheory.plotting import figure, method_style, save
    >>> fig, ax = figure()
    >>> _ = ax.plot([0, 1, 2], [0, 1, 4], **method_style("exact"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = save(fig, "demo", tmp, formats=("png", "pdf"))
    ...     [p.name for p in paths], all(p.stat().st_size > 0 for p in paths)
    (['demo.png', 'demo.pdf'], True)
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name must be a plain file stem (letters, digits, _ - .), got {name!r}")
    formats = tuple(formats)
    if not formats or not all(isinstance(f, str) and f.isalnum() for f in formats):
        raise ValueError(f"formats must be non-empty file extensions, got {formats!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        # a fixed creation date keeps the committed PDFs byte-stable across reruns
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        fig.savefig(path, format=fmt, metadata=metadata)
        paths.append(path)
    return paths
