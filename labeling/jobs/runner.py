"""The job runner: the body of the gpu-queue Celery task (DESIGN §4).

It claims a queued Job, builds the ``python -m training <kind> ...`` command line from the job's
inputs and params, starts it as a child process in its own process group, and until it exits:

- tails ``output/metrics.jsonl`` into ``Job.metrics`` / ``Job.progress``,
- heart-beats (``Job.heartbeat_at``) and copies the end of ``log.txt`` into ``Job.log_tail``,
- honours ``Job.cancel_requested`` by SIGTERM to the whole group (SIGKILL after a grace period).

On success it registers the output model as a ModelVersion (``job_register_output``); a ``generate``
job's samples become new ranking tasks (``labeling.jobs.loop``) — the loop closes; an ``evaluate`` job's
win rate or pairwise accuracy is recorded on the model it measured (``evaluation_record``). On failure the
CLI's ``error: ...`` line (or the log tail) becomes ``Job.error``.

Only this module writes a running job's row, always with ``UPDATE ... SET`` of its own columns, so
the API can set ``cancel_requested`` at any time without being overwritten.
"""
from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling.jobs import services
from labeling.jobs.tailing import MetricsTail, log_tail
from labeling.models import DatasetSnapshot, Job, ModelVersion

logger = logging.getLogger(__name__)

POLL_S = float(os.environ.get("PREFLOOP_JOB_POLL_S", "1.0"))
CANCEL_GRACE_S = 30.0
STALE_HEARTBEAT = timedelta(minutes=5)  # a RUNNING job whose heartbeat is older was orphaned by a dead worker
MAX_METRIC_ROWS = 5_000


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    cwd: str


# ---------------------------------------------------------------- building the command line

def _python() -> str:
    return settings.PREFLOOP_TRAINING_PYTHON or sys.executable


def _inputs(job: Job) -> tuple[DatasetSnapshot | None, ModelVersion | None, ModelVersion | None, list[ModelVersion]]:
    snapshots = list(job.input_snapshots.all())
    models = list(job.input_models.order_by("id"))
    policy = next((m for m in models if m.kind != ModelVersion.Kind.REWARD), None)
    reward = next((m for m in models if m.kind == ModelVersion.Kind.REWARD), None)
    return (snapshots[0] if snapshots else None), policy, reward, models


def input_flags(job: Job) -> dict[str, str]:
    """The flags that come from the job's inputs (model, data, reward model, output location).

    Flag names follow the training commands' config dataclasses (training/*.py): every trainer takes
    ``--model --output_dir --data``; ppo adds ``--reward_model``; generate takes ``--prompts`` and
    writes one ``--output`` file instead of an output folder; evaluate (``training/evaluate.py``) takes
    ``--reward_model`` plus ``--comparisons`` (pairwise accuracy) or ``--prompts --policy_a --policy_b``
    (win rate of B, the candidate, over A, the baseline) and writes ``--output <output_dir>/result.json``.
    """
    snapshot, policy, reward, models = _inputs(job)
    if job.kind == Job.Kind.GENERATE:
        from labeling.jobs.loop import generations_path

        return {"model": policy.artifact_path, "prompts": snapshot.path, "output": str(generations_path(job))}
    if job.kind == Job.Kind.EVALUATE:
        return _evaluate_flags(job, snapshot)
    flags: dict[str, str] = {"output_dir": job.output_dir}
    if snapshot is not None:
        flags["data"] = snapshot.path
    if job.kind == Job.Kind.REWARD:
        flags["model"] = models[0].artifact_path
    else:
        flags["model"] = policy.artifact_path
        if job.kind == Job.Kind.PPO:
            flags["reward_model"] = reward.artifact_path
    return flags


def _evaluate_flags(job: Job, snapshot: DatasetSnapshot) -> dict[str, str]:
    reward, baseline, candidate = services.evaluate_roles(job)
    output = Path(job.output_dir) / "result.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    flags = {"reward_model": reward.artifact_path}
    if snapshot.kind == DatasetSnapshot.Kind.COMPARISONS:
        flags["comparisons"] = snapshot.path
    else:
        flags.update(prompts=snapshot.path, policy_a=baseline.artifact_path, policy_b=candidate.artifact_path)
    flags["output"] = str(output)
    return flags


