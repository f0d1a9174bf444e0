"""verl integration on plain tensors: the PMD estimators, the policy loss, the registration.

These run in both venvs: in ``.venv`` (no verl; the registration against a fake
``verl.trainer.ppo.core_algos`` that behaves like verl's registries) and in ``.venv-verl``
(``make test-verl``). The tests that drive verl 0.9.1's own callers are in tests/test_verl_real.py.
"""

import importlib.util
import math
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
import torch

pytest.importorskip("torch")
from pmdtheory.baselines import BASELINES  # noqa: E402
from pmdtheory.bridge import verl as pmd_verl  # noqa: E402

RTOL = 1e-12  # float64 against float64 / 50-digit references
ATOL = 1e-12
GRAD_RTOL = 1e-10
mpmath.mp.dps = 50


# ---------------------------------------------------------------- references (plain python)


def _others(r, groups, i):
    return [r[j] for j in range(len(r)) if groups[j] == groups[i] and j != i]


def ref_loo_mean(r, groups):
    """r_i minus the mean of the other rewards of its group, one response at a time."""
    out = []
    for i, ri in enumerate(r):
        others = _others(r, groups, i)
        out.append(ri - sum(others) / len(others))
    return np.array(out)


def ref_loo_partition(r, groups, tau):
    """r_i - tau log mean_{j != i} exp(r_j / tau), in 50-digit arithmetic."""
    out = []
    for i, ri in enumerate(r):
        others = _others(r, groups, i)
        z = sum(mpmath.exp(mpmath.mpf(rj) / tau) for rj in others) / len(others)
        out.append(float(mpmath.mpf(ri) - tau * mpmath.log(z)))
    return np.array(out)


def ref_partition(r, groups, tau):
    out = []
    for ri, gi in zip(r, groups, strict=True):
        members = [rj for rj, gj in zip(r, groups, strict=True) if gj == gi]
        z = sum(mpmath.exp(mpmath.mpf(rj) / tau) for rj in members) / len(members)
        out.append(float(mpmath.mpf(ri) - tau * mpmath.log(z)))
    return np.array(out)


def ref_pmd_loss(old, new, adv_tok, mask, tau, agg, w=None):
    """OpenKimi's opmd loss written out per sequence in float64 numpy."""
    old, new, adv_tok, mask = (np.asarray(a, dtype=np.float64) for a in (old, new, adv_tok, mask))
    total = 0.0
    for i in range(old.shape[0]):
        length = max(mask[i].sum(), 1.0)
        a = (adv_tok[i] * mask[i]).sum() / length
        delta = ((new[i] - old[i]) * mask[i]).sum()
        denom = length if agg == "seq-mean-token-mean" else old.shape[1]
        wi = 1.0 if w is None else w[i]
        total += 0.5 * tau * wi * (a / tau - delta) ** 2 / denom
    return total / old.shape[0]


def token_rewards(scores, lengths, width):
    """Outcome rewards on the last response token, as verl's reward managers place them."""
    rew = torch.zeros(len(scores), width, dtype=torch.float64)
    mask = torch.zeros(len(scores), width, dtype=torch.float64)
    for i, (s, n) in enumerate(zip(scores, lengths, strict=True)):
        rew[i, n - 1] = s
        mask[i, :n] = 1.0
    return rew, mask


# ---------------------------------------------------------------- advantage estimators


EST = pmd_verl.ADV_ESTIMATORS  # "pmd_<baseline>" for every registered baseline


def test_pmd_loo_mean_matches_loo_mean_on_ragged_string_groups():
    scores = [1.0, 0.0, 0.5, 2.0, -1.0, 0.25, 0.0]
    uids = np.array(["b", "a", "b", "a", "a", "c", "c"], dtype=object)
    rew, mask = token_rewards(scores, [3, 5, 1, 2, 4, 5, 2], 5)
    adv, ret = EST["pmd_loo_mean"](rew, mask, uids)
    expected = ref_loo_mean(scores, list(uids))
    seq = adv[torch.arange(7), torch.tensor([2, 4, 0, 1, 3, 4, 1])]
    np.testing.assert_allclose(seq.numpy(), expected, rtol=RTOL, atol=ATOL)
    assert torch.equal(adv, ret)
    # Every response token carries A_i, padding carries 0.
    np.testing.assert_allclose(adv.numpy(), (torch.tensor(expected)[:, None] * mask).numpy())


