"""Supervised fine-tuning on demonstrations, loss on assistant tokens only (InstructGPT step 1).

    python -m training sft --model smollm2-135m-instruct --data SNAPSHOT --output_dir runs/sft \
        [--max_steps 200] [--batch_size 8] [--learning_rate 2e-5] [--packing] [--resume] [--config sft.yaml]

Input: an ``sft`` snapshot (folder or .jsonl) of ``{"messages": [...]}`` rows.
Output (``--output_dir``): ``model/``, ``metrics.jsonl``, ``result.json``, ``checkpoints/``.

Built on TRL's SFTTrainer with ``assistant_only_loss=True``: the model's chat
template carries ``{% generation %}`` markers (our prepared models do; TRL patches
some well-known templates), so the tokenizer returns an assistant mask and every
other token gets label -100. ``--packing`` uses TRL's best-fit-decreasing packing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from training.config import RunConfig, parse_config
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class SFTRunConfig(RunConfig):
    """Supervised fine-tuning on an sft snapshot; loss on assistant tokens only."""

    data: str = field(metadata={"help": "sft snapshot folder (manifest.json + train.jsonl) or a .jsonl file."})
    learning_rate: float = field(default=2e-5, metadata={"help": "Peak learning rate (linear decay)."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warmup steps."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    packing: bool = field(default=False, metadata={"help": "Pack several conversations per max_length sequence."})
    activation_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in backward: less memory, ~30% slower (TRL's default is on)."},
    )


def check_chat_template(tokenizer, model_path) -> None:
    """Fail early unless assistant-only masking is possible with this tokenizer's template."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template
    if not template:
        raise TrainingInputError(f"{model_path}: tokenizer has no chat template; SFT needs one")
    if has_generation_markers(template):
        return
    try:
        if get_training_chat_template(tokenizer) is not None:
            return
    except Exception:  # TRL raises for templates it does not know how to patch
        pass
    raise TrainingInputError(
        f"{model_path}: chat template has no {{% generation %}} markers and TRL cannot patch it; "
        "assistant-only loss is impossible (add the markers around assistant content)"
    )


def build_trainer(cfg: SFTRunConfig, snapshot, model_path, writer, device, dtype, callbacks=()):
    """Construct the SFTTrainer for ``cfg`` (model loaded in fp32; bf16 autocast on CUDA)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from training.hf_glue import MetricsCallback, trainer_kwargs
    from training.modeling import load_causal_lm, load_tokenizer, sync_pad_token

    tokenizer = load_tokenizer(model_path)
    check_chat_template(tokenizer, model_path)
    model = load_causal_lm(model_path, device, torch.float32)
    sync_pad_token(model, tokenizer)
    args = SFTConfig(
        **trainer_kwargs(cfg, writer, device, dtype),
        warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay,
        max_length=cfg.max_length, packing=cfg.packing, assistant_only_loss=True,
        eval_strategy="no", dataset_num_proc=None,
    )

    def to_dataset(rows):
        return Dataset.from_list([{"messages": r["messages"]} for r in rows])

    eval_ds = to_dataset(snapshot.valid) if snapshot.valid else None
    return SFTTrainer(model=model, args=args, train_dataset=to_dataset(snapshot.train), eval_dataset=eval_ds,
                      processing_class=tokenizer, callbacks=[MetricsCallback(writer), *callbacks])


def run(cfg: SFTRunConfig, callbacks=()) -> dict:
    """Validate inputs, train, save ``model/`` atomically and write result.json; return the result."""
    from training.data import load_snapshot
    from training.hf_glue import prepare_writer, save_trainer_model, train_with_resume
    from training.modeling import pick_device, pick_dtype, resolve_model, seed_everything

    snapshot = load_snapshot(cfg.data, "sft")  # validate every row before touching a model
    model_path = resolve_model(cfg.model)
    device = pick_device(cfg.device)
    dtype = pick_dtype(device)
    seed_everything(cfg.seed)
    writer = prepare_writer(cfg, device)
    trainer = build_trainer(cfg, snapshot, model_path, writer, device, dtype, callbacks)
    train_with_resume(trainer, writer, cfg.resume)
    eval_loss = trainer.evaluate().get("eval_loss") if snapshot.valid else None
    save_trainer_model(trainer, writer.model_dir,
                       info={"kind": "sft", "base_model": str(model_path), "steps": trainer.state.global_step})
    if not trainer.is_world_process_zero():
        return {}
    return writer.write_result(
        command="sft", config=cfg.to_dict(), inputs=snapshot.files,
        summary={"train_rows": len(snapshot.train), "valid_rows": len(snapshot.valid), "eval_loss": eval_loss,
                 "steps": trainer.state.global_step, "base_model": str(model_path), "device": str(device),
                 "precision": "bf16-autocast" if str(dtype) == "torch.bfloat16" else "fp32"},
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training sft ...``."""
    cfg = parse_config(SFTRunConfig, argv, prog="python -m training sft")
    result = run(cfg)
    if result:  # rank 0 only
        print(f"sft: done, model in {result['model_dir']}")
    return 0
