"""The baseline registry: each record's Numba row kernel against its array-API formula
(numpy and torch), the record's checks, and a toy baseline, registered as one record,
run through every front end (estimators, simulator, torch, TRL, CLI; verl in
tests/test_verl_real.py)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from array_api_compat import array_namespace

from pmdtheory import baselines
from pmdtheory.baselines import BASELINES, ROW_SIGNATURE, Baseline, get, register
from pmdtheory.estimators import advantages
from pmdtheory.sim import Bandit, PromptPopulation, run
from pmdtheory.sim import _kernels as K
from pmdtheory.sim.run import METHODS, _estimate_code

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
import _sim_reference as ref  # noqa: E402
import _toy_baseline as toy  # noqa: E402
from _sim_asserts import assert_step_matches  # noqa: E402

TOL_ROW = 1e-12  # row kernel against the array formula, relative to 1 + max |r| / tau
TOL_TORCH = 1e-13  # the formula on torch float64 tensors against numpy
TOL_REF = 1e-11  # simulator step against the numpy reference (tests/test_sim_run.py)
BUILTIN = ("mean", "loo_mean", "partition", "loo_partition", "grpo")


def _groups():
    rng = np.random.default_rng(0)
    yield np.array([1.0, 0.0, 0.0, 0.0])  # a lone success
    yield np.array([1.0, 1.0, 0.0])  # tied maxima
    yield np.array([0.3])  # a group of one
    yield np.array([2.0, 2.0])  # constant
    yield np.array([0.5, -1.0])  # two different rewards (GRPO's std over k - 1 = 1)
    yield rng.uniform(size=9)
    yield rng.normal(size=5) * 3
    yield (rng.uniform(size=16) < 0.2).astype(float)


def _row_advantages(b, r, tau, eps):
    B = np.full_like(r, np.nan)  # an entry the kernel does not write stays NaN
    d = b.row(r, tau, eps, B)
    return (r - B) / d


@pytest.mark.parametrize("name", BUILTIN)
def test_row_kernel_equals_the_array_formula(name):
    b = BASELINES[name]
    # tau = 1e-3 puts a lone success 1000 tau above the rest: exp(-1000) is 0, so a
    # leave-one-out sum must subtract the others' own maximum
    for tau in (1e-3, 0.01, 0.3, 5.0):
        for r in _groups():
            want = b.formula(np, r[None], None, np.float64(r.size), tau, 1e-4)
            want = (r[None] - want[0]) / want[1]
            got = _row_advantages(b, r, tau, 1e-4)
            scale = 1.0 + np.abs(r).max() / tau
            np.testing.assert_allclose(got, want[0], atol=TOL_ROW * scale, rtol=0)
            t = torch.tensor(r[None])
            k = torch.full((1, 1), r.size * 1.0, dtype=t.dtype)
            bt, dt = b.formula(array_namespace(t), t, None, k, tau, 1e-4)
            np.testing.assert_allclose(((t - bt) / dt).numpy(), want, atol=TOL_TORCH * scale)


@pytest.mark.parametrize("name", BUILTIN)
def test_formula_takes_any_number_of_leading_axes(name):
    # the formula's contract, r (..., m): one group alone (1-d, as estimators passes a
    # single group) and a (2, 3, m) stack equal the groups one row at a time. Mutant:
    # `_max` over axis +1 instead of -1 (the same on 2-d input only)
    rng = np.random.default_rng(3)
    R = rng.normal(size=(2, 3, 6))
    formula = BASELINES[name].formula
    B, d = formula(np, R, None, np.float64(6), 0.3, 1e-4)
    for idx in np.ndindex(2, 3):
        b1, d1 = formula(np, R[idx], None, np.float64(6), 0.3, 1e-4)
        b2, d2 = formula(np, R[idx][None], None, np.float64(6), 0.3, 1e-4)
        want = (R[idx] - b2[0]) / np.squeeze(d2)
        np.testing.assert_allclose((R[idx] - b1) / d1, want, rtol=1e-15, atol=1e-15)
        got = (R[idx] - np.broadcast_to(B, R.shape)[idx]) / np.broadcast_to(d, (2, 3, 1))[idx]
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)


def _padding_error(formula, tau=0.3):
    """Largest difference of the advantages of groups of different sizes side by side, as
    group_advantages lays them out (padded with NaN, huge and tiny values), from the same
    groups one at a time (NaN when the padding reached a reduction)."""
    groups = list(_groups())
    m = max(r.size for r in groups) + 2
    pad = np.resize([np.nan, 1e300, -1e300, 1e-300], m)
    R = np.array([np.concatenate([r, pad[r.size :]]) for r in groups])
    valid = np.arange(m) < np.array([[r.size] for r in groups])
    k = valid.sum(axis=1, keepdims=True).astype(float)
    # a padded entry may reach log1p(-1) = -inf, which is then dropped (numpy warns; the
    # front ends that pad run on torch)
    with np.errstate(divide="ignore", invalid="ignore"):
        B, d = formula(np, R, valid, k, tau, 1e-4)
        A = (R - B) / d
    err = []
    for i, r in enumerate(groups):
        want_b, want_d = formula(np, r[None], None, np.float64(r.size), tau, 1e-4)
        want = ((r[None] - want_b) / want_d)[0]
        err.append(np.abs(A[i, : r.size] - want) / (1 + np.abs(want)))
    return np.max(np.concatenate(err))  # NaN if any is


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("tau", [1e-3, 0.3])
def test_padding_changes_nothing(name, tau):
    # mutants: GRPO's padded deviations filled with +-1 instead of 0 (they entered the
    # standard deviation); the leave-one-out partition's maxima flipped (`r != m1`) under a
    # mask, so that a lone success 1000 tau above the rest was summed as total minus own
    assert _padding_error(BASELINES[name].formula, tau) <= TOL_TORCH


def test_padding_check_can_fail():
    # GRPO's formula told that every entry is valid: the padding enters its sums
    def unmasked(xp, r, valid, k, tau, eps):
        return BASELINES["grpo"].formula(xp, r, None, k, tau, eps)

    with np.errstate(invalid="ignore", over="ignore"):
        assert not _padding_error(unmasked) <= TOL_TORCH


_BOUNDS_SCRIPT = """
import numpy as np
from pmdtheory.baselines import BASELINES
for b in BASELINES.values():
    for r in ([0.3], [1.0, 0.0], [0.0, 2.0, 2.0, 1.0]):
        r = np.array(r)
        B = np.full_like(r, np.nan)
        b.row(r, 0.1, 1e-4, B)
        assert np.isfinite(B).all(), (b.name, r, B)