def test_pmd_loo_mean_equals_verl_rloo_formula():
    # verl's rloo: (r_i - mean) * k / (k - 1); identical to the leave-one-out mean.
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(12, generator=g, dtype=torch.float64)
    uids = np.repeat(np.arange(3), 4)
    rew, mask = token_rewards(scores.tolist(), [4] * 12, 4)
    adv, _ = EST["pmd_loo_mean"](rew, mask, uids)
    grouped = scores.view(3, 4)
    rloo = ((grouped - grouped.mean(1, keepdim=True)) * 4 / 3).reshape(-1)
    np.testing.assert_allclose(adv[:, 0].numpy(), rloo.numpy(), rtol=RTOL, atol=ATOL)


def test_pmd_mean_is_group_mean_and_old_pmd_loo_warns():
    scores = [1.0, 0.0, 0.0, 3.0]
    rew, mask = token_rewards(scores, [1, 1, 1, 1], 1)
    # its meaning changed in 0.2.0 (it was the leave-one-out mean): said, not silent
    with pytest.warns(FutureWarning, match="now algorithm.adv_estimator=pmd_loo_mean"):
        adv, _ = pmd_verl.compute_pmd_mean_advantage(rew, mask, [0, 0, 1, 1])
    np.testing.assert_allclose(adv[:, 0].numpy(), [0.5, -0.5, -1.5, 1.5], rtol=RTOL)
    assert EST["pmd_mean"] is pmd_verl.compute_pmd_mean_advantage
    # the deprecated key still selects the leave-one-out twin, and names the new estimator
    with pytest.warns(DeprecationWarning, match="adv_estimator=pmd_loo_mean"):
        old, _ = EST["pmd_mean"](rew, mask, [0, 0, 1, 1], config={"pmd_loo": True})
    np.testing.assert_allclose(old[:, 0].numpy(), [1.0, -1.0, -3.0, 3.0], rtol=RTOL)


def test_pmd_part_is_deprecated_and_keeps_its_numbers():
    rew, mask = token_rewards([1.0, 0.0, 0.5, 0.0], [1, 1, 1, 1], 1)
    new, _ = EST["pmd_loo_partition"](rew, mask, [0] * 4, config={"pmd_tau": 0.1})
    with pytest.warns(DeprecationWarning, match="adv_estimator=pmd_loo_partition"):
        old, _ = pmd_verl.compute_pmd_part_advantage(rew, mask, [0] * 4, config={"pmd_tau": 0.1})
    assert torch.equal(old, new)
    full, _ = EST["pmd_partition"](rew, mask, [0] * 4, config={"pmd_tau": 0.1})
    with pytest.warns(DeprecationWarning, match="adv_estimator=pmd_partition"):
        old, _ = pmd_verl.compute_pmd_part_advantage(
            rew, mask, [0] * 4, config={"pmd_tau": 0.1, "pmd_loo": False}
        )
    assert torch.equal(old, full)


