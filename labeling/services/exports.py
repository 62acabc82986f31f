"""Dataset snapshots: immutable export folders the training half reads (DESIGN §4).

A snapshot is ``<PREFLOOP_DATA_DIR>/snapshots/<name>/`` holding

    manifest.json         schema_version, kind, rows, per-file sha256, filters, split sizes, created_at
    train.jsonl           rows of the snapshot's kind
    valid.jsonl           held-out rows (may be empty)
    pairwise_train.jsonl  comparisons only: TRL's {prompt, chosen, rejected} view, one row per ranked pair
    pairwise_valid.jsonl
    README.md             dataset card: ``datasets.load_dataset(<folder>)`` loads the rows of the snapshot's
                          kind (splits train / validation); comparisons also have the named configuration
                          ``pairwise`` (``load_dataset(<folder>, "pairwise")``). Without the card the loader
                          would put train.jsonl and pairwise_train.jsonl into one colliding split.

Rows per kind:

    sft          {"messages": [...prompt turns..., {"role": "assistant", "content": demo}]}
    comparisons  {"prompt": [...], "completions": ["...", ...], "ranking": [[2], [0, 3], [1]],
                  "ratings": [{"completion": 0, "likert": 6, "flags": [...]}, ...],
                  "none_acceptable": false, "labeler": "<sha256>", "prompt_id": 17, "ranking_id": 42}
    pairwise     {"prompt": [...], "chosen": [{assistant turn}], "rejected": [{assistant turn}],
                  "ranking_id": 42, "prompt_id": 17, "labeler": "<sha256>"}  (keep a ranking's pairs together,
                  filter labelers)
    prompts      {"prompt": [...], "prompt_id": 17, "category": "open_qa"}

Splits are made **by prompt author** (InstructGPT did this by customer id): a stable hash of
``(seed, author)`` decides train or valid, so no author straddles the two and an author keeps its
side across snapshots. Prompts without an author are treated as their own author.

The folder is written under a temporary name and renamed into place only when every file is
complete and fsync'd; the ``DatasetSnapshot`` row is created afterwards in the same transaction,
and the folder is removed again if that row cannot be written. A reader therefore never sees a
half-written snapshot, and a row always points at a complete folder. Files are made read-only.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.models import Campaign, DatasetSnapshot, Demonstration, Prompt, Ranking, Rating
from labeling.services import export_quality
from labeling.services.export_quality import ExportQuality, clean_export_quality

SCHEMA_VERSION = 1
KINDS = tuple(DatasetSnapshot.Kind.values)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def snapshots_root() -> Path:
    return Path(settings.PREFLOOP_DATA_DIR) / "snapshots"


def labeler_hash(user_id: int) -> str:
    """A stable pseudonymous labeler id: sha256 of the deployment's secret and the user id."""
    return hashlib.sha256(f"prefloop-labeler:{settings.SECRET_KEY}:{user_id}".encode()).hexdigest()


def author_key(prompt: Prompt) -> str:
    return prompt.author_id or f"prompt:{prompt.pk}"