print("ok")
"""


def test_row_kernels_index_within_their_arrays(tmp_path):
    # Numba does not check bounds: a group of one read or written one entry past its end
    # went unnoticed (mutants: `i1 = 1` as the running argmax's start, GRPO's `B[1] = 0`)
    from _boundscheck import assert_runs_bounds_checked

    assert_runs_bounds_checked(_BOUNDS_SCRIPT, tmp_path)


def test_row_kernel_check_can_fail():
    # a wrong kernel (the mean where the leave-one-out mean belongs) is caught
    r = np.array([1.0, 0.0, 0.0, 0.0])
    wrong = _row_advantages(BASELINES["mean"], r, 0.1, 1e-4)
    want = BASELINES["loo_mean"].formula(np, r, None, np.float64(4), 0.1, 1e-4)[0]
    assert np.abs(wrong - (r - want)).max() > 1e3 * TOL_ROW


def test_records_are_checked():
    b = BASELINES["mean"]
    for field, value in [("name", "not a name"), ("estimates", "part"), ("min_group", 0)]:
        kw = dict(name="x", formula=b.formula, row=b.row)
        kw[field] = value
        with pytest.raises(ValueError, match=f"^{field}:"):
            Baseline(**kw)
    with pytest.raises(ValueError, match="^baseline: 'mean' is already registered"):
        register(b)
    with pytest.raises(ValueError, match="^baseline: must be one of 'mean', 'loo_mean'"):
        get("median")
    assert tuple(BASELINES)[:5] == BUILTIN


def test_records_cannot_be_changed_in_place():
    # a registered record is what every front end already took its name and flags from;
    # changing one in place would leave them disagreeing (mutant: `frozen=False`)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        BASELINES["mean"].needs_tau = True


def test_builtin_records_match_the_documented_table():
    # mutant: `std_normalised=False` for grpo (the simulator would then score GRPO's
    # targets against PMD-mean of the raw rewards, and take no eps)
    got = {n: (BASELINES[n].needs_tau, BASELINES[n].estimates, BASELINES[n].std_normalised,
               BASELINES[n].min_group) for n in BUILTIN}  # fmt: skip
    assert got == {
        "mean": (False, "mean", False, 1),
        "loo_mean": (False, "mean", False, 1),
        "partition": (True, "exact", False, 1),
        "loo_partition": (True, "exact", False, 1),
        "grpo": (False, "mean", True, 1),
    }


def test_grpo_eps_default_gives_trls_number():
    # the default eps of every front end is TRL's 1e-4: r = [1, 0, 0, 0] (mean 1/4, std 1/2)
    # gives TRL's 1.49970 (mutant: GRPO_EPS = 1.0001)
    got = advantages([1.0, 0.0, 0.0, 0.0], kind="grpo")[0]
    assert got == pytest.approx(0.75 / (0.5 + 1e-4), rel=1e-14)


def test_leave_one_out_partition_of_a_lone_success_far_above_the_rest():
    # mutants: the others' maximum m2 taken over the maximiser alone, or over every
    # other response in turn (`not i != i1`, `i != i1 or`); at tau = 1e-3 the others
    # then sum to exp(-1000) = 0 or exp(900) = inf. The argmax started at index -1 missed
    # a maximiser in the last place (then summed as total minus own, 1 - 1 = 0).
    tau = 1e-3
    for r in ([1.0, 0.0, 0.0, 0.0], [1.0, 0.9, 0.0], [0.0, 0.0, 1.0]):
        r = np.array(r)
        B = np.empty_like(r)
        BASELINES["loo_partition"].row(r, tau, 1e-4, B)
        top = int(np.argmax(r))
        others = np.delete(r, top)
        m2 = others.max()
        want = m2 + tau * np.log(np.mean(np.exp((others - m2) / tau)))
        assert np.isfinite(B).all(), B
        np.testing.assert_allclose(B[top], want, rtol=1e-15, atol=0)


@pytest.fixture
def toy_baseline():
    with toy.registered() as b:
        yield b
    assert toy.NAME not in BASELINES


def test_toy_baseline_reaches_estimators_torch_and_simulator(toy_baseline):
    r = np.array([[1.0, 0.0, 0.5], [0.2, 0.2, 0.7]])
    want = r - r.max(axis=1, keepdims=True)
    np.testing.assert_array_equal(advantages(r, kind=toy.NAME), want)
    with pytest.raises(ValueError, match="^r: baseline 'toy_max' needs groups of at least 2"):
        advantages([1.0], kind=toy.NAME)
    from pmdtheory.bridge import group_advantages

    got = group_advantages(torch.tensor(r.ravel()), [0, 0, 0, 1, 1, 1], baseline=toy.NAME)
    np.testing.assert_array_equal(got.numpy(), want.ravel())
    with pytest.raises(ValueError, match="^index: every group needs >= 2"):
        group_advantages(torch.tensor([1.0, 0.0, 1.0]), [0, 0, 1], baseline=toy.NAME)
    # the simulator: a method of its own, and its step equals the numpy reference
    assert METHODS[f"{toy.NAME}_sampled"].baseline == toy.NAME
    env = Bandit.random(40, 6, noise="bernoulli", seed=2)
    logpi = env.logpi0.copy()
    out, pi_out, stats = np.empty_like(logpi), np.empty_like(logpi), np.empty((40, K.N_STATS))
    toy_baseline.row.compile(ROW_SIGNATURE)
    K._sampled_step(
        logpi, np.exp(logpi), logpi, np.exp(logpi), True, env.R, env.noise_code, env.sigma, 4,
        toy_baseline.row, _estimate_code(toy_baseline), 0.2, 1e-4, 3.0, 2, K.FIT_REGRESSION,
        0.2, 7, 1, 1, out, pi_out, stats,
    )  # fmt: skip
    want_step = ref.sampled_step(
        logpi, logpi, env.R, k=4, baseline=toy.NAME, tau=0.2, lr=3.0, fit_steps=2, seed=7,
        it=1, noise="bernoulli", sigma=env.sigma,
    )  # fmt: skip
    assert_step_matches(out, pi_out, stats, *want_step[:4], TOL_REF)
    prompts = PromptPopulation.random(30, 5, seed=1)
    df = run(prompts, f"{toy.NAME}_sampled", iters=2, k=3)
    assert np.isfinite(df["reward_mean"]).all()
    alt = run(prompts, "mean_sampled", iters=2, k=3, baseline=toy.NAME)
    np.testing.assert_array_equal(alt.iloc[:, 2:].to_numpy(), df.iloc[:, 2:].to_numpy())
    with pytest.raises(ValueError, match="^k must be >= 2 for method 'toy_max_sampled'"):
        run(prompts, f"{toy.NAME}_sampled", iters=1, k=1)


def test_toy_baseline_reaches_trl(toy_baseline, tmp_path):
    pytest.importorskip("trl")
    from pmdtheory.bridge.trl import PMDConfig, _score_groups

    args = PMDConfig(
        output_dir=str(tmp_path), pmd_baseline=toy.NAME, report_to="none", use_cpu=True,
        bf16=False,
    )  # fmt: skip
    assert args.pmd_baseline == toy.NAME
    r = torch.tensor([1.0, 0.0, 0.5, 0.2, float("nan"), 0.7, 0.1, float("nan")])
    adv, w, _ = _score_groups(r, 4, baseline=toy.NAME, tau=0.1)
    # as TRL feeds them: NaN (unscored) responses leave the group; one left: below min_group
    np.testing.assert_array_equal(w.numpy(), [1, 1, 1, 1, 0, 1, 1, 0])
    np.testing.assert_allclose(adv.numpy(), [0.0, -1.0, -0.5, -0.8, 0, 0, -0.6, 0], atol=1e-15)


def test_toy_baseline_reaches_the_cli(toy_baseline, tmp_path):
    from pmdtheory.cli.simulate import main

    out = tmp_path / "toy.csv"
    argv = ["--methods", f"mean_sampled,{toy.NAME}_sampled", "--contexts", "20"]
    argv += ["--actions", "5", "--iters", "2", "--k", "3", "--plot", str(tmp_path / "t.png")]
    assert main(argv + ["--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert set(df["method"]) == {"mean_sampled", f"{toy.NAME}_sampled"}
    out2 = tmp_path / "toy2.csv"
    argv = ["--methods", "mean_sampled", "--baseline", toy.NAME, "--contexts", "20"]
    argv += ["--actions", "5", "--iters", "2", "--k", "3"]
    assert main(argv + ["--out", str(out2)]) == 0
    mine = df[df["method"] == f"{toy.NAME}_sampled"].iloc[:, 2:].to_numpy()
    np.testing.assert_array_equal(pd.read_csv(out2).iloc[:, 2:].to_numpy(), mine)


def test_registering_reaches_subscribers(toy_baseline):
    from pmdtheory.bridge import verl as pmd_verl

    assert f"pmd_{toy.NAME}" in pmd_verl.ADV_ESTIMATORS
    assert baselines.get(toy.NAME) is toy_baseline


def test_a_new_subscriber_gets_every_registered_baseline_at_once(monkeypatch):
    # mutant: `for b in []` in subscribe (a front end subscribing after registrations would
    # never hear of them)
    monkeypatch.setattr(baselines, "_subscribers", [])
    seen = []
    baselines.subscribe(seen.append)
    assert seen == list(BASELINES.values())


def test_a_group_of_one_warns_nothing():
    # mutant: the leave-one-out sum of a group of one set to -1 (log1p(-1) = -inf, masked
    # afterwards, but numpy warns "divide by zero")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("loo_partition", "loo_mean", "partition", "mean", "grpo"):
            got = advantages([[0.3], [1.0]], kind=kind, tau=0.1)
            assert np.all(np.isfinite(got)), kind


def test_register_refuses_what_is_not_a_baseline_record():
    # (--unreached, session 5: reached by no test)
    with pytest.raises(ValueError, match="^baseline: must be a Baseline record, got 'mean'$"):
        register("mean")
