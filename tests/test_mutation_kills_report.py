"""Report rules at their bounds: survivors of `make mutation` in paper_repro/_claims*.py.

The rules of tests/test_report_rules.py are probed here exactly at a bound where a survivor
moved it (``>`` to ``>=`` and the like). Each test was checked to fail on the mutant named
in its comment (tools/mutation.py, seed 0 unless stated).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import test_report_rules as rules
from test_report_rules import (
    DIFF,
    PARTLY,
    REPRO,
    C,
    S,
    _load,
    data,
    eq,
    scipy_frame,
    stability_frame,
    traj_frame,
)

noise_table = rules.noise_table  # the fixture (1 s), shared with test_report_rules.py
NAIVE_AGREE_RTOL = 1e-12  # the naive form where nothing cancels: rounding only


def _limit_frame_at(z_exact: float, z_mean: float = 0.0, d_top: float = 2.0**-8) -> pd.DataFrame:
    """Claim 20's table with, at the largest k, the fit exactly ``z_exact`` s.e. from exact PMD
    and ``z_mean`` s.e. from the Lambert-W solution.

    Two seeds at ``0.5 -+ d`` with ``d`` a power of two: mean 0.5, s.e. ``d`` (the sd's
    sqrt(2) is divided out to the last bit) and the gaps ``z_exact * d`` and ``z_mean * d``,
    all exact in float64. ``d`` is 2**-3 at k = 250 and ``d_top`` at k = 16000, so the sd
    shrinks by 2**-3 / d_top against the CLT factor sqrt(16000 / 250) = 8.
    """
    rows = []
    for k, d in ((250, 2.0**-3), (16000, d_top)):
        for s, sign in enumerate((-1.0, 1.0)):
            rows.append({"k": k, "seed": s, "context": 0, "reward_fit": 0.5 + sign * d,
                         "reward_mean": 0.5 - z_mean * d, "reward_exact": 0.5 + z_exact * d,
                         "tau": 0.5})  # fmt: skip
    return pd.DataFrame(rows)


def test_claim20_needs_more_than_limit_sigmas_from_exact_pmd():
    # mutant: `z_exact >= LIMIT_SIGMAS` (a fit exactly 5 s.e. from exact PMD told apart)
    sl = C.claim_sampled_limit
    assert C.LIMIT_SIGMAS == 5.0
    assert sl(data(simplex_limit=_limit_frame_at(6.0))).verdict == REPRO
    assert sl(data(simplex_limit=_limit_frame_at(5.0))).verdict == DIFF
    assert (
        "a median 5 s.e. from exact PMD" in sl(data(simplex_limit=_limit_frame_at(5.0))).measured
    )


def test_claim7_reports_the_largest_ratio_measured():
    # mutant: `worst = 1.0` as the start of the max (the report then says 1.0000 for 0.5)
    blr = pd.DataFrame({"method": ["exact", "mean"], "tau": [0.1, 0.1], "p": [0.3, 0.3],
                        "log_x_pos": [2.0, 1.0], "log_x_neg": [-4.0, -1.0]})  # fmt: skip
    (c7, _, _) = C.claims_binary(data(binary_log_ratios=blr))
    assert c7.verdict == REPRO
    assert "largest ratio |mean| / |exact| = 0.5000." in c7.measured


def test_claim17_a_tie_in_final_success_is_not_robustness():
    # _claims_sampled.py mutant: `succ - succ_ci < 0` (a mean gain of exactly 0 with a zero
    # interval passes as "PMD-mean ends higher"); the hard-prompt twin is hard_gap=0.0 in
    # test_report_rules.py
    c = S.claim_robust(data(stability=stability_frame(succ_gap=0.0)))
    assert c.verdict.startswith(PARTLY) and "final success" in c.verdict, c.verdict


def test_claim15_strawman_is_the_loo_partition_where_nothing_cancels():
    # _claims_sampled.py mutant: `/ (len(r) + 1)` in the naive form. The naive form is THEORY
    # §3's definition in exact arithmetic and only fails by cancellation: with spread rewards
    # at tau = 1 (no underflow, no floor) it must match the 50-digit reference.
    r = np.array([0.3, 0.9, 0.1, 0.5])
    naive = S._naive_loo_partition(r, 1.0)
    np.testing.assert_allclose(naive, S._loo_reference(r, 1.0), rtol=NAIVE_AGREE_RTOL)
    assert S._naive_loo_partition(np.array([1.0, 0.0, 0.0, 0.0]), 0.01)[0] > 0.8  # the pitfall


def test_claim14_reports_the_smallest_sd_ratio_up_to_p_005(noise_table):
    # _claims_sampled.py mutant: `pp.p < 0.05` drops the p = 0.05 cells from "at least ...x in
    # every (k, p) cell with p <= 0.05"
    df = noise_table[0].copy()
    paper = (df.scale == "01") & np.isclose(df.tau, 0.05) & (df.sign == "pos")
    part, mean = paper & (df.estimator == "part_loo"), paper & (df.estimator == "mean_loo")
    at = np.isclose(df.p, 0.05)
    df.loc[part & at, "std_error"] = 1.5 * df.std_error[mean & at].to_numpy()
    ratio = (
        df.std_error[part & (df.p <= 0.05)].to_numpy()
        / df.std_error[mean & (df.p <= 0.05)].to_numpy()
    )
    assert ratio.min() == 1.5  # the p = 0.05 cells now hold the smallest ratio
    assert (
        "at least 1.5x in every (k, p) cell with p <= 0.05"
        in S.claims_noise(data(target_errors=df))[2].measured
    )


def test_claim16_rates_come_from_the_later_half():
    # _claims_sampled.py mutant: `d.iter.iloc[1] / 2` fits (nearly) all iterations. PMD-mean
    # with a slower start (its chi^2 weight has not vanished yet) and exact PMD's factor
    # later: the claim is about the asymptotic factor, so it holds.
    it = np.arange(200)
    rows = []
    for tau, f in ((0.03, 0.9), (0.1, 0.95), (0.3, 0.98)):
        slow = f + 0.03
        mean = np.where(it < 100, slow**it, slow**100 * f ** (it - 100.0))
        for method, sub in (("exact", f**it), ("mean", mean)):
            rows.append(pd.DataFrame({"panel": "a", "method": method, "tau": tau, "iter": it,
                                      "subopt": 3.0 * sub}))  # fmt: skip
    c = S.claim_linear(data(convergence=pd.concat(rows, ignore_index=True)))
    assert c.verdict == REPRO, c.measured


# ------------------------------------------------ held-out survivors (tools/mutation.py seed 1)


def test_claim5_control_share_exactly_at_its_bound():
    # mutant: `ctrl_share > CONTROL_SHARE`: 9 of 10 non-constant contexts told apart is the
    # rule's "at least 90%"
    assert C.CONTROL_SHARE == 0.9
    sc = scipy_frame(n=14, n_const=4)  # 10 non-constant contexts
    first = sc.index[~sc.constant][0]
    sc.loc[first, "err_control"] = C.SCIPY_ATOL / 2  # one context the control cannot tell
    assert eq(sc).verdict == REPRO
    sc.loc[sc.index[~sc.constant][1], "err_control"] = C.SCIPY_ATOL / 2  # 80%
    assert eq(sc).verdict == DIFF


def test_claim5_prose_quotes_the_scripts_number_of_starts():
    # mutant: SCIPY_STARTS = 3 (its comment: simplex.N_STARTS, which the text quotes)
    assert C.SCIPY_STARTS == _load("simplex").N_STARTS


def test_prose_numbers_have_three_significant_digits():
    # mutant: `g(x, digits=4)`: the report quotes 3 significant digits unless told otherwise
    assert C.g(2 / 3) == "0.667" and C.g(12345.0) == "1.23e+04" and C.g(2 / 3, 6) == "0.666667"


def test_claim16_fits_five_points():
    # _claims_sampled.py mutant: `len(d) <= 5` (a later half of exactly five iterates is
    # dropped, and with it every rate)
    it = np.arange(10)  # later half: iterations 5..9
    rows = [
        pd.DataFrame({"panel": "a", "method": m, "tau": tau, "iter": it, "subopt": 3.0 * f**it})
        for tau, f in ((0.03, 0.9), (0.1, 0.95))
        for m in ("exact", "mean")
    ]
    c = S.claim_linear(data(convergence=pd.concat(rows, ignore_index=True)))
    assert c.verdict == REPRO, c.measured


def test_claim15_lone_success_share_among_groups_with_a_success():
    # _claims_sampled.py mutant: `v / (2 - (1 - p)**k)`. With k = 4 responses, P(exactly one
    # success | at least one) = 4 p (1-p)^3 / (1 - (1-p)^4)
    k = 4
    c = S.claim_stable_loo_partition(data())
    for p in (0.01, 0.05, 0.2):
        share = k * p * (1 - p) ** (k - 1) / (1 - (1 - p) ** k)
        assert f"{share:.0%} at p = {p:g}" in c.measured


def test_claim15_catches_an_estimator_broken_only_near_tau_001():
    # _claims_sampled.py mutant: the reference groups' tau 0.01 -> 1.01 (the decade of the
    # paper's lone-success example left unchecked)
    from pmdtheory.estimators import advantages

    def broken_near_001(r, *, kind, tau):
        return advantages(r, kind=kind, tau=tau) + (1e-6 if 0.005 < tau < 0.02 else 0.0)

    assert S.claim_stable_loo_partition(data(), advantages=broken_near_001).verdict == DIFF


def test_claim12_quotes_exact_pmds_log_ratio_of_the_lone_success(noise_table):
    # _claims_sampled.py mutant: `tau0 = -0.95`. The text's log x+ is exact PMD's log ratio
    # of a correct answer with success probability p_min at tau = 0.05
    from pmdtheory import exact_update

    df = noise_table[0]
    p = float(df.p.min())
    log_x = float(np.log(exact_update([p, 1 - p], [1.0, 0.0], 0.05)[0] / p))
    assert f"instead of log x+ = {log_x:.3f}" in S.claims_noise(data(target_errors=df))[0].measured


gap_table = rules.gap_table  # the fixture, shared with test_report_rules.py
binary_tables = rules.binary_tables


def test_claim4_quotes_the_ratio_to_the_law_at_both_taus(gap_table):
    # held-out (seed 2) mutant: the text gave the ratio at the larger tau twice
    (c4,) = [c for c in C.claims_gap(data(log_partition_gap=gap_table)) if "tau^6" in c.measured]
    for case, d in gap_table.groupby("case", sort=False):
        ratio = d.kl_mean_exact / d.kl_asym_large_tau
        r0, r1 = (float(ratio.iloc[(d.tau - t).abs().argmin()]) for t in C.KL_ASYM_TAUS)
        assert f"{r0:.3f}" != f"{r1:.3f}"  # the check below can tell them apart
        assert f"{case}: {r0:.3f} -> {r1:.3f}" in c4.measured


def test_claim22_restraint_peaking_exactly_at_the_hard_bound_holds(binary_tables):
    # held-out (seed 2) mutant: `p_restr < PULL_P_HARD`; the rule says "at p <= 0.05"
    ib = binary_tables[2]
    df = ib[ib.tau == C.PULL_TAU].sort_values("p").copy()
    hard = df.index[df.p <= C.PULL_P_HARD][-1]
    df.loc[hard, "p"] = C.PULL_P_HARD  # the last p below the bound moved onto it
    df.loc[hard, "log_x_pos_exact"] = df.log_x_pos[hard] + 100.0  # the restraint's peak
    assert C.claim_gentle_pull(data(implicit_beta=df)).verdict == REPRO
    df.loc[hard, "p"] = C.PULL_P_HARD + 1e-9
    assert C.claim_gentle_pull(data(implicit_beta=df)).verdict == DIFF


def test_claim15_counts_the_groups_it_compares():
    # held-out (seed 2) mutant: the count of groups starts at 1 ("over 61 groups" for 60)
    c = S.claim_stable_loo_partition(data())
    assert f"over {len(S.loo_reference_groups())} groups" in c.measured


def test_claim14_needs_part_noisier_only_up_to_p_005(noise_table):
    # held-out (seed 2) mutant: `pap.p <= 1.05` asks PMD-part to be noisier than PMD-mean in
    # every cell, not only in those with p <= 0.05 that the rule names
    df = noise_table[0].copy()
    assert S.claims_noise(data(target_errors=df))[2].verdict == REPRO
    paper = (df.scale == "01") & np.isclose(df.tau, 0.05) & (df.sign == "pos") & (df.p > 0.05)
    part, mean = paper & (df.estimator == "part_loo"), paper & (df.estimator == "mean_loo")
    df.loc[part, "noise_rmse"] = 0.5 * df.noise_rmse[mean].to_numpy()
    assert S.claims_noise(data(target_errors=df))[2].verdict == REPRO


# ------------------------------------------------ held-out survivors (tools/mutation.py seed 5)


def test_claim19_errors_exactly_at_their_tolerances_hold():
    # mutants: `err_beta0_core.max() < BETA0_CORE_ATOL`, and the same for SCIPY_ATOL; the
    # rule reads "within" each tolerance
    bz = C.claim_beta_zero
    for col, atol in (("err_beta0_core", C.BETA0_CORE_ATOL), ("err_beta0_scipy", C.SCIPY_ATOL)):
        sc = scipy_frame()
        sc.loc[5, col] = atol
        assert bz(data(simplex_scipy=sc)).verdict == REPRO, col
        sc.loc[5, col] = np.nextafter(atol, 1.0)
        assert bz(data(simplex_scipy=sc)).verdict == DIFF, col


def test_claim4_lists_the_cases_in_the_tables_order(gap_table):
    # mutant: `groupby(df.case, sort=True)` for the gap at tau = 0.1 listed the cases
    # alphabetically while the peak KL before it keeps the script's order
    (c4,) = [c for c in C.claims_gap(data(log_partition_gap=gap_table)) if "tau^6" in c.measured]
    cases = list(dict.fromkeys(gap_table.case))
    assert cases != sorted(cases)  # the script's order is not alphabetical: the check can fail
    peak, gap = c4.measured.split("; gap at tau = 0.1: ")
    gap = gap.split(";")[0]
    for part in (peak, gap):
        at = [part.index(f"{case}: ") for case in cases]
        assert at == sorted(at), part


def test_claim17_reversal_note_names_only_taus_above_the_ruled_range():
    # mutant: `tau > ROBUST_TAU_MAX + -0.999999999999` named every tau where PMD-part ends
    # higher, also the small taus the verdict already rules on
    c = S.claim_robust(data(stability=stability_frame(succ_gap=-0.05)))  # reversed everywhere
    (note,) = [n for n in c.notes if "reverses" in n]
    assert "tau=1,k=4" in note and "tau=1,k=16" in note
    assert "tau=0.1," not in note and "tau=0.01," not in note


def _panel_c(final: dict[str, float]) -> pd.DataFrame:
    """Claim 17's convergence input: panel c, two iterations, these final successes."""
    return pd.DataFrame([{"panel": "c", "iter": it, "method": m, "reward_mean": v * it}
                         for m, v in final.items() for it in (0, 1)])  # fmt: skip


