"""Tests for pmdtheory.bridge.advantages: group baselines in torch."""

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import lambertw

from pmdtheory.bridge import BASELINES, group_advantages, group_implicit_beta

TOL64 = 1e-12  # float64 against the numpy estimators and the mpmath transcription
TOL32 = 2e-5  # float32 against float64 (absolute, rewards and advantages of order 1)
TOL_BETA = 1e-9  # implicit beta against an independent Lambert-W root find
TOL_HALF_TARGET = 1e-4  # A/tau from bfloat16/float16 rewards against float64 on the same values
BAD_HALF_TARGET = 0.05  # what computing in bfloat16 itself gets wrong (shows the check can fail)
EPS = 1e-4  # GRPO's default std offset (TRL's)
mpmath.mp.dps = 50


def reference(r, index, baseline, tau, eps=EPS):
    """Direct transcription of THEORY.md §3, one group at a time, in 50-digit mpmath."""
    r = [mpmath.mpf(float(x)) for x in r]
    index = list(index)
    out = []
    for i, ri in enumerate(r):
        group = [r[j] for j in range(len(r)) if index[j] == index[i]]
        others = [r[j] for j in range(len(r)) if index[j] == index[i] and j != i]
        k = len(group)
        if k == 1 and baseline != "grpo":  # a group of one (verl): no others, baseline 0
            out.append(float(ri) if baseline.startswith("loo") else 0.0)
            continue
        if baseline == "mean":
            b = sum(group) / k
        elif baseline == "loo_mean":
            b = sum(others) / (k - 1)
        elif baseline == "partition":
            b = tau * mpmath.log(sum(mpmath.exp(x / tau) for x in group) / k)
        elif baseline == "loo_partition":
            b = tau * mpmath.log(sum(mpmath.exp(x / tau) for x in others) / (k - 1))
        else:
            mean = sum(group) / k if k > 1 else 0  # a group of one: mean 0, std 1 (verl)
            std = mpmath.sqrt(sum((x - mean) ** 2 for x in group) / (k - 1)) if k > 1 else 1
            out.append(float((ri - mean) / (std + eps)))
            continue
        out.append(float(ri - b))
    return np.array(out)


def naive_loo_partition(r, tau, floor=1e-8):
    """The unsafe formulation: group total minus own term, with the group maximum."""
    m = r.max()
    z = torch.exp((r - m) / tau)
    s = torch.clamp((z.sum() - z) / (r.numel() - 1), min=floor)
    return m + tau * torch.log(s)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lone_success_gets_baseline_zero(dtype):
    r = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=dtype)
    idx = torch.zeros(4, dtype=torch.long)
    adv = group_advantages(r, idx, baseline="loo_partition", tau=0.01)
    assert adv.dtype == dtype
    assert abs(float(adv[0]) - 1.0) < TOL64
    # The failures see one success among three others: tau*log((e^{100} + 2)/3) - 0.
    expected_fail = -(1.0 + 0.01 * np.log((1.0 + 2.0 * np.exp(-100.0)) / 3.0))
    assert np.allclose(adv[1:].double().numpy(), expected_fail, atol=TOL32, rtol=0)
    # The shortcut formulation gets this case badly wrong (issue 7): baseline 0.816.
    assert abs(float(naive_loo_partition(r, 0.01)[0]) - 0.816) < 1e-3


@pytest.mark.parametrize("baseline", BASELINES)
def test_ragged_groups_match_transcription(baseline):
    rng = np.random.default_rng(0)
    sizes = [2, 5, 3, 8, 2]
    index = np.repeat([40, 3, 17, 9, 25], sizes)
    perm = rng.permutation(index.size)
    index = index[perm]
    r = rng.choice([0.0, 1.0, 0.25, 0.5], size=index.size)
    r[:3] = 1.0  # ties at the maximum
    for tau in (0.01, 0.3, 5.0):
        got = group_advantages(torch.tensor(r), torch.tensor(index), baseline=baseline, tau=tau)
        np.testing.assert_allclose(got.numpy(), reference(r, index, baseline, tau), atol=TOL64)


