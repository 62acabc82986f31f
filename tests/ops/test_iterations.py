"""Iterations without a worker: validation up front, stage progression from the previous stage's outputs,
failure, cancel, resume from the stage that stopped, and the campaign trigger. (The whole round through a
real worker is tests/ops/test_celery_integration.py.)"""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from labeling.jobs.services import model_version_create
from labeling.models import Iteration, Job, ModelVersion
from labeling.selectors.iterations import iteration_detail
from labeling.services.errors import Conflict
from labeling.services.exports import snapshot_create
from labeling.services.iterations import (campaign_iteration_trigger_set, iteration_advance, iteration_cancel,
                                          iteration_create, iteration_resume, iterations_trigger_due)

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(data_dir):
    return model_version_create(name="iter-base", kind="base", artifact_path="tiny")


def _start(labeled, base, **kwargs) -> Iteration:
    return iteration_create(source_campaign_ids=[labeled.campaign.pk], base_model=base, **kwargs)


def _finish_export(iteration: Iteration, labeled) -> None:
    """Do what the export job does (snapshots + result), then mark it succeeded."""
    job = iteration.jobs.get(stage="export")
    snaps = {k: snapshot_create(kind=k, campaign_ids=[labeled.campaign.pk], name=f"{iteration.name}-{k}")
             for k in ("sft", "comparisons", "prompts")}
    job.result = {"snapshots": {k: {"id": s.pk, "name": s.name, "rows": s.rows} for k, s in snaps.items()}}
    job.status, job.started_at, job.finished_at = Job.Status.SUCCEEDED, timezone.now(), timezone.now()
    job.save()


def test_every_stage_is_validated_before_anything_runs(labeled, base):
    with pytest.raises(ValidationError, match=r"sft\.max_steps: must be an integer"):
        _start(labeled, base, params={"sft": {"max_steps": "many"}})
    with pytest.raises(ValidationError, match="'export': not a stage"):
        _start(labeled, base, params={"export": {}})
    with pytest.raises(ValidationError, match="dpo.*not a stage of a ppo iteration"):
        _start(labeled, base, params={"dpo": {"beta": 0.1}})
    rm = model_version_create(name="rm", kind="reward", artifact_path="tiny")
    with pytest.raises(ValidationError, match="starts from a base, sft or policy model"):
        _start(labeled, rm)
    with pytest.raises(ValidationError, match="unknown campaign"):
        iteration_create(source_campaign_ids=[999], base_model=base)
    assert not Iteration.objects.exists() and not Job.objects.exists()


def test_stages_follow_each_other_with_the_previous_outputs(labeled, base):
    iteration = _start(labeled, base, name="it1", params={"sft": {"max_steps": 3}})
    assert [j.stage for j in iteration.jobs.all()] == ["export"]
    assert iteration_advance(iteration_id=iteration.pk) == "running"  # export still queued: nothing new
    assert iteration.jobs.count() == 1

    _finish_export(iteration, labeled)
    iteration_advance(iteration_id=iteration.pk)
    sft = iteration.jobs.get(stage="sft")
    assert sft.kind == "sft" and sft.params["max_steps"] == 3 and sft.params["save_steps"] == 10  # suggested
    assert sft.inputs["model"]["id"] == base.pk and sft.inputs["data"]["name"] == "it1-sft"
    detail = iteration_detail(iteration)
    assert detail["current_stage"] == "sft" and detail["snapshots"]["prompts"] is not None
    assert [s["status"] for s in detail["stages"]] == ["succeeded", "queued", "pending", "pending", "pending",
                                                      "pending"]

    Job.objects.filter(pk=sft.pk).update(status=Job.Status.FAILED, error="out of memory: MemoryError\n\nlog...")
    assert iteration_advance(iteration_id=iteration.pk) == "failed"
    iteration.refresh_from_db()
    assert iteration.error == "sft failed: out of memory: MemoryError"
    with pytest.raises(Conflict):
        iteration_cancel(iteration=iteration)

    iteration_resume(iteration=iteration)
    iteration.refresh_from_db()
    assert iteration.status == "running" and iteration.jobs.filter(stage="sft").count() == 2
    assert iteration_detail(iteration)["stages"][1]["status"] == "queued"  # the newest sft job counts
    with pytest.raises(Conflict, match="only a failed or cancelled one resumes"):
        iteration_resume(iteration=iteration)


def test_cancel_stops_the_live_job_and_only_the_owner_or_staff_may(labeled, base, django_user_model):
    owner = django_user_model.objects.create(username="owner")
    iteration = _start(labeled, base, name="it2")
    Iteration.objects.filter(pk=iteration.pk).update(created_by=owner)
    iteration.refresh_from_db()
    with pytest.raises(PermissionDenied):
        iteration_cancel(iteration=iteration, by=django_user_model.objects.create(username="other"))
    iteration_cancel(iteration=iteration, by=owner)
    iteration.refresh_from_db()
    assert iteration.status == "cancelled" and iteration.jobs.get().status == "cancelled"


