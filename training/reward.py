"""``python -m training reward``: train a reward model on K-way rankings (InstructGPT).

    python -m training reward --model runs/sft/model --data snapshots/cmp-12 \\
        --output_dir runs/rm --max_steps 500 --batch_size 8 --learning_rate 9e-6

One optimizer step takes ``batch_size`` rankings. All completions of those
rankings go through the model in ONE padded forward, each scored once, and
the loss is the K-way loss of ``training.reward_loss`` (all C(K,2) pairs of a
ranking form one batch element). A pairwise trainer would score K(K-1)
completions per ranking instead of K.

Outputs in ``--output_dir``: ``model/`` (``load_reward_model`` reads it; it
holds the normalisation offset), ``metrics.jsonl`` (step, progress, loss, lr,
tokens_per_s, train_acc) and ``result.json`` (held-out pairwise accuracy,
``forward_passes`` / ``completions_scored``). ``--resume`` continues from the
last checkpoint and lands where an uninterrupted run lands (data order is a
pure function of seed and step; RNG, optimizer and schedule are checkpointed).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from training.config import RunConfig, parse_config
from training.data import Snapshot, load_snapshot, read_rows, sha256_file
from training.errors import TrainingInputError
from training.modeling import pick_device, pick_dtype, resolve_model, seed_everything
from training.optim import autocast, make_optimizer, warmup_schedule
from training.order import batch_rows
from training.reward_loss import build_pair_index, kway_ranking_loss, pairwise_accuracy
from training.reward_model import RewardModel, init_reward_model, pad_sequences
from training.runio import RunWriter, Throughput, load_latest_checkpoint, progress_bar, save_checkpoint
from training.runio import restore_rng_state, save_model_atomic

# One tokenized comparison row: the token ids of each (prompt + completion i).
TokRow = list[list[int]]


@dataclass(kw_only=True)
class RewardConfig(RunConfig):
    """Train a scalar reward model on comparison rankings with the InstructGPT K-way loss."""

    data: str = field(metadata={"help": "Comparisons snapshot folder (train.jsonl + valid.jsonl) or a .jsonl file."})
    valid_data: str | None = field(
        default=None, metadata={"help": "Held-out comparisons .jsonl (default: the snapshot's valid.jsonl)."}
    )
    batch_size: int = field(
        default=8, metadata={"help": "Rankings per optimizer step (all their completions in one forward)."}
    )
    warmup_steps: int = field(default=0, metadata={"help": "Linear LR warmup steps, then linear decay to 0."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Clip the gradient norm (0 = no clipping)."})
    eval_steps: int = field(
        default=0, metadata={"help": "Also measure held-out accuracy every N steps (0 = only at the end)."}
    )
    rankings_per_forward: int = field(
        default=0, metadata={"help": "Score at most N rankings per forward, accumulating gradients (0 = whole batch)."}
    )
    eval_batch_size: int = field(default=32, metadata={"help": "Completions per forward when scoring held-out data."})
    normalize: bool = field(
        default=True,
        metadata={"help": "Store a bias so the training completions (SFT outputs) have mean reward 0, as InstructGPT."},
    )
    normalize_max_rows: int = field(default=1000, metadata={"help": "Rows of train data used to estimate the bias."})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("warmup_steps", "eval_steps", "normalize_max_rows", "rankings_per_forward"):
            if getattr(self, name) < 0:
                raise TrainingInputError(f"config: {name} must be >= 0, got {getattr(self, name)}")
        if self.eval_batch_size <= 0:
            raise TrainingInputError(f"config: eval_batch_size must be > 0, got {self.eval_batch_size}")


# ---------------------------------------------------------------- data


def load_comparisons(cfg: RewardConfig) -> Snapshot:
    """Read and validate train (and held-out) rankings; any bad row raises ``file:line: reason``."""
    snap = load_snapshot(cfg.data, "comparisons")
    if cfg.valid_data:
        path = Path(cfg.valid_data)
        snap.valid = read_rows(path, "comparisons")
        snap.files[str(path)] = sha256_file(path)
    return snap


def score_rankings(model, pad_id: int, toks: list[TokRow], device, dtype) -> tuple[torch.Tensor, int]:
    """Raw scores of all completions of ``toks`` in one right-padded forward → (scores, n_tokens).

    ``model`` is the DDP-wrapped reward model when training under a launcher:
    gradients are synchronised only for forwards that go through the wrapper.
    """
    flat = [seq for row in toks for seq in row]
    ids, mask = pad_sequences(flat, pad_id)
    with autocast(device, dtype):
        scores = model(ids.to(device), mask.to(device))
    return scores.float(), int(mask.sum())


# ---------------------------------------------------------------- loop


class Counters:
    """Work done so far, checkpointed so a resumed run reports whole-run totals."""

    def __init__(self, state: dict | None = None):
        state = state or {}
        self.forward_passes = int(state.get("forward_passes", 0))
        self.pairs_seen = int(state.get("pairs_seen", 0))
        self.rankings_seen = int(state.get("rankings_seen", 0))
        self.window: list[dict] = list(state.get("window", []))

    def state_dict(self) -> dict:
        """JSON view for state.json."""
        return {**vars(self), "window": list(self.window)}


def train_step(rm, optimizer, scheduler, toks, rankings, cfg, device, dtype) -> dict:
    """One optimizer step on a batch of rankings; returns loss, accuracy and sizes.

    With ``cfg.rankings_per_forward`` set, the batch is scored in chunks of
    whole rankings (gradient accumulation for long sequences or big models);
    each chunk's loss is weighted by its share of the batch's rankings, so the
    gradient equals the one-forward gradient of the batch mean.
    """
    per_forward = getattr(cfg, "rankings_per_forward", 0) or len(toks)
    n_groups = max(build_pair_index(rankings, [len(r) for r in toks]).num_groups, 1)
    optimizer.zero_grad(set_to_none=True)
    loss_sum, n_tokens, chunks = 0.0, 0, []
    for start in range(0, len(toks), per_forward):
        part_toks, part_rankings = toks[start : start + per_forward], rankings[start : start + per_forward]
        scores, tokens = score_rankings(rm, part_toks, device, dtype)
        index = build_pair_index(part_rankings, [len(r) for r in part_toks]).to(device)
        loss = kway_ranking_loss(scores, index) * (index.num_groups / n_groups)
        loss.backward()
        loss_sum, n_tokens = loss_sum + float(loss.detach()), n_tokens + tokens
        chunks.append(scores.detach())
    if cfg.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(rm.parameters(), cfg.max_grad_norm)
    optimizer.step()
    scheduler.step()
    scores = torch.cat(chunks)
    acc, n_pairs = pairwise_accuracy(scores, build_pair_index(rankings, [len(r) for r in toks]))
    return {"loss": loss_sum, "acc": acc, "pairs": n_pairs, "tokens": n_tokens, "completions": int(scores.numel())}


def run(cfg: RewardConfig) -> dict:
    """Validate inputs, train, evaluate, normalise, save; return result.json's content."""
    snap = load_comparisons(cfg)  # all rows validated before any model is loaded
    model_path = resolve_model(cfg.model)
    device = pick_device(cfg.device)
    dtype = pick_dtype(device)
    seed_everything(cfg.seed)
    # Trained weights stay float32 (bf16 AdamW updates underflow); autocast runs bf16 on CUDA.
    rm = init_reward_model(model_path, device, torch.float32, max_length=cfg.max_length)
    rm.train()
    train_toks, valid_toks = tokenize_rows(rm, snap.train), tokenize_rows(rm, snap.valid)
    optimizer = make_optimizer(rm.parameters(), cfg.learning_rate, cfg.weight_decay)
    scheduler = warmup_schedule(optimizer, cfg.warmup_steps, cfg.max_steps)
    writer = RunWriter(cfg.output_dir, device)
    start, counters = _maybe_resume(cfg, writer, rm, optimizer, scheduler)

    thr, bar = Throughput(), progress_bar(cfg.max_steps, "reward", initial=start)
    window = counters.window  # steps since the last metrics row (checkpointed: rows average them)
    for step in range(start + 1, cfg.max_steps + 1):
        idx = batch_rows(step - 1, len(snap.train), cfg.batch_size, cfg.seed)
        out = step_fn(rm, optimizer, scheduler, [train_toks[i] for i in idx],
                      [snap.train[i]["ranking"] for i in idx], cfg, device, dtype)
        thr.add(out["tokens"])
        counters.forward_passes += out["completions"]
        counters.pairs_seen += out["pairs"]
        counters.rankings_seen += len(idx)
        window.append(out)
        extras = {}
        if cfg.eval_steps and step % cfg.eval_steps == 0 and snap.valid:
            valid = evaluate(rm, valid_toks, snap.valid, device, dtype, cfg.eval_batch_size)
            extras["valid_acc"] = valid["pairwise_accuracy"]
        if step % cfg.logging_steps == 0 or step == cfg.max_steps or extras:
            _log(writer, step, cfg, scheduler, thr, window, counters, extras)
            window.clear()
        if cfg.save_steps and step % cfg.save_steps == 0 and step < cfg.max_steps:
            save_checkpoint(writer.checkpoint_dir, step, rm.model, optimizer, scheduler,
                            extra=counters.state_dict())
        bar.update(1)
    bar.close()
    return _finish(cfg, writer, rm, snap, train_toks, valid_toks, counters, model_path, device, dtype)


