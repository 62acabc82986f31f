"""Campaign endpoints: create/update validation, lifecycle, list filter, progress, prompts."""

import pytest

from labeling.models import Campaign, Task
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def admin_client(campaign_admin, client_for):
    return client_for(campaign_admin)


def test_create_read_update(admin_client, campaign_admin):
    r = admin_client.post(f"{API}/campaigns", {"name": "Helpfulness v1", "task_kinds": ["ranking"], "completions_per_prompt": 4, "labels_per_task": 3}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "draft" and body["task_kinds"] == ["ranking"] and body["labels_per_task"] == 3
    assert set(body) == {
        "id", "name", "guidelines", "status", "task_kinds", "completions_per_prompt", "labels_per_task", "gold_fraction",
        "lease_seconds", "priority", "sampling_policy", "generation_settings", "created_at", "updated_at",
    }
    assert Campaign.objects.get(pk=body["id"]).created_by == campaign_admin
    r = admin_client.patch(f"{API}/campaigns/{body['id']}", {"guidelines": "# Rank well", "priority": 3}, format="json")
    assert r.status_code == 200 and r.json()["guidelines"] == "# Rank well" and r.json()["priority"] == 3
    assert admin_client.get(f"{API}/campaigns/{body['id']}").json()["priority"] == 3


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "x", "completions_per_prompt": 1}, "completions_per_prompt"),
        ({"name": "x", "completions_per_prompt": 10}, "completions_per_prompt"),
        ({"name": "x", "labels_per_task": 0}, "labels_per_task"),
        ({"name": "x", "gold_fraction": 1.5}, "gold_fraction"),
        ({"name": "x", "lease_seconds": 5}, "lease_seconds"),
        ({"name": "x", "task_kinds": []}, "task_kinds"),
        ({"name": "x", "task_kinds": ["ranking", "ranking"]}, "task_kinds"),
        ({"name": "x", "task_kinds": ["essay"]}, "task_kinds"),
        ({"name": ""}, "name"),
        ({}, "name"),
    ],
)
def test_create_validation(admin_client, data, field):
    r = admin_client.post(f"{API}/campaigns", data, format="json")
    assert r.status_code == 400 and field in r.json(), r.json()
    assert not Campaign.objects.exists()


def test_duplicate_name_and_reward_model_as_sampler(admin_client, make_campaign):
    from factories import ModelVersionFactory

    make_campaign(name="taken")
    assert "name" in admin_client.post(f"{API}/campaigns", {"name": "taken"}, format="json").json()
    reward = ModelVersionFactory(kind="reward")
    r = admin_client.post(f"{API}/campaigns", {"name": "new", "sampling_policy": reward.pk}, format="json")
    assert r.status_code == 400 and "sampling_policy" in r.json()
    sft = ModelVersionFactory(kind="sft")
    r = admin_client.post(f"{API}/campaigns", {"name": "new", "sampling_policy": sft.pk}, format="json")
    assert r.status_code == 201 and r.json()["sampling_policy"] == sft.pk


def test_lifecycle(admin_client, make_campaign):
    c = make_campaign(n=1, active=False)
    url = f"{API}/campaigns/{c.pk}"
    assert admin_client.post(f"{url}/pause").status_code == 409  # a draft cannot be paused
    assert admin_client.post(f"{url}/activate").json()["status"] == "active"
    assert admin_client.post(f"{url}/pause").json()["status"] == "paused"
    assert admin_client.post(f"{url}/activate").json()["status"] == "active"
    assert admin_client.post(f"{url}/archive").json()["status"] == "archived"
    assert admin_client.post(f"{url}/activate").status_code == 409
    r = admin_client.patch(url, {"name": "renamed"}, format="json")
    assert r.status_code == 409 and "archived" in r.json()["detail"]


def test_k_is_frozen_once_ranking_tasks_exist_and_priority_reaches_open_tasks(admin_client, make_campaign):
    c = make_campaign(n=2, k=4)
    r = admin_client.patch(f"{API}/campaigns/{c.pk}", {"completions_per_prompt": 5}, format="json")
    assert r.status_code == 400 and "completions_per_prompt" in r.json()
    assert admin_client.patch(f"{API}/campaigns/{c.pk}", {"priority": 9}, format="json").status_code == 200
    assert set(Task.objects.filter(campaign=c).values_list("priority", flat=True)) == {9}
    assert admin_client.patch(f"{API}/campaigns/{c.pk}", {"status": "active"}, format="json").status_code == 200
    assert Campaign.objects.get(pk=c.pk).status == "active"  # status is not writable through PATCH