def test_a_campaign_starts_its_next_iteration_after_n_new_rankings(labeled, base):
    campaign = labeled.campaign
    with pytest.raises(ValidationError, match="beta: must be a number"):
        campaign_iteration_trigger_set(campaign=campaign, every_rankings=12, method="dpo", params={"dpo": {"beta": "x"}})
    campaign_iteration_trigger_set(campaign=campaign, every_rankings=12, method="dpo", base_model=base,
                                   params={"dpo": {"beta": 0.2}})
    (started,) = iterations_trigger_due()  # the fixture holds 12 submitted rankings
    iteration = Iteration.objects.get(pk=started)
    assert iteration.method == "dpo" and iteration.base_model == base and iteration.target_campaign == campaign
    assert iterations_trigger_due() == []  # one is running
    Iteration.objects.filter(pk=started).update(status="succeeded")
    assert iterations_trigger_due() == []  # no new rankings since it started


def test_skip_sft_uses_the_fine_tuned_base_model_as_the_rounds_sft_model(labeled, base):
    with pytest.raises(ValidationError, match="only a policy or sft model can stand in for the SFT stage"):
        _start(labeled, base, skip_sft=True)
    sft = model_version_create(name="warm-sft", kind="sft", artifact_path="tiny", parent=base)
    with pytest.raises(ValidationError, match="no SFT stage runs when skip_sft is true"):
        _start(labeled, sft, skip_sft=True, params={"sft": {"max_steps": 3}})
    assert not Iteration.objects.exists()

    iteration = _start(labeled, sft, name="it-skip", skip_sft=True)
    _finish_export(iteration, labeled)
    iteration_advance(iteration_id=iteration.pk)
    reward = iteration.jobs.get(stage="reward")  # straight after the export: no SFT job
    assert reward.inputs["model"]["id"] == sft.pk
    assert not iteration.jobs.filter(stage="sft").exists()
    detail = iteration_detail(iteration)
    assert detail["sft_model"] == {"id": sft.pk, "name": "warm-sft"} and detail["current_stage"] == "reward"
    assert [s["status"] for s in detail["stages"]] == ["succeeded", "skipped", "queued", "pending", "pending",
                                                      "pending"]

    rm = model_version_create(name="it-skip-rm", kind="reward", artifact_path="tiny")
    ModelVersion.objects.filter(pk=rm.pk).update(job=reward)
    Job.objects.filter(pk=reward.pk).update(status=Job.Status.SUCCEEDED)
    iteration_advance(iteration_id=iteration.pk)
    ppo = iteration.jobs.get(stage="ppo")
    assert ppo.inputs["model"]["id"] == sft.pk and ppo.inputs["ptx_data"]["name"] == "it-skip-sft"


def test_a_round_after_ppo_builds_on_the_policy_without_sft(labeled, base):
    """The second round of a loop: its start model is the last round's policy, which every later stage accepts
    (a reward job used to refuse a policy model, so this round failed when its reward stage started)."""
    policy = model_version_create(name="r1-policy", kind="policy", artifact_path="tiny", parent=base)
    for method in ("ppo", "dpo"):
        iteration = _start(labeled, policy, name=f"r2-{method}", method=method, skip_sft=True)
        _finish_export(iteration, labeled)
        iteration_advance(iteration_id=iteration.pk)
        iteration.refresh_from_db()
        assert iteration.status == "running", iteration.error
        assert iteration.jobs.get(stage="reward").inputs["model"]["id"] == policy.pk


def test_automatic_rounds_with_skip_sft_build_on_the_last_policy_but_train_sft_from_a_base(labeled, base):
    campaign_iteration_trigger_set(campaign=labeled.campaign, every_rankings=12, base_model=base, skip_sft=True,
                                   params={"sft": {"max_steps": 3}})
    (first,) = iterations_trigger_due()
    first = Iteration.objects.get(pk=first)
    assert not first.skip_sft and first.params == {"sft": {"max_steps": 3}}  # a base model needs its SFT stage
    ppo = first.jobs.create(kind="ppo", stage="ppo", status=Job.Status.SUCCEEDED)
    policy = model_version_create(name="auto-policy", kind="policy", artifact_path="tiny")
    ModelVersion.objects.filter(pk=policy.pk).update(job=ppo)
    Iteration.objects.filter(pk=first.pk).update(status="succeeded", created_at=timezone.now() - timedelta(days=1))
    from labeling.models import Assignment
    Assignment.objects.filter(campaign=labeled.campaign).update(submitted_at=timezone.now())

    (second,) = iterations_trigger_due()
    second = Iteration.objects.get(pk=second)
    assert second.base_model == policy and second.skip_sft and second.params == {}