def test_claim17_grpo_note_only_when_grpo_ends_higher():
    # mutant: `fin[m] < fin["mean_sampled"]` noted GRPO "ends higher" exactly when it ends lower
    def grpo_notes(grpo):
        cv = _panel_c({"mean_sampled": 0.6, "part_sampled": 0.5, "grpo": grpo})
        c = S.claim_robust(data(stability=stability_frame(), convergence=cv))
        return [n for n in c.notes if n.startswith("grpo ends higher")]

    (note,) = grpo_notes(0.7)
    assert "(0.700 vs 0.600)" in note
    assert grpo_notes(0.5) == []
    assert grpo_notes(0.6) == []  # a tie is not "ends higher" (session 10 mutant: `>=`)


# ------------------------------------ lines no test of these modules reached (coverage, session 5)

CLAIM_FUNCTIONS = [C.claims_gap, C.claim_equivalence, C.claim_lambda_unique, C.claim_beta_zero,
                   C.claim_sampled_limit, C.claim_conservative, C.claims_binary, C.claims_beta,
                   C.claim_gentle_pull, S.claims_noise, S.claim_jump, S.claim_linear,
                   S.claim_robust]  # fmt: skip


def test_every_rule_without_its_data_is_not_run():
    # a missing table never yields a verdict (claim 15 computes its own data: not listed)
    for fn in CLAIM_FUNCTIONS:
        out = fn(data())
        for c in out if isinstance(out, list) else [out]:
            assert c.verdict == C.NOT_RUN, (fn.__name__, c.title, c.verdict)


def test_claim4_without_the_large_tau_law_column_differs(gap_table):
    (c4,) = [c for c in C.claims_gap(data(log_partition_gap=gap_table)) if "tau^6" in c.measured]
    assert c4.verdict == REPRO
    no_law = gap_table.drop(columns=["kl_asym_large_tau"])
    (c4,) = [c for c in C.claims_gap(data(log_partition_gap=no_law)) if "tau^6" in c.measured]
    assert c4.verdict == DIFF and "no kl_asym_large_tau column" in c4.measured


def test_claim17_differs_when_every_part_fails():
    # the existing check accepts "partly" or "differs"; with staleness flipped too, every
    # part fails and the verdict must be "differs" (coverage: that branch was never taken)
    bad = stability_frame(hard_gap=-0.1, succ_gap=-0.3, pm1_err=1.0, stale_flip=True)
    assert S.claim_robust(data(stability=bad)).verdict == DIFF
    three = stability_frame(hard_gap=-0.1, succ_gap=-0.3, pm1_err=1.0)  # staleness still holds
    assert S.claim_robust(data(stability=three)).verdict.startswith(PARTLY)


# ---------------------------------------- lines no test reached (--unreached, session 6)


def test_tables_from_before_the_scale_column_are_read_as_0_1_rewards(noise_table):
    # older target_errors / stability tables have no `scale` column: they are {0, 1} runs
    df = noise_table[0]
    old = df[df.scale == "01"].drop(columns="scale")
    new = df[df.scale == "01"]
    got, want = S.claims_noise(data(target_errors=old)), S.claims_noise(data(target_errors=new))
    assert [(c.verdict, c.measured) for c in got] == [(c.verdict, c.measured) for c in want]
    st = stability_frame()
    st01 = st[st.scale == "01"]
    got = S.claim_robust(data(stability=st01.drop(columns="scale")))
    want = S.claim_robust(data(stability=st01))
    assert (got.verdict, got.measured) == (want.verdict, want.measured)


def test_the_structural_zero_of_pmd_mean_is_noted():
    # PMD-mean's hard-prompt fraction 0 in every on-policy cell gets the note that says why
    c = S.claim_robust(data(stability=stability_frame(hard_gap=0.5)))
    assert any("this zero is structural" in n for n in c.notes), c.notes


def test_a_rate_needs_five_points_of_the_later_half():
    # claim 16 fits a factor only where the later half of the iterations above 1e-12 has at
    # least 5 points: at factor 0.01 it has 4 (iterations 3-6), and tau = 0.03 is left out
    frame = rules.convergence_frame(exact_factors=(0.01, 0.95, 0.98))
    kept = frame[frame.subopt > 1e-12]
    assert kept[(kept.tau == 0.03) & (kept.method == "exact")].iter.tolist() == list(range(7))
    c = S.claim_linear(data(convergence=frame))
    assert "exact tau=0.03" not in c.measured and "mean tau=0.03" not in c.measured
    assert "exact tau=0.1:" in c.measured and "mean tau=0.3:" in c.measured


def test_a_t_interval_needs_two_values():
    from scipy import stats

    assert S._ci(np.array([0.3])) == np.inf
    assert S._ci(np.array([0.1, 0.3])) == pytest.approx(stats.t.ppf(0.975, 1) * 0.1, rel=1e-12)
    x = np.array([0.1, 0.4, 0.2])
    half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
    assert S._ci(x) == pytest.approx(half, rel=1e-12)


# ------------------------------------------------ held-out survivors (tools/mutation.py seed 7)


def test_claim10_two_maxima_with_the_global_one_at_the_centre_differ(binary_tables):
    # seed-7 mutant: `verdict(ok_uni or ok_mode)`: a second, lower maximum at the left end
    # keeps the argmax near 0.5, and the claim (unimodal) is false all the same
    df = binary_tables[2].copy()
    first = df.groupby("tau").p.idxmin()
    df.loc[first, "lam"] = df.groupby("tau").lam.max().to_numpy() * 0.9
    c = C.claims_beta(data(implicit_beta=df))[0]
    assert "the argmax of lam in p ranges over [0.4" in c.measured and c.verdict == DIFF


def test_claim15_quotes_the_lone_success_example_of_its_statement():
    # seed-7 mutant: the example's rewards [2, 0, 0, 0] instead of the [1, 0, 0, 0] it
    # quotes; its naive advantage is the same 1 - (1 + 0.01 log 1e-8) = 0.184, the stable one
    # (the lone success against a baseline of 0) is 1, not 2
    naive = 1.0 - (1.0 + 0.01 * np.log(1e-8))
    c = S.claim_stable_loo_partition(data())
    assert (
        f"[1, 0, 0, 0], tau = 0.01: 1.000, where the 'total minus own term' form gives "
        f"{naive:.3f}." in c.measured
    )


