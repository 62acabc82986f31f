"""Glue between HF/TRL Trainers (used by sft and dpo) and our run outputs.

* :class:`MetricsCallback` turns Trainer log events into metrics.jsonl rows.
* :func:`trainer_kwargs` maps our RunConfig onto TrainingArguments fields.
* :func:`train_with_resume` runs ``trainer.train`` from the last complete checkpoint.

Precision: Trainer-based commands keep fp32 master weights and use bf16 autocast
when :func:`training.modeling.pick_dtype` chooses bf16 (CUDA with bf16 support, or
a CPU with native bf16 and a wide enough model); a LoRA run's frozen weights are
then stored in bf16 (:func:`store_frozen_weights_in`).

Several processes (``accelerate launch``): the Trainer is accelerate-aware;
``--batch_size`` stays the global batch (split evenly over processes, as in
reward and ppo) and only the main process writes metrics, result and model.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from training.config import RunConfig
from training.dist import launched_world_size
from training.errors import TrainingInputError
from training.checkpoints import latest_trainer_checkpoint
from training.runio import MODEL_MARKER, RunWriter, enable_kv_cache, progress_line, utc_now
from training.runio import write_json_atomic

# Trainer log keys copied into metrics rows as extras when present.
EXTRA_KEYS = ("grad_norm", "epoch", "mean_token_accuracy", "entropy",
              "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")


class MetricsCallback(TrainerCallback):
    """Writes one metrics.jsonl row per Trainer logging step and forces a final checkpoint."""

    def __init__(self, writer: RunWriter, save_at_end: bool = True, desc: str = "train"):
        self.writer = writer
        self.desc = desc
        self._start, self._first_step = time.perf_counter(), 0
        self.save_at_end = save_at_end
        self._last_tokens: float | None = None
        self._last_time = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        """Start the token clock (TRL's num_tokens counter restarts at 0 in every process, even on resume)."""
        self._last_tokens, self._last_time = 0.0, time.perf_counter()
        self._start, self._first_step = self._last_time, state.global_step  # a resumed run starts mid-way

    def on_step_end(self, args, state, control, **kwargs):
        """Log and checkpoint the last step too (a run shorter than logging_steps still gets a row)."""
        if state.global_step >= state.max_steps:
            control.should_log = True
            if self.save_at_end and args.save_strategy != "no":
                control.should_save = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Convert a training log event (one with 'loss') into a metrics row."""
        logs = logs or {}
        if not state.is_world_process_zero or "loss" not in logs:
            return  # eval and end-of-train summaries go to result.json instead
        now = time.perf_counter()
        tokens = logs.get("num_tokens")
        rate = None
        if tokens is not None and self._last_tokens is not None:
            rate = (tokens - self._last_tokens) / max(now - self._last_time, 1e-9)
        self._last_tokens, self._last_time = tokens, now
        extras = {k.replace("/", "_"): logs[k] for k in EXTRA_KEYS if k in logs}
        if not sys.stderr.isatty():  # tqdm is off in a job log (carriage returns); print a plain line instead
            print(progress_line(self.desc, state.global_step, state.max_steps, now - self._start,
                                state.global_step - self._first_step, loss=logs["loss"], tokens_per_s=rate),
                  file=sys.stderr, flush=True)
        self.writer.log(step=state.global_step, progress=state.global_step / max(state.max_steps, 1),
                        loss=logs["loss"], lr=logs.get("learning_rate"), tokens_per_s=rate, **extras)


def trainer_kwargs(cfg: RunConfig, writer: RunWriter, device: torch.device, dtype: torch.dtype) -> dict:
    """TrainingArguments fields shared by our Trainer-based commands."""
    return dict(
        output_dir=str(writer.checkpoint_dir),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=per_process_batch(cfg.batch_size),
        per_device_eval_batch_size=per_process_batch(cfg.batch_size),
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="linear",
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or cfg.max_steps,
        save_total_limit=1,  # rotation happens after the new checkpoint is complete
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        use_cpu=device.type == "cpu",
        bf16=dtype == torch.bfloat16,
        dataloader_num_workers=0,
        # Under DDP: every parameter of our causal LMs takes part in each forward, so skip the
        # per-step search for unused ones (Trainer's default turns it on).
        ddp_find_unused_parameters=False,
        # Explicit, so TRL's "on by default" does not silently slow small models down.
        activation_checkpointing=bool(getattr(cfg, "activation_checkpointing", False)),
        disable_tqdm=not sys.stderr.isatty(),  # a job log wants metrics.jsonl, not carriage returns
    )


def store_frozen_weights_in(trainer, dtype: torch.dtype, model_path) -> None:
    """Store a LoRA run's frozen weights in the bf16 compute dtype (:mod:`training.lowp`).

    Under bf16 autocast the Trainer would otherwise cast every frozen fp32 weight again in every
    forward; the forwards are bit-identical either way. Call it after the Trainer has added the
    adapters and before ``train()`` builds the optimizer (which holds only the adapters). Not under
    FSDP or DeepSpeed, whose flattened parameters need one dtype. ``_save_merged`` puts the exact fp32
    weights back before merging.
    """
    from training.lora import has_adapters
    from training.lowp import store_frozen_in

    if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
        return
    if has_adapters(trainer.model):
        trainer.prefloop_lowp = (store_frozen_in(trainer.model, dtype), str(model_path))


def per_process_batch(batch_size: int) -> int:
    """The Trainer's per-device batch for our global ``batch_size`` (as in reward and ppo).

    Under ``accelerate launch`` every process takes an equal share, so the
    optimizer step sees the same number of examples as in a single process.
    """
    world = launched_world_size()
    if batch_size % world:
        raise TrainingInputError(f"config: batch_size ({batch_size}) must be a multiple of the {world} processes")
    return batch_size // world


def train_with_resume(trainer, writer: RunWriter, resume: bool) -> None:
    """Train, continuing from the newest complete checkpoint when ``resume`` is set."""
    checkpoint = latest_trainer_checkpoint(writer.checkpoint_dir) if resume else None
    if resume and checkpoint is None:
        print("resume: no complete checkpoint found, starting from scratch", file=sys.stderr)
    if checkpoint is not None:
        step = int(checkpoint.name.split("-", 1)[1])
        writer.truncate_after(step)  # rows after the checkpoint are about to be redone
        print(f"resume: continuing from {checkpoint} (step {step})", file=sys.stderr)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)


def is_main_process() -> bool:
    """True on rank 0 (or when not launched by torchrun / accelerate launch)."""
    return int(os.environ.get("RANK", "0")) == 0


def prepare_writer(cfg: RunConfig, device: torch.device) -> RunWriter:
    """Create the RunWriter; a fresh (non-resumed) run forgets earlier outputs in output_dir."""
    writer = RunWriter(cfg.output_dir, device=device)
    if not is_main_process():
        pass  # rank 0 owns the files
    elif cfg.resume:
        writer.result_path.unlink(missing_ok=True)  # stale until this run succeeds
    else:
        writer.start_fresh()
    return writer


def save_trainer_model(trainer, model_dir: Path, info: dict) -> None:
    """Save the trained model + tokenizer so that ``model_dir`` appears only when complete.

    ``trainer.save_model`` is collective under FSDP/DeepSpeed (every rank must
    call it, rank 0 writes), so it writes into a fixed temp name shared by all
    ranks; rank 0 then adds the marker and renames the folder into place.
    """
    from training.lora import has_adapters

    if has_adapters(trainer.model):
        _save_merged(trainer, model_dir, info)
        return
    tmp = model_dir.with_name(f"{model_dir.name}.tmp-final")
    if trainer.is_world_process_zero():
        shutil.rmtree(tmp, ignore_errors=True)  # leftovers of a crash during an earlier save
    trainer.accelerator.wait_for_everyone()
    if getattr(trainer, "is_fsdp_enabled", False):
        # With sharded FSDP state dicts (docker/accelerate/fsdp.yaml: fast, resumable checkpoints)
        # Trainer.save_model writes no weights at all; the final model must be gathered whole.
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    enable_kv_cache(trainer.accelerator.unwrap_model(trainer.model))
    trainer.save_model(str(tmp))  # model weights + config + tokenizer (processing_class)
    if not trainer.is_world_process_zero():
        return
    if not (tmp / "config.json").is_file() or not any(tmp.glob("model*.safetensors")):
        raise RuntimeError(f"{tmp}: the trainer saved no model weights; not marking the folder complete")
    (tmp / "training_args.bin").unlink(missing_ok=True)  # belongs to checkpoints, not to a model
    write_json_atomic(tmp / MODEL_MARKER, {"saved_at": utc_now(), **info})
    old = model_dir.with_name(f"{model_dir.name}.old")
    if model_dir.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(model_dir, old)
    os.rename(tmp, model_dir)
    shutil.rmtree(old, ignore_errors=True)


def _save_merged(trainer, model_dir: Path, info: dict) -> None:
    """A LoRA run's model: adapters merged into the weights, so ``model_dir`` loads like any model folder.

    Not for sharded (FSDP/DeepSpeed) runs: merging needs the whole model in one process.
    """
    from training.lora import merge_adapters
    from training.lowp import restore_fp32
    from training.runio import save_model_atomic

    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    lowp = getattr(trainer, "prefloop_lowp", None)
    if lowp is not None:
        restore_fp32(model, *lowp)  # merge into the exact fp32 base weights, not their bf16 rounding
    merged = merge_adapters(model)
    save_model_atomic(merged, trainer.processing_class, model_dir, info={**info, "lora_merged": True})
