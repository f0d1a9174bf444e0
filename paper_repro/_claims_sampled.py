r"""Claims about sampled targets, convergence, stability and the LLM run (THEORY §6-§8).

Each function reads the figure CSVs through :class:`_claims.Data` and returns
:class:`_claims.Claim` objects with the measured numbers, the rule and the verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _claims import PARTLY, Claim, Data, verdict

from pmdtheory import log_partition

STALE_K = 8  # the k of the staleness sweep in stability.py
NOISE_SD_RTOL = 0.15  # claim 13: mean ratio sample sd / theory sd (sd from 100 draws ~ 7%)
NOISE_SD_CELL_RTOL = 0.25  # claim 13: the same, averaged per (scale, tau)
LONE_BINOM_SIGMAS = 4.0  # claim 12: frequency of "no other success" vs (1-p)^(k-1)
LONE_R2_MIN = 0.9  # claim 12: variance explained by "another response succeeded"
LONE_TAU_MAX = 0.05  # claim 12, 21: "small tau"
OFFSET_SIGMAS = 3.0  # claim 14: PMD-mean's positive offset, in sd
NEG_OFFSET_SHARE = 0.1  # claim 14: |negative offset| below this share of the positive one
LOO_REF_RTOL = 1e-12  # claim 15: stable LOO partition baseline vs the mpmath reference
LOO_NAIVE_MAX = 0.5  # claim 15: the naive form's lone-success advantage (instead of 1)
LINEAR_R2 = 0.98  # claim 16
RATE_ATOL = 0.01  # claim 16: PMD-mean's asymptotic factor vs exact PMD's
JUMP_MIN = 0.8  # claim 21: tau x (target jump at the first other success), tau <= 0.05
JUMP_NEXT_MAX = 0.1  # claim 21: tau x (jump at the second other success)
SCALE_ATOL = 1e-9  # claim 17: +-1 rewards at tau against {0, 1} rewards at tau / 2


# ------------------------------------------------------------------- sample noise


def _naive_loo_partition(r: np.ndarray, tau: float, floor: float = 1e-8) -> np.ndarray:
    """The formulation THEORY §3 warns about: group total minus own term, group max."""
    m = r.max()
    e = np.exp((r - m) / tau)
    return m + tau * np.log(np.maximum((e.sum() - e) / (len(r) - 1), floor))


def naive_advantages(r, *, kind, tau):
    """Advantages with the naive LOO partition baseline (a wrong estimator, for tests)."""
    r = np.asarray(r, dtype=float)
    return np.apply_along_axis(lambda x: x - _naive_loo_partition(x, tau), -1, r)


def _loo_reference(r: np.ndarray, tau: float) -> np.ndarray:
    """LOO partition baseline in 50-digit arithmetic (mpmath), straight from THEORY §3."""
    import mpmath

    with mpmath.workdps(50):
        out = []
        for i in range(len(r)):
            terms = [mpmath.exp(mpmath.mpf(float(x)) / tau) for j, x in enumerate(r) if j != i]
            out.append(float(tau * mpmath.log(mpmath.fsum(terms) / (len(r) - 1))))
    return np.array(out)


def loo_reference_groups(seed: int = 0) -> list[tuple[np.ndarray, float]]:
    """Groups for claim 15 at tau 1e-3, 0.01, 0.05, 0.2, 1 and k 2, 4, 8: lone successes
    (one reward 1, the rest 0) first and last, ties and spread rewards (seed `seed`)."""
    gen = np.random.default_rng(seed)
    groups = []
    for tau in (1e-3, 0.01, 0.05, 0.2, 1.0):
        for k in (2, 4, 8):
            lone = np.zeros(k)
            lone[0] = 1.0
            groups += [(lone, tau), (np.roll(lone, k - 1), tau)]
            groups.append((gen.random(k), tau))
            groups.append((np.round(gen.random(k)), tau))
    return groups


def claim_stable_loo_partition(data: Data, advantages=None) -> Claim:
    """Claim 15; ``advantages`` is the estimator under test (default: pmdtheory's)."""
    if advantages is None:
        from pmdtheory.estimators import advantages

    c = Claim(
        "Leave-one-out partition baseline needs the maximum of the other rewards",
        "THEORY §3, issue 7",
        "'Group total minus own term' with the group maximum cancels when response i is the "
        "only success: rewards [1, 0, 0, 0], tau = 0.01 give it a baseline of 0.816 (after a "
        "1e-8 floor) instead of 0; a stable form must match the definition everywhere.",
        "target_errors",
    )
    worst, n = 0.0, 0
    for r, tau in loo_reference_groups():
        ref = r - _loo_reference(r, tau)
        got = np.asarray(advantages(r, kind="loo_partition", tau=tau), dtype=float)
        scale = np.maximum(np.abs(ref), 1.0)
        worst = max(worst, float(np.max(np.abs(got - ref) / scale)))
        n += 1
    tau, k = 0.01, 4
    r = np.array([1.0, 0.0, 0.0, 0.0])
    naive = r[0] - _naive_loo_partition(r, tau)[0]
    stable = float(np.asarray(advantages(r, kind="loo_partition", tau=tau))[0])
    lone = {p: k * p * (1 - p) ** (k - 1) for p in (0.01, 0.05, 0.2)}
    share = {p: v / (1 - (1 - p) ** k) for p, v in lone.items()}  # of groups with a success
    c.measured = (
        f"the estimator against a 50-digit mpmath evaluation of THEORY §3's definition over "
        f"{n} groups (k = 2..8, tau = 1e-3..1, lone successes first and last, ties, spread "
        f"rewards): max error {worst:.1e} (relative, floor 1); the lone success "
        f"[1, 0, 0, 0], tau = 0.01: {stable:.3f}, where the 'total minus own term' form "
        f"gives {naive:.3f}. Effect on hard prompts (k = {k}): among groups with at least one "
        "success, the lone-success share is "
        + ", ".join(f"{s:.0%} at p = {p:g}" for p, s in share.items())
        + f", so the naive form would shrink their only positive signal {1 / naive:.1f}x."
    )
    c.rule = (
        f"pmdtheory.estimators matches the mpmath reference to {LOO_REF_RTOL:g} in every "
        f"group, and the naive form's lone-success advantage is below {LOO_NAIVE_MAX:g} (the "
        "pitfall is real)."
    )
    c.verdict = verdict(worst <= LOO_REF_RTOL and naive < LOO_NAIVE_MAX)
    return c


def claims_noise(data: Data) -> list[Claim]:
    fig = "target_errors"
    c1 = Claim(
        "LOO partition baseline is dominated by whether another sample succeeded",
        "THEORY §6 (sample noise)",
        "With no other success the baseline is 0 and a positive's target is 1/tau (20 at "
        "tau = 0.05) instead of about -log p.",
        fig,
    )
    c2 = Claim(
        "Variance of the mean baseline",
        "THEORY §6 (sample noise)",
        "The (leave-one-out) mean baseline's target has variance p(1-p)/(k-1)/tau^2 "
        "(times the squared reward range, 4, for +-1 rewards).",
        fig,
    )
    c3 = Claim(
        "Target estimation errors (tau = 0.05, p = 0.01..0.2, k = 8, 16, 100 seeds)",
        "paper Fig. 3, THEORY §8.3",
        "PMD-part's errors are large; PMD-mean's main error is a systematic offset of the "
        "positive targets.",
        fig,
    )
    df = data[fig]
    if df is None:
        return [c1, c2, c3]
    if "scale" not in df:
        df = df.assign(scale="01")

    # claim 12: the estimator's output, not a closed form, decides
    part = df[(df.estimator == "part_loo") & (df.sign == "pos")]
    lone_gap = (part.frac_target_lone - part.frac_no_other_success).abs().max()
    theory = (1 - part.p) ** (part.k - 1)
    se = np.sqrt(theory * (1 - theory) / part.n_seeds)
    z = ((part.frac_no_other_success - theory).abs() / np.maximum(se, 1e-12)).max()
    small = part[part.tau <= LONE_TAU_MAX]
    r2 = small.r2_other_success.dropna()
    p_min = df.p.min()
    ref = part[(part.scale == "01") & (part.p == p_min) & np.isclose(part.tau, 0.05)]
    tau0 = 0.05
    # exact PMD's log ratio of the correct answer, 1/tau - log E exp(r/tau), from the core
    log_x = (1.0 - log_partition([p_min, 1.0 - p_min], [1.0, 0.0], tau0)) / tau0
    c1.measured = (
        f"{len(part)} (scale, tau, k, p) cells of PMD-part's positive targets from "
        f"pmdtheory.estimators: the share of targets equal to the lone-success value "
        f"(hi - lo)/tau differs from the share of groups with no other success by at most "
        f"{lone_gap:.3g}; that share is within {z:.1f} binomial s.e. of (1-p)^(k-1); at tau "
        f"<= {LONE_TAU_MAX:g} the indicator 'another response succeeded' explains "
        f"{r2.min():.3f}..{r2.max():.3f} of the targets' variance ({len(r2)} cells). At "
        f"p = {p_min:g}, tau = 0.05: no other success in "
        + ", ".join(
            f"{f:.0%} of groups (k={k})"
            for k, f in zip(ref.k, ref.frac_no_other_success, strict=True)
        )
        + f"; the target is then 1/tau = 20 instead of log x+ = {log_x:.3f} "
        f"(-log p = {-np.log(p_min):.3f})."
    )
    c1.rule = (
        "target = (hi - lo)/tau exactly when no other response succeeded (shares equal to "
        f"1e-12), that frequency within {LONE_BINOM_SIGMAS:g} s.e. of (1-p)^(k-1) in every "
        f"cell, and R^2 >= {LONE_R2_MIN:g} in every cell with tau <= {LONE_TAU_MAX:g}."
    )
    ok = lone_gap <= 1e-12 and z <= LONE_BINOM_SIGMAS and len(r2) and r2.min() >= LONE_R2_MIN
    c1.verdict = verdict(bool(ok))

    m = df[(df.estimator == "mean_loo") & (df.sign == "pos")]
    spread = np.where(m.scale == "pm1", 2.0, 1.0)
    theory_sd = spread * np.sqrt(m.p * (1 - m.p) / (m.k - 1)) / m.tau
    ratio = m.std_error / theory_sd
    per = ratio.groupby([m.scale, m.tau]).mean()
    c2.measured = (
        f"sample sd of PMD-mean (LOO mean) targets / (range sqrt(p(1-p)/(k-1))/tau) over "
        f"{len(m)} (scale, tau, k, p) cells of {int(m.n_seeds.iloc[0])} seeds: mean "
        f"{ratio.mean():.3f}, range {ratio.min():.2f}..{ratio.max():.2f}; mean per (scale, "
        "tau): " + ", ".join(f"{sc} tau={t:g}: {v:.3f}" for (sc, t), v in per.items()) + "."
    )
    c2.rule = (
        f"mean ratio within {NOISE_SD_RTOL:g} of 1 (sampling error of an sd from 100 draws "
        f"~ 7%) and within {NOISE_SD_CELL_RTOL:g} for every (scale, tau)."
    )
    ok = abs(ratio.mean() - 1) <= NOISE_SD_RTOL and bool(
        (np.abs(per - 1) <= NOISE_SD_CELL_RTOL).all()
    )
    c2.verdict = verdict(ok)

    pap = df[(df.scale == "01") & np.isclose(df.tau, 0.05)]
    small = pap[pap.p <= 0.05]
    piv = small.pivot_table(index=["k", "p"], columns=["estimator", "sign"], values="noise_rmse")
    part_wins = bool((piv[("part_loo", "pos")] > piv[("mean_loo", "pos")]).all())
    mp = pap[(pap.estimator == "mean_loo") & (pap.sign == "pos")]
    mn = pap[(pap.estimator == "mean_loo") & (pap.sign == "neg")]
    pp = pap[(pap.estimator == "part_loo") & (pap.sign == "pos")]
    off_pos, off_neg = mp.mean_error.abs().mean(), mn.mean_error.abs().mean()
    snr = (mp.mean_error.abs() / mp.std_error).min()
    sd_all = pp.std_error.to_numpy() / mp.std_error.to_numpy()
    sd_ratio = sd_all[(pp.p <= 0.05).to_numpy()].min()
    sweep = df[(df.p <= 0.05) & (df.sign == "pos")].pivot_table(
        index=["scale", "tau"], columns="estimator", values="noise_rmse"
    )
    sw = (sweep.part_loo / sweep.mean_loo).round(2)
    c3.measured = (
        f"tau = 0.05, rewards in {{0, 1}}: spread (sd) of the positive-target errors, PMD-part "
        f"/ PMD-mean: at least {sd_ratio:.1f}x in every (k, p) cell with p <= 0.05, down to "
        f"{sd_all.min():.2f}x at larger p (PMD-part sd "
        f"{pp.std_error.mean():.2f} on average, PMD-mean {mp.std_error.mean():.2f}); PMD-mean "
        f"positives: mean error {off_pos:.2f} on average, at least {snr:.1f} sd from 0 in "
        f"every cell (the chi^2 pull omega+ = lam x+, {mp.systematic_offset.min():.1f}.."
        f"{mp.systematic_offset.max():.1f}); PMD-mean negatives: {off_neg:.2f}. Noise RMSE "
        f"(against the population regression targets) at p <= 0.05, PMD-part / PMD-mean, "
        "over the sweep: " + ", ".join(f"{sc} tau={t:g}: {v:g}" for (sc, t), v in sw.items()) + "."
    )
    c3.rule = (
        "at tau = 0.05: PMD-part's noise RMSE > PMD-mean's in every cell with p <= 0.05; "
        f"PMD-mean's positive error >= {OFFSET_SIGMAS:g} sd from 0 in every cell; PMD-mean's "
        f"mean |negative error| < {NEG_OFFSET_SHARE:g} x its mean |positive error|; the sweep "
        "is reported, not ruled on."
    )
    ok = part_wins and snr >= OFFSET_SIGMAS and off_neg < NEG_OFFSET_SHARE * off_pos
    c3.verdict = verdict(bool(ok))
    c3.notes = (
        "Which reference the paper's Fig. 3 measures against is our reading (we could not "
        "check it; THEORY §8.3 does not say). We compare each method with its own "
        "population solution log(pi_t+1/pi_t); then PMD-mean's "
        "systematic positive offset is the chi^2 pull omega+ = lam x+. Against the "
        "population regression target (r - rbar)/tau the leave-one-out mean is unbiased and "
        "PMD-mean shows no offset at all, only noise.",
    )
    return [c1, c2, c3]


def claim_jump(data: Data) -> Claim:
    c = Claim(
        "One other success moves the LOO partition target by about 1/tau",
        "THEORY §6 (sample noise)",
        "With no other success a positive's target is 1/tau; with one it jumps by ~1/tau "
        "(further successes matter little).",
        "target_errors",
    )
    j = data["target_errors_jump"]
    if j is None:
        return c
    piv = j.pivot_table(index=["tau", "k"], columns="m_other", values="target")
    first = (piv[0] - piv[1]) * piv.index.get_level_values("tau")
    second = (piv[1] - piv[2]) * piv.index.get_level_values("tau")
    sm = first.index.get_level_values("tau") <= LONE_TAU_MAX
    c.measured = (
        "PMD-part positive target (pmdtheory.estimators) with m other successes, tau x "
        "(target(m=0) - target(m=1)): "
        + ", ".join(f"tau={t:g},k={k}: {v:.3f}" for (t, k), v in first.items())
        + f"; tau x (target(1) - target(2)) at most {second[sm].max():.3f} for tau <= "
        f"{LONE_TAU_MAX:g}."
    )
    c.rule = (
        f"for tau <= {LONE_TAU_MAX:g}: tau x first jump in [{JUMP_MIN:g}, 1] and tau x second "
        f"jump <= {JUMP_NEXT_MAX:g} for every k."
    )
    ok = (
        sm.any()
        and bool(((first[sm] >= JUMP_MIN) & (first[sm] <= 1 + 1e-12)).all())
        and bool((second[sm] <= JUMP_NEXT_MAX).all())
    )
    c.verdict = verdict(ok)
    return c


# ------------------------------------------------------------- convergence, stability


def _rates(a: pd.DataFrame) -> tuple[dict, dict, list[str]]:
    parts, rates, r2s = [], {}, {}
    for (method, tau), d in a.groupby(["method", "tau"]):
        d = d[d.subopt > 1e-12]  # above rounding noise
        d = d[d.iter >= d.iter.iloc[-1] / 2] if len(d) else d  # the later half: asymptotic rate
        if len(d) < 5:
            continue
        y = np.log(d.subopt.to_numpy())
        slope, icpt = np.polyfit(d.iter, y, 1)
        resid = y - (slope * d.iter + icpt)
        r2 = 1 - np.sum(resid**2) / np.sum((y - y.mean()) ** 2)
        rates[(method, tau)] = float(np.exp(slope))
        r2s[(method, tau)] = float(r2)
        parts.append(f"{method} tau={tau:g}: factor {np.exp(slope):.4f}/iter (R^2 {r2:.3f})")
    return rates, r2s, parts


def claim_linear(data: Data) -> Claim:
    c = Claim(
        "Exact PMD and PMD-mean converge linearly on tabular MDPs",
        "THEORY §7 (classical result), paper §4 (PMD-mean's rate)",
        "Suboptimality shrinks geometrically, faster with smaller tau; PMD-mean too, at "
        "asymptotically the same factor as exact PMD (its chi^2 weight lam vanishes as the "
        "policy becomes deterministic).",
        "convergence",
    )
    df = data["convergence"]
    if df is None:
        return c
    a = df[df.panel == "a"]
    rates, r2s, parts = _rates(a)
    verdicts = []
    for method in ("exact", "mean"):
        ex = sorted((t, r) for (m, t), r in rates.items() if m == method)
        r2m = [v for (m, _), v in r2s.items() if m == method]
        mono = all(r1 <= r2 for (_, r1), (_, r2) in zip(ex, ex[1:], strict=False))
        ok = len(ex) >= 2 and min(r2m) >= LINEAR_R2 and all(r < 1 for _, r in ex) and mono
        verdicts.append(ok)
    taus = sorted({t for (m, t) in rates if m == "exact"} & {t for (m, t) in rates if m == "mean"})
    diff = [abs(rates[("mean", t)] - rates[("exact", t)]) for t in taus]
    same = bool(taus) and max(diff) <= RATE_ATOL
    c.measured = (
        f"random MDP, 20 states x 4 actions, gamma = 0.9, exact Q, {int(a.iter.max())} "
        f"iterations; log-linear fit over the later half of the iterations with suboptimality "
        f"above 1e-12: " + "; ".join(parts) + "; |factor(PMD-mean) - factor(exact)| at most "
        f"{max(diff) if diff else float('nan'):.1e}."
    )
    c.rule = (
        f"for exact PMD and for PMD-mean: R^2 >= {LINEAR_R2:g} at every tau, contraction "
        f"factor < 1 and increasing in tau; the two factors within {RATE_ATOL:g} at every tau."
    )
    c.verdict = verdict(all(verdicts) and same)
    return c


def _ci(x: np.ndarray, level: float = 0.95) -> float:
    from scipy import stats

    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return float("inf")
    return float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))


