"""A rough run-time estimate for a job before it starts: work (FLOPs) from the data and the model size,
divided by the throughput of the machines that train (``PREFLOOP_TRAIN_FLOPS``).

Training a transformer costs about 6·P FLOPs per token (forward + backward), a forward pass 2·P, and
sampling a token 2·P times a penalty for being memory-bound one token at a time (``GEN_PENALTY``). Token
counts come from the snapshot itself (bytes per row ÷ 3.5 bytes per token, capped at max_length). The
default throughput, 1e11 FLOP/s, is what SmolLM2-135M reached on the 2-core development CPU (reward
model: 24 steps in 12 min; PPO: 90 s per step of 8 episodes); set it to your GPU workers' rate.
The answer is within a factor of two or so, which is what a "will this take minutes or hours?" needs.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

from django.conf import settings

from labeling.jobs.inputs import input_path
from labeling.jobs.kinds import job_kind_spec
from labeling.models import DatasetSnapshot, ModelVersion

BYTES_PER_TOKEN = 3.5
GEN_PENALTY = 4.0
WARN_AFTER_S = 30 * 60
STARTUP_S = 15.0  # start a Python process, import torch and transformers, load the model: seconds on a CPU
DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "I8": 1, "BOOL": 1}
KNOWN_SIZES = {"tiny": 1_930_000, "smollm2-135m-instruct": 134_515_008}  # before they are built into the cache


def model_params(model: ModelVersion) -> int | None:
    """Parameter count from the folder's safetensors headers (no weights read); None when unknown."""
    path = Path(input_path({"type": "model", "id": model.pk}))
    if not path.is_absolute():
        cached = Path(settings.PREFLOOP_MODEL_CACHE) / str(path)
        path = cached if cached.is_dir() else path
    if (path / "model").is_dir():
        path = path / "model"
    total = 0
    for shard in path.glob("*.safetensors") if path.is_dir() else []:
        with shard.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for name, meta in header.items():
            if name != "__metadata__":
                n = 1
                for dim in meta["shape"]:
                    n *= dim
                total += n
    return total or KNOWN_SIZES.get(model.artifact_path)


def _tokens_per_row(snapshot: DatasetSnapshot, cap: int) -> float:
    train = Path(snapshot.path) / "train.jsonl"
    rows = (snapshot.split or {}).get("train") or snapshot.rows or 1
    size = train.stat().st_size if train.is_file() else 400 * rows
    return min(size / rows / BYTES_PER_TOKEN, cap)


def _flops(kind: str, p: dict, inputs: dict, params: int) -> tuple[float, int, float]:
    """(FLOPs, examples processed, tokens processed) for one run."""
    first_snapshot = next((o for o in inputs.values() if isinstance(o, DatasetSnapshot)), None)
    rows = first_snapshot.rows if first_snapshot else 0
    cap = p.get("max_length") or 1024
    row_tokens = _tokens_per_row(first_snapshot, cap) if first_snapshot else 0.0
    gen = 2 * params * GEN_PENALTY
    if kind in ("sft", "reward", "dpo"):
        examples = p["max_steps"] * p["batch_size"]
        per_example = {"sft": 6, "reward": 6 * 1.5, "dpo": 2 * (6 + 2)}[kind] * params * row_tokens
        return examples * per_example, examples, examples * row_tokens
    if kind == "ppo":
        episodes = p["max_steps"] * p["batch_size"]
        seq = min(row_tokens, p.get("max_prompt_length", 256)) + p["max_new_tokens"]
        per = p["max_new_tokens"] * gen + seq * 2 * params * 3 + p.get("ppo_epochs", 4) * seq * 6 * params * 2
        return episodes * per, episodes, episodes * seq
    if kind == "generate":
        samples = rows * p["k"]
        return samples * p["max_new_tokens"] * gen / 2, samples, samples * p["max_new_tokens"]  # batched: cheaper
    if kind == "score":  # a human evaluation's judge: its texts are written when the job starts, so unknown here
        return 0.0, 0, 0.0
    if "comparisons" in inputs:  # evaluate: reward-model accuracy
        return rows * row_tokens * 2 * params * 1.5, rows, rows * row_tokens
    samples = rows * 2 * p.get("samples_per_prompt", 1)
    return samples * p["max_new_tokens"] * gen / 2, samples, samples * p["max_new_tokens"]


def job_estimate(*, kind: str, inputs: dict, params: dict) -> dict:
    """Estimated seconds (None when the model size is unknown) with what it was based on, and a warning
    when the run would take longer than half an hour. ``inputs`` are resolved registry objects."""
    spec = job_kind_spec(kind)
    p = {q["name"]: q["default"] for q in spec["params"]}
    p.update(params)
    model = inputs.get("model") or inputs.get("policy_b") or inputs.get("reward_model")
    n_params = model_params(model) if model else None
    if not n_params:
        return {"seconds": None, "steps": p.get("max_steps"), "examples": None, "tokens": None, "model_params": None,
                "basis": "the model's size is unknown (no safetensors weights in its folder yet)", "warning": None}
    flops, examples, tokens = _flops(kind, p, inputs, n_params)
    rate = float(getattr(settings, "PREFLOOP_TRAIN_FLOPS", 1e11))
    seconds = round(STARTUP_S + flops / rate, 1)
    warning = None
    if seconds > WARN_AFTER_S:
        warning = (f"this run would take about {_human(seconds)} on workers of {rate:.0e} FLOP/s; lower max_steps / "
                   f"batch_size / max_new_tokens, or run it on a GPU worker")
    basis = (f"{examples:,} examples × ~{tokens / max(examples, 1):,.0f} tokens on a {n_params / 1e6:,.1f}M-parameter "
             f"model ≈ {flops:.2e} FLOPs at {rate:.0e} FLOP/s (PREFLOOP_TRAIN_FLOPS) + {STARTUP_S:.0f} s to start; "
             f"rough, within ~2×")
    return {"seconds": seconds, "steps": p.get("max_steps"), "examples": examples, "tokens": int(tokens),
            "model_params": n_params, "basis": basis, "warning": warning}


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
