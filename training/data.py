"""Snapshot reading and row validation (DESIGN §4).

A snapshot is a folder with ``manifest.json`` + ``train.jsonl`` (+ ``valid.jsonl``),
or, for convenience, a single ``.jsonl`` file. Every row is validated before any
training starts; the first bad row stops the run with ``path:line: reason``.

Row kinds:
    sft          {"messages": [...prompt turns..., {"role": "assistant", "content": demo}]}
    comparisons  {"prompt": [...], "completions": ["...", ...], "ranking": [[2], [0, 3], [1]], ...}
    prompts      {"prompt": [...], "prompt_id": optional}
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from training.errors import TrainingInputError

KINDS = ("sft", "comparisons", "prompts")
ROLES = ("system", "user", "assistant")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (recorded in result.json for lineage)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, row)`` for each non-blank line; errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise TrainingInputError(f"{path}: file not found")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingInputError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise TrainingInputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


def read_jsonl(path: str | os.PathLike, allow_empty: bool = False) -> list[dict]:
    """Read a JSONL file of objects; an empty file is an error unless ``allow_empty``."""
    rows = [row for _, row in iter_jsonl(path)]
    if not rows and not allow_empty:
        raise TrainingInputError(f"{path}: no rows (empty dataset)")
    return rows


# ---------------------------------------------------------------- validators

def validate_messages(messages: Any, where: str, name: str = "messages") -> list[dict]:
    """Check a chat message list: non-empty, each {role in system/user/assistant, content: str}."""
    if not isinstance(messages, list) or not messages:
        raise TrainingInputError(f"{where}: {name} must be a non-empty list of messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES or not isinstance(msg.get("content"), str):
            raise TrainingInputError(
                f"{where}: {name}[{i}] must be {{\"role\": one of {'/'.join(ROLES)}, \"content\": string}}"
            )
    return messages


def validate_prompt(prompt: Any, where: str) -> list[dict]:
    """A prompt is a message list that ends with a user turn (the model answers next)."""
    validate_messages(prompt, where, "prompt")
    if prompt[-1]["role"] != "user":
        raise TrainingInputError(f"{where}: prompt must end with a user message")
    return prompt


def validate_sft_row(row: dict, where: str = "row") -> dict:
    """SFT row: ``messages`` whose last turn is a non-empty assistant demonstration."""
    messages = validate_messages(row.get("messages"), where)
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise TrainingInputError(f"{where}: last message must be a non-empty assistant demonstration")
    if len(messages) < 2:
        raise TrainingInputError(f"{where}: messages need at least one prompt turn before the demonstration")
    return row


def validate_ranking(ranking: Any, n: int, where: str) -> list[list[int]]:
    """Ranking: ordered non-empty groups (ties share a group) forming an exact partition of range(n)."""
    if not isinstance(ranking, list) or not ranking:
        raise TrainingInputError(f"{where}: ranking must be a non-empty list of groups, e.g. [[2], [0, 3], [1]]")
    seen: list[int] = []
    for group in ranking:
        if not isinstance(group, list) or not group:
            raise TrainingInputError(f"{where}: each ranking group must be a non-empty list of completion indices")
        for idx in group:
            if isinstance(idx, bool) or not isinstance(idx, int):
                raise TrainingInputError(f"{where}: ranking entries must be integers, got {idx!r}")
        seen.extend(group)
    if sorted(seen) != list(range(n)):
        raise TrainingInputError(
            f"{where}: ranking {ranking} is not a partition of range({n}) "
            "(each completion index must appear exactly once)"
        )
    return ranking


def validate_comparison_row(row: dict, where: str = "row") -> dict:
    """Comparison row: prompt, ≥2 string completions, ranking partitioning their indices."""
    validate_prompt(row.get("prompt"), where)
    completions = row.get("completions")
    if not isinstance(completions, list) or len(completions) < 2:
        raise TrainingInputError(f"{where}: completions must be a list of at least 2 strings")
    if not all(isinstance(c, str) for c in completions):
        raise TrainingInputError(f"{where}: every completion must be a string")
    validate_ranking(row.get("ranking"), len(completions), where)
    return row


def validate_prompt_row(row: dict, where: str = "row") -> dict:
    """Prompts row: ``prompt`` message list (``prompt_id`` optional, any JSON scalar)."""
    validate_prompt(row.get("prompt"), where)
    pid = row.get("prompt_id")
    if pid is not None and not isinstance(pid, (str, int)):
        raise TrainingInputError(f"{where}: prompt_id must be a string or an integer")
    return row


VALIDATORS = {"sft": validate_sft_row, "comparisons": validate_comparison_row, "prompts": validate_prompt_row}


# ---------------------------------------------------------------- snapshots

@dataclass
class Snapshot:
    """Validated rows of one snapshot plus what result.json needs for lineage."""

    kind: str
    train: list[dict]
    valid: list[dict] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256


def read_rows(path: Path, kind: str, allow_empty: bool = False) -> list[dict]:
    """Read and validate every row of one JSONL file of ``kind``."""
    validate = VALIDATORS[kind]
    rows = [validate(row, f"{path}:{lineno}") for lineno, row in iter_jsonl(path)]
    if not rows and not allow_empty:
        raise TrainingInputError(f"{path}: no rows (empty dataset)")
    return rows


def _read_manifest(folder: Path, kind: str) -> dict:
    """Load manifest.json and check its kind matches what the command expects."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise TrainingInputError(f"{folder}: snapshot folder has no manifest.json")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TrainingInputError(f"{path}: invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise TrainingInputError(f"{path}: manifest must be a JSON object")
    if manifest.get("kind") not in (None, kind):
        raise TrainingInputError(f"{path}: snapshot kind is {manifest.get('kind')!r}, this command needs {kind!r}")
    return manifest


