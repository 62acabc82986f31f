"""Dataset snapshots: rows per kind, manifest and hashes, split by author, immutability, atomicity."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from labeling.models import Assignment, DatasetSnapshot
from labeling.services import exports
from labeling.services.exports import snapshot_create, snapshot_verify, split_by_author

pytestmark = pytest.mark.django_db


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def all_rows(folder: Path) -> list[dict]:
    return read_jsonl(folder / "train.jsonl") + read_jsonl(folder / "valid.jsonl")


def test_sft_rows_are_prompt_turns_plus_the_demonstration(labeled, data_dir):
    snap = snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], name="sft-1")
    rows = all_rows(Path(snap.path))
    assert snap.rows == len(rows) == 12
    texts = sorted(r["messages"][-1]["content"] for r in rows)
    assert texts == sorted(f"A careful answer to question {i}." for i in range(12))
    for row in rows:
        assert set(row) == {"messages"}
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    # The training half reads it as is (its own validators).
    from training.data import load_snapshot

    loaded = load_snapshot(snap.path, "sft")
    assert len(loaded.train) + len(loaded.valid) == 12


def test_comparison_rows_index_into_completions_keep_ties_and_hash_labelers(labeled, data_dir):
    snap = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], name="cmp-1")
    folder = Path(snap.path)
    rows = all_rows(folder)
    assert len(rows) == 12
    tied = [r for r in rows if r["ranking"] == [[2], [0, 1]]]
    strict = [r for r in rows if r["ranking"] == [[1], [0], [2]]]
    assert len(tied) == len(strict) == 6
    for row in rows:
        assert len(row["completions"]) == 3
        assert row["prompt"][-1]["role"] == "user"
        # index i of the ranking is completions[i]: the texts were created in order "answer 0/1/2"
        assert [c.split()[1] for c in row["completions"]] == ["0", "1", "2"]
        assert row["ratings"] == [
            {"completion": 0, "likert": 5, "flags": []},
            {"completion": 1, "likert": 2, "flags": ["hallucination"]},
            {"completion": 2, "likert": 7, "flags": []},
        ]
        assert len(row["labeler"]) == 64 and row["labeler"] not in {str(u.pk) for u in labeled.labelers}
        assert row["none_acceptable"] is False
    assert len({r["labeler"] for r in rows}) == 3
    # Pairwise view: ties give no pair. [[2],[0,1]] → 2 pairs; [[1],[0],[2]] → 3 pairs.
    pairs = read_jsonl(folder / "pairwise_train.jsonl") + read_jsonl(folder / "pairwise_valid.jsonl")
    assert len(pairs) == 6 * 2 + 6 * 3
    assert set(pairs[0]) == {"prompt", "chosen", "rejected", "ranking_id", "prompt_id", "labeler"}
    assert pairs[0]["chosen"][0]["role"] == "assistant"
    # Every pair points back at its ranking row (same prompt and labeler): a client can regroup them.
    by_ranking = {r["ranking_id"]: r for r in rows}
    assert len(by_ranking) == 12
    for pair in pairs:
        source = by_ranking[pair["ranking_id"]]
        assert (pair["prompt_id"], pair["labeler"], pair["prompt"]) == (source["prompt_id"], source["labeler"],
                                                                        source["prompt"])
    from training.data import load_snapshot

    loaded = load_snapshot(snap.path, "comparisons")
    assert len(loaded.train) + len(loaded.valid) == 12


def test_snapshot_folder_loads_with_hf_datasets_and_named_configs(labeled, data_dir):
    datasets = pytest.importorskip("datasets")
    snap = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], name="cmp-hf", valid_fraction=0.3)
    manifest = json.loads((Path(snap.path) / "manifest.json").read_text())
    rankings = datasets.load_dataset(snap.path)
    assert {k: v.num_rows for k, v in rankings.items()} == {"train": manifest["split"]["train"],
                                                             "validation": manifest["split"]["valid"]}
    assert {"prompt", "completions", "ranking", "labeler", "ranking_id"} <= set(rankings["train"].column_names)
    pairs = datasets.load_dataset(snap.path, "pairwise")
    assert sum(v.num_rows for v in pairs.values()) == 6 * 2 + 6 * 3
    assert set(pairs["train"].column_names) == {"prompt", "chosen", "rejected", "ranking_id", "prompt_id", "labeler"}
    sft = snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], name="sft-hf", valid_fraction=0.0)
    assert list(datasets.load_dataset(sft.path)) == ["train"]  # an empty valid split is left out of the card


def test_prompt_rows_carry_prompt_ids_and_multi_turn_messages(labeled, data_dir):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Plan my week."}]
    p = labeled.prompt(99, "author-chat", messages=chat, category="chat")
    snap = snapshot_create(kind="prompts", campaign_ids=[labeled.campaign.pk], name="prompts-1")
    rows = all_rows(Path(snap.path))
    assert len(rows) == 13
    by_id = {r["prompt_id"]: r for r in rows}
    assert by_id[p.pk]["prompt"] == chat and by_id[p.pk]["category"] == "chat"
    from training.data import load_snapshot

    load_snapshot(snap.path, "prompts")


def test_only_submitted_work_is_exported(labeled, data_dir):
    prompt = labeled.prompt(500, "author-x")
    task, comps = labeled.ranking_task(prompt)
    labeled.rank(task, comps, labeled.labelers[0], [[0], [1], [2]], status=Assignment.Status.LEASED)
    labeled.demonstrate(prompt, labeled.labelers[1], "not yet submitted", status=Assignment.Status.EXPIRED)
    assert snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk]).rows == 12
    assert snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk]).rows == 12


def test_manifest_records_rows_split_filters_and_file_hashes(labeled, data_dir):
    snap = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], name="cmp-m",
                           valid_fraction=0.3, seed=7)
    folder = Path(snap.path)
    assert folder == Path(data_dir) / "snapshots" / "cmp-m"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["kind"] == "comparisons"
    assert manifest["rows"] == 12 == snap.rows
    assert manifest["split"] == snap.split
    assert manifest["split"]["train"] + manifest["split"]["valid"] == 12
    assert manifest["filters"]["campaign_ids"] == [labeled.campaign.pk]
    assert manifest["filters"]["valid_fraction"] == 0.3 and manifest["filters"]["seed"] == 7
    assert manifest["created_at"]
    assert set(manifest["sha256"]) == {"train.jsonl", "valid.jsonl", "pairwise_train.jsonl", "pairwise_valid.jsonl"}
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert snap.sha256 == manifest["digest"] == exports.combined_digest(manifest["sha256"])
    assert list(snap.campaigns.values_list("pk", flat=True)) == [labeled.campaign.pk]
    assert snapshot_verify(snapshot=snap) == []


def test_split_is_by_author_and_stable(labeled, data_dir):
    snap = snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], valid_fraction=0.34, seed=1)
    folder = Path(snap.path)
    question_author = {f"A careful answer to question {i}.": f"author-{i % 6}" for i in range(12)}
    train_authors = {question_author[r["messages"][-1]["content"]] for r in read_jsonl(folder / "train.jsonl")}
    valid_authors = {question_author[r["messages"][-1]["content"]] for r in read_jsonl(folder / "valid.jsonl")}
    assert train_authors and valid_authors
    assert not train_authors & valid_authors, "an author straddles train and valid"
    # Same seed → same split in a later snapshot; the split depends on the author, not on the row order.
    again = snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], valid_fraction=0.34, seed=1)
    assert (Path(again.path) / "valid.jsonl").read_bytes() == (folder / "valid.jsonl").read_bytes()


def test_split_by_author_unit():
    rows = [(f"a{i % 10}", {"i": i}) for i in range(100)]
    split = split_by_author(rows, valid_fraction=0.2, seed=0)
    assert len(split.train) + len(split.valid) == 100
    assert not {a for a, _ in split.train} & {a for a, _ in split.valid}
    # With a tiny fraction and ≥2 authors valid still gets one author; with 0 it gets none.
    assert split_by_author(rows, valid_fraction=1e-9, seed=0).valid
    assert not split_by_author(rows, valid_fraction=0.0, seed=0).valid
    # A single author can't be split: everything trains.
    assert not split_by_author([("solo", {})] * 5, valid_fraction=0.5, seed=0).valid


def test_snapshots_are_immutable(labeled, data_dir):
    snap = snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], name="frozen")
    folder = Path(snap.path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for p in folder.iterdir():
        assert not p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), f"{p.name} is writable"
    with pytest.raises(ValidationError, match="already exists"):
        snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], name="frozen")
    # New labels later never change an existing snapshot.
    labeled.demonstrate(labeled.prompt(700, "author-new"), labeled.labelers[0], "a later demonstration")
    assert snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk]).rows == 13
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert snapshot_verify(snapshot=snap) == []


def test_a_failed_write_leaves_nothing_behind(labeled, data_dir, monkeypatch):
    from labeling.services import export_write

    monkeypatch.setattr(export_write, "BLOCK_LINES", 2)  # rows reach the disk before the failure
    real_flush = export_write.JsonlFile._flush_block
    calls = []

    def failing_flush(self):  # the block write to disk fails after some blocks made it
        if self._pending:
            calls.append(self.path.name)
        if {"train.jsonl", "pairwise_train.jsonl"} <= set(calls) and self.path.name == "train.jsonl":
            raise OSError("disk full")
        return real_flush(self)

    monkeypatch.setattr(export_write.JsonlFile, "_flush_block", failing_flush)
    with pytest.raises(OSError, match="disk full"):
        snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], name="broken")
    assert {"train.jsonl", "pairwise_train.jsonl"} <= set(calls)  # blocks of both reached the disk first
    root = Path(data_dir) / "snapshots"
    assert list(root.iterdir()) == []  # neither the final folder nor a temp folder
    assert not DatasetSnapshot.objects.exists()


def test_a_failed_db_write_removes_the_folder(labeled, data_dir, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(DatasetSnapshot.objects, "create", boom)
    with pytest.raises(RuntimeError):
        snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], name="no-row")
    assert not (Path(data_dir) / "snapshots" / "no-row").exists()
    assert [p for p in (Path(data_dir) / "snapshots").iterdir()] == []


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"kind": "nope"}, "kind"),
        ({"campaign_ids": []}, "campaign_ids"),
        ({"campaign_ids": [10**9]}, "campaign_ids"),
        ({"name": "../escape"}, "name"),
        ({"valid_fraction": 1.0}, "valid_fraction"),
    ],
)
def test_bad_requests_are_refused(labeled, data_dir, kwargs, field):
    args = {"kind": "sft", "campaign_ids": [labeled.campaign.pk], **kwargs}
    with pytest.raises(ValidationError) as exc:
        snapshot_create(**args)
    assert field in exc.value.message_dict
    assert not os.path.exists(Path(data_dir) / "snapshots" / "escape")


def test_nothing_to_export_is_an_error(labeled_factory, data_dir):
    empty = labeled_factory(name="empty")
    with pytest.raises(ValidationError, match="nothing to export"):
        snapshot_create(kind="comparisons", campaign_ids=[empty.campaign.pk])


def test_an_export_job_writes_each_snapshot_and_is_safe_to_run_again(labeled, data_dir):
    from labeling.jobs.export_job import export_job_create, run_export
    from labeling.models import Job

    job = export_job_create(campaign_ids=[labeled.campaign.pk], name="nightly", enqueue=False)
    assert run_export(job.pk) == Job.Status.SUCCEEDED
    job.refresh_from_db()
    names = {k: v["name"] for k, v in job.result["snapshots"].items()}
    assert names == {"sft": "nightly-sft", "comparisons": "nightly-comparisons", "prompts": "nightly-prompts"}
    assert job.progress == 1.0 and DatasetSnapshot.objects.get(name="nightly-sft").rows == 12
    # A re-run (a worker died after the export but before recording it) reuses what is there.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
    assert run_export(job.pk) == Job.Status.SUCCEEDED
    assert DatasetSnapshot.objects.filter(name__startswith="nightly-").count() == 3
    empty = labeled.__class__(name="nothing-here")
    failed = export_job_create(campaign_ids=[empty.campaign.pk], snapshot_kinds=["sft"], enqueue=False)
    assert run_export(failed.pk) == Job.Status.FAILED
    failed.refresh_from_db()
    assert failed.error.startswith("nothing to export: no sft rows")