@pytest.mark.parametrize("baseline", BASELINES)
def test_matches_numpy_estimators(baseline):
    from pmdtheory.estimators import advantages

    rng = np.random.default_rng(1)
    g, k = 50, 8
    r = np.where(rng.random((g, k)) < 0.2, 1.0, 0.0) + 0.01 * rng.standard_normal((g, k))
    for tau in (0.01, 0.05, 1.0):
        want = advantages(r, kind=baseline, tau=tau, eps=EPS)
        # Shuffle the flat batch so the groups are interleaved.
        perm = rng.permutation(g * k)
        index = np.repeat(np.arange(g), k)[perm]
        got = group_advantages(
            torch.tensor(r.ravel()[perm]), torch.tensor(index), baseline=baseline, tau=tau
        )
        np.testing.assert_allclose(got.numpy(), want.ravel()[perm], atol=TOL64, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    r=st.lists(st.sampled_from([0.0, 1.0]) | st.floats(-3.0, 3.0), min_size=2, max_size=12),
    tau=st.floats(1e-3, 10.0),
    data=st.data(),
)
def test_property_against_transcription(r, tau, data):
    n = len(r)
    index = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    for b in BASELINES:
        got = group_advantages(torch.tensor(r, dtype=torch.float64), index, baseline=b, tau=tau)
        # Advantages scale like r / tau only through the partition terms; compare absolutely.
        np.testing.assert_allclose(got.numpy(), reference(r, index, b, tau), atol=1e-11, rtol=0)
        shifted = group_advantages(
            torch.tensor(r, dtype=torch.float64) + 7.0, index, baseline=b, tau=tau
        )
        # grpo divides by std + 1e-4: the rounding of r + 7 (ulp 8.9e-16) can grow 1e4-fold;
        # a group of one keeps its reward (leave-one-out, grpo), which the shift moves
        lone = np.bincount(index)[index] == 1
        moved = 7.0 / (1 + EPS) if b == "grpo" else 7.0 if b.startswith("loo") else 0.0
        np.testing.assert_allclose(
            shifted.numpy() - np.where(lone, moved, 0.0),
            got.numpy(),
            atol=2e-9 if b == "grpo" else 1e-10,
        )


@pytest.mark.parametrize("baseline", BASELINES)
def test_float32_follows_float64(baseline):
    rng = np.random.default_rng(2)
    r = (rng.random(64) < 0.3).astype(np.float64)
    index = np.repeat(np.arange(8), 8)
    a64 = group_advantages(torch.tensor(r), index, baseline=baseline, tau=0.05)
    r32 = torch.tensor(r, dtype=torch.float32)
    a32 = group_advantages(r32, index, baseline=baseline, tau=0.05)
    assert a32.dtype == torch.float32
    np.testing.assert_allclose(a32.double().numpy(), a64.numpy(), atol=TOL32 * 4, rtol=TOL32)


def test_loo_partition_bounded_by_loo_mean_and_max_of_others():
    rng = np.random.default_rng(3)
    r = torch.tensor(rng.random(40))
    index = torch.tensor(np.repeat(np.arange(10), 4))
    b_part = r - group_advantages(r, index, baseline="loo_partition", tau=0.2)
    b_mean = r - group_advantages(r, index, baseline="loo_mean")
    others_max = torch.stack(
        [torch.cat([r[4 * (i // 4) : i], r[i + 1 : 4 * (i // 4) + 4]]).max() for i in range(40)]
    )
    assert bool((b_part >= b_mean - 1e-12).all())  # Jensen
    assert bool((b_part <= others_max + 1e-12).all())


def test_integer_rewards_and_device():
    r = torch.tensor([1, 0, 1, 1])
    adv = group_advantages(r, torch.tensor([0, 0, 1, 1]), baseline="mean")
    assert adv.dtype == torch.float32
    np.testing.assert_allclose(adv.numpy(), [0.5, -0.5, 0.0, 0.0])
    if torch.cuda.is_available():
        rc = r.double().cuda()
        got = group_advantages(rc, torch.tensor([0, 0, 1, 1]), baseline="loo_partition", tau=0.1)
        assert got.device.type == "cuda"


def test_group_of_one_follows_verl():
    """A lone response: verl's grpo takes mean 0, std 1; its rloo and OpenKimi baseline 0."""
    r = torch.tensor([0.3, 1.0, 0.0], dtype=torch.float64)
    adv = group_advantages(r, [0, 1, 1], baseline="grpo", eps=1e-6)
    assert float(adv[0]) == 0.3 / (1 + 1e-6)
    assert abs(float(adv[1]) - 1.0 / (np.sqrt(0.5) + 1e-6) * 0.5) < 1e-12
    for b in ("loo_mean", "loo_partition"):
        assert float(group_advantages(r, [0, 1, 1], baseline=b, tau=0.1)[0]) == 0.3
    for b in ("mean", "partition"):
        assert float(group_advantages(r, [0, 1, 1], baseline=b, tau=0.1)[0]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rewards": [1.0, float("nan")], "index": [0, 0], "baseline": "mean"}, "rewards"),
        ({"rewards": [1.0, float("inf")], "index": [0, 0], "baseline": "mean"}, "rewards"),
        ({"rewards": [[1.0, 0.0]], "index": [0, 0], "baseline": "mean"}, "rewards"),
        ({"rewards": [1.0, 0.0], "index": [0, 0, 0], "baseline": "mean"}, "index"),
        ({"rewards": [1.0, 0.0], "index": [0.0, 0.5], "baseline": "mean"}, "index"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "partition"}, "tau"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "loo_partition", "tau": 0}, "tau"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "partition", "tau": -1}, "tau"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "ploo"}, "baseline"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "partition", "tau": "x"}, "tau"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "grpo", "eps": -1.0}, "eps"),
        # eps = 0 made a constant group 0 / 0 = NaN (the core refuses it too)
        ({"rewards": [1.0, 1.0], "index": [0, 0], "baseline": "grpo", "eps": 0.0}, "eps"),
        ({"rewards": [1.0, 0.0], "index": [0, 0], "baseline": "grpo", "eps": "x"}, "eps"),
        ({"rewards": [1.0, 0.0], "index": [True, False], "baseline": "mean"}, "index"),
        ({"rewards": [], "index": [], "baseline": "mean"}, "empty"),
    ],
)
def test_bad_input_raises(kwargs, match):
    kwargs = dict(kwargs)
    kwargs["rewards"] = torch.tensor(kwargs["rewards"])
    with pytest.raises(ValueError, match=match):
        group_advantages(**kwargs)


def lambert_beta(r, tau):
    """beta = tau*lam for a uniform distribution over r, by bracketing lam (THEORY.md §4)."""
    r = np.asarray(r, dtype=np.float64)
    b = (r - r.mean()) / tau
    if np.ptp(r) == 0:
        return 0.0

    def mass(log_lam):
        lam = np.exp(log_lam)
        return np.mean(lambertw(lam * np.exp(b)).real / lam) - 1.0

    return tau * np.exp(brentq(mass, -60.0, 60.0, xtol=1e-14, rtol=1e-14))


def test_implicit_beta_matches_lambert_root_find():
    rng = np.random.default_rng(4)
    sizes = {7: 4, 2: 6, 11: 3, 5: 5}
    index = np.concatenate([np.full(k, g) for g, k in sizes.items()])
    r = rng.random(index.size)
    r[index == 11] = 0.5  # constant rewards: beta = 0
    perm = rng.permutation(index.size)
    r, index = r[perm], index[perm]
    for tau in (0.3, 1.0, 4.0):
        got = group_implicit_beta(torch.tensor(r, dtype=torch.float32), torch.tensor(index), tau)
        assert got.shape == (4,) and got.dtype == torch.float32
        got64 = group_implicit_beta(torch.tensor(r), torch.tensor(index), tau)
        want = [lambert_beta(r[index == g], tau) for g in sorted(sizes)]
        np.testing.assert_allclose(got64.numpy(), want, rtol=TOL_BETA, atol=1e-15)
        np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-6, atol=1e-12)
        assert float(got64[sorted(sizes).index(11)]) == 0.0


def test_implicit_beta_matches_core_and_is_positive():
    from pmdtheory import implicit_beta

    r = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    got = group_implicit_beta(torch.tensor(r.ravel()), np.repeat([0, 1, 2], 4), 0.05)
    want = implicit_beta(np.full((3, 4), 0.25), r, 0.05)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert bool((got > 0).all())
    with pytest.raises(ValueError, match="tau"):
        group_implicit_beta(torch.tensor(r.ravel()), np.repeat([0, 1, 2], 4), 0.0)


