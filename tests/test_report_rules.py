"""Mutation tests of the report's rules (paper_repro/_claims*.py).

Every claim's rule is fed a small data set for which the claim holds (verdict
"reproduced") and perturbed copies for which it is false, just outside the rule's
tolerance, and must flip; where useful a perturbation just inside the tolerance must
not flip. So a wrong tolerance, a formula changed in the rule (``/ tau`` for
``* tau``), the wrong panel or a broken reference is caught. The tables are either
synthetic or computed from closed forms on tiny grids by the scripts' ``table``
functions: no figure script is rerun. Budget: a few seconds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = REPO / "paper_repro"


def _load(name: str):
    if str(SCRIPTS_DIR) not in sys.path:
        sys.path.insert(0, str(SCRIPTS_DIR))
    key = f"paper_repro_rules_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, SCRIPTS_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[key] = mod
    spec.loader.exec_module(mod)
    return mod


C = _load("_claims")
S = _load("_claims_sampled")
REPRO, DIFF, PARTLY = C.REPRODUCED, C.DIFFERS, C.PARTLY


def data(**frames):
    return C.Data(frames=frames)


def by_title(claims, word):
    (c,) = [c for c in claims if word in c.title]
    return c


# ------------------------------------------------------------------ claims 1-4


@pytest.fixture(scope="module")
def gap_table():
    return _load("log_partition_gap").table(np.logspace(-3, 2, 41))


def gap_claims(df):
    return C.claims_gap(data(log_partition_gap=df))


def test_gap_rules_pass_on_true_data(gap_table):
    assert [c.verdict for c in gap_claims(gap_table)] == [REPRO] * 4


def test_claim1_negative_gap_or_rise_flips(gap_table):
    df = gap_table.copy()
    df.loc[5, "gap"] = -1e-11
    assert gap_claims(df)[0].verdict == DIFF
    df = gap_table.copy()
    i = df.index[df.case == df.case.iloc[0]][20]
    df.loc[i, "gap"] = df.loc[i - 1, "gap"] + 5e-12  # increases with tau
    assert gap_claims(df)[0].verdict == DIFF


def test_claim2_asymptote_tolerance(gap_table):
    last = gap_table.groupby("case").tau.idxmax()
    for factor, want in ((1.03, DIFF), (1.015, REPRO), (0.97, DIFF)):
        df = gap_table.copy()
        df.loc[last, "gap"] *= factor
        df.loc[last, "kl_mean_exact"] = gap_table.loc[last, "kl_mean_exact"]
        assert gap_claims(df)[1].verdict == want, factor


def test_claim3_small_tau_limit_tolerance(gap_table):
    first = gap_table.groupby("case").tau.idxmin()
    base = gap_table.loc[first, "gap"] - gap_table.loc[first, "max_gap"]
    for shift, want in ((0.0101, DIFF), (0.0095, REPRO)):
        df = gap_table.copy()
        df.loc[first, "gap"] = df.loc[first, "max_gap"] + np.sign(base + 1e-30) * shift
        assert gap_claims(df)[2].verdict == want, shift


def test_claim4_needs_the_large_tau_law(gap_table):
    # two updates that differ by a different law (KL ~ tau^-4) pass the old bounds only
    df = gap_table.copy()
    df["kl_mean_exact"] = np.where(df.tau > 1, df.kl_mean_exact * df.tau**2, df.kl_mean_exact)
    assert gap_claims(df)[3].verdict == DIFF
    df = gap_table.copy()
    df["kl_mean_exact"] *= 1.12  # 12% off the law at large tau
    assert gap_claims(df)[3].verdict == DIFF
    # within the tolerance at tau = 30 but moving away from the law as tau grows
    df = gap_table.copy()
    big = df.tau > 1
    drift = 1 + 0.05 * np.log10(df.tau[big]) / np.log10(30)
    df.loc[big, "kl_mean_exact"] = df.kl_asym_large_tau[big] * drift
    assert gap_claims(df)[3].verdict == DIFF
    # converging to the law, but still 15% off at tau = 30 (tolerance 10%)
    df = gap_table.copy()
    df.loc[big, "kl_mean_exact"] = df.kl_asym_large_tau[big] * (
        1 + 0.15 * np.sqrt(30 / df.tau[big])
    )
    assert gap_claims(df)[3].verdict == DIFF
    df.loc[big, "kl_mean_exact"] = df.kl_asym_large_tau[big] * (
        1 + 0.05 * np.sqrt(30 / df.tau[big])
    )
    assert gap_claims(df)[3].verdict == REPRO
    df = gap_table.copy()
    one = df.case == df.case.iloc[-1]  # one case without a visible difference is enough
    df.loc[one, "kl_mean_exact"] = np.minimum(df.kl_mean_exact[one], 9e-4)
    assert gap_claims(df)[3].verdict == DIFF


# ----------------------------------------------------- claims 5, 18, 19 (scipy table)


def scipy_frame(n=30, n_const=4):
    gen = np.random.default_rng(0)
    const = np.arange(n) < n_const
    lam = np.where(const, 0.0, gen.uniform(0.05, 2.0, n))
    return pd.DataFrame(
        {
            "case": np.arange(n),
            "n": gen.integers(2, 7, n),
            "tau": gen.uniform(0.05, 5, n),
            "constant": const,
            "lam": lam,
            "lam_scipy": lam * (1 + 1e-9) + np.where(const, 1e-15, 0.0),
            "err_regression": np.full(n, 1e-9),
            "spread_starts": np.full(n, 1e-9),
            "err_klchi2": np.full(n, 1e-9),
            "err_beta0_core": np.full(n, 1e-16),
            "err_beta0_scipy": np.full(n, 1e-9),
            "err_control": np.where(const, 1e-12, 1e-3),
        }
    )


def traj_frame(err=1e-15):
    return pd.DataFrame({"method": ["mean"] * 3 + ["exact"], "beta": [0.1, 0.05, 0.01, 0.0],
                         "equiv_err": [err, err, err, np.nan]})  # fmt: skip


def eq(sc, tr=None):
    return C.claim_equivalence(data(simplex=traj_frame() if tr is None else tr, simplex_scipy=sc))


@pytest.mark.parametrize(
    "col,value",
    [("err_regression", 2e-6), ("err_klchi2", 2e-6), ("lam_scipy", None), ("err_control", 5e-7)],
)
def test_claim5_independent_check_flips(col, value):
    assert eq(scipy_frame()).verdict == REPRO
    sc = scipy_frame()
    # a non-constant context; the control must fail in more than 10% of them to flip
    i = slice(10, 13) if col == "err_control" else 10
    sc.loc[i, col] = sc.loc[i, "lam"] * (1 + 2e-5) if value is None else value
    assert eq(sc).verdict == DIFF


def test_claim5_tolerances_and_trajectory():
    sc = scipy_frame()
    sc.loc[10, "err_regression"] = 9e-7  # inside SCIPY_ATOL
    sc.loc[11, "err_control"] = 5e-7  # one context where the control cannot tell (< 10%)
    assert eq(sc).verdict == REPRO
    assert eq(scipy_frame(), traj_frame(2e-10)).verdict == DIFF
    assert C.claim_equivalence(data(simplex=traj_frame())).verdict == C.NOT_RUN


def test_claim18_lambda_positive_and_unique():
    lu = C.claim_lambda_unique
    assert lu(data(simplex_scipy=scipy_frame())).verdict == REPRO
    for col, i, v in [("lam", 10, 0.0), ("lam_scipy", 10, -1e-3), ("lam", 0, 1e-20),
                      ("lam_scipy", 0, 2e-6), ("spread_starts", 3, 2e-6)]:  # fmt: skip
        sc = scipy_frame()
        sc.loc[i, col] = v
        assert lu(data(simplex_scipy=sc)).verdict == DIFF, col


def test_claim19_beta_zero():
    bz = C.claim_beta_zero
    assert bz(data(simplex_scipy=scipy_frame())).verdict == REPRO
    for col, v in (("err_beta0_core", 1e-11), ("err_beta0_scipy", 2e-6)):
        sc = scipy_frame()
        sc.loc[5, col] = v
        assert bz(data(simplex_scipy=sc)).verdict == DIFF, col


# ------------------------------------------------------------ claim 20 (limit)


def limit_frame(offset_se=0.0, exact_gap=0.01, shrink=True, seeds=8, rate=0.5):
    gen = np.random.default_rng(1)
    rows = []
    ks = (250, 1000, 4000, 16000)
    want = np.array([0.3, 0.5, 0.7])
    for k in ks:
        sd = 0.02 * (250 / k) ** rate if shrink else 0.02
        z = gen.standard_normal((seeds, want.size))
        z = (z - z.mean(axis=0)) / z.std(axis=0, ddof=1)  # exactly mean 0, sd 1
        fit = want + sd * z + offset_se * sd / np.sqrt(seeds)
        for s in range(seeds):
            for c in range(want.size):
                rows.append({"k": k, "seed": s, "context": c, "reward_fit": fit[s, c],
                             "reward_mean": want[c], "reward_exact": want[c] + exact_gap,
                             "tau": 0.5})  # fmt: skip
    return pd.DataFrame(rows)


def test_claim20_sampled_limit():
    sl = C.claim_sampled_limit
    assert sl(data(simplex_limit=limit_frame())).verdict == REPRO
    assert sl(data(simplex_limit=limit_frame(offset_se=4.5))).verdict == REPRO
    assert sl(data(simplex_limit=limit_frame(offset_se=5.5))).verdict == DIFF
    assert sl(data(simplex_limit=limit_frame(exact_gap=0.0))).verdict == DIFF  # no power
    assert sl(data(simplex_limit=limit_frame(shrink=False))).verdict == DIFF
    # the sd must shrink by more than half the CLT factor (8 from k = 250 to 16000)
    assert sl(data(simplex_limit=limit_frame(rate=0.24, exact_gap=0.1))).verdict == DIFF  # 2.7x
    assert sl(data(simplex_limit=limit_frame(rate=0.4, exact_gap=0.1))).verdict == REPRO  # 5.3x


# ---------------------------------------------------------------- claim 6


def conservative_frame(n=20):
    return pd.DataFrame({"n": np.full(n, 3), "tau": np.logspace(-3, 3, n),
                         "kl_mean": np.full(n, 0.5), "kl_exact": np.full(n, 1.0),
                         "violation_kl": False, "violation_gain": False})  # fmt: skip


@pytest.mark.parametrize("col", ["violation_kl", "violation_gain"])
def test_claim6_counterexample_flips(col):
    assert C.claim_conservative(data(conservative=conservative_frame())).verdict == REPRO
    df = conservative_frame()
    df.loc[3, col] = True
    assert C.claim_conservative(data(conservative=df)).verdict.startswith(DIFF)


# ----------------------------------------------------------- claims 7-9, 10-11, 22


@pytest.fixture(scope="module")
def binary_tables():
    p = np.linspace(0.01, 0.99, 25)
    blr = _load("binary_log_ratios").table(p)
    hp_mod = _load("hard_prompts")
    hp = hp_mod.table(np.unique(np.concatenate([p, [0.01, 0.5, 0.9]])))
    ib_mod = _load("implicit_beta")
    ib, _ = ib_mod.table(np.linspace(0.005, 0.995, 41), np.array([0.01, 0.05, 1.0, 100.0]))
    return blr, hp, ib


def bin_claims(blr, hp):
    return C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))


def test_binary_rules_pass_on_true_data(binary_tables):
    blr, hp, ib = binary_tables
    assert [c.verdict for c in bin_claims(blr, hp)] == [REPRO] * 3
    assert [c.verdict for c in C.claims_beta(data(implicit_beta=ib))] == [REPRO] * 2
    assert C.claim_gentle_pull(data(implicit_beta=ib)).verdict == REPRO


def test_claim7_less_conservative_point_flips(binary_tables):
    blr, hp, _ = binary_tables
    df = blr.copy()
    i = df.index[(df.method == "mean")][7]
    j = df.index[(df.method == "exact") & (df.tau == df.tau[i]) & (df.p == df.p[i])][0]
    df.loc[i, "log_x_neg"] = df.loc[j, "log_x_neg"] * (1 + 1e-9)
    assert bin_claims(df, hp)[0].verdict == DIFF


def test_claim8_bound(binary_tables):
    blr, hp, _ = binary_tables
    m = hp.index[hp.method == "mean"]
    df = hp.copy()
    df.loc[m[3], "fail_new"] = df.loc[m[3], "fail_bound"] * (1 + 1e-10)
    assert bin_claims(blr, df)[1].verdict == DIFF
    df = hp.copy()
    far = m[(hp.p[m] / hp.tau[m]) >= 20]
    assert len(far)
    df.loc[far[0], "fail_new"] = 0.98 * df.loc[far[0], "fail_bound"]  # not approaching it
    assert bin_claims(blr, df)[1].verdict == DIFF


@pytest.mark.parametrize("method,value,want", [("mean", 0.3796, DIFF), ("mean", 0.3794, REPRO),
                                               ("exact", 0.99999985, DIFF)])  # fmt: skip
def test_claim9_quoted_digits(binary_tables, method, value, want):
    blr, hp, _ = binary_tables
    df = hp.copy()
    i = df.index[np.isclose(df.p, 0.01) & np.isclose(df.tau, 0.05) & (df.method == method)]
    df.loc[i, "p_new"] = value
    assert bin_claims(blr, df)[2].verdict == want


def test_claim10_unimodal_and_mode(binary_tables):
    ib = binary_tables[2]
    df = ib.copy()
    t = df.tau == 0.05
    i = df.index[t][5]
    df.loc[i, "lam"] = df.lam[t].max() * 1.5  # a second maximum at p ~ 0.13
    assert C.claims_beta(data(implicit_beta=df))[0].verdict == DIFF
    df = ib.copy()
    df["lam"] = np.where(np.abs(df.p - 0.3) < 0.02, df.lam.max() * 2, df.lam)  # mode at 0.3
    assert not C.claims_beta(data(implicit_beta=df))[0].verdict.startswith(REPRO)
    # a maximum at the left end and one inside (two sign changes): not unimodal
    df = ib.copy()
    first = df.groupby("tau").p.idxmin()
    df.loc[first, "lam"] = df.groupby("tau").lam.max().to_numpy() * 1.2
    assert C.claims_beta(data(implicit_beta=df))[0].verdict == DIFF
    # unimodal, mode at 0.35 (outside 0.5 +- 0.1) or 0.42 (inside)
    for mode, want in ((0.35, PARTLY), (0.42, REPRO)):
        df = ib.copy()
        df["lam"] = df.p**mode * (1 - df.p) ** (1 - mode)
        assert C.claims_beta(data(implicit_beta=df))[0].verdict.startswith(want), mode


def test_claim11_large_tau_asymptote(binary_tables):
    ib = binary_tables[2]
    for factor, want in ((1.03, DIFF), (1.01, REPRO)):
        df = ib.copy()
        df.loc[df.tau == df.tau.max(), "beta"] *= factor
        assert C.claims_beta(data(implicit_beta=df))[1].verdict == want


def test_claim22_gentle_pull(binary_tables):
    ib = binary_tables[2]
    df = ib.copy()
    df["omega_pos"] = np.where(df.p <= 0.05, df.omega_pos * 0.5, df.omega_pos)
    assert C.claim_gentle_pull(data(implicit_beta=df)).verdict == DIFF
    df = ib.copy()
    df["log_x_pos_exact"] = np.where(np.abs(df.p - 0.5) < 0.02, 50.0, df.log_x_pos_exact)
    assert C.claim_gentle_pull(data(implicit_beta=df)).verdict == DIFF


# ---------------------------------------------------------------- claims 12-14, 21


@pytest.fixture(scope="module")
def noise_table():
    te = _load("target_errors")
    gen = np.random.default_rng(0)
    rows = []
    for scale in ("01", "pm1"):
        for tau in (0.05, 1.0):
            for k in (8, 16):
                for p in (0.01, 0.03, 0.05, 0.1, 0.2):
                    rows += te.cell(gen, k, p, tau, scale, 400)
    return pd.DataFrame(rows), te.jump_table()


def noise(df):
    return S.claims_noise(data(target_errors=df))


def test_noise_rules_pass_on_true_data(noise_table):
    assert [c.verdict for c in noise(noise_table[0])] == [REPRO] * 3
    assert S.claim_jump(data(target_errors_jump=noise_table[1])).verdict == REPRO


def test_claim12_flips(noise_table):
    df0 = noise_table[0]
    part = df0.index[(df0.estimator == "part_loo") & (df0.sign == "pos")]
    df = df0.copy()
    df.loc[part[2], "frac_target_lone"] -= 0.01  # a target that is not 1/tau
    assert noise(df)[0].verdict == DIFF
    # "no other success" 6 binomial s.e. away from (1-p)^(k-1) (bound: 4)
    cell = part[(df0.p[part] == 0.1) & (df0.k[part] == 8)][0]
    theory = 0.9**7
    for sigmas, want in ((6.0, DIFF), (-6.0, DIFF)):
        df = df0.copy()
        f = theory + sigmas * np.sqrt(theory * (1 - theory) / df0.n_seeds[cell])
        df.loc[cell, ["frac_no_other_success", "frac_target_lone"]] = f
        assert noise(df)[0].verdict == want, sigmas
    df = df0.copy()
    small = part[df0.tau[part] <= 0.05]
    df.loc[small[0], "r2_other_success"] = 0.85
    assert noise(df)[0].verdict == DIFF


def test_claim13_theory_sd(noise_table):
    df0 = noise_table[0]
    m = (df0.estimator == "mean_loo") & (df0.sign == "pos")
    # one (scale, tau) group 30% off while the mean over all cells stays within 15%
    df = df0.copy()
    one = m & (df0.scale == "pm1") & (df0.tau == 1.0)
    df.loc[one, "std_error"] *= 1.3
    assert noise(df)[1].verdict == DIFF
    for name, f, want in [
        ("tau instead of 1/tau", lambda d: d.std_error * d.tau**2, DIFF),
        ("+-1 range ignored", lambda d: np.where(d.scale == "pm1", d.std_error / 2, d.std_error),
         DIFF),
        ("20% off", lambda d: d.std_error * 1.2, DIFF),
        ("10% off", lambda d: d.std_error * 1.1, REPRO),
    ]:  # fmt: skip
        df = df0.copy()
        df.loc[m, "std_error"] = np.asarray(f(df0[m]))
        assert noise(df)[1].verdict == want, name


def test_claim14_flips(noise_table):
    df0 = noise_table[0]
    paper = (df0.scale == "01") & np.isclose(df0.tau, 0.05)
    mp = paper & (df0.estimator == "mean_loo") & (df0.sign == "pos")
    mn = paper & (df0.estimator == "mean_loo") & (df0.sign == "neg")
    df = df0.copy()
    df.loc[mp, "std_error"] = df.mean_error[mp].abs() / 2.5  # offset under 3 sd
    assert noise(df)[2].verdict == DIFF
    df = df0.copy()
    df.loc[mn, "mean_error"] = 0.2 * df.mean_error[mp].abs().mean()
    assert noise(df)[2].verdict == DIFF
    df = df0.copy()
    pp = paper & (df0.estimator == "part_loo") & (df0.sign == "pos") & (df0.p <= 0.05)
    df.loc[pp, "noise_rmse"] = 1e-3
    assert noise(df)[2].verdict == DIFF
    # the other tau's cells (wrong panel) must not decide
    df = df0.copy()
    other = (df0.tau == 1.0) & (df0.estimator == "mean_loo") & (df0.sign == "pos")
    df.loc[other, "std_error"] = 1e6
    assert noise(df)[2].verdict == REPRO


def test_claim21_jump(noise_table):
    j0 = noise_table[1]
    sel0 = (j0.m_other == 0) & (j0.tau == 0.05) & (j0.k == 8)
    sel1 = (j0.m_other == 1) & (j0.tau == 0.05) & (j0.k == 8)
    for first_jump, want in ((0.75, DIFF), (0.85, REPRO)):  # tau x jump, bound 0.8
        j = j0.copy()
        later = (j0.m_other >= 1) & (j0.tau == 0.05) & (j0.k == 8)  # keep the later jumps
        shift = j0.target[sel0].iloc[0] - first_jump / 0.05 - j0.target[sel1].iloc[0]
        j.loc[later, "target"] += shift
        assert S.claim_jump(data(target_errors_jump=j)).verdict == want, first_jump
    for m_other, delta in ((1, 0.3), (2, -0.2)):
        j = j0.copy()
        sel = (j.m_other == m_other) & (j.tau == 0.05) & (j.k == 8)
        j.loc[sel, "target"] += delta / 0.05
        assert S.claim_jump(data(target_errors_jump=j)).verdict == DIFF


# --------------------------------------------------------------------- claim 15


def test_claim15_catches_a_broken_estimator():
    assert S.claim_stable_loo_partition(data()).verdict == REPRO
    c = S.claim_stable_loo_partition(data(), advantages=S.naive_advantages)
    assert c.verdict == DIFF

    def off_by_rounding(r, *, kind, tau):
        from pmdtheory.estimators import advantages

        return advantages(r, kind=kind, tau=tau) * (1 + 1e-10)

    assert S.claim_stable_loo_partition(data(), advantages=off_by_rounding).verdict == DIFF


# --------------------------------------------------------------------- claim 16


def convergence_frame(mean_factor_shift=0.0, exact_factors=(0.9, 0.95, 0.98), noise=0.0):
    rows = []
    it = np.arange(200)
    for tau, f in zip((0.03, 0.1, 0.3), exact_factors, strict=True):
        for method, ff in (("exact", f), ("mean", f + mean_factor_shift)):
            sub = 3.0 * ff**it * np.exp(noise * np.sin(it))
            rows.append(pd.DataFrame({"panel": "a", "method": method, "tau": tau, "iter": it,
                                      "subopt": sub}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_claim16_linear_rates():
    lin = S.claim_linear
    assert lin(data(convergence=convergence_frame())).verdict == REPRO
    assert lin(data(convergence=convergence_frame(mean_factor_shift=0.015))).verdict == DIFF
    assert lin(data(convergence=convergence_frame(exact_factors=(0.95, 0.9, 0.98)))).verdict == (
        DIFF
    )
    assert lin(data(convergence=convergence_frame(noise=1.0))).verdict == DIFF  # not linear
    assert lin(data(convergence=convergence_frame(noise=0.3))).verdict == DIFF  # R^2 ~ 0.9


# --------------------------------------------------------------------- claim 17


def stability_frame(hard_gap=0.1, succ_gap=0.05, mean_hard=0.0, pm1_err=0.0, hard_noise=0.0,
                    succ_noise=0.0, stale_flip=False, big_tau_reverse=False):  # fmt: skip
    """Per-seed stability rows for which claim 17 holds (defaults), or a chosen defect."""
    gen = np.random.default_rng(2)
    rows = []
    cfg = [("01", t, k, 0) for t in (0.01, 0.1, 1.0) for k in (4, 16)]
    cfg += [("pm1", 0.02, 4, 0)] + [("01", t, 8, s) for t in (0.01, 0.1) for s in (0, 2)]
    base = {}
    for scale, tau, k, st in cfg:
        for seed in range(5):
            e = 0.01 * gen.standard_normal(2)
            h = hard_noise * gen.standard_normal()
            hs = succ_noise * (1, -1, 1, -1, 0)[seed]  # mean exactly 0 over the 5 seeds
            key = (tau / 2 if scale == "pm1" else tau, k, st, seed)
            part_s = 0.8 - (0.1 * st) + e[0]
            part_h = 0.2 + e[1] * 0.1
            if scale == "pm1" and ("01", *key) in base:
                part_s, part_h = base[("01", *key)]
                part_s += pm1_err
            base[(scale, tau, k, st, seed)] = (part_s, part_h)
            gap = -0.05 if big_tau_reverse and tau == 1.0 else succ_gap
            stale_gain = -0.2 if stale_flip and tau == 0.1 else 0.1  # PMD-mean's edge per step
            common = {"scale": scale, "tau": tau, "k": k, "staleness": st, "seed": seed,
                      "kl_mean": 0.1}  # fmt: skip
            rows.append({**common, "method": "part_sampled", "final_success": part_s,
                         "hard_frac_backwards": part_h})  # fmt: skip
            rows.append({**common, "method": "mean_sampled",
                         "final_success": part_s + gap + hs + stale_gain * st,
                         "hard_frac_backwards": max(part_h - hard_gap + h, 0)
                         + mean_hard})  # fmt: skip
    return pd.DataFrame(rows)


def test_claim17_robust():
    rb = S.claim_robust
    c = rb(data(stability=stability_frame()))
    assert c.verdict == REPRO, c.verdict
    assert rb(data(stability=stability_frame(hard_gap=0.0))).verdict.startswith(PARTLY)
    # more hard prompts worse on average, but not significantly (the interval covers 0)
    c = rb(data(stability=stability_frame(hard_gap=0.002, hard_noise=0.02)))
    assert c.verdict.startswith(PARTLY) and "hard prompts" in c.verdict
    c = rb(data(stability=stability_frame(succ_gap=0.002, succ_noise=0.02)))
    assert c.verdict.startswith(PARTLY) and "final success" in c.verdict
    c = rb(data(stability=stability_frame(stale_flip=True)))  # one tau loses more for PMD-mean
    assert c.verdict.startswith(PARTLY) and "staleness" in c.verdict
    # only small tau is ruled on: PMD-part ending higher at tau = 1 is a note, not a failure
    c = rb(data(stability=stability_frame(big_tau_reverse=True)))
    assert c.verdict == REPRO and any("reverses" in n for n in c.notes)
    assert rb(data(stability=stability_frame(succ_gap=-0.05))).verdict.startswith(PARTLY)
    assert rb(data(stability=stability_frame(pm1_err=1e-6))).verdict.startswith(PARTLY)
    # PMD-mean worse on hard prompts and lower everywhere: the claim is false
    c = rb(data(stability=stability_frame(hard_gap=-0.1, succ_gap=-0.3, pm1_err=1.0)))
    assert c.verdict.startswith(PARTLY) or c.verdict == DIFF
    assert rb(data(stability=stability_frame(mean_hard=0.05))).notes == ()


def test_claim17_tolerance_counts_unmoved_prompts_as_unchanged():
    """The script's rule: a prompt that never moved is not worse (relative tolerance)."""
    st = _load("stability")
    p0 = np.array([0.01, 0.015, 0.5])
    s = pd.DataFrame({"method": ["m"] * 2, "seed": [0, 0], "iter": [0, 1], "kl_prev": [0, 0.1]})
    fin = p0 * (1 - 1e-17 / p0)  # rounding-level change only
    pp = pd.DataFrame({"method": "m", "seed": 0, "iter": 1, "context": [0, 1, 2],
                       "reward": fin})  # fmt: skip
    (row,) = st.summarise(s, pp, p0, 1, scale="01", tau=0.1, k=4, staleness=0)
    assert row["hard_frac_backwards"] == 0.0
    pp["reward"] = p0 * (1 - 1e-6)
    (row,) = st.summarise(s, pp, p0, 1, scale="01", tau=0.1, k=4, staleness=0)
    assert row["hard_frac_backwards"] == 1.0
