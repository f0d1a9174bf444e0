r"""PMD-mean through TRL: SmolLM2-135M-Instruct trained by :class:`PMDTrainer` on small sums.

The same job as ``llm_e2e.py``, but the loop is TRL's (generation, reward scoring,
micro-batching, optimizer) and only the advantages and the loss are pmdtheory's
(:mod:`pmdtheory.bridge.trl`). Each generation batch holds ``--prompts`` arithmetic
prompts ("Compute a + b. Answer with one number.", integers from a seeded generator)
with ``--k`` answers each; the binary reward is 1 when the last integer in the
answer is the sum. With ``num_iterations=2`` (PMDConfig's default) every generation
batch is used for two optimizer steps, the second regressing the log-ratio against
the sampling policy.

Run::

    python paper_repro/trl_pmd.py [--device cpu|cuda] [--steps 40] [--out figures]
        [--k 4] [--prompts 4] [--tau 0.1] [--baseline mean] [--lr 1e-5] [--seed 0] [--quick]

Outputs (``DIR`` = ``--out``)
-----------------------------
``DIR/trl_training.png`` and ``.pdf``
    Reward, response length, entropy, implied :math:`\beta_t`, squared residual and
    :math:`|\log\pi_\theta/\pi_{old}|` per optimizer step.
``DIR/data/trl_training.csv``, one row per optimizer step:
    ``step``; ``generated`` (1 when the step sampled a new batch; the reward-side
    columns are NaN on the reuse steps); ``reward_mean``, ``reward_std``,
    ``frac_constant_groups``, ``beta_mean``, ``beta_median`` (implied
    :math:`\beta_t=\tau\lambda_t` over the groups with unequal rewards, THEORY.md §5),
    ``abs_target`` (mean :math:`|A/\tau|`), ``response_length`` (mean completion
    tokens); ``loss``, ``residual_sq``, ``abs_log_ratio``, ``frac_residual_gt1`` (from
    :func:`pmd_loss`), ``entropy``, ``grad_norm``, ``step_time_s``, ``time_s``
    (cumulative, model load excluded); then ``baseline, tau, lr, k, prompts,
    max_new_tokens, seed, device, threads, trl_version``.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py);
# budgets on a 2-core CPU, estimated (not measured in full)
REPRO = {
    "default": False,
    "budget_s": {"quick": 120, "full": 900},
    "outputs": ["trl_training.png", "trl_training.pdf", "data/trl_training.csv"],
    "claims": {},
}
REPO = Path(__file__).resolve().parents[1]
BASELINES = ("mean", "loo_mean", "partition", "loo_partition")
_INT = re.compile(r"-?\d+")
QUESTION = "Compute {a} + {b}. Answer with one number."
# TRL log keys -> CSV columns.
COLUMNS = {
    "reward": "reward_mean",
    "reward_std": "reward_std",
    "pmd/frac_constant_groups": "frac_constant_groups",
    "pmd/beta_mean": "beta_mean",
    "pmd/beta_median": "beta_median",
    "pmd/abs_target": "abs_target",
    "completions/mean_length": "response_length",
    "loss": "loss",
    "pmd/residual_sq": "residual_sq",
    "pmd/abs_log_ratio": "abs_log_ratio",
    "pmd/frac_residual_gt1": "frac_residual_gt1",
    "entropy": "entropy",
    "grad_norm": "grad_norm",
    "step_time": "step_time_s",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", type=Path, default=REPO / "figures")
    p.add_argument("--steps", type=int, default=40, help="optimizer steps")
    p.add_argument("--k", type=int, default=4, help="answers per prompt (num_generations)")
    p.add_argument("--prompts", type=int, default=4, help="prompts per generation batch")
    p.add_argument("--tau", type=float, default=0.1, help="KL strength")
    p.add_argument("--baseline", choices=BASELINES, default="mean")
    p.add_argument("--lr", type=float, default=1e-5, help="AdamW learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--quick", action="store_true", help="2 steps (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps = 2
    if args.steps < 1 or args.k < 2 or args.prompts < 1:
        p.error("--steps >= 1, --k >= 2 and --prompts >= 1 are required")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device visible")
    return args


def arithmetic_dataset(n, seed):
    """``n`` conversational prompts ``a + b`` with ``a, b`` in 1..20, and their sums."""
    from datasets import Dataset

    ab = np.random.default_rng(seed).integers(1, 21, size=(n, 2))
    return Dataset.from_dict({
        "prompt": [[{"role": "user", "content": QUESTION.format(a=a, b=b)}] for a, b in ab],
        "answer": [int(a + b) for a, b in ab],
    })  # fmt: skip


def correct(completions, answer, **kwargs):
    """Binary reward: 1 when the last integer in the answer equals the sum."""
    out = []
    for completion, target in zip(completions, answer, strict=True):
        found = _INT.findall(completion[0]["content"])
        out.append(float(bool(found) and int(found[-1]) == int(target)))
    return out


def train(args):
    import trl

    from pmdtheory.bridge.llm import fastest_num_threads, load_model
    from pmdtheory.bridge.trl import PMDConfig, PMDTrainer

    t0 = time.perf_counter()
    model, tokenizer = load_model(device=args.device)
    threads = fastest_num_threads(model)
    print(f"model ready in {time.perf_counter() - t0:.1f} s on {args.device}, {threads} thread(s)")
    n_generations = -(-args.steps // 2)  # two optimizer steps per generation batch
    data = arithmetic_dataset(max(n_generations * args.prompts, args.prompts), args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = PMDConfig(
            output_dir=tmp,
            tau=args.tau,
            pmd_baseline=args.baseline,
            num_generations=args.k,
            per_device_train_batch_size=args.k * args.prompts,
            max_completion_length=args.max_new_tokens,
            max_steps=args.steps,
            learning_rate=args.lr,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            gradient_checkpointing=False,
            bf16=False,
            use_cpu=args.device == "cpu",
            seed=args.seed,
        )
        trainer = PMDTrainer(
            model=model,
            reward_funcs=correct,
            args=config,
            train_dataset=data,
            processing_class=tokenizer,
        )
        trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h and "step" in h]
    df = pd.DataFrame([{col: h.get(key) for key, col in COLUMNS.items()} for h in logs])
    df = df.astype(float)
    df.insert(0, "step", [h["step"] for h in logs])
    df.insert(1, "generated", [int("reward" in h) for h in logs])
    df["time_s"] = df.step_time_s.cumsum()
    return df.assign(
        baseline=args.baseline, tau=args.tau, lr=args.lr, k=args.k, prompts=args.prompts,
        max_new_tokens=args.max_new_tokens, seed=args.seed, device=args.device,
        threads=threads, trl_version=trl.__version__,
    )  # fmt: skip


def plot(df, args):
    from matplotlib.ticker import MaxNLocator

    from pmdtheory.plotting import PALETTE, figure, panel_label, save

    fig, axes = figure(2, 3, panel_size=(2.6, 2.0))
    panels = [
        ("reward_mean", "reward (fraction correct)", False),
        ("response_length", "response length (tokens)", False),
        ("entropy", "entropy per token (nats)", False),
        ("beta_mean", r"implied $\beta_t=\tau\lambda_t$", False),
        ("residual_sq", r"residual$^2$ $(A/\tau-\delta)^2$", True),
        ("abs_log_ratio", r"$|\log\pi_\theta/\pi_{old}|$ (sequence)", False),
    ]
    for ax, (col, label, logy), tag in zip(axes.flat, panels, "abcdef", strict=True):
        d = df[["step", col]].dropna()
        ax.plot(d.step, d[col], color=PALETTE[0], marker="o", ms=2, lw=0.8)
        ax.set_xlabel("optimizer step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        if logy and (d[col] > 0).any():
            ax.set_yscale("log")
        panel_label(ax, tag)
    fig.suptitle(
        f"TRL PMDTrainer, SmolLM2-135M ({args.baseline} baseline), tau={args.tau:g}, "
        f"lr={args.lr:g}, k={args.k}, {args.prompts} prompts/generation"
    )
    return save(fig, "trl_training", args.out)


def main(argv=None):
    """Train, write ``DIR/data/trl_training.csv`` and the figure; return the table."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    df = train(args)
    data = Path(args.out) / "data"
    data.mkdir(parents=True, exist_ok=True)
    df.to_csv(data / "trl_training.csv", index=False, float_format="%.8g")
    paths = plot(df, args)
    gen = df[df.generated == 1]
    print(
        f"reward first/last generation {gen.reward_mean.iloc[0]:.3f} / "
        f"{gen.reward_mean.iloc[-1]:.3f}; median step {df.step_time_s.median():.2f} s"
    )
    print(f"wrote {data / 'trl_training.csv'}, {', '.join(map(str, paths))}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return df


if __name__ == "__main__":
    main()
