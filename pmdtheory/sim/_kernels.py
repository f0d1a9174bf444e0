"""Private Numba kernels of the simulators: one PMD iteration over a batch of contexts.

No validation here (:mod:`pmdtheory.sim.run` does it once). Every kernel runs its
outer loop over blocks of contexts with ``prange``; a block writes only its own
rows, and every random number is a hash of (seed, iteration, context, sample),
so results do not depend on the thread count.

Per-context statistics go into ``stats[:, j]``, ``j`` one of the column
constants REWARD ... W_NEG below (sums of errors, squared errors and weights, so
that :mod:`pmdtheory.sim.run` can pool them over contexts).
"""

import math

import numpy as np
from numba import njit, prange

from pmdtheory._kernels import _exact_row, _mean_row
from pmdtheory.sim._fit import _fit_row, _grpo_row
from pmdtheory.sim._rng import (
    STREAM_ACTION,
    STREAM_NORMAL,
    STREAM_REWARD,
    normal,
    uniform,
)

# stats columns
REWARD, KL, ENTROPY, LAM, ERR_POS, SQ_POS, W_POS, ERR_NEG, SQ_NEG, W_NEG = range(10)
N_STATS = 10

# baseline codes (names in pmdtheory.estimators.BASELINES order)
MEAN, LOO_MEAN, PARTITION, LOO_PARTITION, GRPO = range(5)
# population method codes
POP_EXACT, POP_MEAN, POP_NONE = range(3)
# how a sampled method updates the logits: the PMD regression fit, or GRPO's
# clipped-ratio policy gradient
FIT_REGRESSION, FIT_GRPO = range(2)

# rows per parallel block: scratch arrays are allocated once per block
_BLOCK = 256
# rows up to this many actions draw by a branch-free linear count (no mispredicted
# branches, SIMD), longer rows by binary search
_LINEAR_SEARCH = 256


@njit(cache=True)
def _search(cdf, u):
    """First index with cdf > u."""
    lo = 0
    hi = cdf.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    # u rounded up to the total (probability ~1e-16): step back over the
    # zero-probability entries at the end, so the draw stays in the support
    while lo > 0 and cdf[lo] == cdf[lo - 1]:
        lo -= 1
    return lo


@njit(cache=True)
def _count_below(cdf, u):
    """First index with cdf > u, as a branch-free count (vectorises; for short rows)."""
    c = 0
    for a in range(cdf.size):
        c += cdf[a] <= u
    if c == cdf.size:  # u rounded up to the total: back into the support
        c -= 1
        while c > 0 and cdf[c] == cdf[c - 1]:
            c -= 1
    return c


@njit(cache=True)
def _row_stats(logpi_new, logpi_prev, R, stats):
    """Expected reward, KL(new || prev) and entropy of the new policy."""
    reward = 0.0
    kl = 0.0
    ent = 0.0
    for a in range(logpi_new.size):
        if logpi_new[a] > -math.inf:
            p = math.exp(logpi_new[a])
            reward += p * R[a]
            kl += p * (logpi_new[a] - logpi_prev[a])
            ent -= p * logpi_new[a]
    stats[REWARD] = reward
    stats[KL] = kl
    stats[ENTROPY] = ent


