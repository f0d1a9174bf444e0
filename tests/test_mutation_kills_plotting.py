"""The figure style's stated intent, which survivors of `make mutation` showed untested.

Each test checks a property the module or its docstrings state (panels without top/right
spines, a panel tag in the upper left corner that stands out, one body font size, outputs
free of run-dependent metadata, the documented signatures), not a copy of the constants;
each was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

from __future__ import annotations

import matplotlib as mpl
import pytest

from pmdtheory import plotting
from pmdtheory.plotting import METHOD_STYLES, figure, panel_label, save

CORNER_MARGIN = 0.1  # "in the upper left corner": within 10% of the axes size of it


def test_panels_have_no_top_or_right_spine_and_a_grid():
    # mutants: "axes.spines.top" / "axes.spines.right": True
    _, ax = figure()
    assert not ax.spines["top"].get_visible()
    assert not ax.spines["right"].get_visible()
    assert ax.spines["left"].get_visible() and ax.spines["bottom"].get_visible()
    assert mpl.rcParams["axes.grid"]
    ax.plot([0, 1], [0, 1], label="x")
    assert not ax.legend().get_frame_on()  # seed 1 mutant: "legend.frameon": True


MIN_PRINTED_PT = 7.0  # the smallest text size most journals accept in a figure


def test_one_body_font_size_smaller_ticks_and_legend():
    # mutants: font.size / axes.titlesize / axes.labelsize 9 -> 8, ytick.labelsize 8 -> 7
    s = plotting.STYLE
    assert s["axes.titlesize"] == s["axes.labelsize"] == s["font.size"]
    assert s["xtick.labelsize"] == s["ytick.labelsize"] < s["font.size"]
    assert s["legend.fontsize"] < s["xtick.labelsize"]
    # full run (session 9): legend.fontsize 7.5 -> 6.5, under what journals print
    text = ("font.size", "fontsize", "titlesize", "labelsize")
    sizes = [v for k, v in s.items() if str(k).endswith(text)]
    assert len(sizes) == 6
    assert min(sizes) == s["legend.fontsize"] >= MIN_PRINTED_PT


def test_grid_lines_are_thinner_than_data_lines():
    # mutant: grid.linewidth 0.5 -> 1.5 (as wide as the data lines)
    assert plotting.STYLE["grid.linewidth"] < plotting.STYLE["lines.linewidth"]
    assert plotting.STYLE["grid.linewidth"] > 0  # full run (session 9): 0.5 -> -0.5


def test_panel_tag_sits_upper_left_and_stands_out():
    # mutants: x = -0.02 -> +0.98 (upper right corner); fontsize 10 -> 9 (as the body text)
    _, ax = figure()
    panel_label(ax, "b")
    (tag,) = ax.texts
    x, y = tag.get_position()
    assert tag.get_transform() == ax.transAxes
    # just outside the upper left corner of the axes (seed 1 mutants: x -1.02, y 2.02)
    assert -CORNER_MARGIN <= x <= 0.0 and 1.0 <= y <= 1.0 + CORNER_MARGIN
    assert tag.get_fontsize() > plotting.STYLE["font.size"]
    # one point above the body text, no more (full run, session 9: fontsize 10 -> 11)
    assert tag.get_fontsize() == plotting.STYLE["font.size"] + 1
    assert tag.get_fontweight() == "bold"


def test_figure_takes_its_grid_by_position_and_the_rest_by_keyword():
    # full run (session 9): the `*` in figure's signature -> `/` went unnoticed
    fig, axes = figure(nrows=1, ncols=2)
    assert len(axes) == 2
    with pytest.raises(TypeError):
        figure(1, 1, (3.0, 2.0))  # panel_size is keyword-only


def test_dash_patterns_start_at_phase_zero_and_regression_extends_grpo():
    # mutants: a dash offset 0 -> +-1; grpo (3, 1, 1, 1) -> (4, 1, 1, 1) / (3, 1, 0, 1);
    # grpo_sampled, formerly grpo_regression, (3, 1, 1, 1, 1, 1) -> (3, 2, 1, 1, 1, 1):
    # "PMD regression on GRPO targets" is drawn as GRPO's dash-dot with one more dot,
    # so the two read as related
    dashed = {
        k: v["linestyle"] for k, v in METHOD_STYLES.items() if isinstance(v["linestyle"], tuple)
    }
    assert dashed, "no dash patterns found"
    assert all(offset == 0 for offset, _ in dashed.values())
    grpo = METHOD_STYLES["grpo"]["linestyle"][1]
    assert all(seg > 0 for _, segs in dashed.values() for seg in segs)  # no 0-length dash
    assert METHOD_STYLES["grpo_sampled"]["linestyle"][1] == grpo + (1, 1)


def test_saved_files_carry_no_run_dependent_metadata(tmp_path):
    # mutant: the PDF/PNG metadata swapped (`fmt != "pdf"`): the PDF then records its
    # creation date and the PNG the matplotlib version, so reruns would differ
    fig, ax = figure()
    ax.plot([0, 1], [1, 0])
    png, pdf = (p.read_bytes() for p in save(fig, "meta", tmp_path))
    assert b"CreationDate" not in pdf
    assert b"Software" not in png


def test_save_signature_formats_keyword_only(tmp_path):
    # mutant: `(fig, name, out_dir, /, formats=...)`
    fig, _ = figure()
    (p,) = save(fig=fig, name="kw", out_dir=tmp_path, formats=("png",))
    assert p.name == "kw.png"
    with pytest.raises(TypeError):
        save(fig, "pos", tmp_path, ("png",))


def test_save_creates_nested_folders(tmp_path):
    # seed 1 mutant: `out.mkdir(parents=False, ...)` ("create out_dir", however deep)
    fig, _ = figure()
    (p,) = save(fig, "deep", tmp_path / "a" / "b" / "c", formats=("png",))
    assert p.is_file()


@pytest.mark.parametrize("bad", [("p/ng",), ("../png",), ("png", ""), ()])
def test_save_refuses_formats_that_are_not_plain_extensions(tmp_path, bad):
    # mutant: `isinstance(f, str) or f.isalnum()` (any string passed: "p/ng" wrote outside
    # the stem's name)
    fig, _ = figure()
    with pytest.raises(ValueError, match="^formats must be non-empty file extensions"):
        save(fig, "demo", tmp_path, formats=bad)
    assert list(tmp_path.iterdir()) == []
