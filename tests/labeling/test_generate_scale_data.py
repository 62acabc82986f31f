"""``manage.py generate_scale_data`` writes data the real services accept as their own.

A tiny run on PostgreSQL, then: the counts match the options (tasks, labels, ratings, progress
and export selectors), ``next`` leases an open task (a heavy labeler never one they touched), a
submit succeeds, re-sending a generated label's own answer is an idempotent retry (the digest and
JSON shapes are the submit service's), and the tokens file's tokens work over the API.
"""
import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from labeling.models import Assignment, Campaign, Rating, Ranking, Task
from labeling.selectors.campaigns import campaign_progress
from labeling.services.exports import export_size
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

IS_PG = "postgresql" in settings.DATABASES["default"]["ENGINE"]
SIZES = dict(campaigns=2, open_tasks=10, labels=7, labelers=3, overlap=2, past_assignments_per_labeler=5,
             heavy_labelers=2, history_on="open", ratings_fraction=0.5, k=4, seed=3)


@pytest.fixture
def generated(db, tmp_path):
    tokens = tmp_path / "tokens.json"
    call_command("generate_scale_data", tokens_file=str(tokens), prefix="t", stdout=open("/dev/null", "w"), **SIZES)
    payload = json.loads(tokens.read_text())
    campaigns = list(Campaign.objects.filter(pk__in=payload["campaigns"]))
    return campaigns, payload


@pytest.mark.postgres
@pytest.mark.skipif(not IS_PG, reason="generate_scale_data writes with COPY: PostgreSQL only")
def test_counts_match_the_options_and_the_services_work_on_the_data(generated, django_user_model):
    campaigns, payload = generated
    ids = [c.pk for c in campaigns]
    assert len(campaigns) == 2 and all(c.status == Campaign.Status.ACTIVE for c in campaigns)
    tasks = Task.objects.filter(campaign_id__in=ids)
    history, labels = 5, 7 + 5 * 2  # the heavy labelers' shared tasks, and every submitted label
    assert tasks.filter(status=Task.Status.OPEN).count() == 10 + history
    assert tasks.filter(status=Task.Status.DONE).count() == 4  # ceil(7 labels / overlap 2)
    submitted = Assignment.objects.filter(campaign_id__in=ids, status=Assignment.Status.SUBMITTED)
    assert submitted.count() == labels == Ranking.objects.filter(assignment__campaign_id__in=ids).count()
    assert Rating.objects.filter(assignment__campaign_id__in=ids).count() % 4 == 0
    assert export_size(kind="comparisons", campaign_ids=ids) == labels
    progress = [campaign_progress(campaign=c) for c in campaigns]
    assert sum(p["labels_submitted"] for p in progress) == labels
    assert sum(p["tasks_total"] for p in progress) == tasks.count()
    assert sum(sum(d["count"] for d in p["labels_per_day"]) for p in progress) <= labels

    users = {u.username: u for u in django_user_model.objects.filter(username__in=[e["username"] for e in payload["labelers"]])}
    heavy, fresh = users[payload["labelers"][0]["username"]], users[payload["labelers"][2]["username"]]
    history_tasks = set(tasks.filter(status=Task.Status.OPEN, submitted_count=2).values_list("pk", flat=True))
    assert len(history_tasks) == history
    mine = assignment_next(labeler=heavy)
    assert mine is not None and mine.task_id not in history_tasks and mine.task.status == Task.Status.OPEN
    theirs = assignment_next(labeler=fresh)
    assert theirs.task_id == min(history_tasks)  # first in queue order, with free slots
    result = assignment_submit(assignment_id=mine.pk, labeler=heavy, data={"ranking": [[i] for i in mine.display_order]})
    assert result.created
    assert Task.objects.get(pk=mine.task_id).submitted_count == 1

    old = submitted.filter(labeler=heavy).select_related("ranking").first()
    old_ratings = [{"completion": r.completion_id, "likert": r.likert} for r in old.ratings.all()]
    again = assignment_submit(assignment_id=old.pk, labeler=heavy,
                              data={"ranking": old.ranking.groups, "ratings": old_ratings})
    assert again.created is False and again.record.pk == old.ranking.pk

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {payload['labelers'][1]['token']}")
    response = client.post("/api/v1/queue/next", {}, format="json")
    assert response.status_code == 200 and response.json()["task"]["campaign"]["id"] in ids


@pytest.mark.skipif(IS_PG, reason="the refusal is for other databases")
def test_refuses_other_databases_with_a_clear_message(db):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("generate_scale_data", open_tasks=1)
