r"""PMD on a real LLM, end to end: SmolLM2-135M-Instruct learns small sums.

Each step draws ``--prompts`` arithmetic prompts ("What is a + b?", integers from a
seeded generator), samples ``--k`` answers to each from the current policy, scores
them with a binary reward (1 when the last integer in the answer is the sum),
computes advantages with :func:`pmdtheory.bridge.group_advantages` (``--baseline``)
and takes one AdamW step on :func:`pmdtheory.bridge.pmd_loss` with ``--tau``
(THEORY.md §3: regression of the sequence log-ratio onto ``A / tau``).

After training, check (a): one fixed sampled batch is fitted for ``--fit-steps``
steps; the loss must fall and the achieved sequence log-ratios
:math:`\delta_i = \log\pi_\theta(y_i) - \log\pi_{old}(y_i)` must move towards their
targets :math:`A_i/\tau` (Pearson correlation and least-squares slope reported).

Run::

    python paper_repro/llm_e2e.py [--device cpu|cuda] [--out figures] [--steps 20] [--k 4]
        [--prompts 4] [--tau 0.1] [--baseline mean] [--lr 1e-6] [--seed 0] [--quick]
        [--fit-steps 20] [--fit-lr 5e-7] [--max-new-tokens 16] [--threads 0]

Defaults: 20 steps x 4 prompts x k=4 = 320 sampled answers, 16 new tokens at most,
pure sampling (temperature 1), single-digit sums, system prompt "Answer with a number.".
``--threads 0`` times 1 vs 2 CPU threads and keeps the faster.

Outputs (``DIR`` = ``--out``)
-----------------------------
``DIR/llm_training.png`` and ``.pdf``
    Reward, response length, entropy, implied beta_t (raw and EMA-smoothed, as in
    the paper), and the fit check (loss per step; achieved log-ratio vs target).
``DIR/data/llm_training.csv``, one row per training step:
    ``step``; ``answers`` (cumulative sampled answers); ``reward_mean``;
    ``solved_frac`` (groups with at least one correct answer); ``mixed_frac`` (groups
    with both rewards, the only ones with a nonzero mean-baseline advantage);
    ``response_length`` (mean response tokens, EOS included); ``entropy`` (mean
    per-token entropy of the policy on the sampled response tokens, nats);
    ``loss``, ``residual_sq``, ``abs_log_ratio``, ``frac_residual_gt1`` (the metrics of
    :func:`pmd_loss` at the step's first forward pass); ``beta_mean`` (mean implied
    :math:`\beta_t = \tau\lambda_t` over the mixed groups, NaN if none, THEORY.md §5);
    ``grad_norm`` (before clipping); ``time_rollout_s``, ``time_update_s`` (this
    step), ``time_s`` (cumulative, model load excluded); then the run's parameters
    ``baseline, tau, lr, k, prompts, max_new_tokens, seed, device, threads``.
``DIR/data/llm_fit_check.csv``, one row per fit step of check (a):
    ``fit_step`` (0 = before the first update); ``loss``; ``residual_sq``;
    ``abs_log_ratio``; ``frac_residual_gt1``; ``corr`` (Pearson correlation of
    :math:`\delta_i` with :math:`A_i/\tau` over the batch, NaN when all targets are
    equal); ``slope`` (least-squares slope of :math:`\delta` on the target; 1 is a
    perfect fit); ``time_s``; plus ``baseline, tau, lr`` (here ``--fit-lr``),
    ``n_samples, device``.
``DIR/data/llm_fit_samples.csv``, one row per sample of the fixed batch:
    ``group``, ``reward``, ``advantage``, ``target`` (:math:`A/\tau`), ``log_ratio``
    (achieved :math:`\delta` after the last fit step), ``length``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from pmdtheory.bridge import (  # noqa: E402
    BASELINES,
    group_advantages,
    group_implicit_beta,
    pmd_loss,
)
from pmdtheory.bridge.llm import (  # noqa: E402
    fastest_num_threads,
    load_model,
    response_logprobs,
    sample,
)

# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py);
# budgets on a 2-core CPU (README: about 7 s per step of 16 answers)
REPRO = {
    "default": False,
    "budget_s": {"quick": 120, "full": 600},
    "outputs": [
        "llm_training.png",
        "llm_training.pdf",
        "data/llm_training.csv",
        "data/llm_fit_check.csv",
        "data/llm_fit_samples.csv",
    ],
    "claims": {},
}
REPO = Path(__file__).resolve().parents[1]
SYSTEM = "Answer with a number."
_INT = re.compile(r"-?\d+")


def make_prompts(rng, n, *, max_int=9):
    """``n`` prompts "What is a + b?" with a, b uniform on 1..max_int, and their sums."""
    ab = rng.integers(1, max_int + 1, size=(n, 2))
    return [f"What is {a} + {b}?" for a, b in ab], ab.sum(axis=1)


def reward(text, answer):
    """1.0 when the last integer in ``text`` equals ``answer``, else 0.0."""
    found = _INT.findall(text)
    return float(bool(found) and int(found[-1]) == int(answer))


def ema(x, window):
    """Bias-corrected exponential moving average with span ``window`` (the paper's smoothing)."""
    return pd.Series(x, dtype=float).ewm(span=window, adjust=True, ignore_na=True).mean()


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", type=Path, default=REPO / "figures")
    p.add_argument("--steps", type=int, default=20, help="training steps")
    p.add_argument("--k", type=int, default=4, help="answers per prompt (group size)")
    p.add_argument("--prompts", type=int, default=4, help="prompts per step")
    p.add_argument("--tau", type=float, default=0.1, help="KL strength")
    p.add_argument("--baseline", choices=BASELINES, default="mean")
    p.add_argument("--lr", type=float, default=1e-6, help="AdamW learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--fit-steps", type=int, default=20, help="steps of check (a)")
    p.add_argument("--fit-lr", type=float, default=5e-7, help="AdamW learning rate of check (a)")
    p.add_argument("--ema-window", type=int, default=10, help="EMA span of the figure")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: measure 1 vs 2)")
    p.add_argument("--quick", action="store_true", help="2 steps, 2x2 answers (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.k, args.prompts = 2, 2, 2
        args.max_new_tokens, args.fit_steps = 6, 2
    for name in ("steps", "k", "prompts", "max_new_tokens", "ema_window"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.k < 2 and args.baseline.startswith("loo"):
        raise ValueError("--k must be >= 2 for the leave-one-out baselines")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    return args


def rollout(model, tok, prompts, answers, args, seed):
    """Sample, score and compute advantages for one batch."""
    ro = sample(
        model, tok, prompts, k=args.k, max_new_tokens=args.max_new_tokens, seed=seed,
        system=SYSTEM,
    )  # fmt: skip
    idx = ro.index.cpu().numpy()
    r = torch.tensor(
        [reward(t, answers[i]) for t, i in zip(ro.texts, idx, strict=True)], dtype=torch.float32
    )
    adv = group_advantages(r, ro.index.cpu(), baseline=args.baseline, tau=args.tau)
    return ro, r, adv


def group_stats(r, index, tau):
    """Fractions of solved and mixed groups, and the mean implied beta over mixed groups."""
    g = index.cpu().numpy()
    r_np = r.numpy()
    ids = np.unique(g)
    hi = np.array([r_np[g == i].max() for i in ids])
    lo = np.array([r_np[g == i].min() for i in ids])
    mixed = hi > lo
    beta = group_implicit_beta(r.double(), index.cpu(), tau).numpy()
    beta_mean = float(beta[mixed].mean()) if mixed.any() else float("nan")
    return float((hi > 0).mean()), float(mixed.mean()), beta_mean


def update(model, opt, ro, adv, args, logp_old=None):
    """One AdamW step on pmd_loss; returns (metrics, grad_norm, entropy, logp_old, log_ratio)."""
    dev = ro.input_ids.device
    logp, entropy = response_logprobs(model, ro, with_entropy=True)
    if logp_old is None:
        logp_old = logp.detach()  # on-policy: the sampling policy is the current one
    mask = ro.response_mask.to(logp.dtype)
    loss, metrics = pmd_loss(logp, logp_old, adv.to(dev, logp.dtype), mask, tau=args.tau)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
    opt.step()
    with torch.no_grad():
        ent = float((entropy * mask).sum() / mask.sum())
        log_ratio = ((logp.detach() - logp_old) * mask).sum(-1)
    return metrics, float(grad_norm), ent, logp_old, log_ratio


def train(model, tok, args, threads):
    rng = np.random.default_rng(args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    rows, t_start, answers_seen = [], time.perf_counter(), 0
    for step in range(args.steps):
        t0 = time.perf_counter()
        prompts, answers = make_prompts(rng, args.prompts)
        ro, r, adv = rollout(model, tok, prompts, answers, args, seed=args.seed * 100_003 + step)
        t1 = time.perf_counter()
        metrics, gnorm, ent, _, _ = update(model, opt, ro, adv, args)
        t2 = time.perf_counter()
        solved, mixed, beta_mean = group_stats(r, ro.index, args.tau)
        answers_seen += len(ro.texts)
        rows.append({
            "step": step, "answers": answers_seen, "reward_mean": float(r.mean()),
            "solved_frac": solved, "mixed_frac": mixed,
            "response_length": float(ro.response_mask.sum(-1).float().mean()),
            "entropy": ent, "loss": metrics["pmd/loss"],
            "residual_sq": metrics["pmd/residual_sq"],
            "abs_log_ratio": metrics["pmd/abs_log_ratio"],
            "frac_residual_gt1": metrics["pmd/frac_residual_gt1"], "beta_mean": beta_mean,
            "grad_norm": gnorm, "time_rollout_s": t1 - t0, "time_update_s": t2 - t1,
            "time_s": t2 - t_start,
        })  # fmt: skip
        print(
            f"step {step:3d}  reward {r.mean():.3f}  len {rows[-1]['response_length']:5.1f}  "
            f"H {ent:.3f}  loss {metrics['pmd/loss']:.4f}  beta {beta_mean:.4f}  "
            f"rollout {t1 - t0:.1f}s update {t2 - t1:.1f}s",
            flush=True,
        )
    df = pd.DataFrame(rows)
    params = {
        "baseline": args.baseline, "tau": args.tau, "lr": args.lr, "k": args.k,
        "prompts": args.prompts, "max_new_tokens": args.max_new_tokens, "seed": args.seed,
        "device": args.device, "threads": threads,
    }  # fmt: skip
    return df.assign(**params)


def fit_check(model, tok, args):
    """Check (a): fit one fixed sampled batch for ``args.fit_steps`` steps."""
    rng = np.random.default_rng(args.seed + 1)
    prompts, answers = make_prompts(rng, args.prompts)
    ro, r, adv = rollout(model, tok, prompts, answers, args, seed=args.seed + 7)
    target = (adv.double() / args.tau).numpy()
    opt = torch.optim.AdamW(model.parameters(), lr=args.fit_lr, weight_decay=0.0)
    rows, logp_old, t0 = [], None, time.perf_counter()
    for step in range(args.fit_steps + 1):
        if step < args.fit_steps:
            metrics, _, _, logp_old, delta = update(model, opt, ro, adv, args, logp_old)
        else:  # evaluate the last update without taking another
            with torch.no_grad():
                logp = response_logprobs(model, ro)
                mask = ro.response_mask.to(logp.dtype)
                dev, dt = logp.device, logp.dtype
                _, metrics = pmd_loss(logp, logp_old, adv.to(dev, dt), mask, tau=args.tau)
                delta = ((logp - logp_old) * mask).sum(-1)
        d = delta.double().cpu().numpy()
        ok = np.ptp(target) > 0 and np.ptp(d) > 0
        corr = float(np.corrcoef(d, target)[0, 1]) if ok else float("nan")
        slope = float(np.polyfit(target, d, 1)[0]) if np.ptp(target) > 0 else float("nan")
        rows.append({
            "fit_step": step, "loss": metrics["pmd/loss"],
            "residual_sq": metrics["pmd/residual_sq"],
            "abs_log_ratio": metrics["pmd/abs_log_ratio"],
            "frac_residual_gt1": metrics["pmd/frac_residual_gt1"], "corr": corr,
            "slope": slope, "time_s": time.perf_counter() - t0,
        })  # fmt: skip
    fit = pd.DataFrame(rows).assign(
        baseline=args.baseline, tau=args.tau, lr=args.fit_lr, n_samples=len(target),
        device=args.device,
    )  # fmt: skip
    samples = pd.DataFrame({
        "group": ro.index.cpu().numpy(), "reward": r.numpy(), "advantage": adv.numpy(),
        "target": target, "log_ratio": d, "length": ro.response_mask.sum(-1).cpu().numpy(),
    })  # fmt: skip
    print(
        f"fit check: loss {fit['loss'].iloc[0]:.4f} -> {fit['loss'].iloc[-1]:.4f}, "
        f"corr(log ratio, target) {fit['corr'].iloc[-1]:.3f}, slope {fit['slope'].iloc[-1]:.3f}"
    )
    return fit, samples


def plot(df, fit, samples, args):
    from pmdtheory.plotting import PALETTE, figure, panel_label, save

    fig, axes = figure(2, 3, panel_size=(2.6, 2.0))
    panels = [
        ("reward_mean", "reward (fraction correct)"),
        ("response_length", "response length (tokens)"),
        ("entropy", "entropy per token (nats)"),
        ("beta_mean", r"implied $\beta_t=\tau\lambda_t$"),
    ]
    for ax, (col, label), tag in zip(axes.flat[:4], panels, "abcd", strict=True):
        ax.plot(df.answers, df[col], color=PALETTE[0], alpha=0.3, lw=0.8, label="per step")
        ax.plot(df.answers, ema(df[col], args.ema_window), color=PALETTE[0], label="EMA")
        ax.set_xlabel("sampled answers")
        ax.set_ylabel(label)
        panel_label(ax, tag)
    axes.flat[0].legend()
    ax = axes.flat[4]
    ax.plot(fit.fit_step, fit.loss, color=PALETTE[1], marker="o", ms=2)
    ax.set_xlabel("fit step (fixed batch)")
    ax.set_ylabel("PMD loss")
    panel_label(ax, "e")
    ax = axes.flat[5]
    ax.scatter(samples.target, samples.log_ratio, s=8, color=PALETTE[2])
    lim = [float(samples.target.min()), float(samples.target.max())]
    ax.plot(lim, lim, color="#555555", ls=":", lw=0.8, label="target")
    ax.set_xlabel(r"target $A_i/\tau$")
    ax.set_ylabel(r"achieved $\log\pi_\theta/\pi_{old}$")
    ax.set_title(f"corr {fit['corr'].iloc[-1]:.2f}")
    panel_label(ax, "f")
    fig.suptitle(
        f"SmolLM2-135M, PMD ({args.baseline} baseline), tau={args.tau:g}, lr={args.lr:g}, "
        f"k={args.k}, {args.prompts} prompts/step"
    )
    return save(fig, "llm_training", args.out)


def main(argv=None, *, model=None, tokenizer=None):
    """Run the training and check (a); write the CSVs and the figure. Returns the tables.

    ``model``/``tokenizer`` may be passed in (tests load them once); else they are loaded.
    """
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    if model is None:
        model, tokenizer = load_model(device=args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = fastest_num_threads(model) if args.threads == 0 else args.threads
    print(f"model ready in {time.perf_counter() - t0:.1f} s on {args.device}, {threads} thread(s)")
    df = train(model, tokenizer, args, threads)
    fit, samples = fit_check(model, tokenizer, args)
    data = Path(args.out) / "data"
    data.mkdir(parents=True, exist_ok=True)
    df.to_csv(data / "llm_training.csv", index=False, float_format="%.8g")
    fit.to_csv(data / "llm_fit_check.csv", index=False, float_format="%.8g")
    samples.to_csv(data / "llm_fit_samples.csv", index=False, float_format="%.8g")
    paths = plot(df, fit, samples, args)
    print(f"wrote {data}/llm_training.csv, llm_fit_check.csv, llm_fit_samples.csv, {paths}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return df, fit, samples


def cli(argv=None):
    """Command-line entry: a bad argument (``--device cuda`` without CUDA, a size < 1) is one
    line on stderr and exit code 2, checked before the model loads; Ctrl-C exits 130."""
    try:
        parse_args(argv)
    except ValueError as e:
        print(f"llm_e2e.py: error: {e}", file=sys.stderr)
        return 2
    try:
        main(argv)
    except KeyboardInterrupt:
        print("llm_e2e.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(cli())
