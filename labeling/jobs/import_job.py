"""Large prompt imports as jobs: run by a default-queue worker with heartbeats and progress, not in a web request.

The API stores an upload over ``settings.PROMPT_IMPORT_SYNC_MAX_BYTES`` as
``<PREFLOOP_DATA_DIR>/jobs/<id>/upload.<jsonl|csv>`` and records a queued ``import`` job; the worker
streams it through ``prompts_import`` (all or nothing, as in the web request) while a heartbeat thread
copies the parser's counters (lines read, bytes read of the total, phase) onto the Job row every
second: ``Job.progress`` (bytes read / total) and ``Job.metrics`` (one row per beat, for the admin
screen). The outcome lands in ``Job.result``: the import report, or the line-numbered errors of a
rejected file (``status=failed``, nothing imported). The upload is removed once the job is final; a
worker killed mid-import leaves it for the sweep's re-queued attempt (the import is atomic, so a
second attempt starts clean).
"""
from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from labeling.jobs import runner
from labeling.jobs import services as job_services
from labeling.models import Campaign, Job
from labeling.services.errors import ImportRejected, PayloadTooLarge, ServiceError
from labeling.services.prompt_import import ImportCancelled, ImportProgress, import_format, prompts_import

logger = logging.getLogger(__name__)
HEARTBEAT_S = 1.0
MAX_PROGRESS_ROWS = 600
COPY_CHUNK = 1024 * 1024


def upload_path(job: Job) -> Path:
    return Path(job.output_dir) / f"upload.{job.params['format']}"


def _store(file, path: Path, limit: int) -> None:
    """Move Django's spooled temp file into place (no copy), or stream the upload there."""
    temp = getattr(file, "temporary_file_path", None)
    if temp is not None:
        shutil.move(temp(), path)  # Django's close() then finds its temp file gone, and says nothing
        return
    written = 0
    with path.open("wb") as out:
        for chunk in file.chunks(COPY_CHUNK) if hasattr(file, "chunks") else iter(lambda: file.read(COPY_CHUNK), b""):
            written += len(chunk)
            if written > limit:
                raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
            out.write(chunk)


def import_job_create(*, campaign: Campaign, file, filename: str | None = None, created_by=None,
                      enqueue: bool = True) -> Job:
    """Store an uploaded prompt file and record a queued ``import`` job for it (sent to the default
    queue after commit). Raises ``PayloadTooLarge`` over ``settings.PROMPT_IMPORT_MAX_BYTES`` and
    ValidationError for an unknown format or an archived campaign: what can be said before reading it.
    """
    limit = settings.PROMPT_IMPORT_MAX_BYTES
    name = filename or getattr(file, "name", "") or ""
    fmt = import_format(name)
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
    if campaign.status == Campaign.Status.ARCHIVED:
        raise ValidationError({"campaign": ["this campaign is archived"]})
    with transaction.atomic():
        job = Job.objects.create(kind=Job.Kind.IMPORT, created_by=created_by, params={
            "campaign_id": campaign.pk, "filename": Path(name).name[:255], "format": fmt, "bytes_total": size})
        job.output_dir = str(job_services.job_dir(job))
        job.save(update_fields=["output_dir"])
        folder = Path(job.output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            _store(file, upload_path(job), limit)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if size is None:
            job.params["bytes_total"] = upload_path(job).stat().st_size
            job.save(update_fields=["params"])
        if enqueue:
            transaction.on_commit(lambda: job_services.job_dispatch(job_id=job.pk))
    return job


class _ProgressBeat(threading.Thread):
    """Every second: heartbeat, progress and a metrics row on the Job (its own database connection:
    the import's transaction is not committed yet), and a cancel request passed to the parser."""

    def __init__(self, job_id: int, progress: ImportProgress):
        super().__init__(daemon=True, name=f"import-progress-{job_id}")
        self.job_id, self.progress, self.stop = job_id, progress, threading.Event()
        self.started = time.monotonic()
        self.rows: list[dict] = []

    def row(self) -> dict:
        return {"t": round(time.monotonic() - self.started, 1), **self.progress.as_dict()}

    def fraction(self) -> float:
        total = self.progress.bytes_total or 0
        return min(self.progress.bytes_read / total, 0.99) if total else 0.0

    def run(self):
        try:
            while not self.stop.wait(HEARTBEAT_S):
                self.rows.append(self.row())
                if len(self.rows) > MAX_PROGRESS_ROWS:  # a very long import: halve the oldest half's resolution
                    half = len(self.rows) // 2
                    self.rows = self.rows[:half:2] + self.rows[half:]
                try:
                    now = timezone.now()
                    Job.objects.filter(pk=self.job_id).update(heartbeat_at=now, updated_at=now, progress=self.fraction(),
                                                              metrics=self.rows)
                    if Job.objects.filter(pk=self.job_id, cancel_requested=True).exists():
                        self.progress.cancelled = True
                except Exception:  # a database blip (or SQLite's write lock) skips one beat
                    connection.close()
        finally:
            connection.close()


def _messages(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(m for msgs in getattr(exc, "message_dict", {"": exc.messages}).values() for m in msgs)
    return getattr(exc, "message", None) or str(exc)


def run_import(job_id: int) -> str | None:
    """Run one import job; returns its final status (None if not ours to run)."""
    job = runner.claim(job_id)
    if job is None:
        return None
    progress = ImportProgress(bytes_total=job.params.get("bytes_total"))
    beat = _ProgressBeat(job.pk, progress)
    beat.start()
    try:
        campaign = Campaign.objects.get(pk=job.params["campaign_id"])
        with upload_path(job).open("rb") as file:
            result = prompts_import(campaign=campaign, file=file, filename=job.params["filename"], progress=progress)
    except ImportRejected as exc:
        status, fields = Job.Status.FAILED, {"error": exc.message,
                                             "result": {"errors": exc.errors, "bad_lines": exc.bad_lines}}
    except ImportCancelled:
        status, fields = Job.Status.CANCELLED, {"error": "cancelled by request: nothing was imported"}
    except (ValidationError, ServiceError, Campaign.DoesNotExist, OSError) as exc:
        status, fields = Job.Status.FAILED, {"error": f"nothing was imported: {_messages(exc)}"}
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        status, fields = Job.Status.FAILED, {"error": f"nothing was imported: the import failed ({exc})"}
    else:
        status, fields = Job.Status.SUCCEEDED, {"result": dataclasses.asdict(result), "progress": 1.0}
    finally:
        beat.stop.set()
        beat.join()
    runner.finish(job, status, metrics=beat.rows + [beat.row()], **fields)
    upload_path(job).unlink(missing_ok=True)
    return status
