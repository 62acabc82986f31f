"""Training jobs: create, cancel, register outputs (writes; the runner lives in ``runner.py``).

A job is one ``python -m training <kind> ...`` run. Its inputs are DatasetSnapshots and
ModelVersions; its ``params`` are the training command's own config fields (``max_steps``,
``learning_rate``, ...), passed to the CLI as a ``--config`` file so the CLI itself validates
them, plus a few runner options (``RUNNER_KEYS``). Everything a job writes lives under
``<PREFLOOP_DATA_DIR>/jobs/<id>/``: ``config.json``, ``log.txt`` and ``output/`` (the model folder,
``metrics.jsonl`` and ``result.json`` written by the CLI).
"""
from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.models import DatasetSnapshot, Job, ModelVersion
from labeling.services.errors import Conflict

Kind = Job.Kind

# Which snapshot kind each job kind reads, and which model kinds it takes.
SNAPSHOT_KIND = {
    Kind.SFT: DatasetSnapshot.Kind.SFT,
    Kind.REWARD: DatasetSnapshot.Kind.COMPARISONS,
    Kind.DPO: DatasetSnapshot.Kind.COMPARISONS,
    Kind.PPO: DatasetSnapshot.Kind.PROMPTS,
    Kind.GENERATE: DatasetSnapshot.Kind.PROMPTS,
    Kind.EVALUATE: None,  # comparisons (reward-model accuracy) or prompts (policy win-rate)
}
POLICY_KINDS = (ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.POLICY)
# Output ModelVersion kind per job kind (generate/evaluate produce no model).
OUTPUT_KIND = {
    Kind.SFT: ModelVersion.Kind.SFT,
    Kind.REWARD: ModelVersion.Kind.REWARD,
    Kind.PPO: ModelVersion.Kind.POLICY,
    Kind.DPO: ModelVersion.Kind.POLICY,
}

# Options for the runner itself, not for the training CLI.
RUNNER_KEYS = {
    "accelerate_config",  # path to an accelerate config (docker/accelerate/*.yaml) → `accelerate launch`
    "num_processes",  # GPUs for accelerate launch
    "campaign",  # generate: the campaign whose ranking tasks the samples become
    "output_name",  # name of the registered ModelVersion (default "<kind>-job<id>")
}
# Set by the runner from the job's inputs: not allowed in params.
RESERVED_KEYS = {"model", "output_dir", "data", "valid_data", "reward_model", "ref_model", "prompts",
                 "resume", "config", "output", "policy", "sft_model"}
PARAM_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def job_dir(job: Job) -> Path:
    return Path(settings.PREFLOOP_DATA_DIR) / "jobs" / str(job.pk)


def _validate_params(kind: str, params: dict) -> dict:
    if not isinstance(params, dict):
        raise ValidationError({"params": ["must be a JSON object of config field → value"]})
    errors = []
    for key, value in params.items():
        if not PARAM_KEY_RE.match(str(key)):
            errors.append(f"{key!r}: not a config field name (lower_case_with_underscores)")
        elif key in RESERVED_KEYS:
            errors.append(f"{key!r}: set from the job's inputs, not from params")
        elif key not in RUNNER_KEYS and not (value is None or isinstance(value, (bool, int, float, str))):
            errors.append(f"{key!r}: values must be numbers, strings, booleans or null")
    if "num_processes" in params and (not isinstance(params["num_processes"], int) or params["num_processes"] < 1):
        errors.append("'num_processes': must be a positive integer")
    if "accelerate_config" in params and not isinstance(params["accelerate_config"], str):
        errors.append("'accelerate_config': must be a path to an accelerate config file")
    if "campaign" in params and kind != Kind.GENERATE:
        errors.append("'campaign': only generate jobs import their samples into a campaign")
    if errors:
        raise ValidationError({"params": errors})
    return params


def _validate_inputs(kind: str, snapshots: list[DatasetSnapshot], models: list[ModelVersion], params: dict) -> None:
    errors: dict[str, list[str]] = {}
    want = SNAPSHOT_KIND[kind]
    if len(snapshots) != 1:
        errors["input_snapshot_ids"] = [f"a {kind} job reads exactly one snapshot"]
    elif want is not None and snapshots[0].kind != want:
        errors["input_snapshot_ids"] = [f"a {kind} job needs a {want} snapshot, got {snapshots[0].kind}"]
    policies = [m for m in models if m.kind in POLICY_KINDS]
    rewards = [m for m in models if m.kind == ModelVersion.Kind.REWARD]
    if kind == Kind.PPO:
        if len(policies) != 1 or len(rewards) != 1:
            errors["input_model_ids"] = ["a ppo job takes one policy (base/sft/policy) and one reward model"]
    elif kind == Kind.EVALUATE:
        if not models:
            errors["input_model_ids"] = ["an evaluate job takes the model(s) to evaluate"]
    elif kind == Kind.REWARD:
        if len(models) != 1 or rewards:
            errors["input_model_ids"] = ["a reward job starts from one base or sft model"]
    elif len(policies) != 1 or rewards:
        errors["input_model_ids"] = [f"a {kind} job takes one base, sft or policy model"]
    if kind == Kind.GENERATE and "campaign" in params:
        from labeling.models import Campaign

        if not Campaign.objects.filter(pk=params["campaign"]).exists():
            errors.setdefault("params", []).append(f"campaign {params['campaign']!r} does not exist")
    if errors:
        raise ValidationError(errors)


