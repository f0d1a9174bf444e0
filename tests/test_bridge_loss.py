"""Tests for pmdtheory.bridge.loss: the sequence-level PMD regression loss."""

import numpy as np
import pytest
import torch

from pmdtheory.bridge import group_advantages, pmd_loss

TOL_VALUE = 1e-13  # loss and metrics against a numpy transcription (float64)
TOL_GRAD = 1e-13  # autograd against the hand-derived gradient (float64)
TOL_POP = 1e-6  # tabular population fit against the core's closed-form updates
TOL_STEP = 1e-10  # one optimizer step against a numpy transcription of the same step
TOL_HALF = 1e-5  # half-precision inputs (computed in float32) against float64, same values
BAD_HALF = 0.1  # what computing in bfloat16 itself gets wrong (shows the check can fail)


def numpy_loss(logp, logp_old, adv, mask, tau, agg, w):
    """THEORY.md §3, transcribed: 0.5*tau*w*(A/tau - sum_t m*(logp - logp_old))^2 / L, mean
    over the sequences with at least one response token."""
    active = mask.sum(-1) > 0
    delta = np.where(mask > 0, logp - logp_old, 0.0).sum(-1)
    rho = adv / tau - delta
    length = np.maximum(mask.sum(-1), 1.0) if agg == "seq-mean-token-mean" else logp.shape[1]
    per_seq = 0.5 * tau * w * rho**2 / length
    return per_seq[active].sum() / max(active.sum(), 1), rho, delta


def batch(seed, b=5, t=7, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(b, t, generator=g, dtype=dtype) * 3.0
    logp_old = logp.detach() + 0.3 * torch.randn(b, t, generator=g, dtype=dtype)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).to(dtype)
    adv = torch.randn(b, generator=g, dtype=dtype) * 0.5
    w = torch.rand(b, generator=g, dtype=dtype) + 0.5
    return logp, logp_old, adv, mask, w


@pytest.mark.parametrize("agg", ["seq-mean-token-mean", "seq-mean-token-sum-norm"])
@pytest.mark.parametrize("with_w", [False, True])
def test_value_metrics_and_gradient(agg, with_w):
    logp, logp_old, adv, mask, w = batch(0)
    tau = 0.5
    logp = logp.clone().requires_grad_(True)
    loss, metrics = pmd_loss(
        logp, logp_old, adv, mask, tau=tau, agg=agg, weights=w if with_w else None
    )
    w_np = w.numpy() if with_w else np.ones(5)
    want, rho, delta = numpy_loss(
        logp.detach().numpy(), logp_old.numpy(), adv.numpy(), mask.numpy(), tau, agg, w_np
    )
    assert abs(loss.item() - want) <= TOL_VALUE * max(1.0, abs(want))
    assert abs(metrics["pmd/loss"] - want) <= TOL_VALUE * max(1.0, abs(want))
    assert abs(metrics["pmd/residual_sq"] - np.mean(rho**2)) <= TOL_VALUE * np.mean(rho**2)
    assert abs(metrics["pmd/abs_log_ratio"] - np.mean(np.abs(delta))) <= TOL_VALUE
    assert metrics["pmd/frac_residual_gt1"] == np.mean(np.abs(rho) > 1.0)
    assert 0.0 < metrics["pmd/frac_residual_gt1"] < 1.0  # the batch exercises both sides
    (grad,) = torch.autograd.grad(loss, logp)
    m = mask.numpy()
    length = np.maximum(m.sum(-1), 1.0) if agg == "seq-mean-token-mean" else m.shape[1]
    hand = -(tau * w_np * rho / (5 * length))[:, None] * m
    np.testing.assert_allclose(grad.numpy(), hand, atol=TOL_GRAD, rtol=0)


