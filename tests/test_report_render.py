"""paper_repro/report.py: how REPORT.md is written from the claims (fast, synthetic claims).

The rules themselves are tested in ``test_report_rules.py``; the full report on a quick
run in ``test_paper_repro.py`` (minutes). These tests pin the rendering: numbering, the
summary, the disagreement list, the sections, figure links and the run-time table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from test_report_rules import _load

from pmdtheory import _repro

REPO = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = REPO / "paper_repro"

R = _load("report")


def _claims():
    return [
        R.Claim("first", "THEORY §1", "claim one", "fig_a", "m1", "rule one", R.REPRODUCED),
        R.Claim("second", "paper Fig. 2", "claim two", "fig_b", "", "", R.DIFFERS),
        R.Claim("third", "THEORY §3", "claim three", "fig_a", "m3", "r3", R.PARTLY, ("n3",)),
        R.Claim("fourth", "THEORY §4", "claim four", "fig_c"),
    ]


@pytest.fixture
def layout(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "fig_a.png").write_bytes(b"")
    out = tmp_path / "paper" / "REPORT.md"
    out.parent.mkdir()
    return figures, out


def test_render_numbers_summarises_and_links(layout):
    figures, out = layout
    text = R.render(_claims(), figures, out, R.Data())
    lines = text.splitlines()
    assert lines[0] == "# Claims against measurements"
    assert "`../figures/data/`" in text
    assert "Run time: not recorded" in text
    # the summary: one row per claim, numbered from 1, notes flagged
    assert "| 1 | first | THEORY §1 | reproduced |" in lines
    assert "| 2 | second | paper Fig. 2 | differs |" in lines
    assert "| 3 | third | THEORY §3 | partly reproduced, see the notes |" in lines
    assert "| 4 | fourth | THEORY §4 | not run |" in lines
    # where we differ: a claim that differs without notes, a claim's notes, the ones not run
    differ = text.split("## Where we differ from the paper")[1].split("## 1. first")[0]
    assert differ.strip().splitlines() == [
        "- Claim 2 (second): verdict: differs",
        "- Claim 3 (third): n3",
        "- Not run (no data): claim(s) 4.",
    ]
    # the sections, in order, with their fields and figure links relative to the report
    heads = [ln for ln in lines if ln.startswith("## ") and ln[3].isdigit()]
    assert heads == ["## 1. first", "## 2. second", "## 3. third", "## 4. fourth"]
    one = text.split("## 1. first")[1].split("## 2.")[0]
    assert "*Source:* THEORY §1." in one and "**Claim.** claim one" in one
    assert "**Measured.** m1" in one and "**Rule.** rule one" in one
    assert "**Verdict: reproduced.**" in one and "![fig_a](../figures/fig_a.png)" in one
    assert "**Note.**" not in one
    two = text.split("## 2. second")[1].split("## 3.")[0]
    assert "**Measured.** not run: no data." in two and "**Rule.** -" in two
    assert "*Figure `fig_b`: not run.*" in two and "![" not in two
    three = text.split("## 3. third")[1].split("## 4.")[0]
    assert "**Note.** n3" in three


def test_render_says_nowhere_when_every_claim_agrees(layout):
    figures, out = layout
    claims = _claims()[:1]
    text = R.render(claims, figures, out, R.Data())
    differ = text.split("## Where we differ from the paper")[1].split("## 1. first")[0]
    assert differ.strip() == "Nowhere among the claims that were run."


def _timings(rows):
    return R.Data(frames={"repro_timings": pd.DataFrame(rows)})


def test_timings_sum_the_default_scripts_only():
    scripts = _repro.discover(SCRIPTS_DIR)
    d1, d2 = [s.name for s in scripts if s.default][:2]
    extra = next(s.name for s in scripts if not s.default)
    rows = [
        {"script": d1, "mode": "full", "seconds": 10.0, "status": "ok"},
        {"script": d2, "mode": "full", "seconds": 4.25, "status": "ok"},
        {"script": extra, "mode": "full", "seconds": 100.0, "status": "failed"},
    ]
    md = R.timings_md(_timings(rows))
    head, table = md.split("\n\n")
    assert "**14 s** for the default figure scripts" in head
    assert "--quick" not in head  # every script ran at its full budget
    assert table.splitlines()[:2] == [
        "| script | budget | seconds | status |",
        "|---|---|---|---|",
    ]
    assert table.splitlines()[2:] == [
        f"| {d1} | full | 10.0 | ok |",
        f"| {d2} | full | 4.2 | ok |",
        f"| {extra} | full | 100.0 | failed |",
    ]
    # a quick run says that asymptotic claims need the full budget
    rows[1]["mode"] = "quick"
    assert "ran at the `--quick` budget" in R.timings_md(_timings(rows))
    # only scripts run on request: no total
    only_extra = R.timings_md(_timings(rows[2:]))
    assert "**" not in only_extra and only_extra.startswith(
        "Run time of the scripts (`pmdtheory repro`; the LLM scripts only run on request)."
    )


def test_main_writes_the_report_and_counts_the_verdicts(tmp_path, monkeypatch, capsys):
    claims = [
        R.Claim("a", "s", "c", "f", verdict="reproduced (at the quick budget)"),
        R.Claim("b", "s", "c", "f", verdict="reproduced: in every case"),
        R.Claim("c", "s", "c", "f", verdict=R.DIFFERS, notes=("x",)),
    ]
    monkeypatch.setattr(R, "all_claims", lambda data: claims)
    out = tmp_path / "new" / "folder" / "R.md"
    R.main(["--figures", str(tmp_path / "figs"), "--output", str(out)])
    assert out.read_text().startswith("# Claims against measurements")
    assert (
        capsys.readouterr().out.strip() == f"report: {out} (2 reproduced, 1 differs; 1 with notes)"
    )


def test_main_on_an_empty_folder_reports_the_claims_without_data_not_run(tmp_path, capsys):
    out = tmp_path / "R.md"
    R.main(["--figures", str(tmp_path), "--output", str(out)])
    claims = R.all_claims(R.Data())
    not_run = [str(i) for i, c in enumerate(claims, 1) if c.verdict == R.NOT_RUN]
    assert len(not_run) >= len(claims) - 1  # claim 15 checks the estimator live, not from data
    assert f"({len(not_run)} not run" in capsys.readouterr().out
    assert f"- Not run (no data): claim(s) {', '.join(not_run)}." in out.read_text()


def test_a_wrong_claim_number_says_which_number_it_would_be(monkeypatch):
    two = [R.Claim("a", "s", "c", "f"), R.Claim("b", "s", "c", "f")]
    funcs = [(1, "first.py", lambda data: two), (2, "second.py", lambda data: two[0])]
    monkeypatch.setattr(R, "claim_functions", lambda scripts: funcs)
    msg = (
        "second.py is declared as claim 2, but the claim functions declared before it give "
        "2 claim(s), so it would be claim 3"
    )
    with pytest.raises(ValueError, match=f"^claim numbers: {re.escape(msg)}$"):
        R.all_claims(R.Data())
    funcs[1] = (3, "second.py", lambda data: two[0])  # a single claim, numbered right
    assert [c.title for c in R.all_claims(R.Data())] == ["a", "b", "a"]


def test_help_describes_the_report_by_its_first_docstring_line(capsys):
    # held-out (seed 8): the description from the docstring's last line
    with pytest.raises(SystemExit) as info:
        R.main(["--help"])
    assert info.value.code == 0
    first = R.__doc__.splitlines()[0]
    assert first.startswith("Write ``paper_repro/REPORT.md``: every claim")
    assert " ".join(first.split()) in " ".join(capsys.readouterr().out.split())