ROBUST_TAU_MAX = 0.1  # claim 17 is about small tau (the paper trains at 0.01)


def claim_robust(data: Data) -> Claim:
    c = Claim(
        "PMD-mean is more robust to finite samples than PMD-part",
        "paper abstract and §4-5, THEORY §6",
        "The chi^2 term curbs large probability changes and makes PMD-mean robust to "
        "estimation error with limited rollouts; PMD-part (LOO partition) is fragile.",
        "stability",
    )
    st, cv = data["stability"], data["convergence"]
    if st is None:
        return c
    if "scale" not in st:
        st = st.assign(scale="01")
    keys = ["scale", "tau", "k", "staleness"]
    wide = st.pivot_table(index=[*keys, "seed"], columns="method", values=[
        "hard_frac_backwards", "final_success", "kl_mean"])  # fmt: skip
    diff_h = wide.hard_frac_backwards.part_sampled - wide.hard_frac_backwards.mean_sampled
    diff_s = wide.final_success.mean_sampled - wide.final_success.part_sampled
    cell = pd.DataFrame({
        "hard": diff_h.groupby(level=keys).mean(), "hard_ci": diff_h.groupby(level=keys).agg(_ci),
        "succ": diff_s.groupby(level=keys).mean(), "succ_ci": diff_s.groupby(level=keys).agg(_ci),
        "n": diff_h.groupby(level=keys).size(),
    }).reset_index()  # fmt: skip
    on = cell[(cell.staleness == 0) & (cell.scale == "01")]
    small = on[on.tau <= ROBUST_TAU_MAX + 1e-12]
    hard_bad = small[small.hard - small.hard_ci <= 0]
    succ_bad = small[small.succ - small.succ_ci <= 0]
    avg = st.groupby([*keys, "method"]).mean(numeric_only=True)
    mean_hard_all = avg.xs("mean_sampled", level="method").hard_frac_backwards
    mean_hard = mean_hard_all.xs(0, level="staleness")
    stale = avg.xs(("01", STALE_K), level=("scale", "k")).final_success.unstack("method")
    drops = {}
    for tau in sorted(stale.index.get_level_values("tau").unique()):
        s = stale.loc[tau].sort_index()
        if len(s) > 1:
            drops[tau] = (s.part_sampled.iloc[0] - s.part_sampled.iloc[-1],
                          s.mean_sampled.iloc[0] - s.mean_sampled.iloc[-1])  # fmt: skip
    stale_ok = bool(drops) and all(dp > dm for dp, dm in drops.values())
    # +-1 rewards at tau against {0, 1} at tau/2: the same run if the scale is honoured
    pm = st[st.scale == "pm1"]
    scale_err, n_pairs = 0.0, 0
    for (tau, k, sta, meth, seed), d in pm.groupby(["tau", "k", "staleness", "method", "seed"]):
        ref = st[(st.scale == "01") & np.isclose(st.tau, tau / 2) & (st.k == k)
                 & (st.staleness == sta) & (st.method == meth) & (st.seed == seed)]  # fmt: skip
        if len(ref):
            scale_err = max(scale_err, abs(ref.final_success.iloc[0] - d.final_success.iloc[0]))
            n_pairs += 1
    n_seeds = int(cell.n.min())

    def fmt(df_, col):
        return ", ".join(
            f"tau={r.tau:g},k={r.k}: {getattr(r, col):+.3f} +- {getattr(r, col + '_ci'):.3f}"
            for r in df_.itertuples()
        )

    txt = [
        f"{n_seeds} seeds per cell, 95% t-intervals; 'worse' = final < p0 (1 - 1e-9). Hard "
        "prompts (p0 < 0.02) worse after training, PMD-part minus PMD-mean, on-policy, "
        "{0, 1} rewards: " + fmt(on, "hard"),
        "final mean success, PMD-mean minus PMD-part: " + fmt(on, "succ"),
        "drop of final success from staleness 0 to the largest staleness (k=8), PMD-part vs "
        "PMD-mean: "
        + ", ".join(f"tau={t:g}: {dp:.3f} vs {dm:.3f}" for t, (dp, dm) in drops.items()),
        f"PMD-mean's hard-prompt fraction is {mean_hard.max():.3g} at most over the "
        f"{len(mean_hard)} on-policy cells (with stale samples up to "
        f"{mean_hard_all.max():.3g})",
        f"+-1 rewards at tau vs {{0, 1}} at tau/2: {n_pairs} paired runs, max |final success "
        f"difference| {scale_err:.1e}",
    ]
    if cv is not None:
        pc = cv[cv.panel == "c"]
        fin = pc[pc.iter == pc.iter.max()].groupby("method").reward_mean.mean()
        txt.append(
            "prompt population (convergence, panel c), final success: "
            + ", ".join(f"{m}: {v:.3f}" for m, v in fin.sort_values().items())
        )
    c.measured = "; ".join(txt) + "."
    c.rule = (
        f"in every on-policy cell with tau <= {ROBUST_TAU_MAX:g} ({{0, 1}} rewards): PMD-part "
        "leaves more hard prompts worse off and ends lower, both with the 95% interval of "
        "the paired difference above 0; PMD-part loses more from staleness at every tau; "
        f"+-1 runs equal the tau/2 runs to {SCALE_ATOL:g}. All: reproduced; some: partly."
    )
    parts = {
        "hard prompts": hard_bad.empty,
        "final success": succ_bad.empty,
        "staleness": stale_ok,
        "+-1 scale": n_pairs > 0 and scale_err <= SCALE_ATOL,
    }
    if all(parts.values()):
        c.verdict = verdict(True)
    elif not any(parts.values()):
        c.verdict = verdict(False)
    else:
        failed = []
        if not hard_bad.empty:
            failed.append("hard prompts not significant at " + ", ".join(
                f"tau={r.tau:g},k={r.k}" for r in hard_bad.itertuples()))  # fmt: skip
        if not succ_bad.empty:
            failed.append("final success not significant at " + ", ".join(
                f"tau={r.tau:g},k={r.k}" for r in succ_bad.itertuples()))  # fmt: skip
        failed += [name for name in ("staleness", "+-1 scale") if not parts[name]]
        c.verdict = f"{PARTLY}: " + "; ".join(failed)
    notes = []
    if (mean_hard == 0).all():
        notes.append(
            "PMD-mean leaves no hard prompt worse in any on-policy cell, but this zero is "
            "structural, "
            "not evidence of chi^2 robustness: the group-mean baseline's targets sum to zero "
            "over a group, so a prompt whose group has no success gets no update at all, and "
            "one tabular fitted step on zero-sum targets cannot lower its success probability. "
            "PMD-part's LOO partition targets do not sum to zero. With stale samples the "
            "step is taken from an older policy and PMD-mean's fraction is no longer zero."
        )
    big = on[(on.tau > ROBUST_TAU_MAX + 1e-12) & (on.succ + on.succ_ci < 0)]
    if len(big):
        notes.append(
            "At larger tau the order of final success reverses: PMD-part ends significantly "
            "higher at "
            + ", ".join(f"tau={r.tau:g},k={r.k}" for r in big.itertuples())
            + " (our reading, not tested: PMD-mean's chi^2 restraint costs speed where the "
            "sampling noise it guards against is small); the paper's setting is small tau "
            "(0.01)."
        )
    grpo = [m for m in ("grpo", "grpo_regression") if cv is not None and m in fin]
    for m in grpo:
        if fin[m] > fin.get("mean_sampled", np.inf):
            notes.append(
                f"{m} ends higher than sampled PMD-mean in our tabular prompt population "
                f"({fin[m]:.3f} vs {fin['mean_sampled']:.3f}); the paper reports the "
                "opposite order for LLM training. Our simulator is not an LLM, so this does "
                "not refute the paper, but we do not reproduce PMD-mean > GRPO here."
            )
    c.notes = tuple(notes)
    return c