@pytest.mark.parametrize("agg", ["seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_gradcheck_float64(agg):
    logp, logp_old, adv, mask, w = batch(1, b=3, t=4)
    logp = logp.clone().requires_grad_(True)

    def f(x):
        return pmd_loss(x, logp_old, adv, mask, tau=0.1, agg=agg, weights=w)[0]

    assert torch.autograd.gradcheck(f, (logp,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (logp,), eps=1e-6, atol=1e-8)


def test_padding_may_hold_minus_inf_and_empty_rows():
    logp, logp_old, adv, mask, _ = batch(2)
    mask[0] = 0.0
    padded = torch.where(mask > 0, logp, torch.tensor(-torch.inf, dtype=logp.dtype))
    padded.requires_grad_(True)
    loss, metrics = pmd_loss(padded, logp_old, adv, mask, tau=0.2)
    want, rho, _ = numpy_loss(
        logp.numpy(), logp_old.numpy(), adv.numpy(), mask.numpy(), 0.2, "seq-mean-token-mean", 1.0
    )
    assert torch.isfinite(loss) and abs(loss.item() - want) < TOL_VALUE
    (grad,) = torch.autograd.grad(loss, padded)
    assert bool(torch.isfinite(grad).all()) and bool((grad[mask == 0] == 0).all())
    # The empty response drops out of the sum AND the count: the loss of the other four.
    rest, _ = pmd_loss(logp[1:], logp_old[1:], adv[1:], mask[1:], tau=0.2)
    assert abs(loss.item() - rest.item()) < TOL_VALUE
    assert abs(metrics["pmd/residual_sq"] - np.mean(rho[1:] ** 2)) < TOL_VALUE * 100
    # Only empty responses (TRL: every completion truncated and masked): loss 0, no NaN.
    single, m1 = pmd_loss(padded[:1], logp_old[:1], adv[:1], mask[:1], tau=0.2)
    assert single.item() == 0.0 and m1["pmd/loss"] == 0.0
    assert np.isnan(m1["pmd/residual_sq"]) and np.isnan(m1["pmd/abs_log_ratio"])
    (g1,) = torch.autograd.grad(single, padded)
    assert not g1.any()


def test_frac_residual_gt1_counts_residuals_over_one():
    # full run (session 9): the threshold 1.0 -> 2.0 survived (no residual of the random
    # batch fell between 1 and 2). Equal log-probs: residual = advantage / tau
    tau = 0.5
    adv = torch.tensor([0.25, 0.5, 0.75, -1.5])  # residuals 0.5, exactly 1, 1.5, -3
    zeros = torch.zeros(4, 3)
    _, m = pmd_loss(zeros, zeros, adv, torch.ones(4, 3), tau=tau)
    assert m["pmd/frac_residual_gt1"] == 0.5  # 1.5 and -3: strictly over one in size


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_an_empty_row_puts_no_nan_in_the_backward_graph():
    # full run (session 9): `length.clamp(min=1.0)` -> `min=0.0` divides an empty row's term
    # by 0; torch.where hides the inf in the loss and in logp's gradient, but the backward
    # pass computes 0 * inf = NaN on the way, which torch's anomaly mode reports
    logp, logp_old, adv, mask, _ = batch(3)
    mask[0] = 0.0
    for agg, m in (("seq-mean-token-mean", mask), ("seq-mean-token-sum-norm", mask[:, :0])):
        x = logp[:, : m.shape[1]].clone().requires_grad_(True)
        with torch.autograd.detect_anomaly(check_nan=True):
            loss, _ = pmd_loss(x, logp_old[:, : m.shape[1]], adv, m, tau=0.2, agg=agg)
            loss.backward()
        assert bool(torch.isfinite(x.grad).all())


def test_zero_length_responses_t0():
    """T = 0: every response is empty; the loss is a differentiable 0."""
    logp = torch.zeros(3, 0, requires_grad=True)
    loss, metrics = pmd_loss(logp, torch.zeros(3, 0), torch.ones(3), torch.ones(3, 0), tau=0.1)
    assert loss.item() == 0.0 and loss.requires_grad and metrics["pmd/loss"] == 0.0
    for agg in ("seq-mean-token-mean", "seq-mean-token-sum-norm"):
        loss, _ = pmd_loss(logp, logp.detach(), torch.ones(3), torch.ones(3, 0), tau=0.1, agg=agg)
        assert loss.item() == 0.0


def test_num_sequences_sets_the_normaliser():
    logp, logp_old, adv, mask, w = batch(4)
    mean, _ = pmd_loss(logp, logp_old, adv, mask, tau=0.3, weights=w)
    total, _ = pmd_loss(logp, logp_old, adv, mask, tau=0.3, weights=w, num_sequences=1)
    scaled, _ = pmd_loss(logp, logp_old, adv, mask, tau=0.3, weights=w, num_sequences=12.5)
    assert abs(total.item() - 5 * mean.item()) < TOL_VALUE
    assert abs(scaled.item() - 5 * mean.item() / 12.5) < TOL_VALUE
    for bad in (0, -1.0, float("inf"), "x"):
        with pytest.raises(ValueError, match="num_sequences"):
            pmd_loss(logp, logp_old, adv, mask, tau=0.3, num_sequences=bad)


def test_float32_and_no_gradient_into_old_or_advantages():
    logp, logp_old, adv, mask, _ = batch(3, dtype=torch.float32)
    logp_old.requires_grad_(True)
    adv.requires_grad_(True)
    logp.requires_grad_(True)
    loss, _ = pmd_loss(logp, logp_old, adv, mask, tau=0.05)
    assert loss.dtype == torch.float32
    loss.backward()
    assert logp_old.grad is None and adv.grad is None and logp.grad is not None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"logp": torch.zeros(3)}, "logp must be a 2-D tensor"),
        # full run (session 9): `not tensor or ndim != 2` -> `and` let these through
        ({"logp": [[0.0] * 4] * 3}, "logp must be a 2-D tensor"),
        ({"logp": torch.zeros(3, 4, 1), "logp_old": torch.zeros(3, 4, 1)}, "logp must be a 2-D"),
        ({"logp_old": torch.zeros(2, 3)}, "logp_old"),
        ({"mask": torch.ones(3, 3)}, "mask"),
        ({"advantages": torch.zeros(2)}, "advantages"),
        ({"weights": torch.ones(4)}, "weights"),
        ({"tau": 0.0}, "tau"),
        ({"tau": float("nan")}, "tau"),
        ({"tau": "abc"}, "tau"),
        ({"tau": None}, "tau"),
        ({"tau": -0.1}, "tau"),
        ({"agg": "token-mean"}, "agg"),
        # B = 0 (an empty batch would give 0/0 = NaN)
        ({"logp": torch.zeros(0, 4), "logp_old": torch.zeros(0, 4)}, "B = 0"),
        ({"logp": torch.zeros(3, 4, dtype=torch.long)}, "floating"),
        # shape[0] is checked, not shape[1]: advantages of length T (= 4) != B (= 3)
        ({"advantages": torch.zeros(4)}, r"advantages must have shape \(3,\), got \(4,\)"),
        ({"weights": torch.ones(4)}, r"weights must have shape \(3,\), got \(4,\)"),
        ({"advantages": torch.tensor([0.0, float("nan"), 0.0])}, "advantages"),
        # fractional, negative or NaN masks (a 0.5 mask would double the loss)
        ({"mask": torch.full((3, 4), 0.5)}, "mask"),
        ({"mask": -torch.ones(3, 4)}, "mask"),
        ({"mask": torch.full((3, 4), float("nan"))}, "mask"),
        ({"mask": 2 * torch.ones(3, 4)}, "mask"),
        ({"mask": torch.ones(3, 4, dtype=torch.complex64)}, "mask"),
        # integer masks skip the float "count == sum" test: the range test must refuse -1
        ({"mask": -torch.ones(3, 4, dtype=torch.long)}, "mask"),
        ({"mask": torch.tensor([[1, 0, -1, 1]] * 3, dtype=torch.int8)}, "mask"),
        ({"weights": torch.tensor([1.0, -0.5, 1.0])}, "weights"),
        ({"weights": torch.tensor([1.0, float("nan"), 1.0])}, "weights"),
        ({"weights": torch.tensor([1.0, float("inf"), 1.0])}, "weights"),
    ],
)
def test_bad_input_raises(change, match):
    kwargs = {
        "logp": torch.zeros(3, 4),
        "logp_old": torch.zeros(3, 4),
        "advantages": torch.zeros(3),
        "mask": torch.ones(3, 4),
        "tau": 0.1,
    }
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        pmd_loss(**kwargs)


