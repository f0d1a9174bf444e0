"""Two PMDTrainer steps on the tiny model, for tests/test_trl_distributed.py.

Run in-process by the test (one process) or under accelerate::

    accelerate launch --multi_gpu --num_processes 2 tests/trl_dist_run.py OUT MODEL_DIR \
        --per-device 6 --mask-truncated

(``use_cpu=True`` in the config: on a machine without GPU the two processes train on
CPU with gloo. ``accelerate launch --cpu --num_processes 2`` starts two processes only
through ``mpirun``; without it, it silently runs one.)

Generation is a deterministic ``rollout_func`` (tests/_tiny_trl.py), so one and two
processes see the same completions; the optimizer is plain SGD at a constant learning
rate, so the parameter update is linear in the gradient and float32 rounding is not
amplified (Adam's first step is lr * sign(g), which flips on rounding-level gradients).
Each process writes ``rank<r>.pt`` with the advantages it trained on (in generation
order, before TRL's shuffle); rank 0 adds the step logs and the parameter update.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _tiny_trl as tiny  # noqa: E402

NUM_GENERATIONS = 4


def train(
    out, model_dir, *, per_device, accum, num_iterations=2, steps=2, lr=0.1, mask_truncated=False
):
    """Train ``steps`` steps; write ``out/rank<r>.pt``; return rank 0's record."""
    import torch

    from pmdtheory.bridge.trl import PMDConfig, PMDTrainer

    class Recording(PMDTrainer):
        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            self.recorded.append(output["advantages"].detach().clone())
            self.active.append(int((output["completion_mask"].sum(-1) > 0).sum()))
            return output

    torch.set_num_threads(1)
    model, tokenizer = tiny.load(model_dir)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = PMDConfig(
            output_dir=os.path.join(out, "run"),
            use_cpu=True,
            bf16=False,
            report_to="none",
            disable_tqdm=True,
            num_generations=NUM_GENERATIONS,
            per_device_train_batch_size=per_device,
            gradient_accumulation_steps=accum,
            num_iterations=num_iterations,
            max_completion_length=8,
            max_steps=steps,
            logging_steps=1,
            save_strategy="no",
            optim="sgd",
            learning_rate=lr,
            lr_scheduler_type="constant",
            seed=0,
            mask_truncated_completions=mask_truncated,
        )
        trainer = Recording(
            model=model,
            reward_funcs=tiny.reward_even,
            args=args,
            train_dataset=tiny.prompt_dataset(),
            processing_class=tokenizer,
            rollout_func=tiny.make_rollout(NUM_GENERATIONS),
        )
        trainer.recorded, trainer.active = [], []
        trainer.train()
    rank = trainer.accelerator.process_index
    record = {
        "advantages": trainer.recorded,
        "active": trainer.active,
        "world": trainer.accelerator.num_processes,
    }
    if rank == 0:
        model = trainer.accelerator.unwrap_model(trainer.model)
        record["update"] = {
            k: (v.detach() - before[k]).clone() for k, v in model.named_parameters()
        }
        record["logs"] = [
            {k: v for k, v in h.items() if k.startswith("pmd/") or k in ("loss", "reward")}
            for h in trainer.state.log_history
            if "loss" in h
        ]
    os.makedirs(out, exist_ok=True)
    torch.save(record, os.path.join(out, f"rank{rank}.pt"))
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("model_dir")
    parser.add_argument("--per-device", type=int, required=True)
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--num-iterations", type=int, default=2)
    parser.add_argument("--mask-truncated", action="store_true")
    a = parser.parse_args(argv)
    train(
        a.out,
        a.model_dir,
        per_device=a.per_device,
        accum=a.accum,
        num_iterations=a.num_iterations,
        mask_truncated=a.mask_truncated,
    )


if __name__ == "__main__":
    main()