def author_bucket(author: str, seed: int) -> float:
    """A number in [0, 1) fixed by ``(seed, author)``; authors below ``valid_fraction`` go to valid."""
    digest = hashlib.sha256(f"{seed}:{author}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class _Split:
    train: list[tuple[str, dict]] = field(default_factory=list)  # (author, row)
    valid: list[tuple[str, dict]] = field(default_factory=list)


def split_by_author(rows: Iterable[tuple[str, dict]], *, valid_fraction: float, seed: int) -> _Split:
    """Assign each (author, row) to train or valid by the author's hash bucket.

    With ``valid_fraction > 0`` and at least two authors, valid is never left empty: if no author's
    bucket falls under the fraction, the author with the smallest bucket is moved to valid.
    """
    rows = list(rows)
    buckets = {author: author_bucket(author, seed) for author in {a for a, _ in rows}}
    valid_authors = {a for a, b in buckets.items() if b < valid_fraction}
    if valid_fraction > 0 and not valid_authors and len(buckets) >= 2:
        valid_authors = {min(buckets, key=buckets.get)}
    if valid_authors and len(valid_authors) == len(buckets):
        valid_authors.discard(max(valid_authors, key=buckets.get))  # keep some training data
    split = _Split()
    for author, row in rows:
        (split.valid if author in valid_authors else split.train).append((author, row))
    return split


# ---------------------------------------------------------------- rows per kind

def _submitted(campaign_ids: list[int], quality: ExportQuality = export_quality.DEFAULT, excluded=None):
    """The submitted labels an export reads: rejected ones and screened-out labelers left out (export_quality)."""
    return export_quality.submitted_labels(campaign_ids, quality, excluded)


def export_size(*, kind: str, campaign_ids: list[int]) -> int:
    """How many labels an export of ``kind`` would read (prompts: prompts), to decide where it runs."""
    if kind == "prompts":
        return Prompt.objects.filter(campaign_id__in=campaign_ids).count()
    model = Demonstration if kind == "sft" else Ranking
    return model.objects.filter(assignment__in=_submitted(campaign_ids)).count()


def _sft_rows(campaign_ids: list[int], quality: ExportQuality = export_quality.DEFAULT,
             excluded=None) -> Iterator[tuple[str, dict]]:
    demos = (
        Demonstration.objects.filter(assignment__in=_submitted(campaign_ids, quality, excluded))
        .select_related("assignment__task__prompt")
        .order_by("id")
    )
    for demo in demos.iterator(chunk_size=2000):
        prompt = demo.assignment.task.prompt
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt.messages]
        messages.append({"role": "assistant", "content": demo.text})
        yield author_key(prompt), {"messages": messages}


def _comparison_rows(campaign_ids: list[int], quality: ExportQuality = export_quality.DEFAULT,
                     excluded=None) -> Iterator[tuple[str, dict]]:
    rankings = export_quality.rankings_for_export(campaign_ids, quality, excluded)  # which rankings: by quality
    chunk: list[Ranking] = []
    for ranking in rankings:
        chunk.append(ranking)
        if len(chunk) >= 1000:
            yield from _comparison_chunk(chunk)
            chunk = []
    if chunk:
        yield from _comparison_chunk(chunk)


def _comparison_chunk(rankings: list[Ranking]) -> Iterator[tuple[str, dict]]:
    """Rows for a chunk of rankings, with completions and ratings fetched in two queries."""
    from labeling.models import Task

    task_ids = {r.assignment.task_id for r in rankings}
    completions: dict[int, list[tuple[int, str]]] = {}
    for task_id, cid, text in (
        Task.completions.through.objects.filter(task_id__in=task_ids)
        .order_by("task_id", "completion_id")
        .values_list("task_id", "completion_id", "completion__text")
    ):
        completions.setdefault(task_id, []).append((cid, text))
    ratings: dict[int, list[Rating]] = {}
    for rating in Rating.objects.filter(assignment_id__in=[r.assignment_id for r in rankings]).order_by("id"):
        ratings.setdefault(rating.assignment_id, []).append(rating)

    for ranking in rankings:
        assignment = ranking.assignment
        task = assignment.task
        items = completions.get(task.id, [])
        index = {cid: i for i, (cid, _) in enumerate(items)}
        try:
            groups = [[index[cid] for cid in group] for group in ranking.groups]
        except KeyError:
            continue  # a completion was detached from the task after ranking: the row cannot be expressed
        if sorted(i for g in groups for i in g) != list(range(len(items))) or len(items) < 2:
            continue
        row = {
            "prompt": [{"role": m["role"], "content": m["content"]} for m in task.prompt.messages],
            "completions": [text for _, text in items],
            "ranking": groups,
            "ratings": [
                {"completion": index[r.completion_id], "likert": r.likert, "flags": list(r.flags)}
                for r in ratings.get(assignment.id, [])
                if r.completion_id in index
            ],
            "none_acceptable": ranking.none_acceptable,
            "labeler": labeler_hash(assignment.labeler_id),
            "prompt_id": task.prompt_id,
            "ranking_id": ranking.pk,
        }
        row.update(getattr(ranking, "row_overrides", {}))  # a consensus row speaks for several labelers
        yield author_key(task.prompt), row


def _prompt_rows(campaign_ids: list[int], quality=None, excluded=None) -> Iterator[tuple[str, dict]]:
    prompts = Prompt.objects.filter(campaign_id__in=campaign_ids).order_by("id")
    for prompt in prompts.iterator(chunk_size=2000):
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt.messages]
        if not messages or messages[-1]["role"] != "user":
            continue  # a prompt the policy cannot answer next (ends with an assistant turn)
        yield author_key(prompt), {"prompt": messages, "prompt_id": prompt.pk, "category": prompt.category}