def succeeded_output(job: Job) -> Path:
    """The file whose presence (with exit status 0) means the run finished: result.json, or generate's output."""
    if job.kind == Job.Kind.GENERATE:
        from labeling.jobs.loop import generations_path

        return generations_path(job)
    return Path(job.output_dir) / "result.json"


def build_command(job: Job) -> Command:
    """argv + environment for the job's training run; writes ``config.json`` (the job's params).

    The training params go through ``--config`` so the CLI validates them (unknown keys, bad types)
    with its own messages; the inputs are flags, which win over the file.
    """
    jdir = services.job_dir(job)
    jdir.mkdir(parents=True, exist_ok=True)
    training_params = {k: v for k, v in job.params.items() if k not in services.RUNNER_KEYS}
    if job.attempts > 1 and job.kind in services.OUTPUT_KIND:
        training_params["resume"] = True  # a redelivered training job continues from its last checkpoint
    config_path = jdir / "config.json"
    config_path.write_text(json.dumps(training_params, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    args = [job.kind, "--config", str(config_path)]
    for flag, value in input_flags(job).items():
        args += [f"--{flag}", str(value)]

    python = _python()
    if job.params.get("accelerate_config") or int(job.params.get("num_processes") or 1) > 1:
        launch = [python, "-m", "accelerate.commands.launch"]
        if job.params.get("accelerate_config"):
            launch += ["--config_file", str(job.params["accelerate_config"])]
        if job.params.get("num_processes"):
            launch += ["--num_processes", str(int(job.params["num_processes"]))]
        argv = launch + ["-m", "training", *args]
    else:
        argv = [python, "-m", "training", *args]

    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1",
        "PREFLOOP_MODEL_CACHE": str(settings.PREFLOOP_MODEL_CACHE),
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    })
    # The training half must not see Django's settings (it never imports them anyway).
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return Command(argv=argv, env=env, cwd=str(settings.BASE_DIR))


def _error_from_log(tail: str, returncode: int) -> str:
    """The CLI prints ``error: ...`` for bad input; otherwise show the last lines of the log."""
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    last = "\n".join(lines[-15:])
    return f"training exited with status {returncode}" + (f":\n{last}" if last else "")


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


# ---------------------------------------------------------------- the task body

