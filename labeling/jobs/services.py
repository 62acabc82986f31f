"""Training jobs: create, cancel, register outputs (writes; the runner lives in ``runner.py``).

A job is one ``python -m training <kind> ...`` run. Its inputs are DatasetSnapshots and
ModelVersions; its ``params`` are the training command's own config fields (``max_steps``,
``learning_rate``, ...), passed to the CLI as a ``--config`` file so the CLI itself validates
them, plus a few runner options (``RUNNER_KEYS``). Everything a job writes lives under
``<PREFLOOP_DATA_DIR>/jobs/<id>/``: ``config.json``, ``log.txt`` and ``output/`` (the model folder,
``metrics.jsonl`` and ``result.json`` written by the CLI).
"""
from __future__ import annotations

import math
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
    "baseline",  # evaluate (win rate): the input policy id that is policy A (default: the older one)
    "candidate",  # evaluate (win rate): the input policy id that is policy B (default: the newer one)
}
# Set by the runner from the job's inputs: not allowed in params.
RESERVED_KEYS = {"model", "output_dir", "data", "valid_data", "reward_model", "ref_model", "prompts",
                 "resume", "config", "output", "policy", "sft_model", "comparisons", "policy_a", "policy_b"}
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
    for key in ("baseline", "candidate"):
        if key not in params:
            continue
        if kind != Kind.EVALUATE:
            errors.append(f"{key!r}: only evaluate jobs (win rate) take a {key} model")
        elif isinstance(params[key], bool) or not isinstance(params[key], int):
            errors.append(f"{key!r}: must be the id of one of the job's input models")
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
        errors.update(_evaluate_input_errors(snapshots, policies, rewards, params))
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


def _evaluate_input_errors(snapshots, policies, rewards, params: dict) -> dict[str, list[str]]:
    """An evaluate job is one of two runs of ``training/evaluate.py``: a comparisons snapshot + one reward
    model (its pairwise accuracy), or a prompts snapshot + one reward model + two policies (win rate)."""
    errors: dict[str, list[str]] = {}
    if len(snapshots) != 1:
        return errors  # reported by the caller
    snapshot_kind = snapshots[0].kind
    roles = [k for k in ("baseline", "candidate") if k in params]
    if snapshot_kind == DatasetSnapshot.Kind.COMPARISONS:
        if len(rewards) != 1 or policies:
            errors["input_model_ids"] = [
                "an evaluate job on a comparisons snapshot takes exactly one reward model (and no policy): "
                "it measures the reward model's pairwise accuracy"]
        if roles:
            errors["params"] = [f"{roles[0]!r}: only a win-rate evaluation (prompts snapshot) has a {roles[0]}"]
    elif snapshot_kind == DatasetSnapshot.Kind.PROMPTS:
        if len(rewards) != 1 or len(policies) != 2:
            errors["input_model_ids"] = [
                "an evaluate job on a prompts snapshot takes one reward model and exactly two policies "
                "(base/sft/policy): the win rate of the candidate over the baseline, judged by the reward model"]
        else:
            ids = {m.pk for m in policies}
            listed = ", ".join(map(str, sorted(ids)))
            bad = [f"{k!r}: model {params[k]} is not one of the job's two input policies ({listed})"
                   for k in roles if params[k] not in ids]
            if not bad and len(roles) == 2 and params["baseline"] == params["candidate"]:
                bad = ["'baseline' and 'candidate' must be different models"]
            if bad:
                errors["params"] = bad
    else:
        errors["input_snapshot_ids"] = [
            f"an evaluate job needs a comparisons snapshot (reward-model accuracy) or a prompts snapshot "
            f"(policy win rate), got {snapshot_kind}"]
    return errors


def evaluate_roles(job: Job) -> tuple[ModelVersion, ModelVersion | None, ModelVersion | None]:
    """(reward model, baseline, candidate) of an evaluate job; baseline/candidate are None in accuracy mode.

    ``params.baseline`` / ``params.candidate`` (input model ids) pick them; otherwise the older model
    (lower id) is the baseline, policy A, and the newer one the candidate, policy B.
    """
    models = list(job.input_models.order_by("id"))
    reward = next(m for m in models if m.kind == ModelVersion.Kind.REWARD)
    policies = [m for m in models if m.kind != ModelVersion.Kind.REWARD]
    if len(policies) != 2:
        return reward, None, None
    by_id = {m.pk: m for m in policies}
    baseline, candidate = by_id.get(job.params.get("baseline")), by_id.get(job.params.get("candidate"))
    if baseline is None and candidate is None:
        baseline, candidate = policies
    elif baseline is None:
        baseline = next(m for m in policies if m.pk != candidate.pk)
    elif candidate is None:
        candidate = next(m for m in policies if m.pk != baseline.pk)
    return reward, baseline, candidate


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


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def evaluation_record(*, job: Job, result: dict) -> dict:
    """Record a succeeded evaluate job's headline number on the model it measured; returns what was recorded.

    Win rate (prompts snapshot): on the candidate, ``metrics["win_rate_vs"][str(baseline_id)]`` and
    ``metrics["win_rate"]`` (the latest). Accuracy (comparisons snapshot): on the reward model,
    ``metrics["pairwise_accuracy_on"][str(snapshot_id)]`` and ``metrics["pairwise_accuracy"]`` (the latest).
    (The dashboard shows a model's top-level numbers, so only these two are top-level.) The model row is
    locked (SELECT FOR UPDATE) so two evaluations finishing together both land. A non-finite number
    records nothing. Idempotent: a rerun of the same evaluation overwrites the same keys.
    """
    reward, baseline, candidate = evaluate_roles(job)
    if candidate is not None:
        value, target, key, against = _finite(result.get("win_rate_b_over_a")), candidate, "win_rate", baseline.pk
    else:
        snapshot = job.input_snapshots.first()
        value, target, key, against = _finite(result.get("accuracy")), reward, "pairwise_accuracy", snapshot.pk
    recorded = {"model_version_id": target.pk, "metric": key, "value": value}
    if candidate is not None:
        recorded.update(baseline_model_id=baseline.pk, candidate_model_id=candidate.pk)
    if value is None:
        return recorded
    with transaction.atomic():
        model = ModelVersion.objects.select_for_update().get(pk=target.pk)
        metrics = dict(model.metrics or {})
        per = "win_rate_vs" if key == "win_rate" else "pairwise_accuracy_on"
        metrics[per] = {**(metrics.get(per) or {}), str(against): value}
        metrics[key] = value
        model.metrics = metrics
        model.save(update_fields=["metrics", "updated_at"])
    return recorded


def model_version_create(*, name: str, kind: str, artifact_path: str, parent=None, reward_model=None,
                         metrics=None) -> ModelVersion:
    """Register an existing model folder or registered name (``tiny``, ``smollm2-135m-instruct``)."""
    if kind not in ModelVersion.Kind.values:
        raise ValidationError({"kind": [f"unknown model kind {kind!r}"]})
    if ModelVersion.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"a model named {name!r} already exists"]})
    return ModelVersion.objects.create(name=name, kind=kind, artifact_path=artifact_path, parent=parent,
                                       reward_model=reward_model, metrics=metrics or {})
