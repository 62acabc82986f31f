"""The job runner: the body of the gpu-queue Celery task (DESIGN §4).

It claims a queued Job, builds the ``python -m training <kind> ...`` command line (``command.py``),
starts it as a child process in its own process group, and until it exits:

- tails ``output/metrics.jsonl`` into ``Job.metrics`` / ``Job.progress``,
- heart-beats (``Job.heartbeat_at``) and copies the end of ``log.txt`` into ``Job.log_tail``,
- honours ``Job.cancel_requested`` by SIGTERM to the whole group (SIGKILL after a grace period).

Faults: a database error during supervision skips one heartbeat and is retried on a fresh connection
(``dbretry``): it never kills the training run. The final state is recorded with retries for minutes.
The child dies with its supervisor (PR_SET_PDEATHSIG on Linux), so a killed worker leaves no orphan
holding a GPU; the beat sweep (``sweep.py``) notices the stale heartbeat and re-queues the job, which
resumes from its last checkpoint, up to ``JOB_MAX_ATTEMPTS``.

On success the output model is registered with its lineage (``outputs.py``), a ``generate`` job's
samples become ranking tasks (``loop.py``) and an ``evaluate`` job's number is recorded. Only this
module writes a running job's row, always with ``UPDATE ... SET`` of its own columns, so the API can set
``cancel_requested`` at any time without being overwritten.
"""
from __future__ import annotations

import json
import logging
import math
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling.jobs import failure
from labeling.jobs.command import build_command, succeeded_output
from labeling.jobs.dbretry import db_call
from labeling.jobs.services import job_dir
from labeling.jobs.tailing import MetricsTail, log_tail
from labeling.models import Job

logger = logging.getLogger(__name__)

POLL_S = float(os.environ.get("PREFLOOP_JOB_POLL_S", "1.0"))
CANCEL_GRACE_S = 30.0
MAX_METRIC_ROWS = 5_000
FINAL_RECORD_BUDGET_S = 15 * 60  # keep trying to record a finished run's state through a long outage


