"""Tests for pmdtheory.plotting: the shared figure style and the save helper."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest

from pmdtheory import plotting
from pmdtheory.plotting import METHOD_STYLES, apply_style, figure, method_style, save

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF"
MIN_BYTES = 1000  # a rendered panel with a line, labels and a legend is well above this


def test_apply_style_sets_rcparams():
    mpl.rcParams["font.size"] = 17.0
    apply_style()
    assert mpl.rcParams["font.size"] == plotting.STYLE["font.size"]
    assert mpl.rcParams["savefig.bbox"] == "tight"
    apply_style()  # idempotent
    assert mpl.rcParams["font.size"] == plotting.STYLE["font.size"]


def test_figure_grid_shapes_and_size():
    fig, ax = figure()
    assert hasattr(ax, "plot")
    fig, axes = figure(2, 3)
    assert axes.shape == (2, 3)
    w, h = plotting.PANEL_SIZE
    np.testing.assert_allclose(fig.get_size_inches(), [3 * w, 2 * h])
    fig, axes = figure(1, 2, figsize=(5.0, 2.0), sharey=True)
    np.testing.assert_allclose(fig.get_size_inches(), [5.0, 2.0])
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_figure_rejects_bad_grid(bad):
    with pytest.raises(ValueError, match="nrows"):
        figure(bad, 1)
    with pytest.raises(ValueError, match="ncols"):
        figure(1, bad)


def test_method_styles_distinct_and_overridable():
    colors = [s["color"] for s in METHOD_STYLES.values()]
    assert len(set(colors)) == len(colors)
    st = method_style("mean", label="x")
    assert st["label"] == "x" and st["color"] == METHOD_STYLES["mean"]["color"]
    assert METHOD_STYLES["mean"]["label"] == "PMD-mean"  # the override did not leak
    with pytest.raises(ValueError, match="method"):
        method_style("nope")


def test_save_writes_png_and_pdf(tmp_path):
    fig, ax = figure()
    ax.plot([0, 1, 2], [0, 1, 4], **method_style("exact"))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    plotting.panel_label(ax, "a")
    paths = save(fig, "demo_fig", tmp_path / "sub")
    assert [p.name for p in paths] == ["demo_fig.png", "demo_fig.pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(PNG_MAGIC) and len(png) > MIN_BYTES
    assert pdf.startswith(PDF_MAGIC) and len(pdf) > MIN_BYTES


def test_save_pdf_is_reproducible(tmp_path):
    def make():
        fig, ax = figure()
        ax.plot([0, 1], [1, 0])
        return fig

    (a,) = save(make(), "r", tmp_path / "a", formats=("pdf",))
    (b,) = save(make(), "r", tmp_path / "b", formats=("pdf",))
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("name", ["", "../x", "a/b", "with space", None])
def test_save_rejects_bad_name(tmp_path, name):
    fig, _ = figure()
    with pytest.raises(ValueError, match="name"):
        save(fig, name, tmp_path)


def test_save_rejects_bad_formats(tmp_path):
    fig, _ = figure()
    with pytest.raises(ValueError, match="formats"):
        save(fig, "x", tmp_path, formats=())
    with pytest.raises(ValueError, match="formats"):
        save(fig, "x", tmp_path, formats=("../png",))
