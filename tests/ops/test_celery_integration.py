"""The loop end to end, the way a researcher drives it: the REST API and a real Celery worker over Redis
on the test database, the tiny model on the CPU.

snapshots → sft → reward → ppo (with ptx) → dpo → generate (→ ranking tasks in a campaign) → evaluate,
each ending ``succeeded`` with its model registered and its lineage right; then the same round as one
iteration (POST /iterations) that runs every stage by itself. Nothing like this existed before, which
is how a PPO job that failed from the dashboard every time once shipped.
"""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from celery_workers import wait_for
from labeling import roles
from labeling.models import Job, ModelVersion, Task
from labeling.services.users import user_create_with_role

pytestmark = [pytest.mark.celery, pytest.mark.slow, pytest.mark.xdist_group("celery-worker")]
API = "/api/v1"
TINY = {"device": "cpu", "max_length": 64, "logging_steps": 1, "save_steps": 0}
PARAMS = {
    "sft": {**TINY, "max_steps": 2, "batch_size": 2},
    "reward": {**TINY, "max_steps": 2, "batch_size": 2},
    "dpo": {**TINY, "max_steps": 2, "batch_size": 2},
    "ppo": {**TINY, "max_steps": 2, "batch_size": 4, "mini_batch_size": 2, "ppo_epochs": 1, "max_new_tokens": 6,
            "max_prompt_length": 32, "ptx_batch_size": 2},
    "generate": {"device": "cpu", "k": 3, "max_new_tokens": 6},
    "evaluate": {"device": "cpu", "max_new_tokens": 4},
}


@pytest.fixture
def api():
    from django.contrib.auth.models import Group

    Group.objects.get_or_create(name=roles.RESEARCHER)  # a transactional test's flush removed the migration's groups
    client = APIClient()
    client.force_authenticate(user_create_with_role(username="e2e-researcher", password="x", roles=[roles.RESEARCHER]))
    return client


def _run(api, log_path, kind: str, inputs: dict, params: dict | None = None) -> dict:
    """POST /jobs, then poll GET /jobs/{id} until it finishes; it must succeed."""
    r = api.post(API + "/jobs", {"kind": kind, "inputs": inputs, "params": params or PARAMS[kind]}, format="json")
    assert r.status_code == 201, r.content
    job_id = r.json()["id"]

    def finished():
        body = api.get(f"{API}/jobs/{job_id}").json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    job = wait_for(finished, 300, f"the {kind} job", log_path)
    assert job["status"] == "succeeded", f"{kind}: {job['error']}\n{job['log_tail'][-3000:]}"
    assert job["progress"] == 1.0 and job["duration_s"] > 0
    return job


def _model(job: dict) -> ModelVersion:
    (model_id,) = job["model_versions"]
    return ModelVersion.objects.get(pk=model_id)