@njit(cache=True)
def _baselines(r, kind, tau, eps, B):
    """Group baselines B_i of THEORY §3 for one prompt's k rewards; returns the target scale.

    Targets are ``(r_i - B_i) * scale``: ``scale = 1/tau`` except for GRPO,
    whose advantage ``(r - mean)/(std + eps)`` is divided by tau as well.
    """
    k = r.size
    total = 0.0
    for i in range(k):
        total += r[i]
    mean = total / k
    scale = 1.0 / tau
    if kind == MEAN:
        for i in range(k):
            B[i] = mean
    elif kind == LOO_MEAN:
        for i in range(k):
            B[i] = (total - r[i]) / (k - 1)
    elif kind == GRPO:
        ss = 0.0
        for i in range(k):
            ss += (r[i] - mean) ** 2
        std = math.sqrt(ss / (k - 1)) if k > 1 else 0.0
        for i in range(k):
            B[i] = mean
        scale = 1.0 / ((std + eps) * tau)
    else:
        # log-mean-exp with the group maximum m1 subtracted (no overflow at small tau)
        i1 = 0
        for i in range(k):
            if r[i] > r[i1]:
                i1 = i
        m1 = r[i1]
        s1 = 0.0
        for i in range(k):
            s1 += math.exp((r[i] - m1) / tau)
        if kind == PARTITION:
            part = m1 + tau * (math.log(s1) - math.log(k))
            for i in range(k):
                B[i] = part
        else:
            # Leave-one-out: for i != i1 the others contain the maximum, so their
            # sum s1 - e_i is >= 1 >= e_i and the subtraction loses at most one bit.
            # For i = i1 the sum is recomputed with the maximum of the *others*
            # (THEORY §3): group total minus own term would cancel to 0 when i1 is
            # the only success.
            m2 = -math.inf
            for i in range(k):
                if i != i1 and r[i] > m2:
                    m2 = r[i]
            s2 = 0.0
            for i in range(k):
                if i != i1:
                    s2 += math.exp((r[i] - m2) / tau)
            log_km1 = math.log(k - 1)
            for i in range(k):
                if i == i1:
                    B[i] = m2 + tau * (math.log(s2) - log_km1)
                else:
                    B[i] = m1 + tau * (math.log(s1 - math.exp((r[i] - m1) / tau)) - log_km1)
    return scale


@njit(cache=True)
def _grpo_advantages(r, eps, A):
    """GRPO's group advantages ``(r_i - mean) / (std + eps)``, std with Bessel's correction.

    As TRL's ``GRPOTrainer`` (``scale_rewards="group"``, ``std + 1e-4``); k >= 2.
    """
    k = r.size
    mean = 0.0
    for i in range(k):
        mean += r[i]
    mean /= k
    ss = 0.0
    for i in range(k):
        ss += (r[i] - mean) ** 2
    inv = 1.0 / (math.sqrt(ss / (k - 1)) + eps)  # eps > 0 (checked by run)
    for i in range(k):
        A[i] = (r[i] - mean) * inv


@njit(cache=True)
def _sample_rewards(ps, R, noise, sigma, seed, it, ctx, cdf, y, r):
    """Draw k actions from the probabilities ``ps`` by inverse CDF, and their rewards."""
    acc = 0.0
    for a in range(ps.size):
        acc += ps[a]
        cdf[a] = acc
    for i in range(y.size):
        u = uniform(seed, it, ctx, i, STREAM_ACTION) * acc
        # first index with cdf > u: its probability is positive since cdf jumps there
        a = _search(cdf, u) if ps.size > _LINEAR_SEARCH else _count_below(cdf, u)
        y[i] = a
        if noise == 0:
            r[i] = R[a]
        elif noise == 1:
            r[i] = 1.0 if uniform(seed, it, ctx, i, STREAM_REWARD) < R[a] else 0.0
        else:
            r[i] = R[a] + sigma * normal(seed, it, ctx, i, STREAM_NORMAL)


@njit(cache=True)
def _log_partition_w(ps, R, tau):
    """(tau log sum_a ps_a exp(R_a/tau), sum_a ps_a R_a) for probabilities ``ps``."""
    rmax = -math.inf
    for a in range(ps.size):
        if ps[a] > 0.0 and R[a] > rmax:
            rmax = R[a]
    s = 0.0
    rbar = 0.0
    r_last = math.nan
    w_last = 0.0
    for a in range(ps.size):
        if ps[a] > 0.0:
            rbar += ps[a] * R[a]
            # shifted by the maximum reward on the support: no overflow at small tau;
            # the exponential is reused while the reward repeats (binary rewards:
            # a handful of exponentials per row instead of n)
            if R[a] != r_last:
                r_last = R[a]
                w_last = math.exp((r_last - rmax) / tau)
            s += ps[a] * w_last
    return rmax + tau * math.log(s), rbar