ROW_BUILDERS = {"sft": _sft_rows, "comparisons": _comparison_rows, "prompts": _prompt_rows}


def pairwise_view(row: dict) -> Iterator[dict]:
    """TRL's conversational preference rows for one comparison row: every (better, worse) pair; ties give none.

    Each pair carries its ranking, prompt and labeler ids, so a client can keep the C(K,2) pairs of one
    ranking together (one batch element, as InstructGPT trains) and filter labelers.
    """
    ranking = row["ranking"]
    ids = {"ranking_id": row.get("ranking_id"), "prompt_id": row.get("prompt_id"), "labeler": row.get("labeler")}
    for hi, better in enumerate(ranking):
        for worse in ranking[hi + 1:]:
            for w in better:
                for lo in worse:
                    yield {
                        "prompt": row["prompt"],
                        "chosen": [{"role": "assistant", "content": row["completions"][w]}],
                        "rejected": [{"role": "assistant", "content": row["completions"][lo]}],
                        **ids,
                    }


# ---------------------------------------------------------------- writing

def _write_jsonl(path: Path, rows: Iterable[dict]) -> tuple[int, str]:
    """Write rows, fsync, make read-only; return (count, sha256 of the bytes)."""
    digest = hashlib.sha256()
    count = 0
    with path.open("wb") as fh:
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
            digest.update(line)
            fh.write(line)
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    path.chmod(0o444)
    return count, digest.hexdigest()


CARD_CONFIGS = {"sft": [("default", "")], "prompts": [("default", "")],
                "comparisons": [("default", ""), ("pairwise", "pairwise_")]}


def _write_card(folder: Path, kind: str, name: str, counts: dict[str, int]) -> None:
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


