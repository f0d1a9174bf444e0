"""The house style, pinned by a baseline image.

`tests/test_plotting.py` and `tests/test_mutation_kills_plotting.py` check what the
style promises (no top or right spine, one body font size, thin grid lines, ...). What no
promise covers, a dash length or the panel's height, is a choice; `make mutation` showed
that changing one went unnoticed. This test renders one panel with every method's line
and compares its pixels with ``tests/data/plotting_baseline.png``, the way image-comparison
tests of matplotlib itself work: a change of style must come with a new baseline.

The baseline has no text (glyphs depend on the FreeType build) and records the matplotlib
version that drew it; Agg's output can change between versions, so another version fails
with a message instead of a pixel diff. To draw a new baseline after a deliberate change
(look at it first):

    .venv/bin/python tests/test_plotting_baseline.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.image import imread

from pmdtheory import plotting

BASELINE = Path(__file__).parent / "data" / "plotting_baseline.png"
VERSION_FILE = BASELINE.with_suffix(".matplotlib-version")
MAX_DIFFERENT_PIXELS = 0  # Agg is deterministic for one matplotlib version


def render(out_dir: Path) -> Path:
    """One panel: every method's line, one marked line, the grid; no text."""
    fig, ax = plotting.figure()
    x = np.linspace(0.0, 1.0, 40)
    for i, method in enumerate(plotting.METHOD_STYLES):
        ax.plot(x, i + 0.3 * x**2, **plotting.method_style(method, label=None))
    ax.plot(x[::8], -1 + 0 * x[::8], marker="o", linestyle="none", color="k")
    ax.tick_params(labelbottom=False, labelleft=False)
    (path,) = plotting.save(fig, "plotting_baseline", out_dir, formats=("png",))
    return path


def test_style_matches_baseline_image(tmp_path):
    # mutants it kills (seed 1 of plotting.py): the dash of "mean_sampled" (5, 1) -> (4, 1),
    # of "loo_mean_sampled" (1, 1) -> (1, 2), PANEL_SIZE's height 2.7 -> 3.7
    recorded = VERSION_FILE.read_text().strip()
    assert mpl.__version__ == recorded, (
        f"the baseline was drawn by matplotlib {recorded}, this is {mpl.__version__}: "
        "look at a new rendering and redraw it (python tests/test_plotting_baseline.py)"
    )
    want, got = imread(BASELINE), imread(render(tmp_path))
    assert got.shape == want.shape, f"image size {got.shape[:2]}, baseline {want.shape[:2]}"
    different = int(np.any(got != want, axis=-1).sum())
    assert different <= MAX_DIFFERENT_PIXELS, f"{different} pixels differ from the baseline"


SCREEN_DPI = 100  # a panel in a notebook or a window: PANEL_SIZE (3.4 x 2.7 in) in pixels


def test_a_panel_is_drawn_on_screen_at_100_dpi():
    # the baseline is saved at savefig.dpi; the screen's dpi is figure.dpi, a choice no
    # saved file shows (full run, session 9: figure.dpi 100 -> 99 or 101 went unnoticed)
    fig, _ = plotting.figure()
    assert fig.canvas.get_width_height() == tuple(
        round(s * SCREEN_DPI) for s in plotting.PANEL_SIZE
    )


if __name__ == "__main__":
    BASELINE.parent.mkdir(exist_ok=True)
    render(BASELINE.parent)
    VERSION_FILE.write_text(mpl.__version__ + "\n")
    print(f"wrote {BASELINE} (matplotlib {mpl.__version__})")