def test_the_naive_estimator_is_called_as_the_real_one():
    # seed-7 mutant: `naive_advantages(r, /, kind, tau)` accepts kind and tau by position,
    # which pmdtheory.estimators.advantages (the interface it stands in for) refuses
    import inspect

    from pmdtheory.estimators import advantages

    def kinds(f):
        return [(p.name, p.kind) for p in inspect.signature(f).parameters.values()][:3]

    assert kinds(S.naive_advantages) == kinds(advantages)


def test_claim4_names_both_taus_of_the_law(gap_table):
    # seed-8 mutant (session 7's interrupted run, measured in session 8): the text named
    # the larger tau twice, "at tau = 30 -> 30"
    (c4,) = [c for c in C.claims_gap(data(log_partition_gap=gap_table)) if "tau^6" in c.measured]
    lo, hi = C.KL_ASYM_TAUS
    assert lo != hi and f"at tau = {lo:g} -> {hi:g}: " in c4.measured


def test_claim2_quotes_one_ratio_per_case_at_the_largest_tau(gap_table):
    # seed-8 mutant: `by.tail(2)` also ruled on (and quoted) the second-largest tau
    c2 = C.claims_gap(data(log_partition_gap=gap_table))[1]
    assert c2.measured.startswith(f"gap / (Var/(2 tau)) at tau = {gap_table.tau.max():g}: ")
    for case, d in gap_table.groupby("case", sort=False):
        top = d[d.tau == d.tau.max()]
        ratio = float(top.gap.iloc[0] / top.asym_large_tau.iloc[0])
        assert c2.measured.count(f"{case}: ") == 1 and f"{case}: {ratio:.4f}" in c2.measured


# ---------------------------- session 10: a full run of _claims_sampled.py (--sample 0)


def _jump(first: float, second: float = 0.0, tau: float = 2.0**-5) -> pd.DataFrame:
    """Claim 21's table at one (tau, k): tau x first jump `first`, tau x second `second`
    (target(0) = 0; at the default tau = 2**-5, tau x a target difference is exact)."""
    t1, t2 = -first / tau, -(first + second) / tau
    return pd.DataFrame({"tau": tau, "k": 8, "m_other": [0, 1, 2], "target": [0.0, t1, t2]})


def test_claim21_jumps_exactly_at_and_just_past_their_bounds():
    # mutants: `second <= JUMP_NEXT_MAX` -> `<` (a second jump of exactly 0.1 refused), and
    # `first <= 1 + 1e-12` -> `<= 1 + 1.000000000001` (a first jump above 1/tau accepted)
    j = _jump(0.9, tau=0.05)
    j.loc[2, "target"] = j.target[1] - 2.0  # tau x 2 = 2 x 0.05 = 0.1, exact in float64
    assert (j.target[1] - j.target[2]) * 0.05 == S.JUMP_NEXT_MAX
    assert S.claim_jump(data(target_errors_jump=j)).verdict == REPRO
    assert S.claim_jump(data(target_errors_jump=_jump(1.001, 0.05, tau=0.05))).verdict == DIFF


def _rates_frame(factors: dict[str, tuple[float, ...]], taus=(0.03, 0.1, 0.3)) -> pd.DataFrame:
    it = np.arange(60)
    return pd.concat([
        pd.DataFrame({"panel": "a", "method": m, "tau": tau, "iter": it, "subopt": 3.0 * f**it})
        for m, fs in factors.items() for tau, f in zip(taus, fs, strict=True)
    ], ignore_index=True)  # fmt: skip


def test_claim16_without_pmd_means_rates_differs():
    # mutant: `m != method` in the rates of each method: with PMD-mean's suboptimality below
    # 1e-12 throughout (no rate), exact PMD's check then took PMD-mean's empty list of R^2
    # values and raised instead of reporting
    a = _rates_frame({"exact": (0.9, 0.95, 0.98)})
    mean = a.assign(method="mean", subopt=1e-13)
    c = S.claim_linear(data(convergence=pd.concat([a, mean], ignore_index=True)))
    assert c.verdict == DIFF


def test_claim16_quotes_each_fits_r2_and_the_largest_factor_gap():
    # mutants: `** 3` in R^2's denominator, and the text's `max(diff) if not diff else nan`.
    # R^2 of a least-squares line is the squared correlation (numpy's corrcoef)
    it = np.arange(60)
    wobble = np.exp(0.05 * np.sin(it))  # a fit with R^2 visibly below 1
    a = _rates_frame({"exact": (0.9, 0.95, 0.98), "mean": (0.905, 0.95, 0.98)})
    a["subopt"] *= np.tile(wobble, 6)
    c = S.claim_linear(data(convergence=a))
    for (method, tau), d in a.groupby(["method", "tau"]):
        d = d[d.iter >= d.iter.iloc[-1] / 2]
        r2 = np.corrcoef(d.iter, np.log(d.subopt))[0, 1] ** 2
        assert r2 < 0.9999
        assert f"{method} tau={tau:g}: factor" in c.measured
        assert f"(R^2 {r2:.3f})" in c.measured
    assert "at most 5.0e-03." in c.measured


def _kinked(n_iters: int, kink: int) -> pd.DataFrame:
    """Claim 16's table: exact PMD at factors 0.9 and 0.95; PMD-mean at 0.5 up to `kink`,
    then at exact PMD's factor."""
    it = np.arange(n_iters)
    rows = []
    for tau, f in ((0.03, 0.9), (0.1, 0.95)):
        mean = np.where(it <= kink, 0.5**it, 0.5**kink * f ** (it - float(kink)))
        rows += [
            pd.DataFrame({"panel": "a", "method": m, "tau": tau, "iter": it, "subopt": 3.0 * s})
            for m, s in (("exact", f**it), ("mean", mean))
        ]
    return pd.concat(rows, ignore_index=True)


def test_claim16_later_half_of_an_odd_count_starts_at_its_middle():
    # mutant: `d.iter.iloc[-2] / 2`: with iterations 0..59 the later half starts at 29.5; the
    # mutant also fits iterate 29, here a kink where PMD-mean's factor changes. 30..59 is
    # exactly linear, 29..59 is not, at R^2 measurably below 1 in the quoted digits
    c = S.claim_linear(data(convergence=_kinked(60, 29)))
    assert "mean tau=0.03: factor 0.9000/iter (R^2 1.000)" in c.measured, c.measured


def _noise_cells(df, estimator="mean_loo"):
    return df.index[(df.estimator == estimator) & (df.sign == "pos")]


def _theory_sd(m: pd.DataFrame) -> pd.Series:
    """THEORY §6: the sd of the LOO mean baseline's target, range sqrt(p(1-p)/(k-1))/tau."""
    spread = np.where(m.scale == "pm1", 2.0, 1.0)
    return spread * np.sqrt(m.p * (1 - m.p) / (m.k - 1)) / m.tau


def test_claim13_theory_sd_divides_by_k_minus_1(noise_table):
    # mutant: `/ (m.k - 0)`: sqrt(k / (k - 1)) = 3-7% off at k = 8, 16, inside the 15% rule;
    # with every sd exactly the closed form p(1-p)/(k-1)/tau^2 (x4 for +-1) the mean is 1.000
    df = noise_table[0].copy()
    m = df.loc[_noise_cells(df)]
    df.loc[m.index, "std_error"] = _theory_sd(m)
    c2 = S.claims_noise(data(target_errors=df))[1]
    assert c2.verdict == REPRO and "mean 1.000, range 1.00..1.00" in c2.measured


def test_claim13_a_cell_group_exactly_at_its_tolerance_holds(noise_table):
    # mutant: `abs(per - 1) < NOISE_SD_CELL_RTOL`: one (scale, tau) with a mean ratio of exactly
    # 1.25 is "within 0.25 for every (scale, tau)". At tau = 1 the cells get p = 1/8 (k = 8)
    # and 3/8 (k = 16): p (1-p) / (k-1) = 1/64, a theory sd of exactly 1/8; the others' sd
    # is their theory sd (a ratio of exactly 1)
    df = noise_table[0].copy()
    cells = _noise_cells(df)
    group = cells.intersection(df.index[(df.scale == "01") & np.isclose(df.tau, 1.0)])
    df.loc[group, "p"] = np.where(df.loc[group, "k"] == 8, 0.125, 0.375)
    df.loc[cells, "std_error"] = _theory_sd(df.loc[cells])
    assert (df.loc[group, "std_error"] == 0.125).all()
    df.loc[group, "std_error"] = 0.125 * (1 + S.NOISE_SD_CELL_RTOL)  # 0.15625, exact
    assert S.claims_noise(data(target_errors=df))[1].verdict == REPRO
    df.loc[group[0], "std_error"] = 0.125 * 1.26  # the group's mean ratio 1.251
    assert S.claims_noise(data(target_errors=df))[1].verdict == DIFF


def _offset_table(df0, snr):
    """Claim 14's table with PMD-mean's positive offsets exactly `snr` sd from 0."""
    df = df0.copy()
    cells = _noise_cells(df)
    df.loc[cells, "mean_error"] = snr * df.loc[cells, "std_error"]
    return df


def test_claim14_offset_between_three_and_four_sd(noise_table):
    # mutant: OFFSET_SIGMAS = 4.0: offsets 3.5 sd from 0 "at least 3 sd" hold; 2.9 do not
    assert S.OFFSET_SIGMAS == 3.0
    assert S.claims_noise(data(target_errors=_offset_table(noise_table[0], 3.5)))[2].verdict == (
        REPRO
    )
    assert S.claims_noise(data(target_errors=_offset_table(noise_table[0], 2.9)))[2].verdict == (
        DIFF
    )


def test_claim14_quotes_the_positive_sweep_to_two_decimals(noise_table):
    # mutants: `.round(1)` and `.round(3)`, the sweep over the negative targets
    # (`sign != "pos"`) and over p < 0.05 (p = 0.05 left out)
    df = noise_table[0]
    pos = df[(df.p <= 0.05) & (df.sign == "pos")]
    c3 = S.claims_noise(data(target_errors=df))[2]
    quoted = []
    for (sc, tau), d in pos.groupby(["scale", "tau"]):
        part = d[d.estimator == "part_loo"].noise_rmse.mean()
        mean = d[d.estimator == "mean_loo"].noise_rmse.mean()
        quoted.append(f"{sc} tau={tau:g}: {round(part / mean, 2):g}")
    assert "over the sweep: " + ", ".join(quoted) + "." in c3.measured