@njit(cache=True)
def _target_errors(logpi_samp, ps, R, y, t, baseline, tau, eps, lx, rs, st):
    """Pool the target errors of one context into ``st`` (THEORY §3, paper Fig. 3).

    The error of target ``t_i`` is ``t_i - log x(y_i)``, with ``log x`` the
    log-ratio of the population solution that the estimator stands in for, at
    the sampling policy: exact PMD for the partition baselines,
    ``(R - tau log Z)/tau``; PMD-mean (Lambert W) for the mean baselines; for
    GRPO, PMD-mean with rewards ``R / (sd + eps)``, sd the population standard
    deviation. Responses with ``R > rbar`` count as positive. ``lx`` and ``rs``
    are scratch rows. Returns the PMD-mean multiplier lam at the sampling
    policy when it was computed (mean baselines), else NaN.
    """
    lam = math.nan
    n = ps.size
    rbar = 0.0
    for a in range(n):
        rbar += ps[a] * R[a]
    if baseline == PARTITION or baseline == LOO_PARTITION:
        logz, _ = _log_partition_w(ps, R, tau)
        for a in range(n):
            lx[a] = (R[a] - logz) / tau
    else:
        if baseline == GRPO:
            var = 0.0
            for a in range(n):
                var += ps[a] * (R[a] - rbar) ** 2
            c = 1.0 / (math.sqrt(var) + eps)
            for a in range(n):
                rs[a] = R[a] * c
            _mean_row(logpi_samp, rs, tau, lx)
        else:
            lam = _mean_row(logpi_samp, R, tau, lx)
        for a in range(n):
            if logpi_samp[a] > -math.inf:
                lx[a] -= logpi_samp[a]
    for i in range(y.size):
        err = t[i] - lx[y[i]]
        base = ERR_POS if R[y[i]] > rbar else ERR_NEG
        st[base] += err
        st[base + 1] += err * err
        st[base + 2] += 1.0
    return lam


