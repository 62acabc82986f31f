"""Synthetic comparison data with a planted preference, for tests, benchmarks and demos.

The hidden rule: a completion ranks by how many times it contains a marker
word (more is better); completions with the same count tie. A reward model
that learns the rule orders held-out pairs correctly, one that does not
scores about 50%.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (
    "the quick brown fox jumps over lazy dog journey thousand miles begins single step write short poem "
    "about sea wide blue waves come in and out capital france paris large city explain why sky light "
    "scattered air most summarize meeting moved tuesday storm ideas birthday party picnic park movie night"
).split()
PROMPTS = [
    "Write a short poem about the sea.",
    "Explain why the sky is blue.",
    "List three ideas for a birthday party.",
    "Summarize the meeting notes.",
    "What is the capital of France?",
    "Tell me about a journey.",
]


def planted_row(rng: random.Random, k: int, marker: str = "gracias", max_count: int = 2, ties: bool = True) -> dict:
    """One comparison row of ``k`` completions ranked by marker count.

    With ``ties`` counts are drawn from 0..max_count and equal counts share a
    group; without, the counts are a permutation of 0..k-1, a strict ranking
    with all C(k,2) pairs.
    """
    if ties:
        counts = [rng.randint(0, max_count) for _ in range(k)]
        if len(set(counts)) == 1:  # guarantee at least one preference pair
            counts[rng.randrange(k)] = (counts[0] + 1) % (max_count + 1)
    else:
        counts = rng.sample(range(k), k)
    completions = []
    for n in counts:
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 10))]
        for _ in range(n):
            words.insert(rng.randint(0, len(words)), marker)
        completions.append(" ".join(words))
    levels = sorted(set(counts), reverse=True)
    ranking = [[i for i, n in enumerate(counts) if n == level] for level in levels]
    prompt = [{"role": "user", "content": rng.choice(PROMPTS)}]
    return {"prompt": prompt, "completions": completions, "ranking": ranking}


def planted_rows(n: int, k: int, seed: int = 0, **kwargs) -> list[dict]:
    """``n`` rows of ``k`` completions each, reproducible from ``seed``."""
    rng = random.Random(seed)
    return [planted_row(rng, k, **kwargs) for _ in range(n)]


def write_snapshot(folder: str | Path, train: list[dict], valid: list[dict], kind: str = "comparisons") -> Path:
    """Write a snapshot folder (manifest.json + train.jsonl + valid.jsonl) in the DESIGN §4 layout."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("valid.jsonl", valid)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    manifest = {"schema_version": 1, "kind": kind, "rows": len(train) + len(valid),
                "split_sizes": {"train": len(train), "valid": len(valid)}}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder
