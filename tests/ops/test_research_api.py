"""Research endpoints: permissions per role, snapshot/job creation and cancel over HTTP, schema."""
from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling import roles
from labeling.jobs import services as job_services
from labeling.models import DatasetSnapshot, Job
from labeling.services.users import user_create_with_role

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def no_enqueue(monkeypatch):
    """Record dispatches instead of sending them (and mark them sent, as a reachable broker would)."""
    sent = []

    def dispatch(*, job_id):
        sent.append(job_id)
        Job.objects.filter(pk=job_id).update(dispatched_at=timezone.now())
        return True

    monkeypatch.setattr(job_services, "job_dispatch", dispatch)
    return sent


def client_for(role: str | None) -> APIClient:
    from django.contrib.auth.models import Group

    if role and role != "staff":
        Group.objects.get_or_create(name=role)  # a transactional test's flush removes the migration's groups
    client = APIClient()
    if role == "staff":
        client.force_authenticate(user_create_with_role(username="staff-user", password="x", is_staff=True))
    elif role:
        client.force_authenticate(user_create_with_role(username=f"{role}-user", password="x", roles=[role]))
    return client


ENDPOINTS = [
    ("get", "/snapshots"), ("post", "/snapshots"), ("get", "/snapshots/1"),
    ("get", "/models"), ("post", "/models"), ("get", "/models/1"),
    ("get", "/jobs"), ("post", "/jobs"), ("get", "/jobs/1"), ("post", "/jobs/1/cancel"),
    ("get", "/job-kinds"), ("post", "/jobs/estimate"),
    ("get", "/iterations"), ("post", "/iterations"), ("get", "/iterations/1"), ("post", "/iterations/1/cancel"),
    ("post", "/iterations/1/resume"), ("put", "/campaigns/1/iteration-trigger"),
]


@pytest.mark.parametrize("role", [None, roles.LABELER, roles.CAMPAIGN_ADMIN, roles.RESEARCHER, "staff"])
@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_permission_matrix(role, method, path, data_dir):
    response = getattr(client_for(role), method)(API + path, {}, format="json")
    allowed = role in (roles.RESEARCHER, "staff") or (role == roles.CAMPAIGN_ADMIN and method == "get" and "/models" in path)
    if role is None:
        assert response.status_code in (401, 403)
    elif allowed:
        assert response.status_code in (200, 400, 404), response.content  # past the permission check
    else:
        assert response.status_code == 403, response.content


@pytest.mark.django_db(transaction=True)  # commits really happen: the job is dispatched after its commit
def test_researcher_creates_a_snapshot_and_a_job_and_cancels_it(labeled, data_dir, no_enqueue):
    client = client_for(roles.RESEARCHER)
    r = client.post(API + "/snapshots", {"kind": "sft", "campaign_ids": [labeled.campaign.pk], "name": "api-sft"},
                    format="json")
    assert r.status_code == 201, r.content
    snap = r.json()
    assert snap["rows"] == 12 and snap["name"] == "api-sft" and snap["campaigns"] == [labeled.campaign.pk]
    assert snap["created_by"] == "researcher-user"
    r = client.post(API + "/snapshots", {"kind": "sft", "campaign_ids": [labeled.campaign.pk], "name": "api-sft"},
                    format="json")
    assert r.status_code == 400 and "name" in r.json()

    r = client.post(API + "/models", {"name": "tiny-base", "kind": "base", "artifact_path": "tiny"}, format="json")
    assert r.status_code == 201, r.content
    model_id = r.json()["id"]
    assert client.get(API + "/models?kind=base").json()["results"][0]["id"] == model_id

    r = client.post(API + "/jobs", {"kind": "sft", "params": {"max_steps": 3},
                                    "inputs": {"data": snap["name"], "model": model_id}},
                    format="json", HTTP_IDEMPOTENCY_KEY="form-1")
    assert r.status_code == 201, r.content
    job = r.json()
    assert job["status"] == "queued" and job["metrics"] == [] and job["input_models"] == [model_id]
    assert job["inputs"]["data"] == {"type": "snapshot", "id": snap["id"], "name": "api-sft"}
    assert no_enqueue == [job["id"]]
    # A retry of the same request (same key) answers the same job: no duplicate.
    r = client.post(API + "/jobs", {"kind": "sft", "params": {"max_steps": 3},
                                    "inputs": {"data": snap["name"], "model": model_id}},
                    format="json", HTTP_IDEMPOTENCY_KEY="form-1")
    assert r.status_code == 200 and r.json()["id"] == job["id"]

    r = client.post(API + "/jobs", {"kind": "reward", "inputs": {"data": snap["id"], "model": model_id}},
                    format="json")
    assert r.status_code == 400 and "needs a comparisons snapshot" in str(r.json()["inputs"])
    r = client.post(API + "/jobs", {"kind": "generate", "inputs": {"model": model_id}, "params": {"max_steps": 200}},
                    format="json")
    assert r.status_code == 400 and "max_steps" in str(r.json()["params"])  # the old form's default, refused

    listed = client.get(API + "/jobs?status=queued").json()
    assert listed["count"] == 1 and "metrics" not in listed["results"][0]
    assert client.get(API + "/jobs?status=bogus").status_code == 400
    detail = client.get(API + f"/jobs/{job['id']}").json()
    assert detail["log_tail"] == "" and detail["params"] == {"max_steps": 3}

    r = client.post(API + f"/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = client.post(API + f"/jobs/{job['id']}/cancel")
    assert r.status_code == 409 and "already cancelled" in r.json()["detail"]
    assert Job.objects.get(pk=job["id"]).status == Job.Status.CANCELLED
    assert DatasetSnapshot.objects.count() == 1


def test_job_kinds_come_from_the_training_configs(data_dir):
    kinds = {k["kind"]: k for k in client_for(roles.RESEARCHER).get(API + "/job-kinds").json()["kinds"]}
    assert list(kinds) == ["sft", "reward", "ppo", "dpo", "generate", "evaluate"]  # not "score": internal
    ppo = kinds["ppo"]
    assert [(i["name"], i["type"], i["required"]) for i in ppo["inputs"]] == [
        ("model", "model", True), ("reward_model", "model", True), ("prompts", "snapshot", True),
        ("ptx_data", "snapshot", False), ("value_model", "model", False)]
    params = {p["name"]: p for p in ppo["params"]}
    from training.ppo.config import PPOConfig  # the test may look; the web half never imports training

    assert params["init_kl_coef"]["default"] == PPOConfig.__dataclass_fields__["init_kl_coef"].default
    assert params["max_steps"]["suggested"] < params["max_steps"]["default"]  # a first run finishes in minutes
    assert params["device"]["type"] == "choice" and params["device"]["choices"] == ["auto", "cpu", "cuda"]
    assert params["accelerate_config"]["group"] == "runner" and "ddp" in params["accelerate_config"]["choices"]
    assert "reward_fn" not in params and "prompts" not in params and "output_dir" not in params
    generate = {p["name"] for p in kinds["generate"]["params"]}
    assert "max_steps" not in generate and {"k", "max_new_tokens", "campaign"} <= generate


def test_estimate_warns_about_long_runs(labeled, data_dir):
    client = client_for(roles.RESEARCHER)
    snap = client.post(API + "/snapshots", {"kind": "sft", "campaign_ids": [labeled.campaign.pk]}, format="json").json()
    model = job_services.model_version_create(name="smol", kind="base", artifact_path="smollm2-135m-instruct")
    body = {"kind": "sft", "inputs": {"model": model.pk, "data": snap["id"]}, "params": {"max_steps": 20}}
    quick = client.post(API + "/jobs/estimate", body, format="json").json()
    assert quick["model_params"] == 134_515_008 and quick["seconds"] > 0 and quick["warning"] is None
    body["params"] = {"max_steps": 20000, "batch_size": 32}
    slow = client.post(API + "/jobs/estimate", body, format="json").json()
    assert slow["seconds"] > 1000 * quick["seconds"] and "would take about" in slow["warning"]
    bad = client.post(API + "/jobs/estimate", {"kind": "sft", "inputs": {}, "params": {}}, format="json")
    assert bad.status_code == 400 and "model: required" in str(bad.json())


def test_schema_documents_research_endpoints_without_warnings(capsys):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/snapshots", "/api/v1/jobs", "/api/v1/jobs/{job_id}/cancel", "/api/v1/models"):
        assert path in schema["paths"], sorted(schema["paths"])
    err = capsys.readouterr().err
    research_warnings = [line for line in err.splitlines() if "research" in line.lower() and "warning" in line.lower()]
    assert not research_warnings, research_warnings


def test_snapshot_quality_options_are_checked_and_recorded(labeled, data_dir):
    client = client_for(roles.RESEARCHER)
    bad = client.post(API + "/snapshots", {"kind": "comparisons", "campaign_ids": [labeled.campaign.pk],
                                           "quality": {"rankings": "bogus"}}, format="json")
    assert bad.status_code == 400 and bad.json() == {"quality.rankings": ["expected one of raw, consensus"]}
    r = client.post(API + "/snapshots", {"kind": "comparisons", "campaign_ids": [labeled.campaign.pk],
                                         "quality": {"exclude_flagged": True}}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["filters"]["quality"]["exclude_flagged"] is True


def test_an_iteration_can_use_its_fine_tuned_base_model_as_its_sft_model(labeled, data_dir, no_enqueue):
    client = client_for(roles.RESEARCHER)
    base = client.post(API + "/models", {"name": "b", "kind": "base", "artifact_path": "tiny"}, format="json").json()
    sft = client.post(API + "/models", {"name": "s", "kind": "sft", "artifact_path": "tiny", "parent": base["id"]},
                      format="json")
    assert sft.status_code == 201, sft.content
    body = {"source_campaign_ids": [labeled.campaign.pk], "skip_sft": True}
    bad = client.post(API + "/iterations", {**body, "base_model": "b"}, format="json")
    assert bad.status_code == 400 and "only a policy or sft model can stand in" in bad.json()["skip_sft"][0]
    bad = client.post(API + "/iterations", {**body, "base_model": "s", "skip_sft": "maybe"}, format="json")
    assert bad.status_code == 400 and "skip_sft" in bad.json()
    r = client.post(API + "/iterations", {**body, "base_model": "s"}, format="json")
    assert r.status_code == 201, r.content
    shown = r.json()
    assert shown["skip_sft"] is True and shown["sft_model"] == {"id": sft.json()["id"], "name": "s"}
    assert [(s["name"], s["status"]) for s in shown["stages"]][:2] == [("export", "queued"), ("sft", "skipped")]
