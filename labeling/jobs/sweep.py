"""The beat sweep that keeps jobs in a recorded state whatever the workers and the broker do.

Every ``JOB_SWEEP_INTERVAL_S`` (default 30 s):

1. A running job whose heartbeat is older than ``JOB_STALE_AFTER_S`` lost its worker (kill -9, a
   crashed machine). Its training process dies with its supervisor (PR_SET_PDEATHSIG); if one is still
   alive on this machine its process group is killed. The job is re-queued to resume from its last
   checkpoint, or failed with the reason once ``JOB_MAX_ATTEMPTS`` attempts were lost.
2. A queued job that never reached the broker (it was down at creation), or was sent long ago
   (``JOB_REDISPATCH_AFTER_S``) and nobody claimed it, is sent again. A duplicate delivery is harmless.
3. Temporary export folders (``snapshots/.tmp-*``) untouched for ``EXPORT_TMP_MAX_AGE_S`` were left by a
   killed export and are removed.
4. Running iterations are advanced (in case a worker's "advance" message was lost), and campaigns with an
   iteration trigger start their next iteration.
"""
from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.jobs import runner
from labeling.jobs.services import job_dir, job_dispatch
from labeling.models import Iteration, Job
from labeling.services.exports import snapshots_root

logger = logging.getLogger(__name__)


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _note(job: Job, text: str) -> None:
    """Append a line to the job's log so the job page says what the sweep did."""
    try:
        with (job_dir(job) / "log.txt").open("a", encoding="utf-8") as log:
            log.write(f"[prefloop {timezone.now():%Y-%m-%d %H:%M:%S}] {text}\n")
    except OSError:
        pass


def _recover(job_id: int, cutoff) -> str | None:
    """Re-queue or fail one stale running job; returns what was done (None if it was not stale any more)."""
    max_attempts = int(_setting("JOB_MAX_ATTEMPTS", 3))
    with transaction.atomic():
        job = Job.objects.select_for_update(skip_locked=True).filter(
            pk=job_id, status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).first()
        if job is None:
            return None
        killed = runner.kill_orphan(job)
        silent = int(_setting("JOB_STALE_AFTER_S", 120))
        now = timezone.now()
        if job.attempts >= max_attempts:
            reason = (f"its worker stopped responding (no heartbeat for {silent} s) on each of {job.attempts} "
                      f"attempts; giving up")
            Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error=reason, finished_at=now, pid=None,
                                                 updated_at=now)
            outcome = "failed"
        else:
            reason = (f"worker lost (no heartbeat for {silent} s){'; killed its orphaned process' if killed else ''}; "
                      f"re-queued for attempt {job.attempts + 1} of {max_attempts}, resuming from its last checkpoint")
            # pid and host stay: a runner that claims it on that host kills any survivor of the old attempt
            Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, error=reason, dispatched_at=None,
                                                 updated_at=now)
            outcome = "requeued"
            transaction.on_commit(lambda: job_dispatch(job_id=job.pk))
    _note(job, reason)
    logger.warning("job %s: %s", job.pk, reason)
    if outcome == "failed" and job.iteration_id:
        from labeling.services.iterations import iteration_advance_later

        iteration_advance_later(iteration_id=job.iteration_id)
    return outcome


def recover_stale_jobs() -> dict[str, int]:
    """Step 1: jobs whose worker died."""
    cutoff = timezone.now() - timedelta(seconds=_setting("JOB_STALE_AFTER_S", 120))
    counts = {"requeued": 0, "failed": 0}
    stale = Job.objects.filter(status=Job.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)).values_list("id", flat=True)
    for job_id in list(stale):
        outcome = _recover(job_id, cutoff)
        if outcome:
            counts[outcome] += 1
    return counts


def redispatch_queued() -> int:
    """Step 2: queued jobs the broker never got, or got long ago without anyone claiming them."""
    now = timezone.now()
    never = Q(dispatched_at__isnull=True, created_at__lt=now - timedelta(seconds=5))
    long_ago = Q(dispatched_at__lt=now - timedelta(seconds=_setting("JOB_REDISPATCH_AFTER_S", 600)))
    sent = 0
    for job_id in Job.objects.filter(never | long_ago, status=Job.Status.QUEUED).values_list("id", flat=True):
        sent += bool(job_dispatch(job_id=job_id))
    return sent


def sweep_export_tmp() -> int:
    """Step 3: temporary export folders nobody has written to for a while."""
    root = snapshots_root()
    if not root.is_dir():
        return 0
    max_age = _setting("EXPORT_TMP_MAX_AGE_S", 900)
    removed = 0
    for tmp in root.glob(".tmp-*"):
        if tmp.is_dir() and time.time() - _newest_mtime(tmp) > max_age:
            shutil.rmtree(tmp, ignore_errors=True)
            logger.warning("removed the abandoned export folder %s", tmp)
            removed += 1
    return removed


def _newest_mtime(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    times += [p.stat().st_mtime for p in folder.rglob("*") if p.exists()]
    return max(times)


def jobs_sweep() -> dict:
    """Run every step; returns counts (logged by the beat task)."""
    from labeling.services.evaluations import evaluations_advance_pending
    from labeling.services.iterations import iteration_advance, iterations_trigger_due

    counts = recover_stale_jobs()
    counts["redispatched"] = redispatch_queued()
    counts["export_tmp_removed"] = sweep_export_tmp()
    for iteration_id in Iteration.objects.filter(status=Iteration.Status.RUNNING).values_list("id", flat=True):
        iteration_advance(iteration_id=iteration_id)
    counts["iterations_started"] = len(iterations_trigger_due())
    counts["evaluations_advanced"] = evaluations_advance_pending()
    if any(counts.values()):
        logger.info("job sweep: %s", counts)
    return counts