def test_claim12_binomial_sigmas_between_four_and_five(noise_table):
    # mutant: LONE_BINOM_SIGMAS = 5.0: a frequency 4.5 s.e. from (1-p)^(k-1) is refused
    df = noise_table[0].copy()
    i = _noise_cells(df, "part_loo")[0]
    row = df.loc[i]
    theory = (1 - row.p) ** (row.k - 1)
    se = np.sqrt(theory * (1 - theory) / row.n_seeds)
    for col in ("frac_no_other_success", "frac_target_lone"):  # the two shares stay equal
        df.loc[i, col] = theory + 4.5 * se
    assert S.claims_noise(data(target_errors=df))[0].verdict == DIFF


def test_claim12_r2_exactly_at_its_bound_holds(noise_table):
    # mutant: `r2.min() > LONE_R2_MIN`: "R^2 >= 0.9 in every cell"
    df = noise_table[0].copy()
    small = _noise_cells(df, "part_loo").intersection(df.index[df.tau <= S.LONE_TAU_MAX])
    df.loc[small[0], "r2_other_success"] = S.LONE_R2_MIN
    assert S.claims_noise(data(target_errors=df))[0].verdict == REPRO


def test_claim12_quotes_no_other_success_at_tau_005_per_k(noise_table):
    # mutant: the quoted cells at tau = 1.05 (none: an empty list)
    # and `part.scale != "01"` (the +-1 cells, here set to 50%, quoted instead)
    df = noise_table[0].copy()
    df.loc[df.scale == "pm1", "frac_no_other_success"] = 0.5
    part = df[(df.estimator == "part_loo") & (df.sign == "pos") & (df.scale == "01")]
    ref = part[(part.p == df.p.min()) & np.isclose(part.tau, 0.05)]
    text = S.claims_noise(data(target_errors=df))[0].measured
    assert len(ref) == 2 and "50%" not in text
    for k, f in zip(ref.k, ref.frac_no_other_success, strict=True):
        assert f"{f:.0%} of groups (k={k})" in text
    assert text.count("of groups (k=") == 2  # mutant `part.p != p_min`: the other p's
    assert f"(-log p = {-np.log(0.01):.3f})." in text  # mutant: `np.log(p_min)`, negative


def test_claim12_log_ratio_of_a_very_rare_success(noise_table):
    # mutant: log_partition(..., [1.0, -1.0], ...) for the {0, 1} rewards: at p = 0.01 the
    # wrong reward's term is 1e-7 of the sum and the quoted digits agree; at p = 1e-9 it is
    # the larger term. log x+ = 1/tau - log(p e^(1/tau) + 1 - p), by hand
    df = noise_table[0].copy()
    df.loc[np.isclose(df.p, 0.01), "p"] = 1e-9
    want = 20.0 - np.log(1e-9 * np.exp(20.0) + 1 - 1e-9)
    assert f"log x+ = {want:.3f}" in S.claims_noise(data(target_errors=df))[0].measured


def test_claim15_reference_groups_as_documented():
    # mutants: k (2, 4, 8) -> (2, 3, 8), tau 0.05 -> 1.05, the lone success 2.0 or at index 1.
    # The docstring: lone successes (one reward 1, the rest 0) first and last, ties, spread
    # rewards, at tau 1e-3, 0.01, 0.05, 0.2, 1 and k 2, 4, 8 (seed 0: the next test)
    groups = S.loo_reference_groups()
    assert {tau for _, tau in groups} == {1e-3, 0.01, 0.05, 0.2, 1.0}
    assert {len(r) for r, _ in groups} == {2, 4, 8}
    for tau in (1e-3, 0.01, 0.05, 0.2, 1.0):
        for k in (2, 4, 8):
            rs = [r for r, t in groups if t == tau and len(r) == k]
            assert len(rs) == 4
            assert np.array_equal(rs[0], np.eye(k)[0]) and np.array_equal(rs[1], np.eye(k)[-1])


def test_claim15_quotes_how_much_the_naive_form_shrinks_the_signal():
    # mutant: `{0 / naive:.1f}x`. [1, 0, 0, 0] at tau = 0.01: the naive baseline is
    # 0.01 log(1e-8) + ... floored, its advantage 1 - 0.816 = 0.184, 5.4x below 1
    r = np.array([1.0, 0.0, 0.0, 0.0])
    naive = 1.0 - S._naive_loo_partition(r, 0.01)[0]
    c = S.claim_stable_loo_partition(data())
    assert f"shrink their only positive signal {1 / naive:.1f}x." in c.measured
    assert 5.0 < 1 / naive < 6.0


def test_naive_advantages_work_per_group_along_the_last_axis():
    # mutant: `apply_along_axis(..., 0, r)`: a batch of groups (rows) mixed across groups
    r = np.array([[1.0, 0.0, 0.0], [0.2, 0.7, 0.4]])
    got = S.naive_advantages(r, kind="loo_partition", tau=0.5)
    want = [S.naive_advantages(row, kind="loo_partition", tau=0.5) for row in r]
    np.testing.assert_array_equal(got, want)


def test_claim17_counts_its_pm1_pairs():
    # mutants: n_pairs starting at 1 or -1, `n_pairs > 1` and `n_pairs > -1`. The frame has one
    # +-1 cell (tau 0.02, k 4) x 5 seeds x 2 methods, each paired with the tau = 0.01 run
    st = stability_frame()
    c = S.claim_robust(data(stability=st))
    assert c.verdict == REPRO and "+-1 rewards at tau vs {0, 1} at tau/2: 10 paired runs" in (
        c.measured
    )
    one = st[(st.scale == "01") | ((st.seed == 0) & (st.method == "part_sampled"))]
    c = S.claim_robust(data(stability=one))
    assert c.verdict == REPRO and ": 1 paired runs" in c.measured
    c = S.claim_robust(data(stability=st[st.scale == "01"]))  # no +-1 runs: nothing compared
    assert c.verdict.startswith(PARTLY) and "+-1 scale" in c.verdict, c.verdict
    # mutant `scale_err = -1.0` at the start: with no pair the largest difference is 0
    assert "0 paired runs, max |final success difference| 0.0e+00" in c.measured


def test_claim17_equal_staleness_drops_are_not_more():
    # mutant: `dp >= dm`: "PMD-part loses more from staleness"; PMD-mean's final success set
    # to PMD-part's in every stale cell: the drops are equal
    st = stability_frame()
    stale = (st.k == 8) & (st.scale == "01")
    part = st[stale & (st.method == "part_sampled")].set_index(["tau", "staleness", "seed"])
    mean = stale & (st.method == "mean_sampled")
    keys = pd.MultiIndex.from_frame(st.loc[mean, ["tau", "staleness", "seed"]])
    st.loc[mean, "final_success"] = part.final_success.reindex(keys).to_numpy()
    c = S.claim_robust(data(stability=st))
    assert c.verdict.startswith(PARTLY) and "staleness" in c.verdict, c.verdict


def test_claim17_staleness_drop_is_to_the_largest_staleness():
    # mutants: `.iloc[1]` for PMD-part's or PMD-mean's drop. Staleness 0, 2, 4 at k = 8:
    # PMD-part holds at 2 and drops 0.4 at 4; PMD-mean dips 0.5 at 2 and ends 0.1 lower at 4.
    # To the largest staleness PMD-part loses more; to staleness 2 it does not
    st = stability_frame()
    st = pd.concat([st, st[(st.k == 8) & (st.staleness == 2)].assign(staleness=4)],
                   ignore_index=True)  # fmt: skip
    drop = {
        ("part_sampled", 0): 0.0,
        ("part_sampled", 2): 0.0,
        ("part_sampled", 4): 0.4,
        ("mean_sampled", 0): -0.05,
        ("mean_sampled", 2): 0.45,
        ("mean_sampled", 4): 0.05,
    }
    stale = st.k == 8
    st.loc[stale, "final_success"] = [
        0.8 + 0.001 * seed - drop[(m, s)]
        for m, s, seed in zip(st.method[stale], st.staleness[stale], st.seed[stale], strict=True)
    ]
    c = S.claim_robust(data(stability=st))
    assert c.verdict == REPRO, c.verdict
    assert "tau=0.01: 0.400 vs 0.100" in c.measured


def test_naive_advantages_are_rewards_minus_the_naive_baseline():
    # mutant: `x + _naive_loo_partition(x, tau)`: where nothing cancels the strawman is
    # r - the LOO partition baseline of THEORY §3 (the 50-digit reference)
    r = np.array([0.3, 0.9, 0.1, 0.5])
    np.testing.assert_allclose(S.naive_advantages(r, kind="loo_partition", tau=1.0),
                               r - S._loo_reference(r, 1.0), rtol=NAIVE_AGREE_RTOL)  # fmt: skip


def test_claim21_first_jump_bounds_are_inclusive_and_measured_to_one_other_success():
    # mutants: `first > JUMP_MIN`, `first < 1 + 1e-12` (each jump exactly at its bound
    # refused), and `piv[0] - piv[2]` as the first jump (0.98 + 0.05 > 1 refused)
    for first in (S.JUMP_MIN, 1 + 1e-12, 0.98):
        j = _jump(first, 0.05 if first == 0.98 else 0.0)
        assert (j.target[0] - j.target[1]) * j.tau[0] == first
        assert S.claim_jump(data(target_errors_jump=j)).verdict == REPRO, first


def test_claim16_bounds_are_inclusive(monkeypatch):
    # mutants: `min(r2m) > LINEAR_R2` and `max(diff) < RATE_ATOL`: the rule's bounds set to
    # exactly this table's smallest R^2 and largest factor gap must still hold
    it = np.arange(60)
    a = _rates_frame({"exact": (0.9, 0.95, 0.98), "mean": (0.905, 0.95, 0.98)})
    a["subopt"] *= np.tile(np.exp(0.05 * np.sin(it)), 6)
    rates, r2s, _ = S._rates(a)
    monkeypatch.setattr(S, "LINEAR_R2", min(r2s.values()))
    monkeypatch.setattr(S, "RATE_ATOL", max(abs(rates[("mean", t)] - rates[("exact", t)])
                                            for t in (0.03, 0.1, 0.3)))  # fmt: skip
    assert S.claim_linear(data(convergence=a)).verdict == REPRO