def _check_manifest_hashes(manifest: dict, files: dict[str, str], folder: Path) -> None:
    """If the manifest lists per-file sha256s, the files must match them (snapshots are immutable)."""
    listed = manifest.get("sha256")
    if not isinstance(listed, dict):
        return  # a single digest or none: nothing per-file to compare
    for name, digest in listed.items():
        actual = files.get(str(folder / name))
        if actual is not None and actual != digest:
            raise TrainingInputError(f"{folder / name}: sha256 does not match manifest.json (snapshot modified?)")


def load_snapshot(path: str | os.PathLike, kind: str) -> Snapshot:
    """Load and validate a snapshot folder or a single .jsonl file of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown snapshot kind {kind!r}")
    path = Path(path)
    if path.is_file():
        return Snapshot(kind, read_rows(path, kind), files={str(path): sha256_file(path)})
    if not path.is_dir():
        raise TrainingInputError(f"{path}: snapshot not found (expected a folder with manifest.json or a .jsonl file)")
    manifest = _read_manifest(path, kind)
    train_path, valid_path = path / "train.jsonl", path / "valid.jsonl"
    train = read_rows(train_path, kind)
    valid = read_rows(valid_path, kind, allow_empty=True) if valid_path.exists() else []
    files = {str(p): sha256_file(p) for p in (path / "manifest.json", train_path, valid_path) if p.exists()}
    _check_manifest_hashes(manifest, files, path)
    return Snapshot(kind, train, valid, manifest, files)


# ---------------------------------------------------------------- views

def ranking_pairs(ranking: list[list[int]]) -> list[tuple[int, int]]:
    """All (winner, loser) index pairs implied by ranked groups; tied items give no pair."""
    pairs = []
    for hi, better in enumerate(ranking):
        for worse in ranking[hi + 1:]:
            pairs.extend((w, l) for w in better for l in worse)
    return pairs


def to_pairwise(rows: list[dict]) -> list[dict]:
    """TRL's conversational preference view: one {prompt, chosen, rejected} per ranking pair."""
    out = []
    for row in rows:
        for w, l in ranking_pairs(row["ranking"]):
            out.append({
                "prompt": row["prompt"],
                "chosen": [{"role": "assistant", "content": row["completions"][w]}],
                "rejected": [{"role": "assistant", "content": row["completions"][l]}],
            })
    return out
