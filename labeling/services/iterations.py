"""Iterations: one InstructGPT round as ordered stages, each stage a Job (DESIGN §7).

export (sft, comparisons and prompts snapshots of the source campaigns) → SFT from the base model →
reward model from the SFT model → PPO-ptx (or DPO) from the SFT model → generate K samples per prompt
with the new policy (they become ranking tasks in the target campaign) → evaluate the new policy
against its parent, the SFT model, judged by the reward model. With ``skip_sft`` the base model (already
fine-tuned) is the SFT model and the SFT stage does not run.

The state of each stage is its latest job (``Job.iteration`` + ``Job.stage``); ``iteration_advance``
reads them and starts the next stage when the previous one succeeded. It runs as soon as a job of the
iteration finishes (in the process that recorded it) and from the beat sweep as a safety net. It is idempotent: the row lock and the "latest job
per stage" check make a second call a no-op.
"""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.jobs.export_job import export_job_create
from labeling.jobs.kinds import job_kind_spec, suggested_params, validate_params
from labeling.jobs.services import job_cancel, job_create
from labeling.models import Campaign, Iteration, Job, ModelVersion, Ranking
from labeling.selectors.iterations import iteration_outputs, latest_stage_jobs
from labeling.services.errors import Conflict

logger = logging.getLogger(__name__)

STAGES = {
    Iteration.Method.PPO: ["export", "sft", "reward", "ppo", "generate", "evaluate"],
    Iteration.Method.DPO: ["export", "sft", "reward", "dpo", "generate", "evaluate"],
}
POLICY_KINDS = (ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.POLICY)
SFT_MODEL_INPUTS = {"reward": "model", "ppo": "model", "dpo": "model", "evaluate": "policy_a"}  # see _stage_inputs


def sft_standin_kinds(method: str) -> list[str]:
    """Model kinds that may stand in for the SFT stage (``skip_sft``): already fine-tuned (not ``base``) and
    accepted by every later stage that reads the SFT model, as the job kinds define those inputs."""
    allowed = None
    for stage in (s for s in STAGES[method] if s in SFT_MODEL_INPUTS):
        spec = next(i for i in job_kind_spec(stage)["inputs"] if i["name"] == SFT_MODEL_INPUTS[stage])
        allowed = set(spec["kinds"]) if allowed is None else allowed & set(spec["kinds"])
    return sorted((allowed or set()) - {ModelVersion.Kind.BASE})


def stages_to_run(iteration: Iteration) -> list[str]:
    """The stages this iteration runs, in order (without SFT when the base model is its SFT model)."""
    return [s for s in STAGES[iteration.method] if not (s == "sft" and iteration.skip_sft)]


def _validate_stage_params(method: str, params) -> dict:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValidationError({"params": ["must be an object of stage → params"]})
    stages = [s for s in STAGES[method] if s != "export"]
    errors = []
    for stage, values in params.items():
        if stage not in stages:
            errors.append(f"{str(stage)[:40]!r}: not a stage of a {method} iteration ({', '.join(stages)})")
            continue
        try:
            validate_params(stage, values)
        except ValidationError as exc:
            errors += [f"{stage}.{m}" for m in exc.message_dict.get("params", exc.messages)]
    if errors:
        raise ValidationError({"params": errors})
    return params