def test_claim16_a_method_with_a_rate_at_fewer_taus():
    # mutants: `m != "mean"` / `m != "exact"` in the taus both methods have (a rate missing
    # for one method at one tau then raised KeyError); the factors are compared where both
    # have one
    for missing in ("exact", "mean"):
        a = _rates_frame({"exact": (0.9, 0.95, 0.98), "mean": (0.9, 0.95, 0.98)})
        a.loc[(a.method == missing) & (a.tau == 0.3), "subopt"] = 1e-13  # no rate there
        assert S.claim_linear(data(convergence=a)).verdict == REPRO, missing


def test_claim16_a_growing_suboptimality_differs():
    # mutant: `all(r < 2 ...)`: factors above 1 (suboptimality growing, linearly in log) are
    # not convergence
    a = _rates_frame({"exact": (1.01, 1.02, 1.03), "mean": (1.01, 1.02, 1.03)})
    assert S.claim_linear(data(convergence=a)).verdict == DIFF


def test_claim16_later_half_of_an_even_count_includes_its_middle():
    # mutant: `d.iter > d.iter.iloc[-1] / 2`: iterations 0..60, the later half is 30..60;
    # PMD-mean's factor changes at 31, so with iterate 30 the fit is not exact
    a = _kinked(61, 31)
    d = a[(a.method == "mean") & (a.tau == 0.03) & (a.iter >= 30)]
    slope = np.polyfit(d.iter, np.log(d.subopt), 1)[0]
    c = S.claim_linear(data(convergence=a))
    assert f"mean tau=0.03: factor {np.exp(slope):.4f}/iter" in c.measured, c.measured
    assert f"{np.exp(slope):.4f}" != "0.9000"


def test_claim16_suboptimality_at_exactly_1e_12_is_rounding_noise():
    # mutant: `d.subopt >= 1e-12`: a run floored at 1e-12 would add a flat tail to the fit
    it = np.arange(400)
    rows = []
    for m in ("exact", "mean"):
        for tau, f in ((0.03, 0.9), (0.1, 0.95)):
            sub = np.maximum(3.0 * f**it, 1e-12)
            rows.append(pd.DataFrame({"panel": "a", "method": m, "tau": tau, "iter": it,
                                      "subopt": sub}))  # fmt: skip
    a = pd.concat(rows, ignore_index=True)
    assert (a.subopt == 1e-12).sum() > 100  # a long floor
    c = S.claim_linear(data(convergence=a))
    assert c.verdict == REPRO and "factor 0.9000/iter (R^2 1.000)" in c.measured, c.measured


def test_claim17_rules_on_tau_01_too():
    # mutant: `on.tau <= ROBUST_TAU_MAX - 1e-12` (tau = 0.1 itself left out of "tau <= 0.1")
    st = stability_frame()
    at = (st.tau == 0.1) & (st.method == "mean_sampled")
    part = st[(st.tau == 0.1) & (st.method == "part_sampled")]
    st.loc[at, "hard_frac_backwards"] = part.hard_frac_backwards.to_numpy()  # no gap at 0.1
    c = S.claim_robust(data(stability=st))
    assert c.verdict.startswith(PARTLY) and "tau=0.1" in c.verdict, c.verdict


def test_claim17_a_tau_with_one_staleness_level_has_no_drop():
    # mutants: `len(s) > 0` / `len(s) >= 1`: a stale tau run at staleness 0 only has no drop
    # to compare (it is not "PMD-part loses no more")
    st = stability_frame()
    one = st[(st.k == 8) & (st.staleness == 0) & (st.tau == 0.01)].assign(tau=0.05)
    c = S.claim_robust(data(stability=pd.concat([st, one], ignore_index=True)))
    assert c.verdict == REPRO, c.verdict


def test_claim14_part_must_be_noisier_at_p_005_too(noise_table):
    # mutant: `pap.p < 0.05` for "in every cell with p <= 0.05"
    df = noise_table[0].copy()
    at = (df.scale == "01") & np.isclose(df.tau, 0.05) & np.isclose(df.p, 0.05)
    at &= (df.sign == "pos") & (df.estimator == "part_loo")
    df.loc[at, "noise_rmse"] = 0.0  # PMD-part less noisy at p = 0.05
    assert S.claims_noise(data(target_errors=df))[2].verdict == DIFF


def test_claim14_negative_offset_exactly_a_tenth_differs(noise_table):
    # mutant: `off_neg <= NEG_OFFSET_SHARE * off_pos`: "below 0.1 x"; 0.1 x 10.0 == 1.0 in
    # float64, and the means of equal values are exact
    df = noise_table[0].copy()
    paper = (df.scale == "01") & np.isclose(df.tau, 0.05) & (df.estimator == "mean_loo")
    df.loc[paper & (df.sign == "pos"), ["mean_error", "std_error"]] = [10.0, 1.0]
    df.loc[paper & (df.sign == "neg"), "mean_error"] = 1.0
    assert S.NEG_OFFSET_SHARE * 10.0 == 1.0
    assert S.claims_noise(data(target_errors=df))[2].verdict == DIFF
    df.loc[paper & (df.sign == "neg"), "mean_error"] = np.nextafter(1.0, 0.0)
    assert S.claims_noise(data(target_errors=df))[2].verdict == REPRO


def test_claim12_binomial_s_e_exactly_at_its_bound_holds(noise_table, monkeypatch):
    # mutant: `z < LONE_BINOM_SIGMAS`: a frequency exactly at the bound is "within". The
    # table's largest z, computed as the rule does, set as the bound
    df = noise_table[0]
    part = df[(df.estimator == "part_loo") & (df.sign == "pos")]
    theory = (1 - part.p) ** (part.k - 1)
    se = np.sqrt(theory * (1 - theory) / part.n_seeds)
    z = ((part.frac_no_other_success - theory).abs() / np.maximum(se, 1e-12)).max()
    assert 0 < z < S.LONE_BINOM_SIGMAS
    monkeypatch.setattr(S, "LONE_BINOM_SIGMAS", z)
    assert S.claims_noise(data(target_errors=df))[0].verdict == REPRO
    monkeypatch.setattr(S, "LONE_BINOM_SIGMAS", np.nextafter(z, 0.0))
    assert S.claims_noise(data(target_errors=df))[0].verdict == DIFF


def test_claim15_relative_error_floor_is_one():
    # mutant: `np.maximum(np.abs(ref), 2.0)`: an estimator off by 1.5e-12 where |advantage|
    # <= 1 is off by more than 1e-12 relative to the floor of 1
    from pmdtheory.estimators import advantages

    def off(r, *, kind, tau):
        return np.asarray(advantages(r, kind=kind, tau=tau)) + 1.5e-12

    assert S.claim_stable_loo_partition(data(), advantages=off).verdict == DIFF


def test_claim15_a_tolerance_of_zero_holds_for_the_reference_itself(monkeypatch):
    # mutant: `worst < LOO_REF_RTOL`: the rule is "to LOO_REF_RTOL", inclusive; the
    # reference as the estimator has no error at all
    def reference(r, *, kind, tau):
        return np.asarray(r, dtype=float) - S._loo_reference(np.asarray(r, dtype=float), tau)

    monkeypatch.setattr(S, "LOO_REF_RTOL", 0.0)
    assert S.claim_stable_loo_partition(data(), advantages=reference).verdict == REPRO


# ---------------------------------- session 10: a full run of _claims.py (--sample 0, partial)


def _gap_claims(df):
    return C.claims_gap(data(log_partition_gap=df))


def test_claim1_bounds_are_inclusive(gap_table):
    # mutants: `gap.min() > -GAP_ATOL` and `max(rises) < GAP_ATOL`: a gap of exactly -1e-12
    # (at a case's largest tau, where it is smallest) and a rise of exactly 1e-12 hold
    df = gap_table.copy()
    (case,) = df.case.unique()[:1]
    rows = df.index[df.case == case]
    last = df.loc[rows].tau.idxmax()
    df.loc[last, "gap"] = -C.GAP_ATOL
    assert _gap_claims(df)[0].verdict == REPRO
    df = gap_table.copy()
    two = df.loc[rows].sort_values("tau").index[-2:]
    df.loc[two, "gap"] = [0.0, C.GAP_ATOL]  # a rise of exactly 1e-12 - 0
    assert _gap_claims(df)[0].verdict == REPRO
    df.loc[two[1], "gap"] = 2 * C.GAP_ATOL
    assert _gap_claims(df)[0].verdict == DIFF


def test_claim3_bound_is_inclusive_and_quotes_the_smallest_tau_only(gap_table, monkeypatch):
    # mutants: `|diff| < SMALL_TAU_ATOL` (the bound set to this table's largest |diff| must
    # hold) and `by.head(2)` (two taus per case quoted and ruled on)
    by = gap_table.sort_values("tau").groupby("case", sort=False)
    first = by.head(1)
    worst = float(np.abs(first.gap - first.max_gap).max())
    monkeypatch.setattr(C, "SMALL_TAU_ATOL", worst)
    c3 = _gap_claims(gap_table)[2]
    assert c3.verdict == REPRO
    assert c3.measured.count(": ") == 1 + by.ngroups  # "at tau = 0.001: " + one per case


def test_claim4_peak_bound_is_strict_and_the_law_bound_inclusive(gap_table, monkeypatch):
    # mutants: `kl_mean_exact >= KL_PEAK_MIN` ("peak KL > 1e-3") and `hi < KL_ASYM_RTOL`
    # (the law's "within 0.1"), each with the bound set to this table's own extreme value
    mid = gap_table[(gap_table.tau >= 0.01) & (gap_table.tau <= 1.0)]
    low_peak = float(mid.groupby("case").kl_mean_exact.max().min())
    his = []
    for _, d in gap_table.groupby("case"):
        ratio = d.kl_mean_exact / d.kl_asym_large_tau
        his.append(abs(float(ratio.iloc[(d.tau - C.KL_ASYM_TAUS[1]).abs().argmin()]) - 1))
    with monkeypatch.context() as mp:
        mp.setattr(C, "KL_ASYM_RTOL", max(his))
        assert _gap_claims(gap_table)[3].verdict == REPRO
    monkeypatch.setattr(C, "KL_PEAK_MIN", low_peak)
    assert _gap_claims(gap_table)[3].verdict == DIFF


def test_claim4_rule_names_both_taus_of_the_law(gap_table):
    # mutant: the rule's "closer to 1 than at tau = {KL_ASYM_TAUS[-1]}" (30 twice)
    rule = _gap_claims(gap_table)[3].rule
    assert "ratio within 0.1 of 1 at tau = 30 and closer to 1 than at tau = 3," in rule


