"""Iteration reads: each stage's state comes from its latest job, the outputs from the jobs' registered models."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from labeling.models import Iteration, Job, ModelVersion

STAGE_MODEL = {"sft": "sft_model", "reward": "reward_model", "ppo": "policy_model", "dpo": "policy_model"}


def iteration_list(*, filters: dict | None = None) -> QuerySet[Iteration]:
    """Iterations, newest first, with what their rows show."""
    qs = Iteration.objects.select_related("base_model", "target_campaign", "created_by").prefetch_related(
        "source_campaigns").order_by("-created_at", "-id")
    status = (filters or {}).get("status")
    if status:
        qs = qs.filter(status=status)
    return qs


def latest_stage_jobs(iteration: Iteration) -> dict[str, Job]:
    """The most recent job of each stage (a resumed stage has several; the last one counts)."""
    latest: dict[str, Job] = {}
    for job in iteration.jobs.defer("metrics", "log_tail").order_by("id"):
        latest[job.stage] = job
    return latest


def iteration_outputs(iteration: Iteration, latest: dict[str, Job] | None = None) -> dict:
    """Snapshot ids (by kind) and the sft, reward and policy ModelVersions its succeeded stages produced."""
    latest = latest if latest is not None else latest_stage_jobs(iteration)
    out: dict = {"snapshots": {"sft": None, "comparisons": None, "prompts": None},
                 "sft_model": None, "reward_model": None, "policy_model": None}
    export = latest.get("export")
    if export is not None:
        for kind, snap in ((export.result or {}).get("snapshots") or {}).items():
            out["snapshots"][kind] = snap.get("id")
    succeeded = [j.pk for s, j in latest.items() if s in STAGE_MODEL and j.status == Job.Status.SUCCEEDED]
    for model in ModelVersion.objects.filter(job_id__in=succeeded).select_related("job"):
        out[STAGE_MODEL[model.job.stage]] = model
    if iteration.skip_sft:
        out["sft_model"] = iteration.base_model
    return out


def _duration(job: Job) -> float | None:
    if job.started_at is None:
        return None
    end = job.finished_at or timezone.now()
    return round((end - job.started_at).total_seconds(), 1)


def _stage_metric(stage: str, job: Job) -> dict | None:
    """The one number a researcher looks at per stage."""
    result = (job.result or {}).get("result") or {}
    if stage == "export":
        snaps = (job.result or {}).get("snapshots") or {}
        rows = sum(s.get("rows") or 0 for s in snaps.values())
        return {"name": "rows", "value": rows} if snaps else None
    if stage == "generate":
        imported = (job.result or {}).get("imported") or {}
        return {"name": "ranking_tasks_created", "value": imported.get("tasks_created")} if imported else None
    if stage == "evaluate" and "win_rate_b_over_a" in result:
        return {"name": "win_rate", "value": result.get("win_rate_b_over_a")}
    summary = result.get("summary") or {}
    final = result.get("metrics") or {}
    for key in ("valid_pairwise_accuracy", "accuracy", "heldout_reward", "reward_mean_last", "reward_mean",
                "eval_loss", "loss"):
        for source in (summary, final):
            if isinstance(source.get(key), (int, float)):
                return {"name": key, "value": source[key]}
    return None


def iteration_stages(iteration: Iteration, latest: dict[str, Job] | None = None) -> list[dict]:
    """Each stage in order: status, its job, times, duration and key metric."""
    from labeling.services.iterations import STAGES

    latest = latest if latest is not None else latest_stage_jobs(iteration)
    stages = []
    for stage in STAGES[iteration.method]:
        job = latest.get(stage)
        if stage == "sft" and iteration.skip_sft:
            stages.append({"name": stage, "status": "skipped", "job": None, "started_at": None, "finished_at": None,
                           "duration_s": None, "metric": None, "error": "", "attempts": 0})
            continue
        if job is None:
            stages.append({"name": stage, "status": "pending", "job": None, "started_at": None, "finished_at": None,
                           "duration_s": None, "metric": None, "error": "", "attempts": 0})
            continue
        stages.append({"name": stage, "status": job.status, "job": job.pk, "started_at": job.started_at,
                       "finished_at": job.finished_at, "duration_s": _duration(job), "metric": _stage_metric(stage, job),
                       "error": job.error.splitlines()[0] if job.error else "", "attempts": job.attempts})
    return stages


def iteration_win_rate(latest: dict[str, Job]) -> dict | None:
    """The evaluate stage's win rate of the new policy over its parent (the SFT model), with its interval."""
    job = latest.get("evaluate")
    if job is None or job.status != Job.Status.SUCCEEDED:
        return None
    result = (job.result or {}).get("result") or {}
    if not isinstance(result.get("win_rate_b_over_a"), (int, float)):
        return None
    keys = ("ci_low", "ci_high", "wins_a", "wins_b", "ties", "identical", "n_pairs")
    return {"value": result["win_rate_b_over_a"], **{k: result.get(k) for k in keys},
            "against": (job.inputs.get("policy_a") or {}).get("id"), "judge": (job.inputs.get("reward_model") or {}).get("id")}


def iteration_detail(iteration: Iteration) -> dict:
    """Everything the iteration page shows."""
    latest = latest_stage_jobs(iteration)
    out = iteration_outputs(iteration, latest)
    current = next((j.stage for j in latest.values() if j.status in (Job.Status.QUEUED, Job.Status.RUNNING)), None)

    def ref(model):
        return {"id": model.pk, "name": model.name} if model else None

    return {
        "snapshots": out["snapshots"], "sft_model": ref(out["sft_model"]), "reward_model": ref(out["reward_model"]),
        "policy_model": ref(out["policy_model"]), "current_stage": current,
        "stages": iteration_stages(iteration, latest), "win_rate": iteration_win_rate(latest),
    }
