"""Direct preference optimisation on ranked comparisons (the cheaper alternative to RM + PPO).

    python -m training dpo --model runs/sft/model --data SNAPSHOT --output_dir runs/dpo \
        [--beta 0.1] [--max_steps 200] [--batch_size 8] [--learning_rate 5e-7] [--resume]

Input: a ``comparisons`` snapshot. Every ranking is expanded into all its
(winner, loser) pairs (ties give none) — TRL's conversational preference view
``{prompt, chosen, rejected}`` — and trained with TRL's DPOTrainer against a
frozen copy of the starting model as the reference.
Output (``--output_dir``): ``model/``, ``metrics.jsonl``, ``result.json``, ``checkpoints/``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from training.config import RunConfig, parse_config
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class DPORunConfig(RunConfig):
    """DPO on a comparisons snapshot, reference = the starting model."""

    data: str = field(metadata={"help": "comparisons snapshot folder or a .jsonl file."})
    learning_rate: float = field(default=5e-7, metadata={"help": "Peak learning rate (linear decay)."})
    beta: float = field(default=0.1, metadata={"help": "DPO temperature: strength of the implicit KL penalty."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warmup steps."})
    activation_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in backward: less memory, about 30 percent slower "
                          "(TRL's default is on)."},
    )


def pairwise_dataset(rows: list[dict], where: str):
    """HF Dataset of the pairwise view; an input with no ranked pair at all is an error."""
    from datasets import Dataset

    from training.data import to_pairwise

    pairs = to_pairwise(rows)
    if not pairs:
        raise TrainingInputError(f"{where}: no (chosen, rejected) pair: every ranking is a single tie group")
    return Dataset.from_list(pairs)


def build_trainer(cfg: DPORunConfig, snapshot, model_path, writer, device, dtype, callbacks=()):
    """Construct the DPOTrainer (policy + frozen reference loaded from ``model_path``)."""
    import torch
    from trl import DPOConfig, DPOTrainer

    from training.hf_glue import MetricsCallback, trainer_kwargs
    from training.lora import lora_config
    from training.modeling import load_causal_lm, load_tokenizer, sync_pad_token

    tokenizer = load_tokenizer(model_path)
    if not tokenizer.chat_template:
        raise TrainingInputError(f"{model_path}: tokenizer has no chat template; DPO on chat prompts needs one")
    model = load_causal_lm(model_path, device, torch.float32)
    peft_config = lora_config(model, cfg)
    # With LoRA, TRL's reference is the policy with adapters disabled (no second copy). Without, an
    # explicit reference: TRL would otherwise reload it from config.name_or_path.
    ref_model = None if peft_config else load_causal_lm(model_path, device, torch.float32).eval()
    for m in (model, ref_model):
        if m is not None:
            sync_pad_token(m, tokenizer)
    args = DPOConfig(**trainer_kwargs(cfg, writer, device, dtype), beta=cfg.beta,
                     warmup_steps=cfg.warmup_steps, max_length=cfg.max_length, eval_strategy="no")
    eval_ds = pairwise_dataset(snapshot.valid, cfg.data) if snapshot.valid and to_pairs(snapshot.valid) else None
    return DPOTrainer(model=model, ref_model=ref_model, args=args, peft_config=peft_config,
                      train_dataset=pairwise_dataset(snapshot.train, cfg.data), eval_dataset=eval_ds,
                      processing_class=tokenizer, callbacks=[MetricsCallback(writer, desc="dpo"), *callbacks])


def to_pairs(rows: list[dict]) -> int:
    """Number of ranked pairs in ``rows``."""
    from training.data import ranking_pairs

    return sum(len(ranking_pairs(r["ranking"])) for r in rows)


def run(cfg: DPORunConfig, callbacks=()) -> dict:
    """Validate inputs, train, save ``model/`` atomically and write result.json; return the result."""
    from training.data import load_snapshot
    from training.hf_glue import prepare_writer, save_trainer_model, store_frozen_weights_in, train_with_resume
    from training.modeling import pick_device, pick_dtype, resolve_model, seed_everything

    snapshot = load_snapshot(cfg.data, "comparisons")
    pairwise_dataset(snapshot.train, cfg.data)  # fail on "no pairs" before loading any model
    model_path = resolve_model(cfg.model)
    device = pick_device(cfg.device)
    dtype = pick_dtype(device, cfg.precision, model_path)
    seed_everything(cfg.seed)
    writer = prepare_writer(cfg, device)
    trainer = build_trainer(cfg, snapshot, model_path, writer, device, dtype, callbacks)
    store_frozen_weights_in(trainer, dtype, model_path)
    train_with_resume(trainer, writer, cfg.resume)
    evaluation = trainer.evaluate() if trainer.eval_dataset is not None else {}
    save_trainer_model(trainer, writer.model_dir, info={"kind": "policy", "method": "dpo",
                                                       "base_model": str(model_path),
                                                       "steps": trainer.state.global_step})
    if not trainer.is_world_process_zero():
        return {}
    return writer.write_result(
        command="dpo", config=cfg.to_dict(), inputs=snapshot.files,
        summary={"train_rows": len(snapshot.train), "train_pairs": to_pairs(snapshot.train),
                 "valid_rows": len(snapshot.valid), "eval_loss": evaluation.get("eval_loss"),
                 "eval_reward_accuracy": evaluation.get("eval_rewards/accuracies"),
                 "steps": trainer.state.global_step, "base_model": str(model_path), "device": str(device)},
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training dpo ...``."""
    cfg = parse_config(DPORunConfig, argv, prog="python -m training dpo")
    result = run(cfg)
    if result:  # rank 0 only
        from training.runio import stage_line

        print(stage_line(result), file=sys.stderr)
        print(f"dpo: done, model in {result['model_dir']}")
    return 0