@njit(cache=True, parallel=True)
def _sampled_step(
    logpi,
    pi,
    logpi_samp,
    pi_samp,
    on_policy,
    R,
    noise,
    sigma,
    k,
    baseline,
    tau,
    eps,
    lr,
    fit_steps,
    fit_kind,
    clip,
    seed,
    it,
    diag_stride,
    out,
    pi_out,
    stats,
):
    """One sampled PMD iteration (THEORY §3) for every context; writes out, pi_out, stats.

    ``pi = exp(logpi)`` and ``pi_samp = exp(logpi_samp)`` come in with the
    log-policies, and ``pi_out = exp(out)`` goes out: the probabilities are
    carried from one iteration to the next instead of being recomputed (the
    exponentials are a large part of the cost). ``on_policy`` says that the
    sampling policy is the current one (they may be the very same arrays); then
    the diagnostics' PMD-mean solve serves both the targets and the implied beta.
    ``fit_kind`` FIT_REGRESSION fits the targets of ``baseline`` with
    ``fit_steps`` gradient steps; FIT_GRPO takes ``fit_steps`` steps of GRPO's
    clipped surrogate (``clip``) on its advantages (``baseline`` unused).
    Diagnostics (implied beta, target errors) are computed for the rows that
    are multiples of ``diag_stride`` (0: none); the other rows' LAM is NaN and
    their error sums are 0.
    """
    P, n = logpi.shape
    n_blocks = (P + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        cdf = np.empty(n)
        g = np.empty(n)
        y = np.empty(k, dtype=np.int64)
        r = np.empty(k)
        B = np.empty(k)
        t = np.empty(k)
        for row in range(blk * _BLOCK, min(P, (blk + 1) * _BLOCK)):
            ps = pi_samp[row]
            _sample_rewards(ps, R[row], noise, sigma, seed, it, row, cdf, y, r)
            if fit_kind == FIT_GRPO:
                _grpo_advantages(r, eps, t)
            else:
                scale = _baselines(r, baseline, tau, eps, B)
                for i in range(k):
                    t[i] = (r[i] - B[i]) * scale
            st = stats[row]
            for j in range(ERR_POS, N_STATS):
                st[j] = 0.0
            st[LAM] = math.nan
            if diag_stride > 0 and row % diag_stride == 0:
                # a PMD-mean solve per row, several times the rest of the step:
                # hence optional, or on every diag_stride-th row only
                lam = math.nan
                if fit_kind == FIT_REGRESSION:
                    lam = _target_errors(
                        logpi_samp[row], ps, R[row], y, t, baseline, tau, eps, cdf, g, st
                    )
                if not (on_policy and lam == lam):  # lam is NaN unless it was solved
                    lam = _mean_row(logpi[row], R[row], tau, g)
                st[LAM] = lam
            if fit_kind == FIT_GRPO:
                reward, kl, ent = _grpo_row(
                    logpi[row], pi[row], logpi_samp[row], y, t, R[row], lr, fit_steps, clip, g,
                    out[row], pi_out[row],
                )  # fmt: skip
            else:
                reward, kl, ent = _fit_row(
                    logpi[row], pi[row], logpi_samp[row], y, t, R[row], tau, lr, fit_steps, g,
                    out[row], pi_out[row],
                )  # fmt: skip
            st[REWARD] = reward
            st[KL] = kl
            st[ENTROPY] = ent


@njit(cache=True, parallel=True)
def _population_step(logpi, R, tau, method, diag_stride, out, stats):
    """One population PMD iteration (THEORY §2, §4) for every context.

    ``method`` is POP_EXACT or POP_MEAN (then ``out`` is written), or POP_NONE
    (``out`` already holds the new policy and only statistics are computed).
    With diagnostics (rows that are multiples of ``diag_stride``; 0: none),
    target errors (the regression target minus the method's own log-ratio) are
    pi_t-weighted over positive (R > rbar) and negative actions: 0 for exact
    PMD, the chi2 pull omega = lam x for PMD-mean; and the implied lam.
    """
    P, n = logpi.shape
    n_blocks = (P + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        scratch = np.empty(n)
        for p in range(blk * _BLOCK, min(P, (blk + 1) * _BLOCK)):
            st = stats[p]
            for j in range(ERR_POS, N_STATS):
                st[j] = 0.0
            lam = math.nan
            diag = diag_stride > 0 and p % diag_stride == 0
            if method == POP_MEAN:
                lam = _mean_row(logpi[p], R[p], tau, out[p])
            else:
                if method == POP_EXACT:
                    _exact_row(logpi[p], R[p], tau, out[p])
                if diag:
                    lam = _mean_row(logpi[p], R[p], tau, scratch)
            st[LAM] = lam
            if method != POP_NONE and diag:
                rbar = 0.0
                for a in range(n):
                    if logpi[p, a] > -math.inf:
                        rbar += math.exp(logpi[p, a]) * R[p, a]
                for a in range(n):
                    if logpi[p, a] > -math.inf:
                        w = math.exp(logpi[p, a])
                        # PMD-mean's target (R - rbar)/tau minus its own log-ratio is
                        # omega = lam x, the chi2 pull (THEORY §4); exact PMD's is 0
                        err = 0.0
                        if method == POP_MEAN:
                            err = (R[p, a] - rbar) / tau - (out[p, a] - logpi[p, a])
                        base = ERR_POS if R[p, a] > rbar else ERR_NEG
                        st[base] += w * err
                        st[base + 1] += w * err * err
                        st[base + 2] += w
            _row_stats(out[p], logpi[p], R[p], st)