def test_pmd_loo_partition_lone_success_gets_zero_baseline():
    # THEORY §3: rewards [1,0,0,0], tau=0.01. The success's others are all 0: baseline 0,
    # advantage exactly 1 (the "total minus own term" shortcut gives 1 - 0.816).
    rew, mask = token_rewards([1.0, 0.0, 0.0, 0.0], [2, 2, 2, 2], 2)
    adv, _ = EST["pmd_loo_partition"](rew, mask, np.zeros(4), config={"pmd_tau": 0.01})
    expected = ref_loo_partition([1.0, 0.0, 0.0, 0.0], [0] * 4, 0.01)
    assert expected[0] == 1.0
    np.testing.assert_allclose(adv[:, 0].numpy(), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("tau", [1e-3, 0.05, 2.0])
def test_pmd_partition_baselines_match_mpmath(tau):
    g = torch.Generator().manual_seed(1)
    scores = (torch.rand(10, generator=g, dtype=torch.float64) > 0.6).double()
    scores[7] = 0.3
    uids = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    rew, mask = token_rewards(scores.tolist(), [1] * 10, 1)
    adv, _ = EST["pmd_loo_partition"](rew, mask, uids, config={"pmd_tau": tau})
    expected = ref_loo_partition(scores.tolist(), uids.tolist(), tau)
    np.testing.assert_allclose(adv[:, 0].numpy(), expected, rtol=1e-10, atol=1e-10)
    adv_full, _ = EST["pmd_partition"](rew, mask, uids, config={"pmd_tau": tau})
    expected_full = ref_partition(scores.tolist(), uids.tolist(), tau)
    np.testing.assert_allclose(adv_full[:, 0].numpy(), expected_full, rtol=1e-10, atol=1e-10)


def test_partition_reads_openkimi_partition_tau_and_attribute_configs():
    scores = [1.0, 0.0, 1.0, 0.5]
    rew, mask = token_rewards(scores, [1] * 4, 1)
    expected = ref_loo_partition(scores, [0] * 4, 0.3)
    for config in ({"partition_tau": 0.3}, SimpleNamespace(pmd_tau=0.3)):
        adv, _ = EST["pmd_loo_partition"](rew, mask, [0] * 4, config=config)
        np.testing.assert_allclose(adv[:, 0].numpy(), expected, rtol=1e-10)
    default, _ = EST["pmd_loo_partition"](rew, mask, [0] * 4)
    np.testing.assert_allclose(
        default[:, 0].numpy(), ref_loo_partition(scores, [0] * 4, 0.01), rtol=1e-10
    )


def ref_rloo(r, groups):
    """verl 0.9.1's rloo written out: (r_i - mean) k / (k - 1); a group of one keeps r_i."""
    out = []
    for i, ri in enumerate(r):
        members = [r[j] for j in range(len(r)) if groups[j] == groups[i]]
        k = len(members)
        out.append(ri if k == 1 else (ri - sum(members) / k) * k / (k - 1))
    return np.array(out)


@pytest.mark.parametrize("name", ["loo_mean", "loo_partition"])
def test_singleton_groups_get_baseline_zero_like_rloo(name):
    # The registry's convention: a prompt with one response keeps A = r (verl's rloo), for
    # both leave-one-out estimators; the other groups are untouched.
    scores = [0.7, 1.0, 0.0, -0.5, 1.0, 0.0, 0.25]
    uids = np.array(["s", "a", "a", "t", "b", "b", "b"], dtype=object)
    rew, mask = token_rewards(scores, [2, 1, 3, 2, 1, 2, 3], 3)
    adv, _ = EST[f"pmd_{name}"](rew, mask, uids, config={"pmd_tau": 0.05})
    seq = adv.sum(-1) / mask.sum(-1)
    if name == "loo_mean":
        expected = ref_rloo(scores, list(uids))
    else:
        expected = ref_loo_partition(scores[1:3], [0, 0], 0.05).tolist()
        expected += ref_loo_partition(scores[4:], [0, 0, 0], 0.05).tolist()
        expected = [0.7, *expected[:2], -0.5, *expected[2:]]
    np.testing.assert_allclose(seq.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert seq[0] == 0.7 and seq[3] == -0.5
    # Without leave-one-out, a lone response is its own baseline: advantage 0.
    plain, _ = EST[f"pmd_{name[4:]}"](rew, mask, uids, config={"pmd_tau": 0.05})
    assert plain[0].abs().max() == 0.0 and plain[3].abs().max() == 0.0


def test_estimators_reject_bad_input():
    rew, mask = token_rewards([1.0, 0.0, 1.0], [1, 1, 1], 1)
    with pytest.raises(ValueError, match="index"):
        pmd_verl.compute_pmd_mean_advantage(rew, mask, None)
    with pytest.raises(ValueError, match="index"):
        pmd_verl.compute_pmd_mean_advantage(rew, mask, [0, 0])
    with pytest.raises(ValueError, match="response_mask"):
        pmd_verl.compute_pmd_mean_advantage(rew, mask[:, :0], [0, 0, 0])
    with pytest.raises(ValueError, match="tau"):
        EST["pmd_loo_partition"](rew, mask, [0, 0, 0], config={"pmd_tau": -1.0})
    with pytest.raises(ValueError, match="finite"):
        pmd_verl.compute_pmd_mean_advantage(rew * float("nan"), mask, [0, 0, 0])
    rew_inf = rew.clone()
    rew_inf[2, 0] = float("inf")  # in a group of one, which no baseline looks at
    with pytest.raises(ValueError, match="finite"):
        pmd_verl.compute_pmd_mean_advantage(rew_inf, mask, [0, 0, 1])
    # Integer rewards are summed, then cast to a float dtype (not truncated back).
    adv, _ = EST["pmd_loo_mean"](torch.tensor([[1], [0], [0]]), torch.ones(3, 1), [0, 0, 0])
    assert adv.is_floating_point() and adv[0, 0] == 1.0 and adv[1, 0] == -0.5


# ---------------------------------------------------------------- policy loss


def _loss_inputs(seed=0, bs=5, width=6):
    g = torch.Generator().manual_seed(seed)
    old = -3.0 * torch.rand(bs, width, generator=g, dtype=torch.float64)
    new = (old + 0.1 * torch.randn(bs, width, generator=g, dtype=torch.float64)).requires_grad_()
    lengths = torch.tensor([6, 3, 1, 4, 2])[:bs]
    mask = (torch.arange(width)[None, :] < lengths[:, None]).double()
    adv = torch.randn(bs, 1, generator=g, dtype=torch.float64) * mask
    return old, new, adv, mask


@pytest.mark.parametrize("agg", ["seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_policy_loss_matches_reference_and_reads_tau(agg):
    old, new, adv, mask = _loss_inputs()
    tau = 0.05
    config = SimpleNamespace(policy_loss={"loss_mode": "pmd", "pmd_tau": tau})
    loss, metrics = pmd_verl.compute_policy_loss_pmd(
        old, new, adv, mask, loss_agg_mode=agg, config=config
    )
    expected = ref_pmd_loss(old, new.detach(), adv, mask, tau, agg)
    assert math.isclose(float(loss.detach()), expected, rel_tol=RTOL)
    assert metrics["actor/pg_clipfrac"] == 0.0 and metrics["actor/pg_clipfrac_lower"] == 0.0
    length = mask.sum(-1)
    ppo_kl = float((-((new.detach() - old) * mask).sum(-1) / length).mean())
    assert math.isclose(metrics["actor/ppo_kl"], ppo_kl, rel_tol=RTOL)
    assert math.isclose(metrics["actor/pmd/loss"], expected, rel_tol=RTOL)


def test_policy_loss_gradient_is_closed_form():
    # dL/dlogp_it = -tau * rho_i * m_it / (B * L_i), rho_i = A_i / tau - delta_i.
    old, new, adv, mask = _loss_inputs(seed=3)
    tau = 0.2
    loss, _ = pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, config={"pmd_tau": tau})
    loss.backward()
    length = mask.sum(-1)
    rho = adv[:, 0] / tau - ((new.detach() - old) * mask).sum(-1)
    expected = -tau * rho[:, None] * mask / (old.shape[0] * length[:, None])
    np.testing.assert_allclose(new.grad.numpy(), expected.numpy(), rtol=GRAD_RTOL, atol=1e-15)


def test_policy_loss_rollout_weights_and_global_batch_rescale():
    old, new, adv, mask = _loss_inputs(seed=4)
    w_seq = torch.tensor([0.5, 1.0, 2.0, 0.0, 1.5], dtype=torch.float64)
    w_tok = w_seq[:, None].expand_as(mask).clone()
    config = {"pmd_tau": 0.1}
    loss, _ = pmd_verl.compute_policy_loss_pmd(
        old, new, adv, mask, config=config, rollout_is_weights=w_tok
    )
    expected = ref_pmd_loss(old, new.detach(), adv, mask, 0.1, "seq-mean-token-mean", w_seq)
    assert math.isclose(float(loss.detach()), expected, rel_tol=RTOL)
    # New-engine path: micro-batch of 5 out of a global batch of 20 on 2 ranks.
    config = {"pmd_tau": 0.1, "global_batch_info": {"global_batch_size": 20, "dp_size": 2}}
    scaled, _ = pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, config=config)
    unweighted = ref_pmd_loss(old, new.detach(), adv, mask, 0.1, "seq-mean-token-mean")
    assert math.isclose(float(scaled.detach()), unweighted * 5 * 2 / 20, rel_tol=RTOL)


def test_policy_loss_rejects_unknown_agg_and_bad_shapes():
    old, new, adv, mask = _loss_inputs()
    with pytest.raises(ValueError, match="loss_agg_mode"):
        pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, loss_agg_mode="token-mean")
    with pytest.raises(ValueError, match="advantages"):
        pmd_verl.compute_policy_loss_pmd(old, new, adv[:, :1], mask)
    with pytest.raises(ValueError, match="response_mask"):
        pmd_verl.compute_policy_loss_pmd(old, new, adv, mask[:-1])
    with pytest.raises(ValueError, match="log_prob"):
        pmd_verl.compute_policy_loss_pmd(old, new[0], adv, mask)
    # full run (session 9): `not tensor or ndim != 2` -> `and` let a list and a 3-D tensor by
    for bad in (new.tolist(), new[..., None]):
        with pytest.raises(ValueError, match=r"^log_prob must be a 2-D tensor \(bs, T\)$"):
            pmd_verl.compute_policy_loss_pmd(old, bad, adv, mask)


def test_every_deprecation_warning_points_at_the_caller():
    # warnings name the line that called pmdtheory, whichever estimator it called: the
    # registered `pmd_mean` reaches the warning through three functions of the module and
    # `compute_pmd_advantage` through one (full run, session 9: the fixed stacklevels 2
    # and 3 could each be changed unnoticed, and 3 pointed inside verl.py for pmd_mean)
    rew, mask = token_rewards([1.0, 0.0, 0.0, 3.0], [1, 1, 1, 1], 1)
    ids, part = [0, 0, 1, 1], {"pmd_tau": 0.1}
    calls = [  # called from this function itself: a level too many points into pytest
        (pmd_verl.compute_pmd_mean_advantage, {}),
        (EST["pmd_mean"], {"config": {"pmd_loo": True}}),
        (EST["pmd_partition"], {"config": {**part, "pmd_loo": True}}),
        (pmd_verl.compute_pmd_advantage, {"config": {"pmd_loo": False}, "baseline": "loo_mean"}),
        (pmd_verl.compute_pmd_part_advantage, {"config": part}),
    ]
    for estimator, kwargs in calls:
        with pytest.warns((FutureWarning, DeprecationWarning)) as record:
            estimator(rew, mask, ids, **kwargs)
        assert [Path(w.filename).name for w in record] == [Path(__file__).name]


# ---------------------------------------------------------------- registration


def _fake_verl(monkeypatch):
    """Install a fake verl whose core_algos registries behave like verl 0.8-0.9's."""
    core = types.ModuleType("verl.trainer.ppo.core_algos")
    core.ADV_ESTIMATOR_REGISTRY, core.POLICY_LOSS_REGISTRY = {}, {}

    def register_adv_est(name):
        def decorator(fn):
            if name in core.ADV_ESTIMATOR_REGISTRY and core.ADV_ESTIMATOR_REGISTRY[name] != fn:
                raise ValueError(f"Adv estimator {name} has already been registered")
            core.ADV_ESTIMATOR_REGISTRY[name] = fn
            return fn

        return decorator

    def register_policy_loss(name):
        def decorator(fn):
            core.POLICY_LOSS_REGISTRY[name] = fn
            return fn

        return decorator

    core.register_adv_est, core.register_policy_loss = register_adv_est, register_policy_loss
    names = ["verl", "verl.trainer", "verl.trainer.ppo"]
    mods = [types.ModuleType(n) for n in names]
    mods[0].trainer, mods[1].ppo, mods[2].core_algos = mods[1], mods[2], core
    for name, mod in zip([*names, core.__name__], [*mods, core], strict=True):
        monkeypatch.setitem(sys.modules, name, mod)
    return core


def test_register_with_fake_verl(monkeypatch):
    core = _fake_verl(monkeypatch)
    assert pmd_verl.register() is True
    assert core.ADV_ESTIMATOR_REGISTRY == {
        **{f"pmd_{name}": EST[f"pmd_{name}"] for name in BASELINES},
        "pmd_part": pmd_verl.compute_pmd_part_advantage,
    }
    assert core.POLICY_LOSS_REGISTRY == {"pmd": pmd_verl.compute_policy_loss_pmd}
    # Registering twice is harmless (same functions), as a re-imported worker would do.
    assert pmd_verl.register() is True
    # Called the way verl's trainer calls them (keyword arguments only).
    rew, mask = token_rewards([1.0, 0.0], [1, 1], 1)
    adv, _ = core.ADV_ESTIMATOR_REGISTRY["pmd_loo_mean"](
        token_level_rewards=rew, response_mask=mask, config={}, index=np.array(["u", "u"])
    )
    np.testing.assert_allclose(adv[:, 0].numpy(), [1.0, -1.0])


def test_a_baseline_registered_under_an_older_verl_waits_for_register(monkeypatch):
    # a verl whose core_algos has no register_adv_est (an older release) is in sys.modules:
    # a new baseline joins pmdtheory's estimators and does not touch verl (mutant: `or`
    # for `and` in _add_estimator called the missing function and raised AttributeError)
    import _toy_baseline as toy

    old = types.ModuleType("verl.trainer.ppo.core_algos")
    monkeypatch.setitem(sys.modules, old.__name__, old)
    with toy.registered():
        assert f"pmd_{toy.NAME}" in pmd_verl.ADV_ESTIMATORS
    assert not hasattr(old, "register_adv_est")


def test_a_baseline_registered_after_verl_joins_its_registry_at_once(monkeypatch):
    # mutant: `if not core_algos is not None and ...` in _add_estimator (a baseline
    # registered once verl is imported waited for the next register() call)
    import _toy_baseline as toy

    core = _fake_verl(monkeypatch)
    name = f"pmd_{toy.NAME}"
    with toy.registered():
        assert core.ADV_ESTIMATOR_REGISTRY[name] is pmd_verl.ADV_ESTIMATORS[name]


def test_register_without_verl(monkeypatch):
    installed = importlib.util.find_spec("verl") is not None
    # The import-time registration reflects whether verl is installed here.
    assert pmd_verl.REGISTERED is installed
    # None in sys.modules makes an import raise ImportError; an already imported
    # verl.trainer.ppo would otherwise be found without its parent, so hide them all.
    for name in [n for n in sys.modules if n == "verl" or n.startswith("verl.")] + ["verl"]:
        monkeypatch.setitem(sys.modules, name, None)
    assert pmd_verl.register() is False


# ---------------------------------------------------------------- verl's aggregation rules

BF16_LOSS_RTOL = 1e-5  # float32 arithmetic on bf16-rounded inputs vs float64 on the same
BF16_GRAD_RTOL = 8e-3  # the gradient returns to a bf16 leaf: 2^-8 relative rounding, x2


def test_fully_masked_rows_drop_out_like_verl():
    old, new, adv, mask = _loss_inputs(seed=5)
    mask[1] = 0.0  # a row with no response token (e.g. a truncated prompt)
    adv = adv * mask
    for agg in ("seq-mean-token-mean", "seq-mean-token-sum-norm"):
        loss, metrics = pmd_verl.compute_policy_loss_pmd(
            old, new, adv, mask, loss_agg_mode=agg, config={"pmd_tau": 0.1}
        )
        keep = [0, 2, 3, 4]
        expected = ref_pmd_loss(old[keep], new.detach()[keep], adv[keep], mask[keep], 0.1, agg)
        assert math.isclose(float(loss.detach()), expected, rel_tol=RTOL)
        assert math.isfinite(metrics["actor/ppo_kl"])
    # All rows empty: a zero loss that still reaches the graph, no NaN.
    loss, metrics = pmd_verl.compute_policy_loss_pmd(old, new, adv, mask * 0, config={})
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(new.grad, torch.zeros_like(new))
    assert metrics["actor/ppo_kl"] == 0.0  # no token: no KL (held-out mutant, seed 2: 1.0)


def test_loss_scale_factor_replaces_padded_width():
    old, new, adv, mask = _loss_inputs(seed=6)
    plain, _ = pmd_verl.compute_policy_loss_pmd(
        old, new, adv, mask, loss_agg_mode="seq-mean-token-sum-norm", config={"pmd_tau": 0.1}
    )
    # Read from the actor config, or from global_batch_info where verl's ppo_loss puts it.
    for config in (
        {"pmd_tau": 0.1, "loss_scale_factor": 48},
        {"pmd_tau": 0.1, "global_batch_info": {"loss_scale_factor": 48}},
    ):
        scaled, _ = pmd_verl.compute_policy_loss_pmd(
            old, new, adv, mask, loss_agg_mode="seq-mean-token-sum-norm", config=config
        )
        assert math.isclose(float(scaled.detach()), float(plain.detach()) * 6 / 48, rel_tol=RTOL)
    # token-mean ignores it, as verl's agg_loss does.
    a, _ = pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, config={"loss_scale_factor": 48})
    b, _ = pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, config={})
    assert float(a.detach()) == float(b.detach())
    with pytest.raises(ValueError, match="loss_scale_factor"):
        pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, config={"loss_scale_factor": 0})
    with pytest.raises(ValueError, match="global_batch_size"):
        pmd_verl.compute_policy_loss_pmd(
            old, new, adv, mask, config={"global_batch_info": {"dp_size": 2}}
        )


