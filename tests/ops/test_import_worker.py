"""A large prompt file through the API and a real Celery worker over Redis: 202, then the import job runs
on the default queue and the campaign admin's status endpoint ends with the report."""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from celery_workers import wait_for
from labeling import roles
from labeling.models import Prompt, Task
from labeling.services.campaigns import campaign_create
from labeling.services.users import user_create_with_role

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery-worker")]


@pytest.mark.django_db(transaction=True)
def test_a_large_import_runs_on_a_real_worker(worker, settings):
    from django.contrib.auth.models import Group

    proc, log_path = worker
    settings.PROMPT_IMPORT_SYNC_MAX_BYTES = 1000
    Group.objects.get_or_create(name=roles.CAMPAIGN_ADMIN)  # a transactional test's flush removed the migration's groups
    client = APIClient()
    client.force_authenticate(user_create_with_role(username="importer", password="x", roles=[roles.CAMPAIGN_ADMIN]))
    campaign = campaign_create(name="worker-import", task_kinds=["demonstration", "ranking"])
    content = "".join(json.dumps({"prompt": f"Prompt {i}?", "completions": [f"a{i}", f"b{i}", f"c{i}"]}) + "\n"
                      for i in range(2000)).encode()
    r = client.post(f"/api/v1/campaigns/{campaign.pk}/prompts/import",
                    {"file": SimpleUploadedFile("big.jsonl", content)}, format="multipart")
    assert r.status_code == 202, r.content

    def finished():
        body = client.get(r.headers["Location"]).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    body = wait_for(finished, 120, "the import job", log_path)
    assert body["status"] == "succeeded", body["error"]
    assert body["report"]["imported"] == 2000 and body["report"]["tasks_created"] == 4000
    assert (body["lines_read"], body["bytes_read"], body["phase"]) == (2000, len(content), "done")
    assert Prompt.objects.filter(campaign=campaign).count() == 2000
    assert Task.completions.through.objects.filter(task__campaign=campaign).count() == 6000
    assert proc.poll() is None