def combined_digest(file_hashes: dict[str, str]) -> str:
    """One sha256 for the whole snapshot: over ``name  digest`` lines of the data files, sorted by name."""
    text = "".join(f"{name}  {digest}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def snapshot_create(
    *,
    kind: str,
    campaign_ids: list[int],
    name: str | None = None,
    valid_fraction: float = 0.1,
    seed: int = 0,
    created_by=None,
    include_evaluation: bool = False,
    quality: dict | None = None,
) -> DatasetSnapshot:
    """Export submitted labels of ``campaign_ids`` as an immutable snapshot folder + DatasetSnapshot row.

    Campaigns of a human evaluation are refused unless ``include_evaluation`` (default: excluded, so a
    training export never swallows held-out evaluation labels by accident); an export that includes one
    records ``"from_evaluation": [evaluation ids]`` in its manifest's filters. ``quality`` selects labels by
    quality (``services.export_quality``: exclude rejected labels, by default, or flagged labelers, a minimum
    labeler agreement, raw or consensus rankings); the options, labelers left out and agreement of what was
    exported go into the manifest.
    Raises ValidationError for an unknown kind, unknown campaigns, a bad or taken name, a fraction
    outside [0, 1), an evaluation campaign not asked for, bad quality options, or nothing to export.
    """
    options = clean_export_quality(quality)
    if kind not in KINDS:
        raise ValidationError({"kind": [f"unknown snapshot kind {kind!r}; expected one of {', '.join(KINDS)}"]})
    campaign_ids = sorted({int(c) for c in campaign_ids})
    if not campaign_ids:
        raise ValidationError({"campaign_ids": ["give at least one campaign"]})
    found = set(Campaign.objects.filter(id__in=campaign_ids).values_list("id", flat=True))
    missing = [c for c in campaign_ids if c not in found]
    if missing:
        raise ValidationError({"campaign_ids": [f"unknown campaign(s): {', '.join(map(str, missing))}"]})
    from_evaluation = _evaluation_ids(campaign_ids, include_evaluation)
    if not 0.0 <= float(valid_fraction) < 1.0:
        raise ValidationError({"valid_fraction": ["must be in [0, 1)"]})
    created_at = timezone.now()
    if name is None:
        name = f"{kind}-{created_at:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    if not NAME_RE.match(name):
        raise ValidationError({"name": ["use letters, digits, '.', '_' or '-' (at most 200, not starting with a dot)"]})
    root = snapshots_root()
    final = root / name
    if DatasetSnapshot.objects.filter(name=name).exists() or final.exists():
        raise ValidationError({"name": [f"a snapshot named {name!r} already exists (snapshots are immutable)"]})

    excluded = export_quality.excluded_labelers(campaign_ids, options)
    split = split_by_author(ROW_BUILDERS[kind](campaign_ids, options, excluded), valid_fraction=float(valid_fraction),
                            seed=seed)
    total = len(split.train) + len(split.valid)
    if total == 0:
        raise ValidationError({"detail": [f"nothing to export: no {kind} rows in campaign(s) {campaign_ids}"]})

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files: dict[str, str] = {}
        counts: dict[str, int] = {}
        for part in ("train", "valid"):
            rows = [row for _, row in getattr(split, part)]
            counts[part], files[f"{part}.jsonl"] = _write_jsonl(tmp / f"{part}.jsonl", rows)
            if kind == "comparisons":
                pairs = (pair for row in rows for pair in pairwise_view(row))
                counts[f"pairwise_{part}"], files[f"pairwise_{part}.jsonl"] = _write_jsonl(
                    tmp / f"pairwise_{part}.jsonl", pairs
                )
        _write_card(tmp, kind, name, counts)
        digest = combined_digest(files)
        filters = {"campaign_ids": campaign_ids, "valid_fraction": float(valid_fraction), "seed": seed,
                   "status": "submitted" if kind != "prompts" else "all", "include_evaluation": include_evaluation,
                   "quality": options.as_dict()}
        if from_evaluation:
            filters["from_evaluation"] = from_evaluation
        split_sizes = {"train": counts["train"], "valid": counts["valid"]}
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "kind": kind,
            "rows": total,
            "split": split_sizes,
            "split_method": "by prompt author: sha256(seed:author) bucket < valid_fraction → valid",
            "authors": {"train": len({a for a, _ in split.train}), "valid": len({a for a, _ in split.valid})},
            "files": {n: {"rows": counts[n.removesuffix(".jsonl")], "sha256": h} for n, h in files.items()},
            "sha256": files,
            "digest": digest,
            "filters": filters,
            "quality": export_quality.manifest_quality(campaign_ids, options, excluded, kind),
            "created_at": created_at.isoformat(),
            "created_by": getattr(created_by, "username", None),
        }
        manifest_path = tmp / "manifest.json"
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        manifest_path.chmod(0o444)
        _fsync_dir(tmp)
        os.rename(tmp, final)  # atomic on one filesystem: the folder appears complete or not at all
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    try:
        with transaction.atomic():
            snapshot = DatasetSnapshot.objects.create(
                name=name, kind=kind, filters=filters, split=split_sizes, path=str(final),
                rows=total, sha256=digest, created_by=created_by,
            )
            snapshot.campaigns.set(campaign_ids)
    except BaseException:
        _remove_tree(final)
        raise
    return snapshot


def _evaluation_ids(campaign_ids: list[int], include_evaluation: bool) -> list[int]:
    """Ids of the human evaluations whose campaigns are among ``campaign_ids``; refused unless included."""
    from labeling.models import Evaluation

    found = dict(Evaluation.objects.filter(campaign_id__in=campaign_ids).values_list("campaign_id", "id"))
    if found and not include_evaluation:
        raise ValidationError({"campaign_ids": [
            f"campaign(s) {', '.join(map(str, sorted(found)))} belong to a human evaluation; training exports "
            f"exclude them (export an evaluation's comparisons from the evaluation, or set include_evaluation)"]})
    return sorted(found.values())


def _remove_tree(path: Path) -> None:
    """Remove a snapshot folder (its files are read-only, but the folder itself is writable)."""
    shutil.rmtree(path, ignore_errors=True)


def snapshot_verify(*, snapshot: DatasetSnapshot) -> list[str]:
    """Return the problems found re-hashing a snapshot's files (empty when intact)."""
    folder = Path(snapshot.path)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"manifest.json unreadable: {exc}"]
    problems = []
    actual = {}
    for fname, expected in manifest.get("sha256", {}).items():
        try:
            actual[fname] = hashlib.sha256((folder / fname).read_bytes()).hexdigest()
        except OSError as exc:
            problems.append(f"{fname}: {exc}")
            continue
        if actual[fname] != expected:
            problems.append(f"{fname}: sha256 differs from manifest")
    if combined_digest(manifest.get("sha256", {})) != snapshot.sha256:
        problems.append("manifest digests do not match the database record")
    return problems
