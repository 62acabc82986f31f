"""Supervised fine-tuning on demonstrations, loss on the final assistant turn only (InstructGPT step 1).

    python -m training sft --model smollm2-135m-instruct --data SNAPSHOT --output_dir runs/sft \
        [--max_steps 200] [--batch_size 8] [--learning_rate 2e-5] [--packing] [--resume] [--config sft.yaml]

Input: an ``sft`` snapshot (folder or .jsonl) of ``{"messages": [...]}`` rows.
Output (``--output_dir``): ``model/``, ``metrics.jsonl``, ``result.json``, ``checkpoints/``.

Built on TRL's SFTTrainer. Each row is handed over in TRL's conversational
prompt-completion form, ``{"prompt": messages[:-1], "completion": [messages[-1]]}``,
with ``completion_only_loss=True``: the prompt (rendered with the generation prompt,
e.g. ``<|im_start|>assistant\\n``) gets label -100 and only the demonstration, with
its end-of-turn token and whatever the template writes after it, is trained. Earlier
assistant turns of a multi-turn prompt are context, never targets. The snapshot
format is unchanged.

TRL truncates at ``max_length`` keeping the start, so a prompt that alone fills
``max_length`` would leave nothing of the demonstration; such rows are dropped up
front with a warning on stderr and counted in result.json (``rows_dropped_too_long``).
``--packing`` uses TRL's best-fit-decreasing packing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from training.config import RunConfig, parse_config
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class SFTRunConfig(RunConfig):
    """Supervised fine-tuning on an sft snapshot; loss on the final assistant turn only."""

    data: str = field(metadata={"help": "sft snapshot folder (manifest.json + train.jsonl) or a .jsonl file."})
    learning_rate: float = field(default=2e-5, metadata={"help": "Peak learning rate (linear decay)."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warmup steps."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    packing: bool = field(default=False, metadata={"help": "Pack several conversations per max_length sequence."})
    activation_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in backward: less memory, about 30 percent slower "
                          "(TRL's default is on)."},
    )


def check_chat_template(tokenizer, model_path) -> None:
    """Fail early unless the tokenizer has a chat template (rows are conversations)."""
    if not tokenizer.chat_template:
        raise TrainingInputError(f"{model_path}: tokenizer has no chat template; SFT needs one")


def to_prompt_completion(row: dict) -> dict:
    """TRL conversational prompt-completion form: everything before the demonstration is prompt."""
    messages = row["messages"]
    return {"prompt": messages[:-1], "completion": [messages[-1]]}


def prompt_length(tokenizer, messages: list[dict]) -> int:
    """Tokens of the prompt (all turns but the last) rendered with the generation prompt, as TRL does."""
    out = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True, return_dict=True)
    return len(out["input_ids"])


def too_long_rows(tokenizer, rows: list[dict], max_length: int) -> list[int]:
    """Indices of rows whose prompt alone takes ``max_length`` tokens or more (nothing left to train)."""
    return [i for i, r in enumerate(rows) if prompt_length(tokenizer, r["messages"]) >= max_length]


def drop_too_long(snapshot, tokenizer, max_length: int, data: str):
    """Snapshot without rows whose prompt fills ``max_length``; warn on stderr. Returns (snapshot, n_dropped)."""
    import dataclasses
    import sys

    from training.hf_glue import is_main_process

    bad = too_long_rows(tokenizer, snapshot.train, max_length)
    bad_valid = too_long_rows(tokenizer, snapshot.valid, max_length) if snapshot.valid else []
    if len(bad) == len(snapshot.train):
        raise TrainingInputError(
            f"{data}: every train row's prompt takes >= {max_length} tokens (--max_length), leaving no room "
            "for the demonstration; raise --max_length or shorten the prompts"
        )
    if (bad or bad_valid) and is_main_process():
        for split, idx, rows in (("train", bad, snapshot.train), ("valid", bad_valid, snapshot.valid)):
            if idx:
                first = ", ".join(str(i + 1) for i in idx[:5]) + (", ..." if len(idx) > 5 else "")
                print(f"warning: sft: dropped {len(idx)} of {len(rows)} {split} rows whose prompt takes >= "
                      f"{max_length} tokens (--max_length), so no demonstration token would be trained; "
                      f"rows {first}", file=sys.stderr)

    def keep(rows, idx):
        drop = set(idx)
        return [r for i, r in enumerate(rows) if i not in drop]

    kept = dataclasses.replace(snapshot, train=keep(snapshot.train, bad), valid=keep(snapshot.valid, bad_valid))
    return kept, len(bad)


def build_trainer(cfg: SFTRunConfig, snapshot, model_path, writer, device, dtype, callbacks=()):
    """Construct the SFTTrainer for ``cfg`` (model loaded in fp32; bf16 autocast on CUDA)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from training.hf_glue import MetricsCallback, trainer_kwargs
    from training.lora import lora_config
    from training.modeling import load_causal_lm, load_tokenizer, sync_pad_token

    tokenizer = load_tokenizer(model_path)
    check_chat_template(tokenizer, model_path)
    model = load_causal_lm(model_path, device, torch.float32)
    sync_pad_token(model, tokenizer)
    args = SFTConfig(
        **trainer_kwargs(cfg, writer, device, dtype),
        warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
        max_length=cfg.max_length, packing=cfg.packing,
        completion_only_loss=True, assistant_only_loss=False,
        eval_strategy="no", dataset_num_proc=None,
    )

    def to_dataset(rows):
        return Dataset.from_list([to_prompt_completion(r) for r in rows])

    eval_ds = to_dataset(snapshot.valid) if snapshot.valid else None
    return SFTTrainer(model=model, args=args, train_dataset=to_dataset(snapshot.train), eval_dataset=eval_ds,
                      processing_class=tokenizer, peft_config=lora_config(model, cfg),
                      callbacks=[MetricsCallback(writer, desc="sft"), *callbacks])