def population_fit(pi_t, r, tau, baseline):
    """Fit softmax logits on the population objective (all actions, weighted by pi_t)."""
    n = pi_t.size
    logpi_t = torch.tensor(np.log(pi_t))
    adv = torch.tensor(r - baseline)
    theta = logpi_t.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [theta], lr=1.0, max_iter=500, tolerance_grad=1e-15, tolerance_change=1e-16,
        history_size=50, line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure():
        opt.zero_grad()
        logp = torch.log_softmax(theta, 0)[:, None]
        # weights n*pi_t turn the batch mean into the expectation under pi_t.
        loss, _ = pmd_loss(
            logp, logpi_t[:, None], adv, torch.ones(n, 1, dtype=torch.float64), tau=tau,
            weights=torch.tensor(n * pi_t),
        )  # fmt: skip
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    return torch.softmax(theta, 0).detach().numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_population_fit_converges_to_core_updates(seed):
    from pmdtheory import exact_update, log_partition, mean_update

    rng = np.random.default_rng(seed)
    n = 6
    pi_t = rng.dirichlet(np.ones(n))
    r = rng.random(n)
    tau = [0.3, 1.0, 0.1][seed]
    got_mean = population_fit(pi_t, r, tau, baseline=pi_t @ r)
    np.testing.assert_allclose(got_mean, mean_update(pi_t, r, tau), atol=TOL_POP, rtol=0)
    got_exact = population_fit(pi_t, r, tau, baseline=float(log_partition(pi_t, r, tau)))
    np.testing.assert_allclose(got_exact, exact_update(pi_t, r, tau), atol=TOL_POP, rtol=0)
    # The two fixed points differ visibly, so the test tells them apart.
    assert np.max(np.abs(got_mean - got_exact)) > 100 * TOL_POP


