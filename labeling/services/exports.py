"""Dataset snapshots: immutable export folders the training half reads (DESIGN §4).

A snapshot is ``<PREFLOOP_DATA_DIR>/snapshots/<name>/`` holding

    manifest.json         schema_version, kind, rows, per-file sha256, filters, split sizes, created_at
    train.jsonl           rows of the snapshot's kind (``export_rows`` lists the fields)
    valid.jsonl           held-out rows (may be empty)
    pairwise_train.jsonl  comparisons only: TRL's {prompt, chosen, rejected} view, one row per ranked pair
    pairwise_valid.jsonl
    README.md             dataset card: ``datasets.load_dataset(<folder>)`` loads the rows of the snapshot's
                          kind (splits train / validation); comparisons also have the named configuration
                          ``pairwise`` (``load_dataset(<folder>, "pairwise")``). Without the card the loader
                          would put train.jsonl and pairwise_train.jsonl into one colliding split.

Splits are made **by prompt author** (``export_split``): no author straddles the two and an author keeps
its side across snapshots.

An export streams (issue 12): the distinct authors are read first to fix the split, then the rows come
through a server-side cursor and go straight to their files (``export_write``), so memory stays flat
whatever the size. All of it reads one consistent snapshot of the database, from the replica when one
is configured (``labeling.db_routing``). The folder is written under a temporary name and renamed into
place only when every file is complete and fsync'd; the ``DatasetSnapshot`` row is created afterwards,
on the primary, and the folder is removed again if that row cannot be written. A reader therefore never
sees a half-written snapshot, and a row always points at a complete folder. Files are made read-only.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.db_routing import export_reads
from labeling.models import Campaign, DatasetSnapshot, Demonstration, Prompt, Ranking
from labeling.services import export_quality
from labeling.services.export_quality import clean_export_quality
from labeling.services.export_rows import ExportSource, labeler_hash, pairwise_view
from labeling.services.export_split import AuthorSplit, author_bucket, split_by_author
from labeling.services.export_write import SplitFiles, combined_digest, publish, remove_tree, write_card, write_manifest

__all__ = ["snapshot_create", "snapshot_verify", "snapshots_root", "export_size", "combined_digest",
           "labeler_hash", "pairwise_view", "author_bucket", "split_by_author"]  # the names callers import from here
SCHEMA_VERSION = 1
KINDS = tuple(DatasetSnapshot.Kind.values)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def snapshots_root() -> Path:
    return Path(settings.PREFLOOP_DATA_DIR) / "snapshots"


def export_size(*, kind: str, campaign_ids: list[int]) -> int:
    """How many labels an export of ``kind`` would read (prompts: prompts), to decide where it runs."""
    if kind == "prompts":
        return Prompt.objects.filter(campaign_id__in=campaign_ids).count()
    model = Demonstration if kind == "sft" else Ranking
    return model.objects.filter(assignment__in=export_quality.submitted_labels(campaign_ids)).count()


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

    filters = {"campaign_ids": campaign_ids, "valid_fraction": float(valid_fraction), "seed": seed,
               "status": "submitted" if kind != "prompts" else "all", "include_evaluation": include_evaluation,
               "quality": options.as_dict()}
    if from_evaluation:
        filters["from_evaluation"] = from_evaluation
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with export_reads():
            manifest = _write_folder(tmp, kind=kind, name=name, campaign_ids=campaign_ids, options=options,
                                     valid_fraction=float(valid_fraction), seed=seed)
        manifest.update(schema_version=SCHEMA_VERSION, name=name, kind=kind, filters=filters,
                        created_at=created_at.isoformat(), created_by=getattr(created_by, "username", None))
        write_manifest(tmp, manifest)
        publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    try:
        with transaction.atomic():
            snapshot = DatasetSnapshot.objects.create(
                name=name, kind=kind, filters=filters, split=manifest["split"], path=str(final),
                rows=manifest["rows"], sha256=manifest["digest"], created_by=created_by,
            )
            snapshot.campaigns.set(campaign_ids)
    except BaseException:
        remove_tree(final)
        raise
    return snapshot


def _write_folder(folder: Path, *, kind: str, name: str, campaign_ids: list[int], options, valid_fraction: float,
                  seed: int) -> dict:
    """Stream the rows of ``kind`` into ``folder`` (data files and card); return the manifest's data part.

    Raises ValidationError when there is nothing to export (the caller removes the folder).
    """
    excluded = export_quality.excluded_labelers(campaign_ids, options)
    source = ExportSource(kind, campaign_ids, options, excluded)
    split = AuthorSplit.from_authors(source.authors(), valid_fraction=valid_fraction, seed=seed)
    files = SplitFiles(folder, pairwise=kind == "comparisons")
    try:
        for author, line, pairs in source.rows():
            files.write(split.is_valid(author), line, pairs)
    except BaseException:
        files.abandon()
        raise
    counts, hashes = files.close()
    total = counts["train"] + counts["valid"]
    if total == 0:
        raise ValidationError({"detail": [f"nothing to export: no {kind} rows in campaign(s) {campaign_ids}"]})
    write_card(folder, kind, name, counts)
    return {
        "rows": total,
        "split": {"train": counts["train"], "valid": counts["valid"]},
        "split_method": "by prompt author: sha256(seed:author) bucket < valid_fraction → valid",
        "authors": split.authors,
        "files": {n: {"rows": counts[n.removesuffix(".jsonl")], "sha256": h} for n, h in hashes.items()},
        "sha256": hashes,
        "digest": combined_digest(hashes),
        "quality": export_quality.manifest_quality(campaign_ids, options, excluded, kind,
                                                   rankings_read=source.rankings_read),
    }


def _evaluation_ids(campaign_ids: list[int], include_evaluation: bool) -> list[int]:
    """Ids of the human evaluations whose campaigns are among ``campaign_ids``; refused unless included."""
    from labeling.models import Evaluation

    found = dict(Evaluation.objects.filter(campaign_id__in=campaign_ids).values_list("campaign_id", "id"))
    if found and not include_evaluation:
        raise ValidationError({"campaign_ids": [
            f"campaign(s) {', '.join(map(str, sorted(found)))} belong to a human evaluation; training exports "
            f"exclude them (export an evaluation's comparisons from the evaluation, or set include_evaluation)"]})
    return sorted(found.values())


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
