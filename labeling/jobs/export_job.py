"""Snapshot exports as jobs: run by a default-queue worker with heartbeats and progress, not in a web request.

An export job writes one snapshot per requested kind (sft, comparisons, prompts) of the same campaigns,
named ``<name>-<kind>``. It is safe to run again after a crash: a snapshot that already exists under
its name is reused (snapshots are immutable and written atomically), and the temporary folder a killed
export leaves behind is removed by the sweep (``labeling.jobs.sweep``).
"""
from __future__ import annotations

import logging
import re
import threading

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from labeling.jobs import runner
from labeling.jobs.dbretry import db_call
from labeling.jobs.services import job_dir
from labeling.models import Campaign, DatasetSnapshot, Job
from labeling.services.export_quality import clean_export_quality
from labeling.services.exports import snapshot_create

logger = logging.getLogger(__name__)
SNAPSHOT_KINDS = ("sft", "comparisons", "prompts")
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,180}$")
HEARTBEAT_S = 5.0


def export_job_create(*, campaign_ids: list[int], snapshot_kinds=SNAPSHOT_KINDS, name: str | None = None,
                      exact_name: bool = False, valid_fraction: float = 0.1, seed: int = 0, quality: dict | None = None,
                      created_by=None, iteration=None, stage: str = "", enqueue: bool = True) -> Job:
    """Record a queued export job (sent to the default queue after commit). Raises ValidationError for
    unknown campaigns or snapshot kinds, a bad name or a fraction outside [0, 1).

    Snapshots are named ``<name>-<kind>``, or exactly ``name`` with ``exact_name`` (one kind only).
    ``quality`` selects labels by quality (``services.export_quality``), checked here so a bad option fails now.
    """
    ids = sorted({int(c) for c in campaign_ids})
    missing = sorted(set(ids) - set(Campaign.objects.filter(pk__in=ids).values_list("id", flat=True)))
    errors = {}
    if not ids or missing:
        errors["campaign_ids"] = [f"unknown campaign(s): {missing}" if missing else "give at least one campaign"]
    bad_kinds = [k for k in snapshot_kinds if k not in SNAPSHOT_KINDS]
    if bad_kinds or not snapshot_kinds:
        errors["snapshot_kinds"] = [f"choose among {', '.join(SNAPSHOT_KINDS)}"]
    if not 0.0 <= float(valid_fraction) < 1.0:
        errors["valid_fraction"] = ["must be in [0, 1)"]
    if name is not None and not NAME_RE.match(name):
        errors["name"] = ["use letters, digits, '.', '_' or '-'"]
    if exact_name and (name is None or len(snapshot_kinds) != 1):
        errors["name"] = ["an exact snapshot name needs a name and exactly one snapshot kind"]
    try:
        clean_export_quality(quality)
    except ValidationError as exc:
        errors["quality"] = exc.messages
    if errors:
        raise ValidationError(errors)
    name = name or f"export-{timezone.now():%Y%m%d-%H%M%S}"
    names = {k: name if exact_name else f"{name}-{k}" for k in snapshot_kinds}
    params = {"campaign_ids": ids, "snapshot_kinds": list(snapshot_kinds), "valid_fraction": float(valid_fraction),
              "seed": int(seed), "name": name, "snapshot_names": names, "quality": quality or {}}
    with transaction.atomic():
        job = Job.objects.create(kind=Job.Kind.EXPORT, params=params, created_by=created_by, iteration=iteration,
                                 stage=stage)
        job.output_dir = str(job_dir(job))
        job.save(update_fields=["output_dir"])
        if enqueue:
            from labeling.jobs.services import job_dispatch

            transaction.on_commit(lambda: job_dispatch(job_id=job.pk))
    return job


class _Heartbeat(threading.Thread):
    """Beats for an in-process export so the sweep does not take a long export for a dead one."""

    def __init__(self, job_id: int):
        super().__init__(daemon=True, name=f"export-heartbeat-{job_id}")
        self.job_id, self.stop = job_id, threading.Event()

    def run(self):
        try:
            while not self.stop.wait(HEARTBEAT_S):
                try:
                    Job.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now())
                except Exception:  # a database blip skips one beat
                    connection.close()
        finally:
            connection.close()


def _snapshot(job: Job, kind: str) -> DatasetSnapshot:
    p = job.params
    name = p["snapshot_names"][kind]
    existing = DatasetSnapshot.objects.filter(name=name).first()
    if existing:
        return existing
    return snapshot_create(kind=kind, campaign_ids=p["campaign_ids"], name=name, valid_fraction=p["valid_fraction"],
                           seed=p["seed"], quality=p.get("quality") or None, created_by=job.created_by)


def run_export(job_id: int) -> str | None:
    """Run one export job; returns its final status (None if not ours to run)."""
    job = runner.claim(job_id)
    if job is None:
        return None
    beat = _Heartbeat(job.pk)
    beat.start()
    done: dict[str, dict] = {}
    try:
        kinds = job.params["snapshot_kinds"]
        for i, kind in enumerate(kinds):
            snap = db_call(lambda k=kind: _snapshot(job, k), what=f"export job {job.pk} {kind}", budget_s=60)
            done[kind] = {"id": snap.pk, "name": snap.name, "rows": snap.rows, "split": snap.split}
            db_call(lambda f=(i + 1) / len(kinds): Job.objects.filter(pk=job.pk).update(
                progress=f, result={"snapshots": done}, updated_at=timezone.now()), what="export progress")
    except ValidationError as exc:
        messages = [m for msgs in getattr(exc, "message_dict", {"": exc.messages}).values() for m in msgs]
        runner.finish(job, Job.Status.FAILED, result={"snapshots": done}, error="; ".join(messages))
        return Job.Status.FAILED
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        runner.finish(job, Job.Status.FAILED, result={"snapshots": done}, error=f"export failed: {exc}")
        return Job.Status.FAILED
    finally:
        beat.stop.set()
    runner.finish(job, Job.Status.SUCCEEDED, result={"snapshots": done}, progress=1.0)
    return Job.Status.SUCCEEDED
