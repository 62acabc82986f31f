"""Jobs: create, dispatch, cancel (writes; the runner lives in ``runner.py``, outputs in ``outputs.py``).

A job is one ``python -m training <kind> ...`` run (or, for ``export``, a snapshot export). Its inputs
are named after the training CLI's own config fields (``model``, ``data``, ``prompts``, ``ptx_data``,
...) and hold registry objects chosen by id or name; its ``params`` are the CLI's other config fields,
validated against ``python -m training schema`` (``labeling.jobs.kinds``). Everything a job writes lives
under ``<PREFLOOP_DATA_DIR>/jobs/<id>/``: ``config.json``, ``log.txt`` and ``output/``.

Dispatch goes through the database: a job is committed ``queued`` first and sent to the broker after
the commit; if the broker is down the job stays queued with ``dispatched_at`` unset and the beat sweep
(``labeling.jobs.sweep``) sends it again. Delivering a job twice is harmless: only one runner claims it.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.jobs.inputs import describe_inputs, resolve_inputs, safe_artifact_path
from labeling.jobs.kinds import job_kind_spec, validate_params
from labeling.models import DatasetSnapshot, Job, ModelVersion
from labeling.services.errors import Conflict

logger = logging.getLogger(__name__)
Kind = Job.Kind

# Output ModelVersion kind per job kind (generate/evaluate/export produce no model).
OUTPUT_KIND = {
    Kind.SFT: ModelVersion.Kind.SFT,
    Kind.REWARD: ModelVersion.Kind.REWARD,
    Kind.PPO: ModelVersion.Kind.POLICY,
    Kind.DPO: ModelVersion.Kind.POLICY,
}
# Params for the runner itself, not for the training CLI (see labeling.jobs.kinds.RUNNER_PARAMS).
RUNNER_KEYS = {"accelerate_config", "num_processes", "campaign", "output_name"}
MAX_IDEMPOTENCY_KEY = 100


def job_dir(job: Job) -> Path:
    return Path(settings.PREFLOOP_DATA_DIR) / "jobs" / str(job.pk)


def _check_runner_params(kind: str, params: dict) -> None:
    if kind == Kind.GENERATE and params.get("campaign") is not None:
        from labeling.models import Campaign

        if not Campaign.objects.filter(pk=params["campaign"]).exists():
            raise ValidationError({"params": [f"campaign: no campaign {params['campaign']!r}"]})


def _existing_for_key(created_by, idempotency_key: str) -> Job | None:
    if not idempotency_key or created_by is None:
        return None
    return Job.objects.filter(created_by=created_by, idempotency_key=idempotency_key).first()


def job_create(*, kind: str, inputs: dict, params: dict | None = None, created_by=None, idempotency_key: str = "",
               iteration=None, stage: str = "", enqueue: bool = True, internal: bool = False) -> tuple[Job, bool]:
    """Validate and record a queued job, then (after commit) send it to its queue.

    Returns ``(job, created)``: with an ``idempotency_key`` already used by the same user, the earlier job
    and False (a client retry never makes a duplicate). ``internal`` kinds (``score``) only with ``internal=True``. Raises ValidationError for an unknown kind, a bad
    param or an input of the wrong kind, naming the field.
    """
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationError({"idempotency_key": [f"at most {MAX_IDEMPOTENCY_KEY} characters"]})
    existing = _existing_for_key(created_by, idempotency_key)
    if existing:
        return existing, False
    if job_kind_spec(kind).get("internal") and not internal:  # an unknown kind is the first error to report
        raise ValidationError({"kind": [f"{kind} jobs are started by Prefloop itself ({job_kind_spec(kind)['notes']})"]})
    params = validate_params(kind, {} if params is None else params)
    resolved = resolve_inputs(kind, inputs)
    _check_runner_params(kind, params)
    try:
        with transaction.atomic():
            job = _record(kind, resolved, params, created_by, idempotency_key, iteration, stage)
    except IntegrityError:  # the same key raced in from a concurrent retry
        existing = _existing_for_key(created_by, idempotency_key)
        if existing is None:
            raise
        return existing, False
    if enqueue:
        transaction.on_commit(lambda: job_dispatch(job_id=job.pk))
    return job, True


def _record(kind, resolved, params, created_by, idempotency_key, iteration, stage) -> Job:
    job = Job.objects.create(kind=kind, params=params, created_by=created_by, inputs=describe_inputs(resolved),
                             idempotency_key=idempotency_key, iteration=iteration, stage=stage)
    job.input_snapshots.set([o for o in resolved.values() if isinstance(o, DatasetSnapshot)])
    job.input_models.set([o for o in resolved.values() if isinstance(o, ModelVersion)])
    job.output_dir = str(job_dir(job) / "output")
    job.save(update_fields=["output_dir"])
    return job


def job_dispatch(*, job_id: int) -> bool:
    """Send a queued job to the broker; returns False (and logs) when the broker is unreachable.

    Never raises for a broker outage: the job stays queued with ``dispatched_at`` unset, and the beat
    sweep sends it again. Precondition: the job's row is committed.
    """
    from labeling.jobs.tasks import task_for_kind

    job = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).only("id", "kind").first()
    if job is None:
        return True
    try:
        task_for_kind(job.kind).apply_async(args=[job.pk], retry=False)
    except Exception as exc:  # kombu raises several types for "broker down"; all mean "send later"
        logger.warning("job %s: broker unavailable, will be re-dispatched by the sweep: %s", job_id, exc)
        return False
    Job.objects.filter(pk=job_id).update(dispatched_at=timezone.now())
    return True


def job_cancel(*, job: Job, by=None) -> Job:
    """Cancel a job: a queued one is cancelled at once; a running one is signalled by its runner.

    ``by`` (when given) must be the job's creator or staff: PermissionDenied otherwise. Raises Conflict
    if the job already finished.
    """
    if by is not None and not (by.is_staff or job.created_by_id == by.pk):
        raise PermissionDenied("only the job's creator or staff can cancel it")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
            job.cancel_requested = True
            job.finished_at = timezone.now()
            job.error = "cancelled before it started"
            job.save(update_fields=["status", "cancel_requested", "finished_at", "error", "updated_at"])
        elif job.status == Job.Status.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested", "updated_at"])
        else:
            raise Conflict(f"job {job.pk} already {job.status}")
    if job.iteration_id and job.status == Job.Status.CANCELLED:
        from labeling.services.iterations import iteration_advance_later

        iteration_advance_later(iteration_id=job.iteration_id)
    return job


def model_version_create(*, name: str, kind: str, artifact_path: str, parent=None, reward_model=None,
                         metrics=None) -> ModelVersion:
    """Register a model folder inside the data dir / model roots, or a registered name (``tiny``, ...).

    Raises ValidationError for a duplicate name, an unknown kind or a path outside the allowed roots
    (so no model can point a job at an arbitrary file or read as a command-line flag).
    """
    if kind not in ModelVersion.Kind.values:
        raise ValidationError({"kind": [f"unknown model kind {kind!r}"]})
    try:
        artifact_path = safe_artifact_path(artifact_path, what="artifact_path")
    except ValidationError as exc:
        raise ValidationError({"artifact_path": exc.messages}) from None
    if ModelVersion.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"a model named {name!r} already exists"]})
    return ModelVersion.objects.create(name=name, kind=kind, artifact_path=artifact_path, parent=parent,
                                       reward_model=reward_model, metrics=metrics or {})
