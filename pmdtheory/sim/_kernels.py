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
from numba import njit, prange, types

from pmdtheory._kernels import _exact_row, _mean_row
from pmdtheory.baselines import ROW_SIGNATURE
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

# the population update a baseline's targets are compared with (its record's
# ``estimates``): exact PMD, PMD-mean, PMD-mean of std-normalised rewards (GRPO)
EST_EXACT, EST_MEAN, EST_MEAN_STD = range(3)
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
def _target_errors(logpi_samp, ps, R, y, t, estimate, tau, eps, lx, rs, st):
    """Pool the target errors of one context into ``st`` (THEORY §3, paper Fig. 3).

    The error of target ``t_i`` is ``t_i - log x(y_i)``, with ``log x`` the
    log-ratio of the population solution that the estimator stands in for, at
    the sampling policy (``estimate``): EST_EXACT, exact PMD
    ``(R - tau log Z)/tau`` (the partition baselines); EST_MEAN, PMD-mean (Lambert
    W; the mean baselines); EST_MEAN_STD, PMD-mean with rewards ``R / (sd + eps)``,
    sd the population standard deviation (GRPO). Responses with ``R > rbar``
    count as positive. ``lx`` and ``rs`` are scratch rows. Returns the PMD-mean
    multiplier lam at the sampling policy when it was computed (mean baselines),
    else NaN.
    """
    lam = math.nan
    n = ps.size
    rbar = 0.0
    for a in range(n):
        rbar += ps[a] * R[a]
    if estimate == EST_EXACT:
        logz, _ = _log_partition_w(ps, R, tau)
        for a in range(n):
            lx[a] = (R[a] - logz) / tau
    else:
        if estimate == EST_MEAN_STD:
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


_F2 = types.float64[:, ::1]
_I = types.int64
_F = types.float64


# An explicit signature: the baseline's row kernel comes in as a first-class function
# (one compiled, cached step for every registered baseline, new ones included).
@njit(
    types.void(
        _F2, _F2, _F2, _F2, types.boolean, _F2, _I, _F, _I, types.FunctionType(ROW_SIGNATURE),
        _I, _F, _F, _F, _I, _I, _F, _I, _I, _I, _F2, _F2, _F2,
    ),
    cache=True,
    parallel=True,
)  # fmt: skip
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
    estimate,
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
    ``baseline`` is the row kernel of a :class:`pmdtheory.baselines.Baseline`
    (``B, d``: advantages ``(r - B)/d``) and ``estimate`` its EST_* code.
    ``fit_kind`` FIT_REGRESSION fits the targets ``A/tau`` with ``fit_steps``
    gradient steps; FIT_GRPO takes ``fit_steps`` steps of GRPO's clipped
    surrogate (``clip``) on the advantages ``A`` (``baseline`` is then GRPO's).
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
            d = baseline(r, tau, eps, B)
            scale = 1.0 / d if fit_kind == FIT_GRPO else 1.0 / (d * tau)
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
                        logpi_samp[row], ps, R[row], y, t, estimate, tau, eps, cdf, g, st
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
