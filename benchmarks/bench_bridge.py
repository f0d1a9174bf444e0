"""Benchmark of the torch bridge (issue 7 goals), ratios measured in one run.

1. ``group_advantages(..., baseline="loo_partition")`` on 65,536 rewards in groups of
   16 against the per-group Python loop of benchmarks/_bridge_reference.py (same
   formula): goal >= 100x faster, equal results (float64, 1e-12).
2. ``pmd_loss`` forward + backward against the SmolLM2-135M forward + backward on the
   same batch (8 responses of 32 tokens after a chat prompt): goal < 2%.
3. ``pmd_loss`` forward + backward on bfloat16 inputs (computed in float32, issue 12)
   against float32 inputs, 64 responses of 4,096 tokens: goal <= 2x (the price of the
   upcast copies), and the mask/weight validation against the bare formula on float32
   (benchmarks/_bridge_reference.py): goal <= 2x.

Run: ``python benchmarks/bench_bridge.py`` (loads the model: ~15-45 s on CPU).
"""

from __future__ import annotations

import os
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from _bridge_reference import loo_partition_loop, pmd_loss_bare  # noqa: E402

from pmdtheory.bridge import group_advantages, pmd_loss  # noqa: E402
from pmdtheory.bridge.llm import (  # noqa: E402
    Rollout,
    fastest_num_threads,
    load_model,
    response_logprobs,
)

N, K, TAU = 65_536, 16, 0.05


def best_of(fn, repeats):
    """Minimum wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_advantages():
    g = torch.Generator().manual_seed(0)
    rewards = (torch.rand(N, generator=g, dtype=torch.float64) < 0.2).double()
    rewards += 0.01 * torch.rand(N, generator=g, dtype=torch.float64)
    index = torch.arange(N // K).repeat_interleave(K)[torch.randperm(N, generator=g)]
    fast = group_advantages(rewards, index, baseline="loo_partition", tau=TAU)
    slow = loo_partition_loop(rewards, index, TAU)
    err = float((fast - slow).abs().max())
    t_fast = best_of(
        lambda: group_advantages(rewards, index, baseline="loo_partition", tau=TAU), 20
    )
    t_slow = best_of(lambda: loo_partition_loop(rewards, index, TAU), 1)
    ratio = t_slow / t_fast
    ok = ratio >= 100 and err <= 1e-12
    print(
        f"group_advantages loo_partition, N={N}, k={K}: vectorized {t_fast * 1e3:.2f} ms, "
        f"per-group loop {t_slow * 1e3:.0f} ms, speed-up {ratio:.0f}x (goal >= 100x), "
        f"max |diff| {err:.1e} -> {'OK' if ok else 'MISSED'}"
    )
    return ratio, err


def bench_loss():
    model, tok = load_model()
    threads = fastest_num_threads(model)
    b, p, t = 8, 40, 32
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(100, 40_000, (b, p + t), generator=g)
    mask = torch.ones(b, t, dtype=torch.long)
    ro = Rollout(ids, torch.ones_like(ids), p, mask, torch.arange(b) // 4, [""] * b)
    adv = torch.randn(b, generator=g)

    def model_step():
        model.zero_grad(set_to_none=True)
        response_logprobs(model, ro).sum().backward()

    with torch.no_grad():
        logp_old = response_logprobs(model, ro)
    logp = logp_old.clone().requires_grad_(True)

    def loss_step():
        logp.grad = None
        loss, _ = pmd_loss(logp, logp_old, adv, mask, tau=TAU)
        loss.backward()

    t_model = best_of(model_step, 2)
    t_loss = best_of(loss_step, 50)
    frac = t_loss / t_model
    print(
        f"pmd_loss fwd+bwd {t_loss * 1e3:.3f} ms vs SmolLM2 fwd+bwd {t_model * 1e3:.0f} ms "
        f"(batch {b}x{p + t} tokens, {threads} thread(s)): {100 * frac:.3f}% (goal < 2%) "
        f"-> {'OK' if frac < 0.02 else 'MISSED'}"
    )
    return frac


def bench_half():
    b, t = 64, 4096
    g = torch.Generator().manual_seed(2)
    old32 = -3.0 * torch.rand(b, t, generator=g)
    mask = (torch.arange(t)[None, :] < torch.randint(1, t, (b, 1), generator=g)).long()
    adv = torch.randn(b, generator=g)
    times = {}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        old = old32.to(dtype)
        logp = (old32 + 1e-3).to(dtype).requires_grad_(True)

        def step(logp=logp, old=old):
            logp.grad = None
            pmd_loss(logp, old, adv, mask, tau=TAU)[0].backward()

        times[name] = best_of(step, 10)
    logp = (old32 + 1e-3).requires_grad_(True)

    def bare():
        logp.grad = None
        pmd_loss_bare(logp, old32, adv, mask, TAU).backward()

    times["bare"] = best_of(bare, 10)
    half_ratio = times["bfloat16"] / times["float32"]
    check_ratio = times["float32"] / times["bare"]
    print(
        f"pmd_loss fwd+bwd {b}x{t}: float32 {times['float32'] * 1e3:.1f} ms, bfloat16 "
        f"(upcast) {times['bfloat16'] * 1e3:.1f} ms, ratio {half_ratio:.2f}x (goal <= 2x) -> "
        f"{'OK' if half_ratio <= 2 else 'MISSED'}; bare formula {times['bare'] * 1e3:.1f} ms, "
        f"validation overhead {check_ratio:.2f}x (goal <= 2x) -> "
        f"{'OK' if check_ratio <= 2 else 'MISSED'}"
    )
    return half_ratio, check_ratio


def main():
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    bench_advantages()
    bench_half()
    bench_loss()


if __name__ == "__main__":
    main()