def test_claim10_rule_quotes_its_window_and_holds_at_its_edge(binary_tables, monkeypatch):
    # mutants: the rule's window `[1.5 - MODE_ATOL, ...]` or `[0.5 + MODE_ATOL, ...]`, and
    # `abs(modes - 0.5) < MODE_ATOL` (the bound set to this table's farthest mode must hold)
    ib = binary_tables[2]
    c1 = C.claims_beta(data(implicit_beta=ib))[0]
    assert "argmax within [0.4, 0.6]." in c1.rule
    modes = [float(d.p.iloc[int(np.argmax(d.lam.to_numpy()))])
             for _, d in ib.sort_values("p").groupby("tau")]  # fmt: skip
    far = max(abs(m - 0.5) for m in modes)
    assert far > 0
    monkeypatch.setattr(C, "MODE_ATOL", far)
    assert C.claims_beta(data(implicit_beta=ib))[0].verdict == REPRO


def test_claim18_constant_contexts_at_exactly_the_scipy_tolerance_hold():
    # mutant: `cst.lam_scipy.abs() < SCIPY_ATOL` ("|lam| <= 1e-6 (scipy)")
    sc = scipy_frame()
    sc.loc[sc.constant, "lam_scipy"] = [C.SCIPY_ATOL, -C.SCIPY_ATOL, 0.0, 0.0]
    assert C.claim_lambda_unique(data(simplex_scipy=sc)).verdict == REPRO


def test_claim7_ratio_leaves_out_exact_log_ratios_below_1e_9():
    # mutant: `b.where(b > -0.999999999)`: a point where exact PMD barely moves (|log ratio|
    # 1e-13) would report its meaningless ratio 5 as the largest
    blr = pd.DataFrame({"method": ["exact", "mean"] * 2, "tau": 0.1, "p": [0.3, 0.3, 0.4, 0.4],
                        "log_x_pos": [2.0, 1.0, 1e-13, 5e-13],
                        "log_x_neg": [-4.0, -1.0, -1.0, -0.5]})  # fmt: skip
    (c7, _, _) = C.claims_binary(data(binary_log_ratios=blr))
    assert c7.verdict == REPRO and "largest ratio |mean| / |exact| = 0.5000." in c7.measured


def test_claim6_kl_ratio_over_contexts_where_exact_pmd_moves():
    # mutant: `kl_exact > 1.000000000001` (only steps with KL above 1 counted)
    c = C.claim_conservative(data(conservative=rules.conservative_frame()))
    assert "KL ratio mean/exact: median 0.5, max 0.5." in c.measured


def test_claim8_counts_the_points_with_p_over_tau_at_least_20(binary_tables):
    # mutant: `m.p / m.tau >= 21`: a point at p = 0.2, tau = 0.01 (p/tau = 20) is "far"
    blr, hp, _ = binary_tables
    row = hp[hp.method == "mean"].iloc[[0]].assign(p=0.2, tau=0.01)
    hp = pd.concat([hp, row], ignore_index=True)
    m = hp[hp.method == "mean"]
    far = int((m.p / m.tau >= 20).sum())
    assert far == int((m.p / m.tau >= 21).sum()) + 1
    c8 = C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[1]
    assert f"(over {far} points)" in c8.measured


def test_data_reads_a_table_from_its_folder(tmp_path):
    # mutant: `self.folder / "data" * f"{name}.csv"` (a TypeError for any folder)
    (tmp_path / "data").mkdir()
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "data" / "t.csv", index=False)
    d = C.Data(tmp_path)
    assert d["t"].a.tolist() == [1, 2] and d["absent"] is None


def test_claim4_quotes_the_gap_at_tau_01(gap_table):
    # mutant: the gap quoted at the tau nearest -0.9 (the smallest tau) instead of 0.1
    c4 = _gap_claims(gap_table)[3]
    for case, d in gap_table.groupby("case", sort=False):
        gap = float(d.gap.iloc[(d.tau - 0.1).abs().argmin()])
        assert f"{case}: {gap:.3f}" in c4.measured.split("gap at tau = 0.1: ")[1]


def test_claim8_quotes_the_ratio_where_p_over_tau_is_small(binary_tables):
    # mutants: `m.p / m.tau <= 1.2` and `<= -0.8` for the "p/tau <= 0.2" points
    blr, hp, _ = binary_tables
    m = hp[hp.method == "mean"]
    near = (m.fail_new / m.fail_bound)[m.p / m.tau <= 0.2]
    assert near.size and near.max() != (m.fail_new / m.fail_bound)[m.p / m.tau <= 1.2].max()
    c8 = C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[1]
    assert f"where p/tau <= 0.2: at most {C.g(near.max())}" in c8.measured


def test_claim4_gap_at_tau_01_bound_is_strict(gap_table, monkeypatch):
    # mutant: `at01.gap >= GAP_AT_01_MIN` ("gap at tau = 0.1 > 0.05"), the bound set to this
    # table's smallest such gap
    at01 = [float(d.gap.iloc[(d.tau - 0.1).abs().argmin()]) for _, d in gap_table.groupby("case")]
    monkeypatch.setattr(C, "GAP_AT_01_MIN", min(at01))
    assert _gap_claims(gap_table)[3].verdict == DIFF


def test_claim4_peak_is_searched_over_tau_001_to_1(gap_table):
    # mutants: the window `tau >= -0.99` or `tau <= 2.0`: a larger KL just outside [0.01, 1]
    # is not the peak the claim quotes
    df = gap_table.copy()
    for tau in (df.tau.min(), df.tau[df.tau > 1.0].min()):
        df.loc[df.tau == tau, "kl_mean_exact"] = 5.0
    assert df.tau[df.tau > 1.0].min() <= 2.0
    text = _gap_claims(df)[3].measured
    assert ": 5 at tau" not in text
    for case, d in df.groupby("case", sort=False):
        mid = d[(d.tau >= 0.01) & (d.tau <= 1.0)]
        peak = mid.loc[mid.kl_mean_exact.idxmax()]
        assert f"{case}: {peak.kl_mean_exact:.3g} at tau={peak.tau:.2g}" in text


def test_claims_2_to_4_list_the_cases_in_the_tables_order(gap_table):
    # mutant: `groupby("case", sort=True)` (alphabetical). The lists of claims 2, 3 and 4's
    # law follow the table, as its peak and tau = 0.1 lists do (since session 10 the tau sort
    # is stable; before, ties at one tau came out in quicksort's order)
    cases = list(gap_table.case.unique())
    assert cases != sorted(cases)
    c2, c3, c4 = _gap_claims(gap_table)[1:4]
    for text in (c2.measured, c3.measured, c4.measured.split("KL / (Var^3")[1]):
        at = [text.index(f"{case}: ") for case in cases]
        assert at == sorted(at), text


def test_claim8_far_bound_is_strict_and_quotes_six_digits(binary_tables, monkeypatch):
    # mutants: `ratio[far] >= BOUND_NEAR` ("approaches the bound": above 0.99), the bound
    # set to this table's smallest far ratio; and the far range's minimum to 5 digits
    blr, hp, _ = binary_tables
    hp = hp.copy()
    far = hp.index[(hp.method == "mean") & (hp.p / hp.tau >= 20)]
    hp.loc[far[0], "fail_new"] = 0.999995 * hp.fail_bound[far[0]]  # "0.999995", not "1"
    m = hp[hp.method == "mean"]
    ratio = (m.fail_new / m.fail_bound)[m.p / m.tau >= 20]
    c8 = C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[1]
    assert f"{C.g(ratio.min(), 6)}..{C.g(ratio.max(), 6)}" in c8.measured
    assert C.g(ratio.min(), 6) != C.g(ratio.min(), 5)
    monkeypatch.setattr(C, "BOUND_NEAR", float(ratio.min()))
    assert C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[1].verdict == DIFF


def test_claim22_pull_must_be_larger_on_every_hard_prompt(binary_tables):
    # mutant: `om[lo].min() >= om[mid].max()`: a pull near p = 0.5 equal to the smallest
    # pull on a hard prompt is not "larger at every p <= PULL_P_HARD"
    ib = binary_tables[2].copy()
    tau = ib.tau.iloc[(ib.tau - C.PULL_TAU).abs().argmin()]
    at = ib.tau == tau
    lo = at & (ib.p <= C.PULL_P_HARD)
    mid = at & ((ib.p - 0.5).abs() <= C.MODE_ATOL)
    ib.loc[ib.index[mid][0], "omega_pos"] = ib.omega_pos[lo].min()
    assert C.claim_gentle_pull(data(implicit_beta=ib)).verdict == DIFF


def test_claim5_lambda_tolerance_is_inclusive(monkeypatch):
    # mutant: `lam_rel < LAM_RTOL`, the bound set to this table's largest relative error
    sc = scipy_frame()
    var = sc[~sc.constant]
    monkeypatch.setattr(C, "LAM_RTOL", float((np.abs(var.lam_scipy - var.lam) / var.lam).max()))
    assert eq(sc).verdict == REPRO


def test_claim14_offset_bound_is_inclusive(noise_table, monkeypatch):
    # mutant: `snr > OFFSET_SIGMAS`, the bound set to this table's smallest offset in sd
    df = noise_table[0]
    pap = df[(df.scale == "01") & np.isclose(df.tau, 0.05)]
    mp = pap[(pap.estimator == "mean_loo") & (pap.sign == "pos")]
    monkeypatch.setattr(S, "OFFSET_SIGMAS", float((mp.mean_error.abs() / mp.std_error).min()))
    assert S.claims_noise(data(target_errors=df))[2].verdict == REPRO


def test_claim14_smallest_sd_ratio_leaves_out_p_above_005(noise_table):
    # mutant: `pp.p <= 1.05` (every p): a smaller ratio at p = 0.1 is not quoted
    df = noise_table[0].copy()
    paper = (df.scale == "01") & np.isclose(df.tau, 0.05) & (df.sign == "pos")
    part, mean = paper & (df.estimator == "part_loo"), paper & (df.estimator == "mean_loo")
    for p, r in ((0.05, 1.5), (0.1, 1.2)):
        at = np.isclose(df.p, p)
        df.loc[part & at, "std_error"] = r * df.std_error[mean & at].to_numpy()
    ratio = (df.std_error[part].to_numpy() / df.std_error[mean].to_numpy())[
        (df.p[part] <= 0.05).to_numpy()]  # fmt: skip
    assert ratio.min() == 1.5
    text = S.claims_noise(data(target_errors=df))[2].measured
    assert "at least 1.5x in every (k, p) cell" in text


