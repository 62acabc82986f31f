"""What a succeeded job leaves behind, recorded: its model with lineage, an evaluation's headline number."""
from __future__ import annotations

import math
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.jobs.services import OUTPUT_KIND
from labeling.models import Job, ModelVersion


def _input_object(job: Job, name: str):
    entry = (job.inputs or {}).get(name)
    if not entry:
        return None
    from labeling.jobs.inputs import MODELS

    return MODELS[entry["type"]].objects.filter(pk=entry["id"]).first()


def job_register_output(*, job: Job, result: dict) -> ModelVersion | None:
    """Register a succeeded training job's model folder as a ModelVersion with its lineage.

    sft → sft, reward → reward, ppo/dpo → policy; parent = the job's ``model`` input, reward_model =
    the reward model a ppo job optimised against. Idempotent per job. Other kinds: None.
    """
    out_kind = OUTPUT_KIND.get(job.kind)
    if out_kind is None:
        return None
    existing = ModelVersion.objects.filter(job=job).first()
    if existing:
        return existing
    model_dir = Path(job.output_dir) / "model"
    if not model_dir.is_dir():
        raise ValidationError(f"job {job.pk} succeeded but its model folder {model_dir} is missing")
    parent = _input_object(job, "model")
    reward = _input_object(job, "reward_model") if job.kind == Job.Kind.PPO else None
    name = job.params.get("output_name") or (f"{job.iteration.name}-{job.kind}" if job.iteration_id
                                             else f"{job.kind}-job{job.pk}")
    if ModelVersion.objects.filter(name=name).exists():
        name = f"{name}-job{job.pk}"
    metrics = {"final": result.get("metrics") or {}, "summary": result.get("summary") or {},
               "duration_s": result.get("duration_s")}
    return ModelVersion.objects.create(name=name, kind=out_kind, parent=parent, reward_model=reward,
                                       artifact_path=str(model_dir), metrics=metrics, job=job)


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def evaluation_roles(job: Job) -> tuple[ModelVersion | None, ModelVersion | None]:
    """(baseline A, candidate B) of a win-rate evaluation; (None, None) in accuracy mode."""
    return _input_object(job, "policy_a"), _input_object(job, "policy_b")


def evaluation_record(*, job: Job, result: dict) -> dict:
    """Record a succeeded evaluate job's headline number on the model it measured; returns what was recorded.

    Win rate: on the candidate B, ``metrics["win_rate_vs"][str(A id)]`` (with its interval when the
    result has one) and ``metrics["win_rate"]`` (the latest). Accuracy: on the reward model,
    ``metrics["pairwise_accuracy_on"][str(snapshot id)]`` and ``metrics["pairwise_accuracy"]``. The
    model row is locked so two evaluations finishing together both land. A non-finite number records
    nothing. Idempotent: a rerun overwrites the same keys.
    """
    baseline, candidate = evaluation_roles(job)
    if candidate is not None:
        value, target, key, against = _finite(result.get("win_rate_b_over_a")), candidate, "win_rate", baseline.pk
    else:
        value, target, key = _finite(result.get("accuracy")), _input_object(job, "reward_model"), "pairwise_accuracy"
        against = job.inputs["comparisons"]["id"]
    recorded = {"model_version_id": target.pk, "metric": key, "value": value,
                "ci_low": _finite(result.get("ci_low")), "ci_high": _finite(result.get("ci_high"))}
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