def test_one_sgd_step_on_sampled_group_matches_numpy():
    """One SGD step of the bridge equals the hand-derived step on softmax logits."""
    rng = np.random.default_rng(5)
    n, k, tau, lr = 5, 8, 0.05, 0.3
    theta0 = rng.standard_normal(n)
    pi_t = np.exp(theta0 - theta0.max())
    pi_t /= pi_t.sum()
    actions = rng.choice(n, size=k, p=pi_t)
    r_all = (rng.random(n) < 0.4).astype(float)
    r = r_all[actions]
    adv = group_advantages(torch.tensor(r), np.zeros(k, dtype=int), baseline="mean")
    theta = torch.tensor(theta0, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=lr)
    logp = torch.log_softmax(theta, 0)[actions][:, None]
    loss, _ = pmd_loss(logp, logp.detach(), adv, torch.ones(k, 1, dtype=torch.float64), tau=tau)
    loss.backward()
    opt.step()
    # Numpy: at theta = theta_old the residual is A/tau, d log pi(a)/d theta = e_a - pi.
    rho = (r - r.mean()) / tau
    grad = np.zeros(n)
    for a, rho_i in zip(actions, rho, strict=True):
        grad += -tau * rho_i * (np.eye(n)[a] - pi_t) / k
    np.testing.assert_allclose(theta.detach().numpy(), theta0 - lr * grad, atol=TOL_STEP, rtol=0)


@pytest.mark.parametrize("fit_steps", [1, 5])
def test_sgd_steps_match_simulator_mean_sampled_fit(fit_steps):
    """The simulator's mean_sampled fit and the bridge's SGD steps give the same logits."""
    from pmdtheory.sim._fit import _fit_row

    rng = np.random.default_rng(6)
    n, k, tau, lr = 7, 16, 0.1, 0.05
    logits = rng.standard_normal(n)
    logpi = logits - np.log(np.exp(logits).sum())
    y = rng.choice(n, size=k, p=np.exp(logpi)).astype(np.int64)
    r_all = (rng.random(n) < 0.5).astype(float)
    r = r_all[y]
    adv = group_advantages(torch.tensor(r), np.zeros(k, dtype=int), baseline="mean")
    theta_sim = np.empty(n)
    # The simulator's private per-context fit kernel, called by keyword (it writes theta).
    _fit_row(
        logpi=logpi, e0=np.exp(logpi), logpi_samp=logpi, y=y, t=adv.numpy() / tau, R=r_all,
        tau=tau, lr=lr, fit_steps=fit_steps, g=np.empty(n), theta=theta_sim, p=np.empty(n),
    )  # fmt: skip

    theta = torch.tensor(logpi, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=lr)
    logp_old = torch.tensor(logpi)[y][:, None]
    ones = torch.ones(k, 1, dtype=torch.float64)
    for _ in range(fit_steps):
        opt.zero_grad()
        loss, _ = pmd_loss(torch.log_softmax(theta, 0)[y][:, None], logp_old, adv, ones, tau=tau)
        loss.backward()
        opt.step()
    got = torch.log_softmax(theta.detach(), 0).numpy()
    np.testing.assert_allclose(got, theta_sim, atol=TOL_STEP, rtol=0)
    assert np.max(np.abs(got - logpi)) > 1e-3  # the step moved the policy