def _json_safe(value):
    """NaN/inf become null: PostgreSQL's jsonb refuses them (a result.json may hold a NaN accuracy)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _thin(rows: list[dict]) -> list[dict]:
    """Keep the metrics list bounded: halve the resolution of the oldest part when it grows too long."""
    if len(rows) <= MAX_METRIC_ROWS:
        return rows
    half = len(rows) // 2
    return rows[:half:2] + rows[half:]


# ---------------------------------------------------------------- claim and finish

def stale_after_s() -> float:
    return float(getattr(settings, "JOB_STALE_AFTER_S", 120))


def claim(job_id: int) -> Job | None:
    """Mark a queued job running (or reclaim one orphaned by a dead worker); None if not ours to run."""
    def _do():
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None:
                logger.warning("job %s does not exist", job_id)
                return None
            now = timezone.now()
            if job.status == Job.Status.RUNNING:
                if job.heartbeat_at and (now - job.heartbeat_at).total_seconds() < stale_after_s():
                    return None  # another worker is on it
            elif job.status != Job.Status.QUEUED:
                return None  # finished or cancelled already
            kill_orphan(job)  # an earlier attempt's process group, if it survived on this host
            if job.cancel_requested:
                Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED, finished_at=now, updated_at=now)
                return None
            job.status, job.heartbeat_at, job.error = Job.Status.RUNNING, now, ""
            job.attempts += 1
            job.started_at = job.started_at or now
            job.host, job.pid = socket.gethostname(), None
            job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "error", "host", "pid",
                                    "updated_at"])
            return job

    return db_call(_do, what=f"claim job {job_id}", budget_s=60)


def finish(job: Job, status: str, **fields) -> None:
    """Record a final state, retrying through database outages; then let its iteration move on."""
    def _do():
        now = timezone.now()
        Job.objects.filter(pk=job.pk).update(status=status, finished_at=now, heartbeat_at=now, updated_at=now,
                                             pid=None, **fields)

    db_call(_do, what=f"record job {job.pk} {status}", budget_s=FINAL_RECORD_BUDGET_S)
    if job.iteration_id:
        from labeling.services.iterations import iteration_advance_later

        iteration_advance_later(iteration_id=job.iteration_id)
    from labeling.services.evaluations import evaluation_advance_for_job  # lazy, like the import above

    evaluation_advance_for_job(job=job)


# ---------------------------------------------------------------- supervising the child

def _heartbeat(job: Job, updates: dict) -> bool:
    """Write one heartbeat; returns cancel_requested. A database error skips this beat (training goes on)."""
    def _do():
        Job.objects.filter(pk=job.pk).update(**updates)
        return bool(Job.objects.filter(pk=job.pk).values_list("cancel_requested", flat=True).first())

    try:
        return db_call(_do, what=f"heartbeat job {job.pk}")
    except Exception:
        logger.warning("job %s: heartbeat skipped (database unavailable); training continues", job.pk)
        return False


def _supervise(job: Job, proc: subprocess.Popen, tail: MetricsTail, log_path: Path, metrics: list[dict],
               poll_s: float) -> tuple[int, float | None]:
    """Poll the child until it exits: metrics, progress, heartbeat, log tail, cancel. Returns
    (exit status, when SIGTERM was sent or None)."""
    cancel_sent_at: float | None = None
    killed = False
    last_log = None
    while True:
        returncode = proc.poll()
        new_rows = tail.read()
        now = timezone.now()
        updates = {"heartbeat_at": now, "updated_at": now}
        log_text = log_tail(log_path)
        if log_text != last_log:
            updates["log_tail"] = last_log = log_text
        if new_rows:
            if job.attempts > 1:  # a resumed run re-logs steps after its checkpoint
                first_step = new_rows[0].get("step")
                metrics = [r for r in metrics if first_step is None or r.get("step", -1) < first_step]
            metrics = _thin(metrics + [_json_safe(r) for r in new_rows])
            updates["metrics"] = metrics
            progress = new_rows[-1].get("progress")
            if isinstance(progress, (int, float)) and progress == progress:
                updates["progress"] = float(min(max(progress, 0.0), 1.0))
        cancel = _heartbeat(job, updates)
        if returncode is not None:
            break
        if cancel and cancel_sent_at is None:
            logger.info("job %s: cancel requested, SIGTERM to process group %s", job.pk, proc.pid)
            signal_group(proc.pid, signal.SIGTERM)
            cancel_sent_at = time.monotonic()
        elif cancel_sent_at is not None and not killed and time.monotonic() - cancel_sent_at > CANCEL_GRACE_S:
            signal_group(proc.pid, signal.SIGKILL)
            killed = True
        time.sleep(poll_s)
    return returncode, cancel_sent_at


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL me when my parent (the runner) dies, so no orphan outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the sweep's process-group kill is the fallback
        pass


def _start(job: Job, log_path: Path):
    command = build_command(job)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(command.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            command.argv, cwd=command.cwd, env=command.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own process group: cancel kills all of it
            preexec_fn=_die_with_parent,
        )
    db_call(lambda: Job.objects.filter(pk=job.pk).update(pid=proc.pid, log_tail="", updated_at=timezone.now()),
            what=f"record pid of job {job.pk}", budget_s=60)
    logger.info("job %s: started pid %s: %s", job.pk, proc.pid, " ".join(command.argv))
    return proc


def run_job(job_id: int, *, poll_s: float | None = None) -> str | None:
    """Run one job to completion; returns its final status (None if it was not ours to run)."""
    job = claim(job_id)
    if job is None:
        return None
    if job.attempts > int(getattr(settings, "JOB_MAX_ATTEMPTS", 3)):
        finish(job, Job.Status.FAILED, error=f"gave up after {job.attempts - 1} attempts: its worker was lost "
                                             f"each time (see the log)")
        return Job.Status.FAILED
    log_path = job_dir(job) / "log.txt"
    try:
        job_dir(job).mkdir(parents=True, exist_ok=True)
        proc = _start(job, log_path)
    except Exception as exc:  # a missing input, an unwritable folder: the job fails, the worker lives
        logger.exception("job %s: cannot start", job.pk)
        finish(job, Job.Status.FAILED, error=failure.start_error(exc, job))
        return Job.Status.FAILED

    tail = MetricsTail(Path(job.output_dir) / "metrics.jsonl")
    metrics = list(job.metrics) if job.attempts > 1 else []
    try:
        returncode, cancel_sent_at = _supervise(job, proc, tail, log_path, metrics, poll_s or POLL_S)
    except BaseException as exc:  # the worker is shutting down: never leave an orphan
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        logger.exception("job %s: supervising the training process failed", job.pk)
        finish(job, Job.Status.FAILED, log_tail=log_tail(log_path), error=f"runner stopped: {exc!r}")
        raise
    signal_group(proc.pid, signal.SIGKILL)  # reap anything the CLI left in its group (dataloader workers)
    return _record_outcome(job, returncode, cancel_sent_at, log_tail(log_path))


def _record_outcome(job: Job, returncode: int, cancel_sent_at, log_text: str) -> str:
    if cancel_sent_at is not None:
        finish(job, Job.Status.CANCELLED, log_tail=log_text, error="cancelled by request")
        return Job.Status.CANCELLED
    if returncode != 0 or not succeeded_output(job).is_file():
        finish(job, Job.Status.FAILED, log_tail=log_text, error=failure.run_error(log_text, returncode))
        return Job.Status.FAILED
    try:
        summary = db_call(lambda: _record_success(job), what=f"register outputs of job {job.pk}",
                          budget_s=FINAL_RECORD_BUDGET_S)
    except Exception as exc:
        logger.exception("job %s: registering its output failed", job.pk)
        finish(job, Job.Status.FAILED, log_tail=log_text,
               error=f"training succeeded but registering its output failed: {exc}")
        return Job.Status.FAILED
    finish(job, Job.Status.SUCCEEDED, log_tail=log_text, result=summary, progress=1.0)
    return Job.Status.SUCCEEDED


def _record_success(job: Job) -> dict:
    """Register the model / import samples / record the evaluation, all or nothing."""
    from labeling.jobs.loop import import_generated
    from labeling.jobs.outputs import evaluation_record, job_register_output

    result_json = Path(job.output_dir) / "result.json"
    result = _json_safe(json.loads(result_json.read_text(encoding="utf-8"))) if result_json.is_file() else {}
    with transaction.atomic():
        job.refresh_from_db()
        model = job_register_output(job=job, result=result)
        # Per-item detail (an evaluation's per-prompt texts) stays in result.json: it is unbounded.
        summary = {"result": {k: v for k, v in result.items() if k != "items"}}
        if model is not None:
            summary["model_version_id"] = model.pk
        if job.kind == Job.Kind.EVALUATE:
            summary["recorded"] = evaluation_record(job=job, result=result)
        if job.kind == Job.Kind.GENERATE:
            summary["imported"] = import_generated(job=job)
    return summary


# ---------------------------------------------------------------- processes

def kill_orphan(job: Job) -> bool:
    """Kill the process group of an earlier attempt if it still runs on this machine (checked by its
    command line); returns whether one was killed."""
    if not job.pid or (job.host and job.host != socket.gethostname()):
        return False
    try:
        cmdline = Path(f"/proc/{job.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    if str(job_dir(job)) in cmdline:
        logger.warning("job %s: killing the orphaned training process group %s", job.pk, job.pid)
        signal_group(job.pid, signal.SIGKILL)
        return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
