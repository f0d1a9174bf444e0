"""Smoke-and-substance tests of paper_repro/: every figure script runs with --quick, and
its CSV shows what the figure is meant to show, checked against closed forms or a plain
scipy reference kept here. Also the runner (pmdtheory._repro) and the report generator;
the scripts' declarations are tested in tests/test_repro_discovery.py.

Budget: about a minute on a quiet 2-core machine (all scripts run once, in-process, at
--quick size). The report's rules are mutation-tested in tests/test_report_rules.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.special import wrightomega

from pmdtheory import _repro

REPO = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = REPO / "paper_repro"

CLOSED_FORM_RTOL = 1e-9  # core vs closed forms; the CSVs keep 12 significant digits
SCIPY_REF_ATOL = 1e-7  # core PMD-mean vs the brentq/wrightomega reference below
EQUIV_ATOL = 1e-10  # PMD-mean step vs KL-chi2 step with beta_t
ASYM_RTOL = 0.02  # large-tau asymptotes at tau = 100 (next term is O(1/tau))
SMALL_TAU_ATOL = 0.01  # small-tau limit at tau = 1e-3 (error tau log(1/p_max) <= 0.007)
QUOTED_P_EXACT, QUOTED_P_MEAN = 0.9999998, 0.379  # THEORY §6, p = 0.01, tau = 0.05
# the scripts `pmdtheory repro` runs by default, from their own declarations
DEFAULT_SCRIPTS = [s.name for s in _repro.discover(SCRIPTS_DIR) if s.default]


def _load(name: str):
    if str(SCRIPTS_DIR) not in sys.path:
        sys.path.insert(0, str(SCRIPTS_DIR))  # the scripts import their _common helper
    path = SCRIPTS_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"paper_repro_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def quick_out(tmp_path_factory) -> Path:
    """Run every default script with --quick into one temporary folder."""
    out = tmp_path_factory.mktemp("figures")
    for name in DEFAULT_SCRIPTS:
        _load(name).main(["--quick", "--out", str(out)])
    return out


def csv(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "data" / f"{name}.csv")


def test_every_script_writes_png_pdf_csv(quick_out):
    scripts = [s for s in _repro.discover(SCRIPTS_DIR) if s.default]
    assert len(scripts) >= 9
    for script in scripts:
        name = script.name
        for path in (quick_out / f"{name}.png", quick_out / f"{name}.pdf"):
            assert path.stat().st_size > 5000, path
        for out in script.outputs["quick"]:  # what the declaration promises
            assert (quick_out / out).is_file(), (name, out)
        df = csv(quick_out, name)
        assert len(df) > 0
        num = df.select_dtypes("number")
        assert np.isfinite(num.to_numpy()[~num.isna().to_numpy()]).all(), name


# ----------------------------------------------------------------- references


def binary_mean_reference(p: float, tau: float) -> tuple[float, float, float]:
    """(log x+, log x-, lam) of PMD-mean for binary rewards by bracketing log(lam)."""
    b = np.array([(1 - p) / tau, -p / tau])

    def log_x(ell):
        return b - np.real(wrightomega(ell + b))

    def g(ell):
        lx = log_x(ell)
        return p * np.exp(lx[0]) + (1 - p) * np.exp(lx[1]) - 1.0

    ell = brentq(g, -60.0, 60.0, xtol=1e-14, rtol=1e-15, maxiter=500)
    lx = log_x(ell)
    return lx[0], lx[1], np.exp(ell)


def binary_exact(p, tau):
    log_z = np.logaddexp(np.log(p) + 1.0 / tau, np.log1p(-p))
    return 1.0 / tau - log_z, -log_z, log_z


# ------------------------------------------------------------------- figures


def test_log_partition_gap(quick_out):
    df = csv(quick_out, "log_partition_gap")
    for case, d in df.groupby("case"):
        d = d.sort_values("tau")
        assert (d.gap >= -1e-12).all(), case
        assert (np.diff(d.gap) <= 1e-12).all(), f"gap must decrease in tau: {case}"
        last, first = d.iloc[-1], d.iloc[0]
        assert abs(last.gap / last.asym_large_tau - 1) < ASYM_RTOL, case
        assert abs(first.gap - first.max_gap) < SMALL_TAU_ATOL, case
        assert d.kl_mean_exact.max() > 1e-3, "PMD-mean and exact PMD should differ"
    for p in (0.05, 0.2, 0.5):
        d = df[df.case == f"binary p={p:g}"]
        ref = d.tau * binary_exact(p, d.tau.to_numpy())[2] - p
        np.testing.assert_allclose(d.gap, ref, rtol=CLOSED_FORM_RTOL, atol=1e-12)


def test_binary_log_ratios(quick_out):
    df = csv(quick_out, "binary_log_ratios")
    ex = df[df.method == "exact"].reset_index(drop=True)
    me = df[df.method == "mean"].reset_index(drop=True)
    lp, ln, _ = binary_exact(ex.p.to_numpy(), ex.tau.to_numpy())
    np.testing.assert_allclose(ex.log_x_pos, lp, rtol=CLOSED_FORM_RTOL, atol=1e-9)
    np.testing.assert_allclose(ex.log_x_neg, ln, rtol=CLOSED_FORM_RTOL, atol=1e-9)
    # the figure's message: PMD-mean is more conservative for both signs
    assert (me.log_x_pos.abs() <= ex.log_x_pos.abs() * (1 + 1e-12) + 1e-12).all()
    assert (me.log_x_neg.abs() <= ex.log_x_neg.abs() * (1 + 1e-12) + 1e-12).all()
    assert (me.log_x_pos.abs() < 0.9 * ex.log_x_pos.abs()).any()
    for i in range(0, len(me), 7):
        row = me.iloc[i]
        lxp, lxn, lam = binary_mean_reference(row.p, row.tau)
        np.testing.assert_allclose([row.log_x_pos, row.log_x_neg], [lxp, lxn], atol=SCIPY_REF_ATOL)
        np.testing.assert_allclose(row.lam, lam, rtol=1e-6)


def test_hard_prompts(quick_out):
    df = csv(quick_out, "hard_prompts")
    pt = df[np.isclose(df.p, 0.01) & np.isclose(df.tau, 0.05)].set_index("method").p_new
    assert abs(pt["exact"] - QUOTED_P_EXACT) < 5e-8
    assert abs(pt["mean"] - QUOTED_P_MEAN) < 5e-4
    ex = df[df.method == "exact"].reset_index(drop=True)
    me = df[df.method == "mean"].reset_index(drop=True)
    assert (me.p_new <= ex.p_new + 1e-12).all() and (me.p_new >= me.p - 1e-12).all()
    assert (me.fail_new <= me.fail_bound * (1 + 1e-12)).all()
    # exact PMD divides the odds of failure by e^(1/tau)
    odds = np.log(ex.p / (1 - ex.p)) + 1.0 / ex.tau
    np.testing.assert_allclose(ex.p_new, 1 / (1 + np.exp(-odds)), rtol=CLOSED_FORM_RTOL)


def test_implicit_beta(quick_out):
    df = csv(quick_out, "implicit_beta")
    np.testing.assert_allclose(df.beta, df.tau * df.lam, rtol=CLOSED_FORM_RTOL)
    assert (df.beta > 0).all()
    for tau, d in df.sort_values("p").groupby("tau"):
        s = np.sign(np.diff(d.lam.to_numpy()))
        s = s[s != 0]
        assert np.sum(s[1:] != s[:-1]) <= 1, f"lam not unimodal in p at tau={tau}"
        assert abs(d.p.iloc[int(np.argmax(d.lam))] - 0.5) <= 0.1
    top = df[df.tau == df.tau.max()]
    np.testing.assert_allclose(top.beta, top.asym_large_tau, rtol=ASYM_RTOL)
    row = df.iloc[len(df) // 3]
    np.testing.assert_allclose(row.lam, binary_mean_reference(row.p, row.tau)[2], rtol=1e-6)


def test_target_errors(quick_out):
    df = csv(quick_out, "target_errors")
    assert set(df.scale) == {"01", "pm1"} and df.tau.nunique() >= 2
    df = df[(df.scale == "01") & np.isclose(df.tau, 0.05)]  # the paper's panels
    tau = 0.05
    small = df[df.p <= 0.05].pivot_table(
        index=["k", "p"], columns=["estimator", "sign"], values="noise_rmse"
    )
    # PMD-part's sampled targets are far noisier than PMD-mean's at small p
    assert (small[("part_loo", "pos")] > 3 * small[("mean_loo", "pos")]).all()
    mp = df[(df.estimator == "mean_loo") & (df.sign == "pos")]
    mn = df[(df.estimator == "mean_loo") & (df.sign == "neg")]
    assert (mp.mean_error > 3 * mp.std_error).all()  # the systematic positive offset
    assert mn.mean_error.abs().mean() < 0.1 * mp.mean_error.abs().mean()
    # the offset is omega+ = b+ - log x+ of the Lambert-W solution
    for _, row in mp.iloc[::3].iterrows():
        lxp, _, _ = binary_mean_reference(row.p, tau)
        np.testing.assert_allclose(row.systematic_offset, (1 - row.p) / tau - lxp, atol=1e-6)
    # no other success in the group: the positive target is 1/tau, its error log Z
    part = df[(df.estimator == "part_loo") & (df.sign == "pos") & (df.p == df.p.min())]
    log_z = binary_exact(part.p.to_numpy(), tau)[2]
    ok = part.frac_no_other_success > 0.5
    assert ok.any()
    np.testing.assert_allclose(part.q90[ok], log_z[ok], rtol=CLOSED_FORM_RTOL)


def test_simplex(quick_out):
    mod = _load("simplex")
    df = csv(quick_out, "simplex")
    m = df[df.method == "mean"]
    assert m.equiv_err.max() < EQUIV_ATOL
    assert (m.beta > 0).all()
    for method, d in df.groupby("method"):
        assert (np.diff(d.expected_r) >= -1e-12).all(), f"{method} must improve monotonically"
    first = df[df.t == 1].set_index("method").expected_r
    assert first["exact"] > first["mean"]
    # exact PMD iterates compose: pi_t ~ pi_0 exp(t r / tau)
    ex = df[df.method == "exact"]
    tau = ex.tau.iloc[0]
    logits = np.log(mod.PI0) + np.outer(ex.t, mod.R) / tau
    ref = np.exp(logits - logits.max(axis=1, keepdims=True))
    ref /= ref.sum(axis=1, keepdims=True)
    pis = ex[["pi_0", "pi_1", "pi_2"]]
    np.testing.assert_allclose(pis, ref, rtol=CLOSED_FORM_RTOL, atol=1e-15)


def test_conservative(quick_out):
    df = csv(quick_out, "conservative")
    assert len(df) >= 300
    assert not df.violation_kl.any() and not df.violation_gain.any()
    assert (df.gain_exact >= -1e-12).all()
    assert (df.tau.min() < 1e-2) and (df.tau.max() > 1e2)


def test_convergence(quick_out):
    df = csv(quick_out, "convergence")
    a = df[df.panel == "a"]
    for (method, tau), d in a.groupby(["method", "tau"]):
        s = d.sort_values("iter").subopt.to_numpy()
        assert (np.diff(s) <= 1e-12).all(), f"{method} tau={tau}: population PMD is monotone"
        assert s[-1] < 1e-2 * s[0]
    # smaller tau, faster: the final suboptimality of exact PMD grows with tau
    fin = a[(a.method == "exact") & (a.iter == a.iter.max())].sort_values("tau").subopt
    assert (np.diff(fin.to_numpy()) > 0).all()
    c = df[df.panel == "c"]
    last = c[c.iter == c.iter.max()].groupby("method").reward_mean.mean()
    start = c[c.iter == 0].reward_mean.mean()
    assert last["exact"] > 0.99 and last["mean"] > 0.99
    # "grpo" is renamed "grpo_regression" when the simulator gains a clipped-ratio GRPO
    sampled = [m for m in ("part_sampled", "mean_sampled", "grpo", "grpo_regression") if m in last]
    assert len(sampled) >= 3 and all(last[m] > start + 0.1 for m in sampled)


def test_stability(quick_out):
    df = csv(quick_out, "stability")
    avg = df.groupby(["tau", "k", "staleness", "method"]).mean(numeric_only=True)
    on = avg.xs(0, level="staleness").unstack("method")
    # PMD-part's LOO partition targets leave more hard prompts worse off, and end lower
    assert on.hard_frac_backwards.part_sampled.mean() > on.hard_frac_backwards.mean_sampled.mean()
    assert on.final_success.part_sampled.mean() < on.final_success.mean_sampled.mean()
    assert (df.kl_mean > 0).all() and (df.n_hard > 0).all()


# -------------------------------------------------------------- report, runner


def test_report_on_quick_data(quick_out, tmp_path):
    report = _load("report")
    out = tmp_path / "REPORT.md"
    report.main(["--figures", str(quick_out), "--output", str(out)])
    text = out.read_text()
    claims = report.all_claims(report.Data(quick_out))
    assert len(claims) >= 17
    for c in claims:
        assert f". {c.title}" in text
        if c.figure not in ("llm_training", "llm_compare", "llm_vs_sim"):  # LLM runs
            assert c.verdict != report.NOT_RUN and c.measured and "nan" not in c.measured, c.title
    assert "**Verdict: not run.**" in text  # the LLM claim: no llm_training.csv here
    assert text.count("![") >= 16


def test_report_without_data(tmp_path):
    report = _load("report")
    claims = report.all_claims(report.Data(tmp_path))
    # every claim but the estimator check computed on the spot needs the figure CSVs
    computed = [c for c in claims if c.verdict != report.NOT_RUN]
    assert [c.title for c in computed] == [
        "Leave-one-out partition baseline needs the maximum of the other rewards"
    ]
    assert computed[0].verdict == report.REPRODUCED


def test_runner_cli(tmp_path, capsys):
    assert _repro.main(["--list"]) == 0
    assert "log_partition_gap" in capsys.readouterr().out
    assert _repro.main(["--only", "no_such_figure", "--out", str(tmp_path)]) == 2
    rc = _repro.main(["--only", "hard_prompts", "--quick", "--out", str(tmp_path)])
    assert rc == 0
    t = pd.read_csv(tmp_path / "data" / "repro_timings.csv")
    assert list(t.script) == ["hard_prompts"] and (t.status == "ok").all()
    assert (tmp_path / "hard_prompts.png").is_file()
    text = (tmp_path / "REPORT.md").read_text()
    assert "## 9. Gentle on hard prompts" in text and "**Verdict: reproduced.**" in text


def test_runner_timings_merge(tmp_path):
    path = tmp_path / "data" / "repro_timings.csv"
    row = {"mode": "full", "seconds": 1.0, "status": "ok"}
    order = ["simplex", "stability"]
    _repro._write_timings(
        path, [{"script": "stability", **row}, {"script": "simplex", **row}], order
    )
    _repro._write_timings(path, [{"script": "stability", **row, "seconds": 2.5}], order)
    t = pd.read_csv(path)
    assert list(t.script) == order  # the runner's order, both kept
    assert t.set_index("script").seconds.to_dict() == {"simplex": 1.0, "stability": 2.5}


def test_non_default_options_name_the_outputs(tmp_path):
    _load("simplex").main(["--quick", "--out", str(tmp_path), "--tau", "0.5", "--seed", "2"])
    stem = "simplex_seed2_tau0.5"
    assert (tmp_path / f"{stem}.png").is_file() and (tmp_path / "data" / f"{stem}.csv").is_file()
    assert not (tmp_path / "simplex.png").exists()
    assert (pd.read_csv(tmp_path / "data" / f"{stem}.csv").tau == 0.5).all()
