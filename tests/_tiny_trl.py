"""A tiny random Llama-style model and helpers shared by the TRL tests and the launch script.

Built at run time, nothing downloaded: a 2-layer config (hidden size 16) with the SmolLM2
tokenizer from :func:`pmdtheory.bridge.llm.load_tokenizer`, saved to a temporary folder
once per process (reading the tokenizer from its GGUF file is the slow part).
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import shutil
import tempfile
import zlib

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is "experimental"

HIDDEN = 16
LAYERS = 2


def save_tiny_model(folder, tokenizer, seed=0):
    """Save a fresh 2-layer random Llama-style causal LM and ``tokenizer`` in ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@functools.cache
def tiny_dir():
    """Folder of the tiny model and its tokenizer (built once per process)."""
    from pmdtheory.bridge.llm import load_tokenizer

    folder = tempfile.mkdtemp(prefix="pmd-tiny-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return save_tiny_model(folder, load_tokenizer())


def load(folder):
    """(model, tokenizer) from a folder written by :func:`save_tiny_model`, float32, CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model, tokenizer


def prompt_dataset(n=8):
    """``n`` plain-text prompts (a datasets.Dataset with a ``prompt`` column)."""
    from datasets import Dataset

    return Dataset.from_dict({"prompt": [f"Count to {i}:" for i in range(1, n + 1)]})


def reward_even(completion_ids, **kwargs):
    """Fraction of even token ids: varied within a group, a function of the tokens only."""
    return [float(np.mean([t % 2 == 0 for t in ids])) if ids else 0.0 for ids in completion_ids]


def reward_short(completion_ids, **kwargs):
    """A second objective on another scale: minus the length / 4."""
    return [-len(ids) / 4.0 for ids in completion_ids]


def make_rollout(num_generations, *, max_len=6, eos=True, sampler_shift=None):
    """A TRL ``rollout_func`` whose completions depend only on the prompt and the response's
    position in its group: identical on 1 or 2 processes, and under any seed.

    Response ``j`` of a prompt has ``2 + (j + crc(prompt)) % (max_len - 1)`` tokens; with
    ``eos`` the last one is the end-of-sequence token unless ``j`` is 0 (one truncated
    response per group), without it every response is truncated. The sampler's token
    log-probs ("logprobs", what vLLM would report) are
    ``-log(vocab) - sampler_shift[j % len(sampler_shift)] / length`` per token: the random
    model's log-probs are close to ``-log(vocab)``, so the sequence importance ratio
    pi_old/mu is about ``exp(shift)`` (default shift 0).
    """

    def rollout(prompts, trainer):
        tokenizer = trainer.processing_class
        rank = trainer.accelerator.process_index
        out = {"prompt_ids": [], "completion_ids": [], "logprobs": []}
        for i, prompt in enumerate(prompts):
            position = (rank * len(prompts) + i) % num_generations
            crc = zlib.crc32(prompt.encode())
            rng = np.random.default_rng([crc, position])
            length = 2 + (position + crc) % (max_len - 1)
            ids = rng.integers(100, 40_000, size=length).tolist()
            if eos and position != 0:
                ids[-1] = tokenizer.eos_token_id
            shift = 0.0 if sampler_shift is None else sampler_shift[position % len(sampler_shift)]
            out["prompt_ids"].append(tokenizer(prompt)["input_ids"])
            out["completion_ids"].append(ids)
            out["logprobs"].append([-math.log(len(tokenizer)) - shift / length] * length)
        return out

    return rollout
