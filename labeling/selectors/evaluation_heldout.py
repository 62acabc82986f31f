"""Which prompts went into training: the held-out check of a human evaluation reads snapshot files.

The rule (``training_prompt_keys``): a prompt counts as *trained on* when its id or its content hash
(``prompt_content_hash``: whitespace/Unicode-normalised turns) appears in

1. any ``sft`` snapshot (the turns before the demonstration; sft rows carry no prompt id, so by hash),
2. any ``comparisons`` snapshot (by id and hash), whoever trained on it: a reward model trained on any
   of them may have judged any policy, so an evaluation stays clean only on prompts no label touched,
3. a ``prompts`` snapshot read by a job that made one of the compared policies or an ancestor of it
   (parent chain and the reward models used along it): PPO optimised on those prompts.

The snapshot files (not the campaigns they came from) are the truth: a prompt added to a campaign
after its export did not go into that snapshot.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labeling.models import DatasetSnapshot, ModelVersion
from labeling.services.prompts import prompt_content_hash


def snapshot_rows(snapshot: DatasetSnapshot) -> Iterator[dict]:
    """Every row of a snapshot folder (train then valid); a missing file reads as empty."""
    for part in ("train.jsonl", "valid.jsonl"):
        path = Path(snapshot.path) / part
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def row_prompt(kind: str, row: dict) -> list[dict]:
    """The prompt turns of a snapshot row (an sft row's last turn is the demonstration)."""
    if kind == DatasetSnapshot.Kind.SFT:
        return list(row.get("messages") or [])[:-1]
    return list(row.get("prompt") or [])


@dataclass
class TrainedPrompts:
    """Prompt ids and content hashes found in training data, each with the first snapshot naming it."""

    ids: dict[int, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)

    def add(self, snapshot: DatasetSnapshot) -> None:
        for row in snapshot_rows(snapshot):
            turns = row_prompt(snapshot.kind, row)
            if turns:
                self.hashes.setdefault(prompt_content_hash(turns), snapshot.name)
            if isinstance(row.get("prompt_id"), int):
                self.ids.setdefault(row["prompt_id"], snapshot.name)

    def where(self, prompt_id: int | None, content_hash: str) -> str | None:
        """The snapshot that holds this prompt (by id first, then by content), or None if held out."""
        if prompt_id is not None and prompt_id in self.ids:
            return f"prompt {prompt_id} is in snapshot {self.ids[prompt_id]!r}"
        if content_hash in self.hashes:
            return f"prompt {prompt_id}'s text is in snapshot {self.hashes[content_hash]!r}"
        return None


def model_lineage(policies: Iterable[ModelVersion]) -> set[int]:
    """Ids of the policies, their parents (recursively) and every reward model met on the way."""
    seen: set[int] = set()
    todo = [p.pk for p in policies]
    while todo:
        batch = [pk for pk in todo if pk not in seen]
        seen.update(batch)
        rows = ModelVersion.objects.filter(pk__in=batch).values_list("parent_id", "reward_model_id")
        todo = [pk for pair in rows for pk in pair if pk is not None and pk not in seen]
    return seen


def training_prompt_keys(policies: Iterable[ModelVersion]) -> TrainedPrompts:
    """Prompts trained on, per the module's rule, for an evaluation of ``policies``."""
    lineage = model_lineage(policies)
    trained = TrainedPrompts()
    labelled = DatasetSnapshot.objects.filter(kind__in=[DatasetSnapshot.Kind.SFT, DatasetSnapshot.Kind.COMPARISONS])
    optimised = DatasetSnapshot.objects.filter(kind=DatasetSnapshot.Kind.PROMPTS,
                                               jobs__model_versions__in=lineage).distinct()
    for snapshot in [*labelled.order_by("id"), *optimised.order_by("id")]:
        trained.add(snapshot)
    return trained