def test_implicit_beta_keeps_torch_thread_count():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        group_implicit_beta(torch.tensor([1.0, 0.0, 0.0, 1.0]), [0, 0, 1, 1], 0.1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(n)


# ---------------------------------------------------------------- inputs that are not tensors


@pytest.mark.parametrize("baseline", ["mean", "loo_mean", "partition", "loo_partition", "grpo"])
def test_list_and_numpy_rewards(baseline):
    """Lists and numpy arrays take the non-tensor path: read as float64, same numbers."""
    r = [1.0, 0.0, 0.25, 0.5, 0.5, 2.0]
    index = [3, 3, 3, 9, 9, 9]
    want = reference(r, index, baseline, 0.2)
    for rewards in (r, np.array(r), np.array(r, dtype=np.float32).astype(np.float64)):
        for idx in (index, np.array(index), np.array(index, dtype=np.uint32)):
            got = group_advantages(rewards, idx, baseline=baseline, tau=0.2)
            assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
            np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=TOL64)
    # unsigned ids up to 2**63 - 1 are group ids like any other (full run, session 9: the
    # bound 2**63 -> 2*63 refused every uint64 id >= 126)
    big = np.array([2**63 - 1, 2**63 - 1, 2**63 - 1, 126, 126, 126], dtype=np.uint64)
    got = group_advantages(r, big, baseline=baseline, tau=0.2)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=TOL64)
    ints = group_advantages([1, 0, 0, 0], [0, 0, 0, 0], baseline=baseline, tau=0.2)
    np.testing.assert_allclose(ints.numpy(), reference([1, 0, 0, 0], [0] * 4, baseline, 0.2))


@pytest.mark.parametrize(
    ("rewards", "index", "match"),
    [
        ([], [], "empty"),
        (np.zeros(0), np.zeros(0, dtype=np.int64), "empty"),
        (["a", "b"], [0, 0], "rewards"),
        ([1.0, 0.0], ["a", "a"], "index"),
        ([1.0, 0.0], np.array(["p1", "p2"]), "index"),
        ([1.0, 0.0], [0.0, 1.0], "index"),
        ([1.0, 0.0], np.array([2**63, 2**63], dtype=np.uint64), "index"),
        ([1.0, 0.0, 1.0], [0, 0], "index"),
    ],
)
def test_non_tensor_bad_inputs_raise(rewards, index, match):
    with pytest.raises(ValueError, match=match):
        group_advantages(rewards, index, baseline="mean")
    with pytest.raises(ValueError, match=match):
        group_implicit_beta(rewards, index, 0.5)


def test_empty_tensor_raises_before_any_reduction():
    with pytest.raises(ValueError, match="empty"):
        group_advantages(torch.zeros(0), torch.zeros(0, dtype=torch.long), baseline="loo_mean")


@pytest.mark.parametrize("baseline", ["mean", "loo_mean", "partition", "loo_partition", "grpo"])
def test_unsorted_hashed_group_ids_beyond_int32(baseline):
    """Hashed prompt ids: unsorted int64 ids >= 2**31. Ids 5 and 2**32 + 5 agree in their
    low 32 bits: a narrowing to int32 would merge their groups."""
    big = 2**32 + 5
    ids = np.array([big, 5, -(2**40), big, 5, 2**62 + 1, -(2**40), 2**62 + 1, big], np.int64)
    r = np.array([1.0, 0.0, 0.5, 0.0, 1.0, 0.25, 0.0, 1.0, 0.0])
    want = reference(r, ids, baseline, 0.3)
    got = group_advantages(torch.tensor(r), torch.tensor(ids), baseline=baseline, tau=0.3)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=TOL64)
    # Unsorted ids that do fit int32 take the int32 sort; same answer as the int64 ids + 0.
    small = np.array([7, -3, 7, 2**31 - 1, -3, 2**31 - 1, -(2**31), -(2**31)], np.int64)
    r8 = r[:8]
    got = group_advantages(torch.tensor(r8), torch.tensor(small), baseline=baseline, tau=0.3)
    np.testing.assert_allclose(got.numpy(), reference(r8, small, baseline, 0.3), atol=TOL64)
    betas = group_implicit_beta(torch.tensor(r), torch.tensor(ids), 0.3)
    assert betas.shape == (4,)  # four groups, not three
    order = np.unique(ids)
    want_beta = [lambert_beta(r[ids == g], 0.3) for g in order]
    np.testing.assert_allclose(betas.numpy(), want_beta, rtol=TOL_BETA, atol=1e-15)


