"""Builders for small synthetic snapshots and a CLI runner, shared by the training tests."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

TOPICS = ["the sea", "a cat", "the moon", "coffee", "a robot", "the city", "music", "rain"]


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write rows as JSON lines and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_snapshot(folder: str | os.PathLike, kind: str, train: list[dict], valid: list[dict] = ()) -> Path:
    """Write a snapshot folder (manifest.json + train.jsonl + valid.jsonl) as DESIGN §4 describes."""
    folder = Path(folder)
    write_jsonl(folder / "train.jsonl", list(train))
    write_jsonl(folder / "valid.jsonl", list(valid))
    manifest = {"schema_version": 1, "kind": kind, "rows": len(train) + len(valid),
                "split": {"train": len(train), "valid": len(valid)}, "created_at": "2024-01-01T00:00:00Z"}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def prompt_messages(i: int) -> list[dict]:
    """A short single-turn prompt, varied by ``i``."""
    return [{"role": "user", "content": f"Write one line about {TOPICS[i % len(TOPICS)]}."}]


def sft_rows(n: int) -> list[dict]:
    """``n`` SFT rows: prompt + a short assistant demonstration."""
    return [{"messages": prompt_messages(i) + [
        {"role": "assistant", "content": f"Here is a line about {TOPICS[i % len(TOPICS)]}: it is lovely."}]}
        for i in range(n)]


def comparison_rows(n: int, k: int = 3, seed: int = 0, ties: bool = False) -> list[dict]:
    """``n`` comparison rows with ``k`` completions and a random full ranking (optionally one tie)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        completions = [f"Answer {j} about {TOPICS[(i + j) % len(TOPICS)]}." for j in range(k)]
        order = list(range(k))
        rng.shuffle(order)
        ranking = [[x] for x in order]
        if ties and k >= 3:
            ranking = [ranking[0], ranking[1] + ranking[2]] + ranking[3:]
        rows.append({"prompt": prompt_messages(i), "completions": completions, "ranking": ranking,
                     "ratings": [], "labeler": f"l{i % 3}"})
    return rows


def make_comparisons(path: str | os.PathLike, n: int = 8, k: int = 3, seed: int = 0, ties: bool = False,
                     folder: bool = True) -> Path:
    """Write a comparisons snapshot folder (or a single .jsonl when ``folder=False``)."""
    rows = comparison_rows(n, k, seed, ties)
    if not folder:
        return write_jsonl(path, rows)
    cut = max(1, n // 4)
    return write_snapshot(path, "comparisons", rows[cut:], rows[:cut])


def make_sft(path: str | os.PathLike, n: int = 8, folder: bool = True) -> Path:
    """Write an SFT snapshot folder (or a single .jsonl)."""
    rows = sft_rows(n)
    return write_snapshot(path, "sft", rows) if folder else write_jsonl(path, rows)


def make_prompts(path: str | os.PathLike, n: int = 4, folder: bool = False) -> Path:
    """Write prompts rows with ``prompt_id`` (a .jsonl file, or a snapshot folder)."""
    rows = [{"prompt": prompt_messages(i), "prompt_id": f"p{i}"} for i in range(n)]
    return write_snapshot(path, "prompts", rows) if folder else write_jsonl(path, rows)


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -m training ARGS`` in a subprocess from the repo root (one CPU thread)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "training", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def read_metrics(output_dir: str | os.PathLike) -> list[dict]:
    """Rows of ``output_dir/metrics.jsonl``."""
    text = (Path(output_dir) / "metrics.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_result(output_dir: str | os.PathLike) -> dict:
    """``output_dir/result.json`` as a dict."""
    return json.loads((Path(output_dir) / "result.json").read_text(encoding="utf-8"))