@pytest.mark.django_db(transaction=True)
def test_every_job_kind_through_the_api_and_a_real_worker(labeled, worker, api):
    proc, log_path = worker
    snaps = {}
    for kind in ("sft", "comparisons", "prompts"):
        r = api.post(API + "/snapshots", {"kind": kind, "campaign_ids": [labeled.campaign.pk], "name": f"e2e-{kind}",
                                          "valid_fraction": 0.3}, format="json")
        assert r.status_code == 201, r.content
        snaps[kind] = r.json()["id"]
    base = api.post(API + "/models", {"name": "e2e-base", "kind": "base", "artifact_path": "tiny"}, format="json")
    assert base.status_code == 201, base.content
    base_id = base.json()["id"]

    sft = _model(_run(api, log_path, "sft", {"model": base_id, "data": "e2e-sft"}))
    assert (sft.kind, sft.parent_id) == ("sft", base_id)
    rm = _model(_run(api, log_path, "reward", {"model": sft.pk, "data": snaps["comparisons"]}))
    assert (rm.kind, rm.parent_id) == ("reward", sft.pk)
    ppo_job = _run(api, log_path, "ppo", {"model": sft.pk, "reward_model": rm.pk, "prompts": snaps["prompts"],
                                          "ptx_data": snaps["sft"]})
    ppo = _model(ppo_job)
    assert (ppo.kind, ppo.parent_id, ppo.reward_model_id) == ("policy", sft.pk, rm.pk)
    assert any("ptx_loss" in row for row in ppo_job["metrics"]), ppo_job["metrics"][-1]
    dpo = _model(_run(api, log_path, "dpo", {"model": sft.pk, "data": snaps["comparisons"]}))
    assert (dpo.kind, dpo.parent_id, dpo.reward_model_id) == ("policy", sft.pk, None)

    tasks_before = Task.objects.filter(campaign=labeled.campaign, kind="ranking").count()
    gen = _run(api, log_path, "generate", {"model": ppo.pk, "prompts": snaps["prompts"]},
               {**PARAMS["generate"], "campaign": labeled.campaign.pk})
    created = Task.objects.filter(campaign=labeled.campaign, kind="ranking").count() - tasks_before
    assert created == gen["result"]["imported"]["tasks_created"] > 0
    newest = Task.objects.filter(campaign=labeled.campaign, kind="ranking").order_by("-id").first()
    assert {c.model_version_id for c in newest.completions.all()} == {ppo.pk}

    ev = _run(api, log_path, "evaluate", {"reward_model": rm.pk, "prompts": snaps["prompts"], "policy_a": sft.pk,
                                          "policy_b": ppo.pk})
    assert ev["result"]["recorded"]["candidate_model_id"] == ppo.pk
    assert 0.0 <= api.get(f"{API}/models/{ppo.pk}").json()["metrics"]["win_rate"] <= 1.0
    acc = _run(api, log_path, "evaluate", {"reward_model": rm.pk, "comparisons": snaps["comparisons"]})
    assert 0.0 <= acc["result"]["result"]["accuracy"] <= 1.0
    assert proc.poll() is None


@pytest.mark.django_db(transaction=True)
def test_an_iteration_runs_one_round_by_itself(labeled, worker, api):
    proc, log_path = worker
    base = api.post(API + "/models", {"name": "iter-base", "kind": "base", "artifact_path": "tiny"}, format="json")
    r = api.post(API + "/iterations", {"name": "round-1", "source_campaign_ids": [labeled.campaign.pk],
                                       "base_model": "iter-base", "method": "ppo", "valid_fraction": 0.3,
                                       "params": {k: v for k, v in PARAMS.items() if k != "dpo"}}, format="json")
    assert r.status_code == 201, r.content
    iteration = r.json()
    assert [s["name"] for s in iteration["stages"]] == ["export", "sft", "reward", "ppo", "generate", "evaluate"]
    assert iteration["stages"][0]["status"] in ("queued", "running", "succeeded")

    def ended():
        body = api.get(f"{API}/iterations/{iteration['id']}").json()
        return body if body["status"] != "running" else None

    done = wait_for(ended, 900, "the iteration", log_path, interval=1.0)
    assert done["status"] == "succeeded", (done["error"], done["stages"])
    assert all(s["status"] == "succeeded" and s["duration_s"] is not None for s in done["stages"])
    assert done["win_rate"] is not None and 0.0 <= done["win_rate"]["value"] <= 1.0
    policy = ModelVersion.objects.get(pk=done["policy_model"]["id"])
    assert policy.parent_id == done["sft_model"]["id"] and policy.reward_model_id == done["reward_model"]["id"]
    assert ModelVersion.objects.get(pk=done["sft_model"]["id"]).parent_id == base.json()["id"]
    shown = api.get(f"{API}/models/{policy.pk}").json()
    assert shown["iteration"] == iteration["id"] and done["snapshots"]["prompts"] in shown["snapshots"]
    assert Job.objects.filter(iteration_id=iteration["id"]).count() == 6
    assert proc.poll() is None