@pytest.mark.parametrize("baseline", ["mean", "loo_mean", "grpo"])
def test_group_ids_at_the_int32_boundary(baseline):
    """Id 2**31 is the first that int32 cannot hold (it would wrap to -2**31 and merge with
    that group, or sort before 0): the int32 sort must be refused for it."""
    ids = np.array([2**31, -(2**31), 0, 2**31, -(2**31), 0], np.int64)
    r = np.array([1.0, 0.0, 0.5, 0.0, 0.75, 0.25])
    got = group_advantages(torch.tensor(r), torch.tensor(ids), baseline=baseline)
    np.testing.assert_allclose(got.numpy(), reference(r, ids, baseline, None), atol=TOL64)
    # and -2**31 - 1 the first below it (it would wrap to 2**31 - 1; held-out mutant, seed 2:
    # the lower bound -(3**31))
    low = np.array([-(2**31) - 1, 2**31 - 1, 0, -(2**31) - 1, 2**31 - 1, 0], np.int64)
    got = group_advantages(torch.tensor(r), torch.tensor(low), baseline=baseline)
    np.testing.assert_allclose(got.numpy(), reference(r, low, baseline, None), atol=TOL64)
    # two groups, ids 2**31 and 0: beta comes back in sorted-id order (0 first)
    two = torch.tensor([2**31, 0, 2**31, 0])
    r4 = np.array([1.0, 0.0, 0.0, 0.0])  # group 2**31 varied, group 0 constant
    betas = group_implicit_beta(torch.tensor(r4), two, 0.3)
    assert betas.shape == (2,) and float(betas[0]) == 0.0 and float(betas[1]) > 0.0


def test_the_layout_sorts_only_unsorted_ids_and_as_int32_where_they_fit(monkeypatch):
    """Two speed promises of the group layout, seen through torch.sort: sorted ids (as
    trainers produce them) are not sorted again, and int64 ids in [-2**31, 2**31) are sorted
    as int32. Full run (session 9): `n > 1` -> `not n > 1` or `n < 1`, and the int32
    bounds -(2**31) -> 2**31 or -(2*31) changed only the speed; `hi < 2**31` -> `>` also
    merged the groups 2**32 + 5 and 5."""
    sorts = []
    real_sort = torch.sort

    def spy(x, *args, **kwargs):
        sorts.append(x.dtype)
        return real_sort(x, *args, **kwargs)

    monkeypatch.setattr(torch, "sort", spy)
    low = -(2**31)
    for ids, want in (
        ([low, low, 5, 5], []),
        ([low, 5], []),  # two sorted ids (`n > 1` -> `n > 2` survived)
        ([2**31 - 1, 0, 2**31 - 1, 0], [torch.int32]),  # the largest int32 (`< 2**30`)
        ([5, low, 5, low], [torch.int32]),
        ([5, low - 1, 5, low - 1], [torch.int64]),
        ([2**32 + 5, 5, 2**32 + 5, 5], [torch.int64]),  # as int32 both would be 5
    ):
        sorts.clear()
        r = torch.tensor([1.0, 0.0, 0.5, 0.25][: len(ids)])
        got = group_advantages(r, torch.tensor(ids), baseline="mean")
        np.testing.assert_allclose(got.numpy(), reference(r.numpy(), np.array(ids), "mean", None))
        assert sorts == want, ids


@pytest.mark.parametrize("baseline", ["mean", "loo_mean", "partition", "loo_partition", "grpo"])
def test_ragged_groups_as_many_as_their_size(baseline):
    """Groups of 4, 3 and 2: 9 = 3 x 3 responses in a 3 x 4 table with 3 padding cells,
    and negative rewards (padding at 0 would be every group's maximum). Full run (session
    9): the full-table test `G * k_max == N` -> `G * G == N` took this ragged batch for a
    full one and let the padding into the reductions."""
    r = np.array([-1.0, -0.5, -2.0, -0.25, -3.0, -1.5, -0.75, -2.5, -1.25])
    index = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    got = group_advantages(torch.tensor(r), torch.tensor(index), baseline=baseline, tau=0.3)
    np.testing.assert_allclose(got.numpy(), reference(r, index, baseline, 0.3), atol=TOL64)