def _bf16_case(seed=7, bs=8, width=96):
    g = torch.Generator().manual_seed(seed)
    old = -2.0 * torch.rand(bs, width, generator=g, dtype=torch.float64) - 0.5
    new = old + 0.02 * torch.randn(bs, width, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, width + 1, (bs,), generator=g)
    mask = (torch.arange(width)[None, :] < lengths[:, None]).double()
    adv = (torch.rand(bs, 1, generator=g, dtype=torch.float64) - 0.5) * mask
    # One set of values, exactly representable in bfloat16.
    return [t.to(torch.bfloat16) for t in (old, new, adv)] + [mask.bool()]


@pytest.mark.parametrize("agg", ["seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_bf16_inputs_are_upcast(agg):
    old16, new16, adv16, mask = _bf16_case()
    new16.requires_grad_()
    new64 = new16.detach().double().requires_grad_()
    config = {"pmd_tau": 0.01}
    loss16, m16 = pmd_verl.compute_policy_loss_pmd(
        old16, new16, adv16, mask, loss_agg_mode=agg, config=config
    )
    loss64, m64 = pmd_verl.compute_policy_loss_pmd(
        old16.double(), new64, adv16.double(), mask, loss_agg_mode=agg, config=config
    )
    assert loss16.dtype == torch.float32 and loss64.dtype == torch.float64
    assert math.isclose(float(loss16.detach()), float(loss64.detach()), rel_tol=BF16_LOSS_RTOL)
    assert math.isclose(m16["actor/ppo_kl"], m64["actor/ppo_kl"], rel_tol=1e-4, abs_tol=1e-7)
    loss16.backward()
    loss64.backward()
    assert new16.grad.dtype == torch.bfloat16
    scale = float(new64.grad.abs().max())
    err = float((new16.grad.double() - new64.grad).abs().max())
    assert err <= BF16_GRAD_RTOL * scale


def test_pmd_configs_validate_tau():
    assert pmd_verl.PMDPolicyLossConfig(pmd_tau=0.05).pmd_tau == 0.05
    assert pmd_verl.PMDAlgoConfig(pmd_tau=0.2).pmd_loo is None  # deprecated: unset
    for bad in (0.0, -1.0, float("inf"), float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="pmd_tau"):
            pmd_verl.PMDPolicyLossConfig(pmd_tau=bad)
        with pytest.raises(ValueError, match="pmd_tau"):
            pmd_verl.PMDAlgoConfig(pmd_tau=bad)
    # The loss reads tau from the config object's policy_loss, as verl's ActorConfig holds it.
    old, new, adv, mask = _loss_inputs(seed=8)
    config = SimpleNamespace(policy_loss=pmd_verl.PMDPolicyLossConfig(pmd_tau=0.3))
    loss, metrics = pmd_verl.compute_policy_loss_pmd(old, new, adv, mask, config=config)
    expected = ref_pmd_loss(old, new.detach(), adv, mask, 0.3, "seq-mean-token-mean")
    assert math.isclose(float(loss.detach()), expected, rel_tol=RTOL)
    assert metrics["actor/pmd/tau"] == 0.3


# ---- refusals no test of this module reached (coverage, session 5)


def test_advantage_refuses_rewards_that_are_not_2d():
    mask = torch.ones(4, 3)
    for bad in (torch.ones(4), [[1.0, 0.0, 0.0]] * 4):
        with pytest.raises(ValueError, match=r"^token_level_rewards must be a 2-D tensor"):
            pmd_verl.compute_pmd_advantage(bad, mask, np.zeros(4), baseline="mean")


def test_policy_loss_refuses_integer_log_probs():
    old = torch.zeros(2, 3)
    adv, mask = torch.zeros(2, 3), torch.ones(2, 3)
    with pytest.raises(ValueError, match="^log_prob must be a floating-point tensor$"):
        pmd_verl.compute_policy_loss_pmd(old, torch.zeros(2, 3, dtype=torch.long), adv, mask,
                                         config={"pmd_tau": 0.1})  # fmt: skip


def test_the_config_classes_run_verls_own_post_init_first():
    # in .venv verl is absent and the classes have no base: the helper is checked with a
    # stand-in base here, the real verl classes by tests/test_verl_real.py (full run,
    # session 9: `base is not None` -> `not base is not None` skipped the base's check)
    seen = []

    class Base:
        def __post_init__(self):
            seen.append(self.pmd_tau)

    cfg = SimpleNamespace(pmd_tau=0.25)
    pmd_verl._post_init(cfg, Base)
    assert seen == [0.25]
    pmd_verl._post_init(cfg, None)  # no base: the tau check only
    pmd_verl._post_init(cfg, object)  # a base without __post_init__ (`and` -> `or` called it)
    with pytest.raises(ValueError, match="pmd_tau"):
        pmd_verl._post_init(SimpleNamespace(pmd_tau=0.0), Base)


def test_pmd_loo_false_turns_a_loo_estimator_into_its_plain_twin():
    # full run (session 9): `bool(loo) and loo_<family> in BASELINES` -> `or` kept the
    # leave-one-out baseline when the deprecated key asked for the plain one
    rew, mask = token_rewards([1.0, 0.0, 0.0, 3.0], [1, 1, 1, 1], 1)
    plain, _ = pmd_verl.compute_pmd_advantage(rew, mask, [0, 0, 1, 1], baseline="mean")
    with pytest.warns(DeprecationWarning, match="use algorithm.adv_estimator=pmd_mean$"):
        got, _ = EST["pmd_loo_mean"](rew, mask, [0, 0, 1, 1], config={"pmd_loo": False})
    np.testing.assert_allclose(got[:, 0].numpy(), [0.5, -0.5, -1.5, 1.5], rtol=RTOL)
    assert torch.equal(got, plain)