def _owned_by(campaign, user):
    campaign.created_by = user
    campaign.save(update_fields=["created_by"])
    return campaign


def test_delete_only_without_labels(admin_client, campaign_admin, make_campaign, labeler):
    c = _owned_by(make_campaign(n=1), campaign_admin)
    assignment_next(labeler=labeler)
    r = admin_client.delete(f"{API}/campaigns/{c.pk}")
    assert r.status_code == 409 and "archive" in r.json()["detail"]
    assert admin_client.post(f"{API}/campaigns/{c.pk}/archive").status_code == 200
    assert admin_client.delete(f"{API}/campaigns/{c.pk}").status_code == 409  # archived: still refused
    empty = _owned_by(make_campaign(n=2), campaign_admin)
    assert admin_client.delete(f"{API}/campaigns/{empty.pk}").status_code == 204
    assert not Campaign.objects.filter(pk=empty.pk).exists()
    assert admin_client.get(f"{API}/campaigns/{empty.pk}").status_code == 404


def test_list_is_paginated_and_filtered(admin_client, make_campaign):
    make_campaign(n=0, name="on")
    make_campaign(n=0, name="off", active=False)
    body = admin_client.get(f"{API}/campaigns").json()
    assert body["count"] == 2 and {c["name"] for c in body["results"]} == {"on", "off"}
    assert [c["name"] for c in admin_client.get(f"{API}/campaigns?status=draft").json()["results"]] == ["off"]
    assert admin_client.get(f"{API}/campaigns?status=bogus").status_code == 400
    assert len(admin_client.get(f"{API}/campaigns?limit=1").json()["results"]) == 1


def test_progress(admin_client, make_campaign, make_user):
    c = make_campaign(n=3, overlap=2, kinds=("demonstration", "ranking"))
    labelers = [make_user(), make_user()]
    for u in labelers:
        a = assignment_next(labeler=u)
        body = {"text": "t"} if a.task.kind == "demonstration" else {"ranking": [a.display_order]}
        assignment_submit(assignment_id=a.pk, labeler=u, data=body)
    assignment_next(labeler=labelers[0])
    p = admin_client.get(f"{API}/campaigns/{c.pk}/progress").json()
    assert (p["tasks_total"], p["tasks_done"], p["labels_required"], p["labels_submitted"]) == (6, 1, 12, 2)
    assert p["active_leases"] == 1 and p["active_labelers_24h"] == 2
    assert len(p["labels_per_day"]) == 14 and p["labels_per_day"][-1]["count"] == 2
    assert sum(d["count"] for d in p["labels_per_day"]) == 2
    assert p["by_kind"]["demonstration"] == {"tasks_total": 3, "tasks_done": 1, "labels_required": 6, "labels_submitted": 2}
    assert p["by_kind"]["ranking"]["labels_submitted"] == 0


def test_prompt_list(admin_client, make_campaign):
    c = make_campaign(n=3, k=2)
    body = admin_client.get(f"{API}/campaigns/{c.pk}/prompts?limit=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    assert first["messages"][0]["role"] == "user" and first["completions_count"] == 2 and first["category"] == "open_qa"
    assert admin_client.get(f"{API}/campaigns/999999/prompts").status_code == 404


def test_only_the_creator_or_staff_delete_a_campaign(admin_client, make_user, client_for, staff_user):
    created = admin_client.post(f"{API}/campaigns", {"name": "mine"}, format="json").json()
    other_admin = client_for(make_user("campaign_admin"))
    r = other_admin.delete(f"{API}/campaigns/{created['id']}")
    assert r.status_code == 403 and r.json() == {"detail": "Only the campaign's creator or staff can delete it."}
    assert admin_client.delete(f"{API}/campaigns/{created['id']}").status_code == 204
    created = other_admin.post(f"{API}/campaigns", {"name": "theirs"}, format="json").json()
    assert client_for(staff_user).delete(f"{API}/campaigns/{created['id']}").status_code == 204
