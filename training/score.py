"""Score given texts with a reward model (the judge of a human evaluation, on the very texts people saw).

    python -m training score --reward_model runs/rm/model --input samples.jsonl --output scores.jsonl
    python -m training score --reward_model runs/rm/model --input samples.jsonl --output_dir runs/score

Input: JSONL, one text per row: ``{"id": <any JSON scalar>, "prompt": [messages], "completion": "text"}``.
Output: JSONL in input order, ``{"id": ..., "score": float}`` (``--output``), or ``scores.jsonl`` plus a
``result.json`` summary in ``--output_dir`` (how the job runner calls it). Unlike ``evaluate``, nothing
is sampled here: ``evaluate`` re-generates its own texts, while a human evaluation needs the judge's
verdict on exactly the texts the labelers compared.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from training.config import parse_config
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class ScoreConfig:
    """Reward-model scores for given (prompt, completion) rows."""

    reward_model: str = field(metadata={"help": "Reward model folder (written by `python -m training reward`)."})
    input: str = field(metadata={"help": 'JSONL of {"id", "prompt": [messages], "completion": "text"} rows.'})
    output: str | None = field(default=None, metadata={"help": "Write the scores JSONL here."})
    output_dir: str | None = field(default=None, metadata={"help": "Write scores.jsonl and result.json here."})
    batch_size: int = field(default=16, metadata={"help": "Sequences per forward pass."})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "auto, cpu or cuda."})


def _check_messages(messages, where: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise TrainingInputError(f"{where}: 'prompt' must be a non-empty list of messages")
    for m in messages:
        if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
            raise TrainingInputError(f"{where}: each message needs a string 'role' and 'content'")


def read_rows(path: str) -> list[dict]:
    """The input rows, validated; a bad row is reported with its line number."""
    source = Path(path)
    if not source.is_file():
        raise TrainingInputError(f"{path}: no such file")
    rows = []
    with source.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingInputError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("completion"), str):
                raise TrainingInputError(f"{where}: expected an object with 'id', 'prompt' and a string 'completion'")
            _check_messages(row.get("prompt"), where)
            rows.append(row)
    if not rows:
        raise TrainingInputError(f"{path}: no rows to score")
    return rows


def score_rows(rm, rows: list[dict], batch_size: int) -> list[dict]:
    """``{"id", "score"}`` per row, in input order (each text scored once)."""
    scores = rm.score([r["prompt"] for r in rows], [r["completion"] for r in rows], batch_size=batch_size)
    return [{"id": r["id"], "score": float(s)} for r, s in zip(rows, scores)]


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training score ...``."""
    from training.generate import write_jsonl_atomic
    from training.modeling import pick_device, pick_dtype
    from training.reward_model import load_reward_model
    from training.runio import write_json_atomic

    cfg = parse_config(ScoreConfig, argv, prog="python -m training score")
    if not cfg.output and not cfg.output_dir:
        raise TrainingInputError("score: give --output or --output_dir")
    if cfg.batch_size < 1:
        raise TrainingInputError("config: batch_size must be >= 1")
    rows = read_rows(cfg.input)  # validate input before loading the model
    device = pick_device(cfg.device)
    rm = load_reward_model(Path(cfg.reward_model), device, pick_dtype(device))
    scored = score_rows(rm, rows, cfg.batch_size)
    targets = [Path(cfg.output)] if cfg.output else []
    if cfg.output_dir:
        targets.append(Path(cfg.output_dir) / "scores.jsonl")
    for target in targets:
        write_jsonl_atomic(target, scored)
    summary = {"mode": "score", "rows": len(scored), "reward_model": cfg.reward_model,
               "mean_score": sum(s["score"] for s in scored) / len(scored)}
    if cfg.output_dir:
        write_json_atomic(Path(cfg.output_dir) / "result.json", summary)  # written last: the run finished
    json.dump(summary, sys.stdout)
    print()
    return 0