def job_create(*, kind: str, params: dict | None = None, input_snapshot_ids=(), input_model_ids=(), created_by=None,
               enqueue: bool = True) -> Job:
    """Create a queued job and, once the transaction commits, send it to the ``gpu`` queue.

    Raises ValidationError for an unknown kind, bad params, or inputs of the wrong kind/number.
    """
    if kind not in Kind.values:
        raise ValidationError({"kind": [f"unknown job kind {kind!r}; expected one of {', '.join(Kind.values)}"]})
    params = _validate_params(kind, dict(params or {}))
    snapshot_ids, model_ids = sorted(set(input_snapshot_ids)), sorted(set(input_model_ids))
    snapshots = list(DatasetSnapshot.objects.filter(pk__in=snapshot_ids))
    models = list(ModelVersion.objects.filter(pk__in=model_ids))
    missing = sorted(set(snapshot_ids) - {s.pk for s in snapshots})
    if missing:
        raise ValidationError({"input_snapshot_ids": [f"unknown snapshot(s): {missing}"]})
    missing = sorted(set(model_ids) - {m.pk for m in models})
    if missing:
        raise ValidationError({"input_model_ids": [f"unknown model(s): {missing}"]})
    _validate_inputs(kind, snapshots, models, params)

    with transaction.atomic():
        job = Job.objects.create(kind=kind, params=params, created_by=created_by)
        job.input_snapshots.set(snapshots)
        job.input_models.set(models)
        job.output_dir = str(job_dir(job) / "output")
        job.save(update_fields=["output_dir"])
        if enqueue:
            transaction.on_commit(lambda: job_enqueue(job=job))
    return job


def job_enqueue(*, job: Job) -> None:
    """Send the job to the gpu queue (a thin Celery task; see labeling.jobs.tasks)."""
    from labeling.jobs.tasks import run_training_job

    run_training_job.delay(job.pk)


def job_cancel(*, job: Job) -> Job:
    """Cancel a job: a queued one is cancelled at once; a running one is signalled by its runner.

    Raises Conflict if the job already finished.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
            job.cancel_requested = True
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "cancel_requested", "finished_at", "updated_at"])
        elif job.status == Job.Status.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested", "updated_at"])
        else:
            raise Conflict(f"job {job.pk} already {job.status}")
    return job


def job_register_output(*, job: Job, result: dict) -> ModelVersion | None:
    """Register a succeeded job's model folder as a ModelVersion with its lineage.

    sft → sft, reward → reward, ppo/dpo → policy; parent = the policy the job started from,
    reward_model = the reward model a ppo job optimised against. Idempotent per job.
    generate/evaluate jobs produce no model (returns None).
    """
    out_kind = OUTPUT_KIND.get(job.kind)
    if out_kind is None:
        return None
    existing = ModelVersion.objects.filter(job=job).first()
    if existing:
        return existing
    model_dir = result.get("model_dir") or str(Path(job.output_dir) / "model")
    if not Path(model_dir).is_dir():
        raise ValidationError(f"job {job.pk} succeeded but its model folder {model_dir} is missing")
    inputs = list(job.input_models.all())
    parent = next((m for m in inputs if m.kind != ModelVersion.Kind.REWARD), None)
    reward = next((m for m in inputs if m.kind == ModelVersion.Kind.REWARD), None) if job.kind == Kind.PPO else None
    name = job.params.get("output_name") or f"{job.kind}-job{job.pk}"
    if ModelVersion.objects.filter(name=name).exists():
        name = f"{name}-job{job.pk}"
    metrics = {"final": result.get("metrics") or {}, "summary": result.get("summary") or {},
               "duration_s": result.get("duration_s")}
    return ModelVersion.objects.create(
        name=name, kind=out_kind, parent=parent, reward_model=reward,
        artifact_path=str(model_dir), metrics=metrics, job=job,
    )


def model_version_create(*, name: str, kind: str, artifact_path: str, parent=None, reward_model=None,
                         metrics=None) -> ModelVersion:
    """Register an existing model folder or registered name (``tiny``, ``smollm2-135m-instruct``)."""
    if kind not in ModelVersion.Kind.values:
        raise ValidationError({"kind": [f"unknown model kind {kind!r}"]})
    if ModelVersion.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"a model named {name!r} already exists"]})
    return ModelVersion.objects.create(name=name, kind=kind, artifact_path=artifact_path, parent=parent,
                                       reward_model=reward_model, metrics=metrics or {})