def _claim(job_id: int) -> Job | None:
    """Mark a queued job running (or reclaim one orphaned by a dead worker); None if not ours to run."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s does not exist", job_id)
            return None
        now = timezone.now()
        if job.status == Job.Status.RUNNING:
            if job.heartbeat_at and now - job.heartbeat_at < STALE_HEARTBEAT:
                return None  # another worker is on it
            _kill_orphan(job)  # its runner died; its training process may still be alive on this machine
        elif job.status != Job.Status.QUEUED:
            return None  # finished or cancelled already
        if job.cancel_requested:
            Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED, finished_at=now, updated_at=now)
            return None
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.error = ""
        job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "error", "updated_at"])
    return job


def _finish(job: Job, status: str, **fields) -> None:
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=now, heartbeat_at=now, updated_at=now,
                                         pid=None, **fields)


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
                last_step = new_rows[0].get("step")
                metrics = [r for r in metrics if last_step is None or r.get("step", -1) < last_step]
            metrics = _thin(metrics + new_rows)
            updates["metrics"] = metrics
            progress = new_rows[-1].get("progress")
            if isinstance(progress, (int, float)):
                updates["progress"] = float(min(max(progress, 0.0), 1.0))
        Job.objects.filter(pk=job.pk).update(**updates)
        if returncode is not None:
            break
        cancel = Job.objects.filter(pk=job.pk).values_list("cancel_requested", flat=True).first()
        if cancel and cancel_sent_at is None:
            logger.info("job %s: cancel requested, SIGTERM to process group %s", job.pk, proc.pid)
            _signal_group(proc.pid, signal.SIGTERM)
            cancel_sent_at = time.monotonic()
        elif cancel_sent_at is not None and not killed and time.monotonic() - cancel_sent_at > CANCEL_GRACE_S:
            _signal_group(proc.pid, signal.SIGKILL)
            killed = True
        time.sleep(poll_s)
    return returncode, cancel_sent_at


def run_job(job_id: int, *, poll_s: float | None = None) -> str | None:
    """Run one job to completion; returns its final status (None if it was not ours to run)."""
    job = _claim(job_id)
    if job is None:
        return None
    poll_s = POLL_S if poll_s is None else poll_s
    jdir = services.job_dir(job)
    log_path = jdir / "log.txt"
    try:
        command = build_command(job)
    except Exception as exc:  # a missing input or an unwritable folder: the job fails, the worker lives
        logger.exception("job %s: cannot build its command", job.pk)
        _finish(job, Job.Status.FAILED, error=f"cannot start: {exc}")
        return Job.Status.FAILED

    Path(job.output_dir).mkdir(parents=True, exist_ok=True)
    tail = MetricsTail(Path(job.output_dir) / "metrics.jsonl")
    metrics = list(job.metrics) if job.attempts > 1 else []
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(command.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            command.argv, cwd=command.cwd, env=command.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own process group: cancel kills all of it
        )
    Job.objects.filter(pk=job.pk).update(pid=proc.pid, log_tail="", updated_at=timezone.now())
    logger.info("job %s: started pid %s: %s", job.pk, proc.pid, " ".join(command.argv))

    try:
        returncode, cancel_sent_at = _supervise(job, proc, tail, log_path, metrics, poll_s)
    except BaseException as exc:  # the runner itself broke (DB gone, worker shutdown): never leave an orphan
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        logger.exception("job %s: supervising the training process failed", job.pk)
        try:
            _finish(job, Job.Status.FAILED, log_tail=log_tail(log_path), error=f"runner failed: {exc!r}")
        except Exception:
            logger.exception("job %s: cannot record the failure", job.pk)
        raise
    # Reap anything the CLI left behind in its group (e.g. dataloader workers).
    _signal_group(proc.pid, signal.SIGKILL)

    log_text = log_tail(log_path)
    result_path = succeeded_output(job)
    if cancel_sent_at is not None:
        _finish(job, Job.Status.CANCELLED, log_tail=log_text, error="cancelled by request")
        return Job.Status.CANCELLED
    if returncode != 0 or not result_path.is_file():
        _finish(job, Job.Status.FAILED, log_tail=log_text, error=_error_from_log(log_text, returncode))
        return Job.Status.FAILED
    try:
        result_json = Path(job.output_dir) / "result.json"
        result = json.loads(result_json.read_text(encoding="utf-8")) if result_json.is_file() else {}
        result = _json_safe(result)
        with transaction.atomic():
            job.refresh_from_db()
            model = services.job_register_output(job=job, result=result)
            # Per-item detail (an evaluation's per-prompt texts) stays in result.json: it is unbounded.
            summary = {"result": {k: v for k, v in result.items() if k != "items"}}
            if model is not None:
                summary["model_version_id"] = model.pk
            if job.kind == Job.Kind.EVALUATE:
                summary["recorded"] = services.evaluation_record(job=job, result=result)
            if job.kind == Job.Kind.GENERATE:
                from labeling.jobs.loop import import_generated

                summary["imported"] = import_generated(job=job, result=result)
            _finish(job, Job.Status.SUCCEEDED, log_tail=log_text, result=summary, progress=1.0)
    except Exception as exc:
        logger.exception("job %s: registering its output failed", job.pk)
        _finish(job, Job.Status.FAILED, log_tail=log_text, error=f"training succeeded but registering its output failed: {exc}")
        return Job.Status.FAILED
    return Job.Status.SUCCEEDED


def _kill_orphan(job: Job) -> None:
    """Kill the process group of an earlier attempt if it still runs here (checked by its command line)."""
    if not job.pid:
        return
    try:
        cmdline = Path(f"/proc/{job.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return
    if job.output_dir and job.output_dir in cmdline or str(services.job_dir(job)) in cmdline:
        logger.warning("job %s: killing the orphaned training process group %s", job.pk, job.pid)
        _signal_group(job.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