def test_implicit_beta_needs_tau():
    # full run (session 9): `_check_tau(tau, required=True)` -> `False` in group_implicit_beta
    with pytest.raises(ValueError, match="tau must be given"):
        group_implicit_beta([1.0, 0.0], [0, 0], None)


def test_implicit_beta_of_a_ragged_group_ignores_the_padding():
    """A short group in a ragged batch gets the beta it gets alone (its padding cells have
    probability 0 and whatever reward the table holds there must not enter)."""
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.5])
    index = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    got = group_implicit_beta(r, index, 0.5)
    alone = group_implicit_beta(r[5:], index[5:], 0.5)
    assert float(got[1]) == float(alone[0])


@pytest.mark.parametrize("baseline", ["mean", "loo_mean", "partition", "grpo"])
def test_unsorted_groups_equal_contiguous_ones_bit_for_bit(baseline):
    """Shuffled ids give, bit for bit, the numbers of the same groups laid out contiguously:
    the sort keeps each group's responses in their order (stable), so every group sum adds
    the same floats in the same order. (An unstable sort reorders ties at N = 100.)"""
    rng = np.random.default_rng(5)
    ids = torch.tensor(rng.integers(0, 7, 100))
    r = torch.tensor(rng.random(100))
    order = torch.sort(ids, stable=True).indices
    contiguous = group_advantages(r[order], ids[order], baseline=baseline, tau=0.4)
    got = group_advantages(r, ids, baseline=baseline, tau=0.4)
    assert torch.equal(got[order], contiguous)


@pytest.mark.parametrize(
    "index",
    [
        torch.tensor([0.0, 0.0, 1.0, 1.0]),
        torch.tensor([0, 0, 1, 1], dtype=torch.complex64),
        torch.tensor([True, True, False, False]),
    ],
)
def test_tensor_index_must_be_integer(index):
    with pytest.raises(ValueError, match="^index must hold integer"):
        group_advantages(torch.ones(4), index, baseline="mean")


# ---------------------------------------------------------------- half precision


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("baseline", ["mean", "loo_mean", "partition", "loo_partition"])
def test_half_rewards_are_computed_in_float32(half, baseline):
    """A/tau at tau = 0.01 from half-precision rewards: float32 result, float64 accuracy on
    the same rounded inputs (computing in bfloat16 is off by up to ~0.6)."""
    tau = 0.01
    gen = torch.Generator().manual_seed(11)
    r = (torch.rand(64, generator=gen) * 0.9 + 0.05).to(half)  # rounded rewards
    index = torch.arange(64) // 8
    got = group_advantages(r, index, baseline=baseline, tau=tau)
    assert got.dtype == torch.float32
    want = group_advantages(r.double(), index, baseline=baseline, tau=tau)
    err = float(((got.double() - want) / tau).abs().max())
    assert err < TOL_HALF_TARGET
    if half == torch.bfloat16 and baseline == "mean":
        # The same sum in bfloat16: what the float32 upcast avoids (the check can fail).
        naive = r - r.view(8, 8).mean(1).repeat_interleave(8)
        assert float(((naive.double() - want) / tau).abs().max()) > BAD_HALF_TARGET
    beta = group_implicit_beta(r, index, 0.1)
    assert beta.dtype == torch.float32
    np.testing.assert_allclose(
        beta.double().numpy(), group_implicit_beta(r.double(), index, 0.1).numpy(), rtol=1e-6
    )


# ---------------------------------------------------------------- tau too small for beta


@pytest.mark.parametrize("tau", [1e-200, 1e-30, 1e-4])
def test_implicit_beta_tiny_tau_is_answered_never_zero(tau):
    """e^((r - mean)/tau) overflows float64 for tau <~ spread/709, but the core works in log
    space: the answer comes back (against 50-digit mpmath), never the 0 that a constant
    group gets. (It was refused naming tau before the kernels' log-space rewrite.)"""
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    index = [0, 0, 0, 0, 1, 1]
    beta = group_implicit_beta(r, index, tau)
    assert float(beta[0]) > 0.0 and float(beta[1]) == 0.0
    np.testing.assert_allclose(float(beta[0]), mp_beta(r[:4].numpy(), tau), rtol=1e-9)


