"""Research endpoints: permissions per role, snapshot/job creation and cancel over HTTP, schema."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from labeling import roles
from labeling.jobs import services as job_services
from labeling.models import DatasetSnapshot, Job
from labeling.services.users import user_create_with_role

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def no_enqueue(monkeypatch):
    sent = []
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job: sent.append(job.pk))
    return sent


def client_for(role: str | None) -> APIClient:
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


def test_researcher_creates_a_snapshot_and_a_job_and_cancels_it(labeled, data_dir, no_enqueue,
                                                                 django_capture_on_commit_callbacks):
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

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(API + "/jobs", {"kind": "sft", "params": {"max_steps": 3},
                                        "input_snapshot_ids": [snap["id"]], "input_model_ids": [model_id]},
                        format="json")
    assert r.status_code == 201, r.content
    job = r.json()
    assert job["status"] == "queued" and job["metrics"] == [] and job["input_models"] == [model_id]
    assert no_enqueue == [job["id"]]

    r = client.post(API + "/jobs", {"kind": "reward", "input_snapshot_ids": [snap["id"]],
                                    "input_model_ids": [model_id]}, format="json")
    assert r.status_code == 400 and "comparisons snapshot" in str(r.json())

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


def test_schema_documents_research_endpoints_without_warnings(capsys):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/snapshots", "/api/v1/jobs", "/api/v1/jobs/{job_id}/cancel", "/api/v1/models"):
        assert path in schema["paths"], sorted(schema["paths"])
    err = capsys.readouterr().err
    research_warnings = [line for line in err.splitlines() if "research" in line.lower() and "warning" in line.lower()]
    assert not research_warnings, research_warnings