def test_claim17_scale_tolerance_is_inclusive(monkeypatch):
    # mutant: `scale_err < SCALE_ATOL`; the largest |final success| difference of the paired
    # runs, found here by a plain loop, set as the bound
    st = stability_frame(pm1_err=3e-10)
    worst = 0.0
    for r in st[st.scale == "pm1"].itertuples():
        ref = st[
            (st.scale == "01")
            & np.isclose(st.tau, r.tau / 2)
            & (st.k == r.k)
            & (st.staleness == r.staleness)
            & (st.method == r.method)
            & (st.seed == r.seed)
        ]
        worst = max(worst, abs(ref.final_success.iloc[0] - r.final_success))
    assert worst > 0
    monkeypatch.setattr(S, "SCALE_ATOL", worst)
    assert S.claim_robust(data(stability=st)).verdict == REPRO


def test_claim15_needs_the_naive_form_to_show_the_pitfall(monkeypatch):
    # mutant: LOO_NAIVE_MAX = 1.5: a naive form whose lone-success advantage is 0.6 (no
    # collapse) does not show "the pitfall is real"
    assert S.LOO_NAIVE_MAX == 0.5
    monkeypatch.setattr(S, "_naive_loo_partition", lambda r, tau, floor=1e-8: np.full(len(r), 0.4))
    assert S.claim_stable_loo_partition(data()).verdict == DIFF


def test_claim22_beta_peak_window_is_inclusive(binary_tables, monkeypatch):
    # mutant: `abs(p_beta - 0.5) < MODE_ATOL`, the window set to this table's own distance
    # (0 here: beta_t peaks at p = 0.5 exactly, a point of the grid)
    ib = binary_tables[2]
    tau = ib.tau.iloc[(ib.tau - C.PULL_TAU).abs().argmin()]
    d = ib[ib.tau == tau].sort_values("p")
    p_beta = float(d.p.iloc[int(np.argmax(d.beta.to_numpy()))])
    monkeypatch.setattr(C, "MODE_ATOL", abs(p_beta - 0.5))
    assert C.claim_gentle_pull(data(implicit_beta=ib)).verdict == REPRO


def test_claim2_asymptote_tolerance_is_inclusive(gap_table, monkeypatch):
    # mutant: `|ratio - 1| < ASYM_RTOL`, the bound set to this table's largest |ratio - 1|
    last = gap_table.sort_values("tau", kind="stable").groupby("case", sort=False).tail(1)
    monkeypatch.setattr(C, "ASYM_RTOL", float(np.abs(last.gap / last.asym_large_tau - 1).max()))
    assert _gap_claims(gap_table)[1].verdict == REPRO


def test_claim7_a_log_ratio_exactly_at_the_bound_is_not_above_it():
    # mutant: `a >= b (1 + BOUND_RTOL) + BOUND_RTOL`: exact PMD's 0 and PMD-mean's 1e-12 sit
    # exactly on the bound, which allows rounding
    blr = pd.DataFrame({"method": ["exact", "mean"] * 2, "tau": 0.1, "p": [0.3, 0.3, 0.4, 0.4],
                        "log_x_pos": [2.0, 1.0, 0.0, C.BOUND_RTOL],
                        "log_x_neg": [-4.0, -1.0, -1.0, -0.5]})  # fmt: skip
    (c7, _, _) = C.claims_binary(data(binary_log_ratios=blr))
    assert c7.verdict == REPRO and "0 points where" in c7.measured


def test_claim5_regression_error_exactly_at_the_tolerance_holds():
    # mutant: `e_reg < SCIPY_ATOL` ("to 1e-6")
    sc = scipy_frame()
    sc.loc[5, "err_regression"] = C.SCIPY_ATOL
    assert eq(sc).verdict == REPRO


def test_claim15_reference_groups_default_to_seed_0():
    # mutant: `seed: int = 1`: the report's groups (and its quoted error) are those of seed 0
    for (a, ta), (b, tb) in zip(S.loo_reference_groups(), S.loo_reference_groups(0), strict=True):
        assert ta == tb and np.array_equal(a, b)
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in
               zip(S.loo_reference_groups(0), S.loo_reference_groups(1), strict=True))  # fmt: skip


def test_claim15_floor_of_one_for_advantages_near_zero():
    # mutant: `np.maximum(np.abs(ref), 0.0)`: ties have advantage 0, where an estimator off
    # by 1e-13 (far inside the rule) would have an infinite relative error
    from pmdtheory.estimators import advantages

    def off(r, *, kind, tau):
        return np.asarray(advantages(r, kind=kind, tau=tau)) + 1e-13

    assert S.claim_stable_loo_partition(data(), advantages=off).verdict == REPRO


def test_claim17_a_tie_at_large_tau_is_no_reversal():
    # mutant: `succ + succ_ci <= 0` in the note: a tie at tau = 1 (difference 0 in every seed)
    # is not "PMD-part ends significantly higher"
    st = stability_frame()
    at = st.tau == 1.0
    part = st[at & (st.method == "part_sampled")].final_success.to_numpy()
    st.loc[at & (st.method == "mean_sampled"), "final_success"] = part
    c = S.claim_robust(data(stability=st))
    assert not any(n.startswith("At larger tau") for n in c.notes)
    c = S.claim_robust(data(stability=stability_frame(big_tau_reverse=True)))
    assert any(n.startswith("At larger tau") for n in c.notes)


def test_claim13_mean_ratio_tolerance_is_inclusive(noise_table, monkeypatch):
    # mutant: `abs(ratio.mean() - 1) < NOISE_SD_RTOL`, the bound set to this table's value
    df = noise_table[0]
    m = df[(df.estimator == "mean_loo") & (df.sign == "pos")]
    ratio = m.std_error / _theory_sd(m)
    monkeypatch.setattr(S, "NOISE_SD_RTOL", abs(ratio.mean() - 1))
    assert S.claims_noise(data(target_errors=df))[1].verdict == REPRO


def test_claim16_needs_two_rates_per_method_and_allows_equal_factors():
    # mutants: `len(ex) >= 1` (a method with a rate at one tau only passes "increasing in tau")
    # and `r1 < r2` (two taus with the same factor fail "increasing", which is not strict)
    a = _rates_frame({"exact": (0.9, 0.95, 0.98), "mean": (0.9, 0.95, 0.98)})
    a.loc[(a.method == "exact") & (a.tau > 0.03), "subopt"] = 1e-13  # one exact rate left
    assert S.claim_linear(data(convergence=a)).verdict == DIFF
    a = _rates_frame({"exact": (0.9, 0.9, 0.98), "mean": (0.9, 0.9, 0.98)})
    assert S.claim_linear(data(convergence=a)).verdict == REPRO


def test_claim17_an_insignificant_reversal_is_not_noted():
    # mutant: `succ - succ_ci < 0`: PMD-part ahead at tau = 1 on average but with the
    # interval covering 0 is not "significantly higher"
    c = S.claim_robust(data(stability=stability_frame(big_tau_reverse=True, succ_noise=0.2)))
    assert not any(n.startswith("At larger tau") for n in c.notes)


def test_claim14_part_equal_to_mean_in_a_cell_is_not_noisier(noise_table):
    # mutant: `piv[part] >= piv[mean]`: "PMD-part's noise RMSE > PMD-mean's in every cell"
    df = noise_table[0].copy()
    paper = (df.scale == "01") & np.isclose(df.tau, 0.05) & np.isclose(df.p, 0.01) & (df.k == 8)
    paper &= df.sign == "pos"
    mean = df.noise_rmse[paper & (df.estimator == "mean_loo")].iloc[0]
    df.loc[paper & (df.estimator == "part_loo"), "noise_rmse"] = mean
    assert S.claims_noise(data(target_errors=df))[2].verdict == DIFF


# ------------------------------------- session 11: the rest of _claims.py (--sample 0)


def test_claim5_klchi2_error_exactly_at_the_tolerance_holds():
    # mutant: `e_kc < SCIPY_ATOL` ("both scipy solutions within 1e-6")
    sc = scipy_frame()
    sc.loc[5, "err_klchi2"] = C.SCIPY_ATOL
    assert eq(sc).verdict == REPRO


def test_claim6_ratio_leaves_out_steps_exact_pmd_does_not_take_and_quotes_six_digits():
    # mutants: `kl_exact > -0.999999999999` (a context where exact PMD stays put, KL 0,
    # gives the ratio 0/0 and a NaN median), `g(kr.max(), 7)` and `5` (the digits) and
    # `kl_mean * kl_exact` (the same numbers where the KL of exact PMD is 1), and
    # `kl_exact >= 1e-12` (a step of KL exactly 1e-12 is rounding, its ratio 1 left out)
    df = rules.conservative_frame()
    df[["kl_mean", "kl_exact"]] = [1.0, 2.0]
    df.loc[0, ["kl_mean", "kl_exact"]] = 0.0
    df.loc[1, ["kl_mean", "kl_exact"]] = [0.7123456789, 1.0]
    df.loc[2, ["kl_mean", "kl_exact"]] = 1e-12
    c = C.claim_conservative(data(conservative=df))
    assert "KL ratio mean/exact: median 0.5, max 0.712346." in c.measured


def test_claim20_fit_exactly_limit_sigmas_from_the_lambert_w_solution_holds():
    # mutant: `z_mean < LIMIT_SIGMAS` ("within 5 s.e. of the Lambert-W solution")
    sl = C.claim_sampled_limit
    assert sl(data(simplex_limit=_limit_frame_at(6.0, z_mean=5.0))).verdict == REPRO
    assert sl(data(simplex_limit=_limit_frame_at(6.0, z_mean=5.5))).verdict == DIFF


def test_claim5_without_non_constant_contexts_quotes_a_control_share_of_0():
    # mutant: `... if len(var) else -1.0` (the prose then says "-100%")
    sc = scipy_frame(n=4, n_const=4)
    c = eq(sc)
    assert "farther than 1e-06 in 0% of the non-constant contexts" in c.measured
    assert c.verdict == DIFF


def test_claim22_quotes_the_restraint_exact_minus_mean(binary_tables):
    # mutant: `log_x_pos_exact + log_x_pos` (the restraint is the difference of the two)
    ib = binary_tables[2]
    d = ib[np.isclose(ib.tau, C.PULL_TAU)].sort_values("p")
    restraint = (d.log_x_pos_exact - d.log_x_pos).to_numpy()
    mid = np.abs(d.p.to_numpy() - 0.5) <= C.MODE_ATOL
    text = C.claim_gentle_pull(data(implicit_beta=ib)).measured
    assert f"(at most {restraint.max():.2f}, {restraint[mid].max():.2g} near p = 0.5)" in text


def test_claim11_asymptote_tolerance_is_inclusive(binary_tables, monkeypatch):
    # mutant: `|ratio - 1| < ASYM_RTOL`, the bound set to this table's farthest ratio
    ib = binary_tables[2]
    top = ib[ib.tau == ib.tau.max()]
    worst = float(np.abs(top.beta / top.asym_large_tau - 1).max())
    assert worst > 0
    monkeypatch.setattr(C, "ASYM_RTOL", worst)
    assert C.claims_beta(data(implicit_beta=ib))[1].verdict == REPRO


