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

Several GPUs (DDP, one full model copy per GPU; ``training.dist``)::

    accelerate launch --config_file docker/accelerate/ddp.yaml --num_processes 4 \\
        -m training reward --model runs/sft/model --data snapshots/cmp-12 --output_dir runs/rm

``--batch_size`` stays the global batch: each process scores a contiguous
slice of every batch's rankings, the loss is weighted so that the averaged
gradient is exactly the single-process one, and losses, accuracies and token
counts are summed over processes before the main process logs them. Held-out
scoring and the normalisation offset are split across processes too. Only the
main process writes metrics.jsonl, checkpoints, ``model/`` and result.json.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import extract_model_from_parallel

from training.config import RunConfig, parse_config
from training.data import Snapshot, load_snapshot, read_rows, sha256_file
from training.dist import SingleProcess, capture_rng_states, check_divisible, decorrelate_rng, make_accelerator
from training.dist import reduce_sums, restore_rng_states, shard_slice
from training.errors import TrainingInputError
from training.lora import has_adapters, make_trainable, merge_adapters, trainable_summary
from training.modeling import pick_dtype, resolve_model, seed_everything
from training.optim import autocast, make_optimizer, warmup_schedule
from training.order import batch_rows
from training.reward_eval import TokRow, evaluate, normalization_offset, normalization_rows, tokenize_rows
from training.reward_loss import build_pair_index, kway_ranking_loss, pairwise_accuracy
from training.reward_model import RewardModel, init_reward_model, pad_sequences
from training.checkpoints import load_latest_checkpoint, save_checkpoint
from training.runio import RunWriter, Throughput, progress_bar
from training.runio import save_model_atomic, stage_line


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
    normalize_max_rows: int = field(
        default=128, metadata={"help": "Train rankings (a seeded sample across the file) whose completions estimate "
                                       "the bias; every completion costs a forward pass."})
    freeze_trunk: bool = field(
        default=False,
        metadata={"help": "Train only the scalar head on a frozen trunk: far cheaper (no backward through the "
                          "model), but it can only reweigh features the model already has."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("warmup_steps", "eval_steps", "normalize_max_rows", "rankings_per_forward"):
            if getattr(self, name) < 0:
                raise TrainingInputError(f"config: {name} must be >= 0, got {getattr(self, name)}")
        if self.normalize and self.normalize_max_rows == 0:
            raise TrainingInputError("config: normalize_max_rows must be >= 1 when normalize is on")
        if self.eval_batch_size <= 0:
            raise TrainingInputError(f"config: eval_batch_size must be > 0, got {self.eval_batch_size}")
        if self.freeze_trunk and self.lora_rank:
            raise TrainingInputError("config: freeze_trunk and lora_rank exclude each other "
                                     "(adapters live in the trunk)")


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


def train_step(model, optimizer, scheduler, toks, rankings, cfg, device, dtype, *, accelerator=None,
               batch_groups: int | None = None) -> dict:
    """One optimizer step on this process's slice of a batch of rankings; returns its share of the figures.

    The batch loss is the mean over the batch's ``batch_groups`` rankings that
    have pairs (default: this slice is the whole batch). Each forward chunk's
    mean is weighted by its share of those rankings, so accumulating gradients
    over chunks (``cfg.rankings_per_forward``, for long sequences or big models)
    and over processes gives exactly the gradient of the one-forward batch mean.
    The extra factor ``num_processes`` undoes DDP's averaging over processes.

    Returned ``loss``, ``correct``, ``pairs``, ``tokens`` and ``completions``
    are this process's parts: summed over processes they are the batch's figures.
    """
    acc = accelerator or SingleProcess()
    pad_id = extract_model_from_parallel(model).tokenizer.pad_token_id
    per_forward = getattr(cfg, "rankings_per_forward", 0) or len(toks)
    if batch_groups is None:
        batch_groups = build_pair_index(rankings, [len(r) for r in toks]).num_groups
    optimizer.zero_grad(set_to_none=True)
    loss_sum, n_tokens, chunks = 0.0, 0, []
    for start in range(0, len(toks), per_forward):
        part_toks, part_rankings = toks[start : start + per_forward], rankings[start : start + per_forward]
        # Only the last backward all-reduces: processes may hold different numbers of chunks.
        last = start + per_forward >= len(toks)
        with contextlib.nullcontext() if last else acc.no_sync(model):
            scores, tokens = score_rankings(model, pad_id, part_toks, device, dtype)
            index = build_pair_index(part_rankings, [len(r) for r in part_toks]).to(device)
            loss = kway_ranking_loss(scores, index) * (index.num_groups / max(batch_groups, 1))
            acc.backward(loss * acc.num_processes)
        loss_sum, n_tokens = loss_sum + float(loss.detach()), n_tokens + tokens
        chunks.append(scores.detach())
    if cfg.max_grad_norm > 0:
        acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    scheduler.step()
    scores = torch.cat(chunks)
    accuracy, n_pairs = pairwise_accuracy(scores, build_pair_index(rankings, [len(r) for r in toks]))
    return {"loss": loss_sum, "acc": accuracy, "correct": accuracy * n_pairs, "pairs": n_pairs,
            "tokens": n_tokens, "completions": int(scores.numel())}


@dataclass
class Run:
    """One reward run's state: the accelerator, the model both plain and prepared, data and outputs."""

    cfg: RewardConfig
    accelerator: Any
    rm: RewardModel  # the plain module: evaluation, checkpoints, the saved model
    model: Any  # ``rm`` as prepared by the accelerator (DDP-wrapped under a launcher): training forwards
    optimizer: Any
    scheduler: Any
    snap: Snapshot
    train_toks: list[TokRow]
    valid_toks: list[TokRow]
    writer: RunWriter
    model_path: Path

    @property
    def device(self) -> torch.device:
        """This process's device."""
        return self.accelerator.device

    @property
    def dtype(self) -> torch.dtype:
        """Autocast dtype: bf16 on CUDA when supported, else float32."""
        return pick_dtype(self.device, self.cfg.precision, self.model_path)


def setup(cfg: RewardConfig) -> Run:
    """Validate inputs, then build the accelerator, model, optimizer and schedule."""
    snap = load_comparisons(cfg)  # all rows validated before any model is loaded
    accelerator = make_accelerator(cfg.device, "reward", cfg.precision)
    with accelerator.main_process_first():  # a registered model is prepared once, not raced by every process
        model_path = resolve_model(cfg.model)
    check_divisible(cfg.batch_size, accelerator, "batch_size")
    seed_everything(cfg.seed)  # the same on every process: identical initial heads
    # Trained weights stay float32 (bf16 AdamW updates underflow); autocast runs bf16 on CUDA.
    rm = init_reward_model(model_path, accelerator.device, torch.float32, max_length=cfg.max_length)
    make_trainable(rm, cfg, freeze_trunk=cfg.freeze_trunk)
    rm.train()
    optimizer = make_optimizer(rm.parameters(), cfg.learning_rate, cfg.weight_decay)
    scheduler = warmup_schedule(optimizer, cfg.warmup_steps, cfg.max_steps)
    model, optimizer, scheduler = accelerator.prepare(rm, optimizer, scheduler)
    return Run(cfg, accelerator, rm, model, optimizer, scheduler, snap, tokenize_rows(rm, snap.train),
               tokenize_rows(rm, snap.valid), RunWriter(cfg.output_dir, accelerator.device), model_path)


def run(cfg: RewardConfig) -> dict:
    """Train, evaluate, normalise, save; return result.json's content ({} on processes other than the main one)."""
    r = setup(cfg)
    main = r.accelerator.is_main_process
    start, counters = _maybe_resume(r)
    thr, bar = Throughput(), progress_bar(cfg.max_steps, "reward", initial=start, disable=not main)
    window = counters.window  # steps since the last metrics row (checkpointed: rows average them)
    for step in range(start + 1, cfg.max_steps + 1):
        out = _global_step(r, step)
        thr.add(out["tokens"])
        counters.forward_passes += int(out["completions"])
        counters.pairs_seen += int(out["pairs"])
        counters.rankings_seen += cfg.batch_size
        window.append(out)
        extras = {}
        if cfg.eval_steps and step % cfg.eval_steps == 0 and r.snap.valid:
            extras["valid_acc"] = _evaluate(r)["pairwise_accuracy"]
        if step % cfg.logging_steps == 0 or step == cfg.max_steps or extras:
            if main:  # every process holds the same summed figures; one writes them
                _log(r.writer, step, cfg, r.scheduler, thr, window, counters, extras)
            window.clear()
        if cfg.save_steps and step % cfg.save_steps == 0 and step < cfg.max_steps:
            _checkpoint(r, step, counters)
        bar.update(1)
    bar.close()
    result = _finish(r, counters)
    r.accelerator.wait_for_everyone()  # nobody tears the process group down while the main one still writes
    r.accelerator.end_training()
    return result


def _global_step(r: Run, step: int) -> dict:
    """Train on this process's slice of global batch ``step``; return the batch's figures (all processes)."""
    cfg, rows = r.cfg, r.snap.train
    idx = batch_rows(step - 1, len(rows), cfg.batch_size, cfg.seed)
    rankings = [rows[i]["ranking"] for i in idx]
    groups = build_pair_index(rankings, [len(rows[i]["completions"]) for i in idx]).num_groups
    mine = shard_slice(len(idx), r.accelerator)
    local = step_fn(r.model, r.optimizer, r.scheduler, [r.train_toks[i] for i in idx[mine]], rankings[mine],
                    cfg, r.device, r.dtype, accelerator=r.accelerator, batch_groups=groups)
    out = reduce_sums(r.accelerator, {k: local[k] for k in ("loss", "correct", "pairs", "tokens", "completions")})
    out["acc"] = out["correct"] / out["pairs"] if out["pairs"] else 0.0
    return out


# Indirection so tests can simulate a crash mid-run (monkeypatch step_fn).
step_fn = train_step


def _checkpoint(r: Run, step: int, counters: Counters) -> None:
    """Every process hands in its RNG stream; the main process writes the checkpoint."""
    rng = capture_rng_states(r.accelerator)  # collective
    if r.accelerator.is_main_process:
        save_checkpoint(r.writer.checkpoint_dir, step, r.rm.model, r.optimizer, r.scheduler,
                        rng_state=rng, extra=counters.state_dict())


def _evaluate(r: Run) -> dict:
    """Held-out figures, the scoring split across processes."""
    return evaluate(r.rm, r.valid_toks, r.snap.valid, r.device, r.dtype, r.cfg.eval_batch_size, r.accelerator)


def _maybe_resume(r: Run) -> tuple[int, Counters]:
    """Load the latest checkpoint when --resume asks for it; otherwise clear old outputs (main process)."""
    cfg, acc, writer = r.cfg, r.accelerator, r.writer
    ckpt = load_latest_checkpoint(writer.checkpoint_dir) if cfg.resume else None
    if ckpt is None:
        if acc.is_main_process:
            if cfg.resume:
                print(f"note: no checkpoint in {writer.checkpoint_dir}, starting from step 0", file=sys.stderr)
            writer.start_fresh()
        decorrelate_rng(acc, cfg.seed)
        return 0, Counters()
    r.rm.model.load_state_dict(ckpt["model"]["model"])
    r.optimizer.load_state_dict(ckpt["optimizer"])
    r.scheduler.load_state_dict(ckpt["scheduler"])
    restore_rng_states(acc, ckpt["rng_state"])
    if acc.is_main_process:
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


def _finish(r: Run, counters: Counters) -> dict:
    """Held-out evaluation and normalisation bias (all processes), then model and result.json (main only)."""
    cfg, snap, acc = r.cfg, r.snap, r.accelerator
    t0 = time.perf_counter()
    valid = _evaluate(r) if snap.valid else None
    eval_s = time.perf_counter() - t0
    norm_scored = 0
    if cfg.normalize:
        subset = normalization_rows(r.train_toks, cfg.normalize_max_rows, cfg.seed)
        r.rm.offset = normalization_offset(r.rm, subset, r.device, r.dtype, cfg.eval_batch_size, acc)
        norm_scored = sum(len(row) for row in subset)
    if not acc.is_main_process:
        return {}
    info = {"kind": "reward", "base_model": str(r.model_path), "offset": r.rm.offset}
    trainable = trainable_summary(r.rm)
    if has_adapters(r.rm.model):
        info["lora_merged"] = True
        r.rm.model = merge_adapters(r.rm.model)  # a plain reward model folder, loadable without peft
    save_model_atomic(acc.unwrap_model(r.model), None, r.writer.model_dir, info=info)
    summary = {
        "valid_pairwise_accuracy": valid["pairwise_accuracy"] if valid else None,
        "valid_loss": valid["loss"] if valid else None,
        "valid_pairs": valid["pairs"] if valid else 0,
        "valid_eval_s": round(eval_s, 3),
        "train_pairwise_accuracy": r.writer.last_metrics.get("train_acc"),
        "reward_offset": r.rm.offset,
        "forward_passes": counters.forward_passes,
        "completions_scored": counters.forward_passes + (valid["completions_scored"] if valid else 0) + norm_scored,
        "pairs_seen": counters.pairs_seen,
        "rankings_seen": counters.rankings_seen,
        "epochs": counters.rankings_seen / max(len(snap.train), 1),
        "steps": cfg.max_steps,
        "processes": acc.num_processes,
        "precision": str(r.dtype).removeprefix("torch."),
        **trainable,
    }
    return r.writer.write_result(command="reward", config=cfg.to_dict(), inputs=snap.files, summary=summary)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m training reward``); returns the exit status."""
    cfg = parse_config(RewardConfig, argv, prog="python -m training reward")
    result = run(cfg)
    if not result:  # not the main process: the main one reports
        return 0
    acc = result["summary"]["valid_pairwise_accuracy"]
    shown = "n/a (no held-out rows)" if acc is None else f"{acc:.4f}"
    print(stage_line(result), file=sys.stderr)
    print(f"reward model saved to {result['model_dir']}; held-out pairwise accuracy {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