def run(cfg: SFTRunConfig, callbacks=()) -> dict:
    """Validate inputs, train, save ``model/`` atomically and write result.json; return the result."""
    from training.data import load_snapshot
    from training.hf_glue import prepare_writer, save_trainer_model, store_frozen_weights_in, train_with_resume
    from training.modeling import load_tokenizer, pick_device, pick_dtype, resolve_model, seed_everything

    snapshot = load_snapshot(cfg.data, "sft")  # validate every row before touching a model
    model_path = resolve_model(cfg.model)
    tokenizer = load_tokenizer(model_path)
    check_chat_template(tokenizer, model_path)
    snapshot, dropped = drop_too_long(snapshot, tokenizer, cfg.max_length, cfg.data)  # before any output
    device = pick_device(cfg.device)
    dtype = pick_dtype(device, cfg.precision, model_path)
    seed_everything(cfg.seed)
    writer = prepare_writer(cfg, device)
    trainer = build_trainer(cfg, snapshot, model_path, writer, device, dtype, callbacks)
    store_frozen_weights_in(trainer, dtype, model_path)
    train_with_resume(trainer, writer, cfg.resume)
    eval_loss = trainer.evaluate().get("eval_loss") if snapshot.valid else None
    save_trainer_model(trainer, writer.model_dir,
                       info={"kind": "sft", "base_model": str(model_path), "steps": trainer.state.global_step})
    if not trainer.is_world_process_zero():
        return {}
    return writer.write_result(
        command="sft", config=cfg.to_dict(), inputs=snapshot.files,
        summary={"train_rows": len(snapshot.train), "valid_rows": len(snapshot.valid),
                 "rows_dropped_too_long": dropped, "eval_loss": eval_loss,
                 "steps": trainer.state.global_step, "base_model": str(model_path), "device": str(device),
                 "precision": "bf16-autocast" if str(dtype) == "torch.bfloat16" else "fp32"},
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training sft ...``."""
    cfg = parse_config(SFTRunConfig, argv, prog="python -m training sft")
    result = run(cfg)
    if result:  # rank 0 only
        from training.runio import stage_line

        print(stage_line(result), file=sys.stderr)
        print(f"sft: done, model in {result['model_dir']}")
    return 0