def iteration_create(*, source_campaign_ids: list[int], base_model: ModelVersion, method: str = "ppo",
                     target_campaign: Campaign | None = None, name: str | None = None, params: dict | None = None,
                     valid_fraction: float = 0.1, skip_sft: bool = False, created_by=None) -> Iteration:
    """Start an iteration: record it and queue its export stage. Every stage's params are validated now, so a
    typo fails here and not hours later. ``skip_sft``: the base model (an sft or policy model) is the round's
    SFT model, so the reward model, PPO/DPO and the evaluation start from it and no SFT job runs (the SFT
    snapshot is still exported: PPO-ptx mixes it in). Raises ValidationError naming the field."""
    if method not in STAGES:
        raise ValidationError({"method": [f"must be one of {', '.join(STAGES)}"]})
    if base_model.kind not in POLICY_KINDS:
        raise ValidationError({"base_model": [f"{base_model.name!r} is a {base_model.kind} model; an iteration "
                                              f"starts from a base, sft or policy model"]})
    if skip_sft and base_model.kind not in sft_standin_kinds(method):
        raise ValidationError({"skip_sft": [f"{base_model.name!r} is a {base_model.kind} model: only a "
                                            f"{' or '.join(sft_standin_kinds(method))} model can stand in for the "
                                            f"SFT stage"]})
    if skip_sft and isinstance(params, dict) and "sft" in params:
        raise ValidationError({"params": ["sft: no SFT stage runs when skip_sft is true"]})
    params = _validate_stage_params(method, params)
    campaigns = list(Campaign.objects.filter(pk__in=source_campaign_ids))
    missing = sorted(set(source_campaign_ids) - {c.pk for c in campaigns})
    if not source_campaign_ids or missing:
        raise ValidationError({"source_campaign_ids": [f"unknown campaign(s): {missing}" if missing
                                                       else "choose at least one campaign"]})
    name = name or f"iter-{timezone.now():%Y%m%d-%H%M%S}"
    if Iteration.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"an iteration named {name!r} already exists"]})
    with transaction.atomic():
        iteration = Iteration.objects.create(name=name, method=method, base_model=base_model, params=params,
                                             skip_sft=skip_sft, target_campaign=target_campaign or campaigns[0],
                                             valid_fraction=valid_fraction, created_by=created_by)
        iteration.source_campaigns.set(campaigns)
        export_job_create(campaign_ids=[c.pk for c in campaigns], name=name, valid_fraction=valid_fraction,
                          created_by=created_by, iteration=iteration, stage="export")
    return iteration


def _stage_inputs(stage: str, iteration: Iteration, out: dict) -> dict:
    snaps, sft, rm, policy = out["snapshots"], out["sft_model"], out["reward_model"], out["policy_model"]
    return {
        "sft": lambda: {"model": iteration.base_model_id, "data": snaps["sft"]},
        "reward": lambda: {"model": sft.pk, "data": snaps["comparisons"]},
        "ppo": lambda: {"model": sft.pk, "reward_model": rm.pk, "prompts": snaps["prompts"], "ptx_data": snaps["sft"]},
        "dpo": lambda: {"model": sft.pk, "data": snaps["comparisons"]},
        "generate": lambda: {"model": policy.pk, "prompts": snaps["prompts"]},
        "evaluate": lambda: {"reward_model": rm.pk, "prompts": snaps["prompts"], "policy_a": sft.pk,
                             "policy_b": policy.pk},
    }[stage]()


def _start_stage(iteration: Iteration, stage: str) -> Job:
    """Create the job of one stage from the outputs of the stages before it."""
    params = {**suggested_params(stage), **(iteration.params.get(stage) or {})}
    if stage == "generate" and iteration.target_campaign_id:
        params["campaign"] = iteration.target_campaign_id
    inputs = _stage_inputs(stage, iteration, iteration_outputs(iteration))
    job, _ = job_create(kind=stage, inputs=inputs, params=params, created_by=iteration.created_by,
                        iteration=iteration, stage=stage)
    return job


def _end(iteration: Iteration, status: str, error: str = "") -> None:
    iteration.status, iteration.error, iteration.finished_at = status, error, timezone.now()
    iteration.save(update_fields=["status", "error", "finished_at", "updated_at"])


