"""Writing a snapshot folder: JSON-lines files with running sha256, the dataset card, the manifest,
and the atomic publication (temporary folder, fsync, rename).

Lines arrive already encoded (``export_rows``); a file buffers them and writes, hashes and counts in
blocks, so the cost per row is an append. Nothing is held beyond one block per open file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

BLOCK_LINES = 2000


class JsonlFile:
    """One ``.jsonl`` file being written: ``write(line)`` (a str ending in a newline), then ``close()``."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._digest = hashlib.sha256()
        self._pending: list[str] = []
        self._fh = path.open("wb")

    def write(self, line: str) -> None:
        self._pending.append(line)
        if len(self._pending) >= BLOCK_LINES:
            self._flush_block()

    def write_many(self, lines: list[str] | tuple) -> None:
        """``write`` of each line, in one step (a ranking's pairwise lines)."""
        self._pending += lines
        if len(self._pending) >= BLOCK_LINES:
            self._flush_block()

    def _flush_block(self) -> None:
        if self._pending:
            block = "".join(self._pending).encode("utf-8")
            self._digest.update(block)
            self._fh.write(block)
            self.rows += len(self._pending)
            self._pending = []

    def close(self) -> str:
        """Flush, fsync, close and make read-only; return the sha256 of the bytes."""
        self._flush_block()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self.path.chmod(0o444)
        return self._digest.hexdigest()

    def abandon(self) -> None:
        self._fh.close()


class SplitFiles:
    """train/valid files (and the pairwise pair for comparisons) of one snapshot, written side by side."""

    def __init__(self, folder: Path, pairwise: bool):
        names = ["train", "valid"] + (["pairwise_train", "pairwise_valid"] if pairwise else [])
        self.files: dict[str, JsonlFile] = {}
        try:
            for name in names:
                self.files[name] = JsonlFile(folder / f"{name}.jsonl")
        except BaseException:
            self.abandon()
            raise

    def write(self, valid: bool, line: str, pairs: list[str] | tuple = ()) -> None:
        side = "valid" if valid else "train"
        self.files[side].write(line)
        if pairs:
            self.files[f"pairwise_{side}"].write_many(pairs)

    def close(self) -> tuple[dict[str, int], dict[str, str]]:
        """Close every file; return (rows per part, sha256 per file name)."""
        hashes = {f"{name}.jsonl": f.close() for name, f in self.files.items()}
        return {name: f.rows for name, f in self.files.items()}, hashes

    def abandon(self) -> None:
        for f in self.files.values():
            f.abandon()


CARD_CONFIGS = {"sft": [("default", "")], "prompts": [("default", "")],
                "comparisons": [("default", ""), ("pairwise", "pairwise_")]}


def write_card(folder: Path, kind: str, name: str, counts: dict[str, int]) -> None:
    """README.md with the ``configs`` YAML header ``datasets.load_dataset`` reads; read-only like the rest.

    A split with no rows is left out (the JSON loader cannot infer columns from an empty file).
    """
    lines = ["---", "configs:"]
    for config, prefix in CARD_CONFIGS[kind]:
        lines += [f"- config_name: {config}", "  data_files:"]
        for part, split in (("train", "train"), ("valid", "validation")):
            if counts.get(f"{prefix}{part}"):
                lines += [f"  - split: {split}", f"    path: {prefix}{part}.jsonl"]
    lines += ["---", "", f"# Prefloop snapshot `{name}` ({kind})", "",
              "Immutable export of human labels; `manifest.json` holds row counts, filters and sha256 per file.",
              "Splits are made by prompt author, so no author appears in both.", "",
              "```python", "from datasets import load_dataset", "",
              f'ds = load_dataset("path/to/{name}")' + ('  # or load_dataset(path, "pairwise")'
                                                         if kind == "comparisons" else ""), "```", ""]
    card = folder / "README.md"
    card.write_text("\n".join(lines), encoding="utf-8")
    card.chmod(0o444)


def write_manifest(folder: Path, manifest: dict) -> None:
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    path.chmod(0o444)


def combined_digest(file_hashes: dict[str, str]) -> str:
    """One sha256 for the whole snapshot: over ``name  digest`` lines of the data files, sorted by name."""
    text = "".join(f"{name}  {digest}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Make a complete temporary folder the snapshot: fsync it, rename it into place, fsync the parent."""
    fsync_dir(tmp)
    os.rename(tmp, final)  # atomic on one filesystem: the folder appears complete or not at all
    fsync_dir(final.parent)


def remove_tree(path: Path) -> None:
    """Remove a snapshot folder (its files are read-only, but the folder itself is writable)."""
    shutil.rmtree(path, ignore_errors=True)