# ---------------------------------------------------------------- half precision


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
def test_half_inputs_are_computed_in_float32(half):
    """1000-token responses whose true log-ratio is 1.0, A/tau = 300 at tau = 0.01: the
    loss comes back in float32, equal to float64 on the same rounded inputs; float16 never
    gives inf (300**2 > 65504) and bfloat16 never loses the log-ratio."""
    b, t, tau = 4, 1000, 0.01
    gen = torch.Generator().manual_seed(5)
    old64 = -torch.rand(b, t, generator=gen, dtype=torch.float64) * 2.0
    logp = (old64 + 1.0 / t).to(half).requires_grad_(True)
    logp_old = old64.to(half)
    adv = torch.tensor([3.0, -3.0, 0.5, 0.0], dtype=half)
    mask = torch.ones(b, t, dtype=half)
    mask[3, 700:] = 0
    loss, metrics = pmd_loss(logp, logp_old, adv, mask, tau=tau)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    ref, ref_metrics = pmd_loss(
        logp.detach().double(), logp_old.double(), adv.double(), mask, tau=tau
    )
    assert abs(loss.item() - ref.item()) <= TOL_HALF * ref.item()
    for key in ("pmd/residual_sq", "pmd/abs_log_ratio"):
        assert abs(metrics[key] - ref_metrics[key]) <= TOL_HALF * ref_metrics[key]
    (grad,) = torch.autograd.grad(loss, logp)
    assert grad.dtype == half and bool(torch.isfinite(grad).all())
    if half == torch.float16:
        naive = (0.5 * tau * (adv / tau) ** 2).sum()  # the square alone overflows float16
        assert torch.isinf(naive)
    else:
        # Sequence log-probs (about -1000) in bfloat16, then subtracted: the 1.0 is lost.
        naive = (logp.detach() * mask)[0].sum() - (logp_old * mask)[0].sum()
        true = float(((logp.detach().double() - logp_old.double()) * mask.double())[0].sum())
        assert abs(float(naive) - true) > BAD_HALF
        assert abs(metrics["pmd/abs_log_ratio"] - ref_metrics["pmd/abs_log_ratio"]) < 1e-4


def test_bool_and_integer_masks_are_accepted():
    logp, logp_old, adv, mask, w = batch(6)
    want, _ = pmd_loss(logp, logp_old, adv, mask, tau=0.2, weights=w)
    for m in (mask.bool(), mask.long(), mask.numpy()):
        got, _ = pmd_loss(logp, logp_old, adv, m, tau=0.2, weights=w)
        assert abs(got.item() - want.item()) < TOL_VALUE


def test_a_zero_weight_is_accepted_and_drops_its_sequence():
    # held-out (seed 8): `w > 0` refused the documented w_i = 0 (e.g. a zero importance
    # weight); the sequence then adds nothing but still counts in the mean's denominator
    logp, logp_old, adv, mask, _ = batch(4, b=3)
    w = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)
    got, _ = pmd_loss(logp, logp_old, adv, mask, tau=0.3, weights=w)
    rest, _ = pmd_loss(logp[1:], logp_old[1:], adv[1:], mask[1:], tau=0.3, num_sequences=3)
    assert float(got) == pytest.approx(float(rest), rel=TOL_VALUE)


@pytest.mark.parametrize("bad", [2, -1])
def test_an_integer_mask_outside_0_1_is_refused(bad):
    # held-out (seed 8): `hi <= 2` let an integer mask of 2 double its token's log-ratio
    logp, logp_old, adv, mask, _ = batch(5, b=2)
    mask = mask.long()
    mask[0, 0] = bad
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        pmd_loss(logp, logp_old, adv, mask, tau=0.3)