def iteration_advance(*, iteration_id: int) -> str | None:
    """Start the next stage if the previous one succeeded, or end the iteration; returns its status."""
    with transaction.atomic():
        iteration = Iteration.objects.select_for_update().filter(pk=iteration_id).first()
        if iteration is None or iteration.status != Iteration.Status.RUNNING:
            return iteration.status if iteration else None
        latest = latest_stage_jobs(iteration)
        for stage in stages_to_run(iteration):
            job = latest.get(stage)
            if job is None:
                try:
                    _start_stage(iteration, stage)
                except ValidationError as exc:
                    _end(iteration, Iteration.Status.FAILED, f"{stage}: cannot start: {'; '.join(exc.messages)}")
                return iteration.status
            if job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
                return iteration.status
            if job.status == Job.Status.FAILED:
                _end(iteration, Iteration.Status.FAILED, f"{stage} failed: {job.error.splitlines()[0] if job.error else ''}")
                return iteration.status
            if job.status == Job.Status.CANCELLED:
                _end(iteration, Iteration.Status.CANCELLED, f"{stage} was cancelled")
                return iteration.status
        _end(iteration, Iteration.Status.SUCCEEDED)
        return iteration.status


def iteration_advance_later(*, iteration_id: int) -> None:
    """Once the current transaction commits, move the iteration on (a few queries and at most one new job,
    so whoever finished a stage does it at once); if that fails, the beat sweep advances running
    iterations."""
    def _advance():
        try:
            iteration_advance(iteration_id=iteration_id)
        except Exception:  # the stage's own state is recorded; the sweep retries the advance
            logger.exception("iteration %s: advancing failed; the sweep will retry", iteration_id)

    transaction.on_commit(_advance)


def _check_owner(iteration: Iteration, by) -> None:
    if by is not None and not (by.is_staff or iteration.created_by_id == by.pk):
        raise PermissionDenied("only the iteration's creator or staff can change it")


def iteration_cancel(*, iteration: Iteration, by=None) -> Iteration:
    """Cancel a running iteration and its live job. Raises Conflict unless it is running."""
    _check_owner(iteration, by)
    with transaction.atomic():
        iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
        if iteration.status != Iteration.Status.RUNNING:
            raise Conflict(f"iteration {iteration.name} is {iteration.status}, not running")
        _end(iteration, Iteration.Status.CANCELLED, "cancelled by request")
        live = list(iteration.jobs.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]))
    for job in live:
        try:
            job_cancel(job=job)
        except Conflict:
            pass  # it finished meanwhile
    return iteration


def iteration_resume(*, iteration: Iteration, by=None) -> Iteration:
    """Resume a failed or cancelled iteration from the stage that stopped: a fresh job for that stage.
    Raises Conflict unless it failed or was cancelled."""
    _check_owner(iteration, by)
    with transaction.atomic():
        iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
        if iteration.status not in (Iteration.Status.FAILED, Iteration.Status.CANCELLED):
            raise Conflict(f"iteration {iteration.name} is {iteration.status}; only a failed or cancelled one resumes")
        iteration.status, iteration.error, iteration.finished_at = Iteration.Status.RUNNING, "", None
        iteration.save(update_fields=["status", "error", "finished_at", "updated_at"])
        latest = latest_stage_jobs(iteration)
        for stage in STAGES[iteration.method]:
            job = latest.get(stage)
            if job is not None and job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
                _restart(iteration, stage, job)
                break
    iteration_advance_later(iteration_id=iteration.pk)
    return iteration


def _restart(iteration: Iteration, stage: str, old: Job) -> Job:
    if stage == "export":
        return export_job_create(campaign_ids=old.params["campaign_ids"], name=old.params["name"],
                                 snapshot_kinds=old.params["snapshot_kinds"],
                                 valid_fraction=old.params["valid_fraction"], seed=old.params["seed"],
                                 created_by=iteration.created_by, iteration=iteration, stage=stage)
    return _start_stage(iteration, stage)