def test_implicit_beta_that_underflows_raises_naming_tau_as_too_large():
    # beta = tau lam ~ Var(r) / (2 tau) = 1e-501: the core's float64 answer is 0, which a
    # group with unequal rewards must never report (it was refused as "tau too small")
    r = torch.tensor([1e-100, 0.0, 0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    with pytest.raises(ValueError, match="tau=1e.300 is too large"):
        group_implicit_beta(r, [0, 0, 0, 0, 1, 1], 1e300)
    # a constant group alone gets its 0 at the same tau
    assert group_implicit_beta(r[4:], [1, 1], 1e300).tolist() == [0.0]


def mp_beta(r, tau):
    """beta = tau*lam for a uniform group at 50 digits (no overflow at any tau): bisection in
    ell = log lam of mean_a W(lam e^b_a)/lam = 1 (decreasing in lam)."""
    b = [(mpmath.mpf(float(x)) - mpmath.mpf(float(np.mean(r)))) / tau for x in r]

    def excess(ell):
        lam = mpmath.exp(ell)
        return sum(mpmath.lambertw(lam * mpmath.exp(x)).real / lam for x in b) / len(b) - 1

    lo, hi = mpmath.mpf(-50), mpmath.mpf(50) + mpmath.log(1 / mpmath.mpf(tau))
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return float(tau * mpmath.exp((lo + hi) / 2))


# ------------------------- lines its mutation targets never reached (coverage, session 5)


def test_complex_rewards_are_refused():
    with pytest.raises(ValueError, match="^rewards must be real$"):
        group_advantages(torch.tensor([1 + 1j, 0j]), [0, 0], baseline="mean")


def test_a_group_too_small_for_its_baseline_is_refused():
    # the toy baseline (tests/_toy_baseline.py) needs groups of 2; the built-in ones take 1
    import _toy_baseline as toy

    r = torch.tensor([1.0, 0.0, 1.0])  # group 1 has one response
    with toy.registered():
        with pytest.raises(ValueError, match="^index: every group needs >= 2 responses for "
                           "baseline='toy_max'$"):  # fmt: skip
            group_advantages(r, [0, 0, 1], baseline=toy.NAME)
        assert group_advantages(r, [0, 0, 0], baseline=toy.NAME).tolist() == [0.0, -1.0, 0.0]


def test_a_spread_over_tau_that_overflows_is_refused_naming_tau():
    r = torch.tensor([1e300, -1e300, 0.0, 0.0], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^tau=1e-10: tau: \(max\(r\) - min\(r\)\) / tau over"):
        group_implicit_beta(r, [0, 0, 0, 0], 1e-10)
    assert float(group_implicit_beta(r, [0, 0, 0, 0], 1.0)[0]) > 0


def test_a_constant_group_of_negative_rewards_in_a_ragged_batch_gets_zero():
    # held-out (seed 5) mutant: the max over each group read the table's padding (reward 0,
    # probability 0) too, so a constant group of -1s looked varied, its beta 0 looked like
    # an underflow, and the batch was refused as "tau too large"
    r = torch.tensor([1.0, 0.0, 0.0, 0.0, -1.0, -1.0], dtype=torch.float64)
    beta = group_implicit_beta(r, [0, 0, 0, 0, 1, 1], 0.5)
    assert float(beta[0]) > 0.0 and float(beta[1]) == 0.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_a_non_finite_or_negative_beta_from_the_core_is_refused(monkeypatch, bad):
    # the guard behind the core's own checks (--unreached, session 5: never taken, since
    # the core does not return such values): a faulty core must not leak into the loss
    import pmdtheory.bridge.advantages as adv

    monkeypatch.setattr(adv, "implicit_beta", lambda pi, r, tau: np.full(len(pi), bad))
    r = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^tau=0\.5 is too small for these rewards"):
        group_implicit_beta(r, [0, 0, 0, 0], 0.5)