# Indirection so tests can simulate a crash mid-run (monkeypatch step_fn).
step_fn = train_step


def _maybe_resume(cfg, writer, rm, optimizer, scheduler) -> tuple[int, Counters]:
    """Load the latest checkpoint when --resume asks for it; otherwise clear old outputs."""
    ckpt = load_latest_checkpoint(writer.checkpoint_dir) if cfg.resume else None
    if ckpt is None:
        if cfg.resume:
            print(f"note: no checkpoint in {writer.checkpoint_dir}, starting from step 0", file=sys.stderr)
        writer.start_fresh()
        return 0, Counters()
    rm.model.load_state_dict(ckpt["model"]["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    restore_rng_state(ckpt["rng_state"])
    writer.truncate_after(ckpt["step"])
    print(f"resuming from {ckpt['path']} (step {ckpt['step']})", file=sys.stderr)
    return ckpt["step"], Counters(ckpt["extra"])


def _log(writer, step, cfg, scheduler, thr, window, counters, extras) -> None:
    """One metrics.jsonl row averaging the steps since the previous row."""
    n_pairs = sum(o["pairs"] for o in window)
    acc = sum(o["acc"] * o["pairs"] for o in window) / n_pairs if n_pairs else None
    writer.log(
        step, step / cfg.max_steps, sum(o["loss"] for o in window) / len(window),
        scheduler.get_last_lr()[0], thr.rate(), train_acc=acc,
        forward_passes=counters.forward_passes, pairs_seen=counters.pairs_seen, **extras,
    )


def _finish(cfg, writer, rm, snap, train_toks, valid_toks, counters, model_path, device, dtype) -> dict:
    """Held-out evaluation, normalisation bias, atomic model save, result.json."""
    t0 = time.perf_counter()
    valid = evaluate(rm, valid_toks, snap.valid, device, dtype, cfg.eval_batch_size) if snap.valid else None
    eval_s = time.perf_counter() - t0
    norm_scored = 0
    if cfg.normalize:
        subset = train_toks[: cfg.normalize_max_rows]
        rm.offset = normalization_offset(rm, subset, device, dtype, cfg.eval_batch_size)
        norm_scored = sum(len(r) for r in subset)
    info = {"kind": "reward", "base_model": str(model_path), "offset": rm.offset}
    save_model_atomic(rm, None, writer.model_dir, info=info)
    summary = {
        "valid_pairwise_accuracy": valid["pairwise_accuracy"] if valid else None,
        "valid_loss": valid["loss"] if valid else None,
        "valid_pairs": valid["pairs"] if valid else 0,
        "valid_eval_s": round(eval_s, 3),
        "train_pairwise_accuracy": writer.last_metrics.get("train_acc"),
        "reward_offset": rm.offset,
        "forward_passes": counters.forward_passes,
        "completions_scored": counters.forward_passes + (valid["completions_scored"] if valid else 0) + norm_scored,
        "pairs_seen": counters.pairs_seen,
        "rankings_seen": counters.rankings_seen,
        "epochs": counters.rankings_seen / max(len(snap.train), 1),
        "steps": cfg.max_steps,
    }
    return writer.write_result(command="reward", config=cfg.to_dict(), inputs=snap.files, summary=summary)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m training reward``); returns the exit status."""
    cfg = parse_config(RewardConfig, argv, prog="python -m training reward")
    result = run(cfg)
    acc = result["summary"]["valid_pairwise_accuracy"]
    shown = "n/a (no held-out rows)" if acc is None else f"{acc:.4f}"
    print(f"reward model saved to {result['model_dir']}; held-out pairwise accuracy {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