def test_claim5_trajectory_error_exactly_at_the_tolerance_holds():
    # mutant: `err < TRAJ_ATOL` ("trajectory error <= 1e-10")
    assert eq(scipy_frame(), traj_frame(err=C.TRAJ_ATOL)).verdict == REPRO
    assert eq(scipy_frame(), traj_frame(err=2 * C.TRAJ_ATOL)).verdict == DIFF


def test_claim20_sd_shrinking_by_exactly_half_the_clt_factor_differs():
    # mutant: `shrink >= clt / 2` ("shrinks by more than half the CLT factor", 8 / 2 = 4)
    sl = C.claim_sampled_limit
    assert sl(data(simplex_limit=_limit_frame_at(6.0, d_top=2.0**-6))).verdict == REPRO
    at_half = sl(data(simplex_limit=_limit_frame_at(6.0, d_top=2.0**-5)))
    assert "shrinks 4.0x from k = 250 to 16000 (CLT: 8x)" in at_half.measured
    assert at_half.verdict == DIFF


def test_claim5_counts_the_constant_contexts():
    # mutant: `len(sc) + len(var)` for the number of contexts with constant rewards
    assert "30 random contexts" in eq(scipy_frame()).measured
    assert ", 4 with constant rewards)" in eq(scipy_frame()).measured


def test_claim8_near_points_include_p_over_tau_exactly_02(binary_tables):
    # mutant: `m.p / m.tau < 0.2`: a point at p = 0.1, tau = 0.5 (p/tau = 0.2 exactly, the
    # largest ratio among the near points here) is quoted
    blr, hp, _ = binary_tables
    m = hp[hp.method == "mean"]
    near = (m.fail_new / m.fail_bound)[m.p / m.tau <= 0.2]
    row = m.iloc[[0]].assign(p=0.1, tau=0.5)
    row["fail_new"] = row.fail_bound * (near.max() + 1.0) / 2  # between it and the bound
    assert (row.p / row.tau == 0.2).all()
    hp = pd.concat([hp, row], ignore_index=True)
    c8 = C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[1]
    want = float((row.fail_new / row.fail_bound).iloc[0])
    assert f"where p/tau <= 0.2: at most {C.g(want)}." in c8.measured


def test_claim18_spread_over_starts_exactly_at_the_tolerance_holds():
    # mutant: `spread_starts.max() < SCIPY_ATOL` ("spread over starts <= 1e-6")
    sc = scipy_frame()
    sc.loc[3, "spread_starts"] = C.SCIPY_ATOL
    assert C.claim_lambda_unique(data(simplex_scipy=sc)).verdict == REPRO


def test_claim22_hard_prompts_include_p_exactly_at_their_bound(binary_tables, monkeypatch):
    # mutant: `p < PULL_P_HARD` ("omega+ larger at every p <= 0.05"): with the bound set to
    # the grid's second p, both the first and the second p are hard prompts
    ib = binary_tables[2]
    d = ib[np.isclose(ib.tau, C.PULL_TAU)].sort_values("p")
    p, om = d.p.to_numpy(), d.omega_pos.to_numpy()
    monkeypatch.setattr(C, "PULL_P_HARD", float(p[1]))
    text = C.claim_gentle_pull(data(implicit_beta=ib)).measured
    lo = om[:2]
    assert om[0] != om[1]
    assert f"pull omega+ = lam x+: {lo.min():.2f}..{lo.max():.2f} for p <= " in text


@pytest.mark.parametrize(
    "method, quote, atol",
    [("exact", "QUOTE_P_EXACT", "QUOTE_ATOL_EXACT"), ("mean", "QUOTE_P_MEAN", "QUOTE_ATOL_MEAN")],
)
def test_claim9_exactly_its_tolerance_from_the_quote_differs(
    binary_tables, monkeypatch, method, quote, atol
):
    # mutants: `|exact - 0.9999998| <= 5e-8` and `|mean - 0.379| <= 5e-4` ("agreement to the
    # digits quoted", strict), the tolerance set to this table's own distance from the quote
    blr, hp, _ = binary_tables
    pt = hp[np.isclose(hp.p, 0.01) & np.isclose(hp.tau, 0.05)].set_index("method").p_new
    monkeypatch.setattr(C, atol, abs(pt[method] - getattr(C, quote)))
    assert getattr(C, atol) > 0
    assert C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[2].verdict == DIFF


def test_claim8_failure_mass_exactly_at_the_bounds_slack_is_not_above(binary_tables):
    # mutant: `fail_new >= fail_bound (1 + BOUND_RTOL)` counted a point exactly at the slack
    blr, hp, _ = binary_tables
    df = hp.copy()
    i = df.index[df.method == "mean"][3]
    df.loc[i, "fail_new"] = df.loc[i, "fail_bound"] * (1 + C.BOUND_RTOL)
    c8 = C.claims_binary(data(binary_log_ratios=blr, hard_prompts=df))[1]
    assert c8.verdict == REPRO and ": 0 with failure mass above the bound" in c8.measured


def test_claim8_quotes_both_ends_of_the_far_range_to_six_digits(binary_tables):
    # mutants: `g(ratio[far].min(), 7)`, `g(ratio[far].max(), 7)` and `.max(), 5)`: with
    # ends whose six digit forms differ from those, only six digits match the text
    blr, hp, _ = binary_tables
    hp = hp.copy()
    far = hp.index[(hp.method == "mean") & (hp.p / hp.tau >= 20)]
    hp.loc[far, "fail_new"] = 0.9999987654 * hp.fail_bound[far]
    hp.loc[far[0], "fail_new"] = 0.99999512345 * hp.fail_bound[far[0]]
    m = hp[hp.method == "mean"]
    ratio = (m.fail_new / m.fail_bound)[m.p / m.tau >= 20]
    lo, hi = float(ratio.min()), float(ratio.max())
    assert C.g(lo, 6) != C.g(lo, 7) and C.g(hi, 6) not in (C.g(hi, 5), C.g(hi, 7))
    c8 = C.claims_binary(data(binary_log_ratios=blr, hard_prompts=hp))[1]
    assert f"bound where p/tau >= 20: {C.g(lo, 6)}..{C.g(hi, 6)} (over" in c8.measured


def test_claim18_lambda_of_exactly_0_read_off_scipy_differs():
    # mutant: `lam_scipy >= 0` ("lam > 0 (core and scipy) for every non-constant context")
    sc = scipy_frame()
    sc.loc[~sc.constant, "lam_scipy"] = sc.lam_scipy.where(sc.index != 10, 0.0)
    assert not sc.constant[10]
    assert C.claim_lambda_unique(data(simplex_scipy=sc)).verdict == DIFF


def test_claim4_gap_at_tau_01_must_exceed_005(gap_table):
    # mutant: `GAP_AT_01_MIN = -0.95` (the rule's "gap at tau = 0.1 > 0.05" no longer
    # binding): a case whose gap at tau = 0.1 is 0.04 differs
    assert "gap at tau = 0.1 > 0.05 in every case" in _gap_claims(gap_table)[3].rule
    df = gap_table.copy()
    (case,) = df.case.unique()[:1]
    d = df[df.case == case]
    df.loc[(d.tau - 0.1).abs().idxmin(), "gap"] = 0.04
    assert _gap_claims(df)[3].verdict == DIFF


def test_claim5_a_control_exactly_the_tolerance_away_is_not_told_apart():
    # mutant: `err_control >= SCIPY_ATOL` ("farther than 1e-6"): 3 of the 26 non-constant
    # contexts at exactly 1e-6 leave 23/26 = 88% told apart, under the 90% asked for
    sc = scipy_frame()
    sc.loc[sc.index[~sc.constant][:3], "err_control"] = C.SCIPY_ATOL
    c = eq(sc)
    assert "farther than 1e-06 in 88% of the non-constant contexts" in c.measured
    assert c.verdict == DIFF


def test_claim4_law_ratio_as_far_from_1_at_both_taus_differs(gap_table):
    # mutant: `hi <= lo` ("closer to 1 than at tau = 3"): ratios 1 + 2**-5 at tau = 30 and
    # 1 - 2**-5 at tau = 3, exactly as far from 1, are not closer
    df = gap_table.copy()
    (case,) = df.case.unique()[:1]
    d = df[df.case == case]
    for t, r in zip(C.KL_ASYM_TAUS, (1 - 2.0**-5, 1 + 2.0**-5), strict=True):
        i = (d.tau - t).abs().idxmin()
        df.loc[i, ["kl_mean_exact", "kl_asym_large_tau"]] = [r, 1.0]
    assert _gap_claims(df)[3].verdict == DIFF


def test_claim4_peak_window_includes_tau_1(gap_table):
    # mutant: `tau < 1.0`: the largest KL of the window at exactly tau = 1 is its peak
    df = gap_table.copy()
    assert (df.tau == 1.0).any()
    df.loc[df.tau == 1.0, "kl_mean_exact"] = 100.0  # above every case's own peak
    text = _gap_claims(df)[3].measured
    assert all(f"{case}: 100 at tau=1" in text for case in df.case.unique())


def test_claim7_ratio_counts_exact_log_ratios_above_1e_9_only():
    # mutants: `b >= 1e-9` (an exact |log ratio| of exactly 1e-9 counted, its ratio 0.9) and
    # `b > 1.000000001` (exact |log ratios| below 1 left out, here the largest ratio 0.6)
    blr = pd.DataFrame({"method": ["exact", "mean"] * 3, "tau": 0.1,
                        "p": [0.3, 0.3, 0.4, 0.4, 0.5, 0.5],
                        "log_x_pos": [2.0, 1.0, 1e-9, 0.9e-9, 0.5, 0.3],
                        "log_x_neg": [-4.0, -1.0, -1.0, -0.5, -1.0, -0.5]})  # fmt: skip
    (c7, _, _) = C.claims_binary(data(binary_log_ratios=blr))
    assert c7.verdict == REPRO and "largest ratio |mean| / |exact| = 0.6000." in c7.measured


def test_claim6_verdict_counts_kl_counterexamples_alone():
    # mutant: `if nk and ng` (the counts shown only when both kinds occur)
    df = rules.conservative_frame()
    df.loc[3, "violation_kl"] = True
    c = C.claim_conservative(data(conservative=df))
    assert c.verdict == f"{DIFF}: 1 KL and 0 reward counterexamples (see the CSV)"