def campaign_iteration_trigger_set(*, campaign: Campaign, every_rankings: int | None, method: str = "ppo",
                                   base_model: ModelVersion | None = None, params: dict | None = None,
                                   skip_sft: bool = False) -> Campaign:
    """Start an iteration automatically after ``every_rankings`` new rankings (None turns it off).

    Each automatic round starts from the previous round's policy, else ``base_model``, else the campaign's
    sampling policy. ``skip_sft``: a round whose start model is already fine-tuned (sft or policy) uses it as
    its SFT model; a round from a base model still trains SFT. Raises ValidationError for a bad method, a
    reward model as base or bad stage params.
    """
    if every_rankings is not None and not (isinstance(every_rankings, int) and every_rankings >= 1):
        raise ValidationError({"every_rankings": ["a positive number of rankings, or null to turn it off"]})
    if method not in STAGES:
        raise ValidationError({"method": [f"must be one of {', '.join(STAGES)}"]})
    if base_model is not None and base_model.kind not in POLICY_KINDS:
        raise ValidationError({"base_model": ["an iteration starts from a base, sft or policy model"]})
    template = {"method": method, "params": _validate_stage_params(method, params)}
    if skip_sft:
        template["skip_sft"] = True
    if base_model is not None:
        template["base_model"] = base_model.pk
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        campaign.iteration_every_rankings = every_rankings
        campaign.iteration_template = template
        campaign.save(update_fields=["iteration_every_rankings", "iteration_template", "updated_at"])
    return campaign


def iterations_trigger_due() -> list[int]:
    """Start an iteration for every active campaign whose ``iteration_every_rankings`` new rankings arrived
    since its last iteration (and none is running). Returns the new iterations' ids."""
    started = []
    for campaign in Campaign.objects.filter(iteration_every_rankings__isnull=False, status=Campaign.Status.ACTIVE):
        previous = Iteration.objects.filter(source_campaigns=campaign).order_by("-created_at").first()
        if previous and previous.status == Iteration.Status.RUNNING:
            continue
        since = Q(assignment__submitted_at__gt=previous.created_at) if previous else Q()
        new = Ranking.objects.filter(since, assignment__campaign=campaign, assignment__status="submitted").count()
        if new < campaign.iteration_every_rankings:
            continue
        base = _next_base_model(campaign, previous)
        if base is None:
            logger.warning("campaign %s: %d new rankings but no base model for an iteration", campaign.pk, new)
            continue
        template = campaign.iteration_template or {}
        method = template.get("method", "ppo")
        skip_sft = bool(template.get("skip_sft")) and base.kind in sft_standin_kinds(method)
        params = {s: v for s, v in (template.get("params") or {}).items() if not (skip_sft and s == "sft")}
        try:
            iteration = iteration_create(source_campaign_ids=[campaign.pk], base_model=base, target_campaign=campaign,
                                         method=method, params=params, skip_sft=skip_sft,
                                         name=_automatic_name(campaign))
        except ValidationError as exc:
            logger.warning("campaign %s: automatic iteration refused: %s", campaign.pk, exc.messages)
            continue
        started.append(iteration.pk)
    return started


def _automatic_name(campaign: Campaign) -> str:
    """``<campaign>-auto-r<round>-<UTC time>``: the round number keeps two rounds started in one second apart."""
    rounds = Iteration.objects.filter(source_campaigns=campaign, name__startswith=f"{campaign.pk}-auto-").count()
    return f"{campaign.pk}-auto-r{rounds + 1}-{timezone.now():%Y%m%d-%H%M%S}"


def _next_base_model(campaign: Campaign, previous: Iteration | None) -> ModelVersion | None:
    """The latest succeeded iteration's policy, else the template's base model, else the sampling policy."""
    if previous is not None and previous.status == Iteration.Status.SUCCEEDED:
        policy = iteration_outputs(previous)["policy_model"]
        if policy is not None:
            return policy
    base_id = (campaign.iteration_template or {}).get("base_model")
    if base_id:
        return ModelVersion.objects.filter(pk=base_id).first()
    return campaign.sampling_policy
