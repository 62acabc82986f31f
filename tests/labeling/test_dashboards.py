"""Dashboard aggregates (issue 12, item 4): the progress counts the sweep maintains equal a recount from the
labels after ordinary labeling through the services, late-committing labels are not lost, and the
quality reports are served from storage with their ``as_of``. Runs on SQLite and PostgreSQL."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from factories import campaign_with_tasks, make_user
from labeling.models import Assignment, DashboardReport, DashboardState, ModelVersion, Task
from labeling.selectors.campaigns import campaign_progress, campaign_progress_live
from labeling.services import dashboard_reports
from labeling.services import dashboards
from labeling.services.dashboards import BLOCK, progress_rebuild, progress_refresh
from labeling.services.gold import task_set_gold
from labeling.services.queue import assignment_next
from labeling.services.review import label_review_create
from labeling.services.submissions import assignment_submit

API = "/api/v1"
pytestmark = pytest.mark.django_db


def _label(user, campaign, n: int) -> list[Assignment]:
    done = []
    for _ in range(n):
        a = assignment_next(labeler=user, campaign_id=campaign.pk)
        if a is None:
            break
        body = {"text": "an answer"} if a.task.kind == "demonstration" else {"ranking": [a.display_order]}
        assignment_submit(assignment_id=a.pk, labeler=user, data=body)
        done.append(a)
    return done


def _without_as_of(progress: dict) -> dict:
    return {k: v for k, v in progress.items() if k != "as_of"}


def _assert_matches_recount(campaign, now=None):
    now = now or timezone.now()
    assert _without_as_of(campaign_progress(campaign=campaign, now=now)) == campaign_progress_live(
        campaign=campaign, now=now)


def test_sweeps_keep_progress_equal_to_a_recount(make_user, staff_user, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    monkeypatch.setattr(dashboards, "SCRUB_BLOCKS", 0)  # only the window and the services' own calls count here
    c = campaign_with_tasks(n=6, k=3, overlap=2, kinds=("demonstration", "ranking"))
    other = campaign_with_tasks(n=3, k=2)
    labelers = [make_user() for _ in range(3)]
    progress_refresh()  # the first sweep rebuilds; every later one is incremental
    for user in labelers:
        _label(user, c, 3)
    _label(labelers[0], other, 2)
    assignment_next(labeler=labelers[1], campaign_id=c.pk)  # a live lease (counted live, not swept)
    first = progress_refresh()
    assert first["skipped"] is False and "since" in first
    _assert_matches_recount(c)
    _assert_matches_recount(other)

    # A gold answer takes a task out of the counts: the gold service recounts its block itself (no sweep).
    ranking_task = Task.objects.filter(campaign=c, kind="ranking").order_by("-id").first()
    with django_capture_on_commit_callbacks(execute=True):
        task_set_gold(task=ranking_task, answer=[[ranking_task.completions.order_by("id")[0].pk],
                                                 [x.pk for x in ranking_task.completions.order_by("id")[1:]]])
    _assert_matches_recount(c)

    # A rejection re-opens a done task; more labels arrive.
    done = Assignment.objects.filter(campaign=c, status="submitted", task__status="done").first()
    label_review_create(assignment_id=done.pk, reviewer=staff_user, decision="reject", reason="off topic")
    _label(labelers[2], c, 4)
    progress_refresh()
    _assert_matches_recount(c)
    p = campaign_progress(campaign=c)
    assert p["labels_submitted"] == campaign_progress_live(campaign=c)["labels_submitted"] > 0
    assert p["active_leases"] == 1 and p["active_labelers_24h"] == 3 and p["as_of"] is not None


def test_counts_are_as_of_the_last_sweep_until_the_next(make_user):
    c = campaign_with_tasks(n=4, k=2)
    user = make_user()
    _label(user, c, 1)
    progress_refresh()
    swept = campaign_progress(campaign=c)
    _label(user, c, 2)
    assert campaign_progress(campaign=c)["labels_submitted"] == swept["labels_submitted"] == 1  # not yet swept
    progress_refresh()
    assert campaign_progress(campaign=c)["labels_submitted"] == 3
    _assert_matches_recount(c)


def test_the_api_sweeps_first_when_beat_is_behind(make_user, client_for):
    c = campaign_with_tasks(n=3, k=2)
    admin = client_for(make_user("campaign_admin"))
    _label(make_user(), c, 2)
    with override_settings(DASHBOARD_READ_REFRESH_S=3600):
        body = admin.get(f"{API}/campaigns/{c.pk}/progress").json()  # never swept: the read sweeps once
        assert body["labels_submitted"] == 2 and body["as_of"]
        _label(make_user(), c, 1)
        assert admin.get(f"{API}/campaigns/{c.pk}/progress").json()["labels_submitted"] == 2  # swept recently
    assert admin.get(f"{API}/campaigns/{c.pk}/progress").json()["labels_submitted"] == 3


def test_a_label_dated_inside_the_margin_is_counted_by_the_next_sweep(make_user):
    """A label whose transaction commits after a sweep, dated before it, is still inside the next window."""
    c = campaign_with_tasks(n=3, k=2)
    user = make_user()
    progress_refresh()
    state = DashboardState.objects.get(name="progress")
    late = _label(user, c, 1)[0]
    # As if the submit had taken its ``now`` a minute before the last sweep and committed after it.
    Assignment.objects.filter(pk=late.pk).update(submitted_at=state.watermark - timedelta(seconds=60))
    progress_refresh()
    assert campaign_progress(campaign=c)["labels_submitted"] == 1
    assert sum(d["count"] for d in campaign_progress(campaign=c)["labels_per_day"]) == 1
    _assert_matches_recount(c)


def test_rebuild_after_a_bulk_load_and_scrub_repairs_what_the_window_missed(make_user, monkeypatch):
    monkeypatch.setattr(dashboards, "SCRUB_BLOCKS", 1)
    c = campaign_with_tasks(n=3, k=2)
    progress_refresh()
    DashboardState.objects.filter(name="progress").update(scrub_block=0)
    # A bulk load outside the services, three blocks up: old tasks (created long ago, so no window sees them).
    long_ago = timezone.now() - timedelta(days=30)
    prompt = c.prompts.first()
    bulk = Task.objects.bulk_create([Task(id=3 * BLOCK + i, campaign=c, prompt=prompt, kind="ranking",
                                          required_labels=2) for i in range(5)])
    Task.objects.filter(pk__in=[t.pk for t in bulk]).update(created_at=long_ago)
    progress_refresh()
    assert campaign_progress(campaign=c)["tasks_total"] == 3  # the window did not see them...
    for _ in range(3):
        progress_refresh()
    _assert_matches_recount(c)  # ...the scrub rotation did
    Task.objects.filter(pk=bulk[0].pk).update(status="cancelled")
    call_command("dashboards_rebuild")
    _assert_matches_recount(c)
    assert progress_rebuild()["rebuilt"] is True


@pytest.fixture
def dispatched(monkeypatch):
    """Refreshes sent to a worker (captured instead of a broker)."""
    sent = []

    def fake(key):
        sent.append(key)
        return True
    monkeypatch.setattr(dashboard_reports, "_dispatch", fake)
    return sent


@override_settings(QUALITY_SYNC_MAX_LABELS=0, QUALITY_MAX_AGE_S=3600)
def test_quality_reports_are_stored_and_served_as_of_their_computation(make_user, client_for, dispatched):
    c = campaign_with_tasks(n=4, k=3, overlap=2)
    users = [make_user(), make_user()]
    for user in users:
        _label(user, c, 4)
    progress_refresh()
    admin = client_for(make_user("campaign_admin"))
    url = f"{API}/campaigns/{c.pk}/agreement?n_boot=100"
    first = admin.get(url)
    assert first.status_code == 202 and first.json()["computing"] is True  # large: a worker computes it
    assert dispatched == ['agreement:{"campaign":' + str(c.pk) + ',"n_boot":100}']
    assert admin.get(url).status_code == 202 and len(dispatched) == 1  # one request pending, not one per read

    dashboard_reports.report_refresh(key=dispatched[0])  # the worker
    body = admin.get(url).json()
    assert body["stale"] is False and body["as_of"] and body["overall"]["pairwise_agreement"]["n_tasks"] == 4

    label = Assignment.objects.filter(campaign=c, status="submitted").first()
    label_review_create(assignment_id=label.pk, reviewer=make_user(None, staff=True), decision="reject",
                        reason="wrong")
    stale = admin.get(url).json()
    assert stale["stale"] is True and stale["as_of"] == body["as_of"] and len(dispatched) == 1  # young: kept
    with override_settings(QUALITY_MAX_AGE_S=0):
        assert dashboard_reports.reports_refresh_stale(now=timezone.now() + timedelta(seconds=1)) == 1
    dashboard_reports.report_refresh(key=dispatched[-1])
    fresh = admin.get(url).json()
    assert fresh["stale"] is False and fresh["overall"]["pairwise_agreement"]["n_tasks"] == 3

    r = admin.post(f"{API}/campaigns/{c.pk}/quality/refresh?n_boot=100")
    assert r.status_code == 202 and len(dispatched) == 4  # agreement and labelers, to a worker


def test_small_campaigns_compute_in_the_request(make_user, client_for, dispatched):
    c = campaign_with_tasks(n=3, k=3, overlap=2)
    for user in (make_user(), make_user()):
        _label(user, c, 3)
    admin = client_for(make_user("campaign_admin"))
    body = admin.get(f"{API}/campaigns/{c.pk}/labelers?n_boot=100").json()
    assert len(body["labelers"]) == 2 and body["stale"] is False and body["as_of"] and dispatched == []
    assert DashboardReport.objects.filter(campaign=c).count() == 1
    assert admin.post(f"{API}/campaigns/{c.pk}/quality/refresh?n_boot=100").status_code == 200


def test_models_list_costs_the_same_queries_whatever_its_length(researcher, client_for, django_assert_max_num_queries):
    from labeling.models import DatasetSnapshot, Job
    client = client_for(researcher)
    snapshot = DatasetSnapshot.objects.create(name="s", kind="sft", path="/x", sha256="0")
    for i in range(30):
        job = Job.objects.create(kind="sft")
        job.input_snapshots.add(snapshot)
        ModelVersion.objects.create(name=f"m{i}", kind="sft", artifact_path="tiny", job=job)
    client.get(f"{API}/models?limit=5")  # warm the token's session
    with django_assert_max_num_queries(10):
        body = client.get(f"{API}/models?limit=30").json()
    assert len(body["results"]) == 30 and body["results"][0]["snapshots"] == [snapshot.pk]
    assert len(client.get(f"{API}/models?limit=100000").json()["results"]) == 30  # limit capped at 500


def test_models_list_rows_equal_each_models_detail(researcher, client_for):
    from labeling.models import DatasetSnapshot, Iteration, Job
    client = client_for(researcher)
    snaps = [DatasetSnapshot.objects.create(name=f"s{i}", kind="sft", path="/x", sha256="0") for i in range(3)]
    base = ModelVersion.objects.create(name="base", kind="base", artifact_path="tiny")
    iteration = Iteration.objects.create(name="it", base_model=base)
    job = Job.objects.create(kind="sft", iteration=iteration, stage="sft")
    job.input_snapshots.add(snaps[2], snaps[0])
    rm = ModelVersion.objects.create(name="rm", kind="reward", artifact_path="tiny", metrics={"accuracy": 0.7})
    ModelVersion.objects.create(name="m", kind="sft", artifact_path="tiny", job=job, parent=base, reward_model=rm,
                                metrics={"final": {"loss": 1.5}, "note": "ünïcode"})
    listed = client.get(f"{API}/models").json()["results"]
    assert [m["name"] for m in listed] == ["m", "rm", "base"]
    assert listed[0]["snapshots"] == [snaps[0].pk, snaps[2].pk] and listed[0]["iteration"] == iteration.pk
    for row in listed:
        assert row == client.get(f"{API}/models/{row['id']}").json()
    assert [m["name"] for m in client.get(f"{API}/models?kind=reward").json()["results"]] == ["rm"]


def test_jobs_list_rows_equal_each_jobs_detail(researcher, client_for):
    from labeling.models import DatasetSnapshot, Job
    client = client_for(researcher)
    snaps = [DatasetSnapshot.objects.create(name=f"s{i}", kind="sft", path="/x", sha256="0") for i in range(2)]
    base = ModelVersion.objects.create(name="base", kind="base", artifact_path="tiny")
    done = Job.objects.create(kind="sft", status="succeeded", params={"max_steps": 3}, created_by=researcher,
                              inputs={"model": {"type": "model", "id": base.pk}}, started_at=timezone.now(),
                              finished_at=timezone.now(), heartbeat_at=timezone.now(), progress=1.0, stage="sft",
                              error="")
    done.input_snapshots.add(snaps[1], snaps[0])
    done.input_models.add(base)
    Job.objects.create(kind="dpo", status="failed", error="boom\ntrace", attempts=2, cancel_requested=True)
    listed = client.get(f"{API}/jobs").json()["results"]
    assert [j["kind"] for j in listed] == ["dpo", "sft"]
    assert listed[1]["input_snapshots"] == [snaps[0].pk, snaps[1].pk] and listed[1]["created_by"] == researcher.username
    for row in listed:
        detail = client.get(f"{API}/jobs/{row['id']}").json()
        assert row == {k: detail[k] for k in row}
    assert [j["kind"] for j in client.get(f"{API}/jobs?status=failed").json()["results"]] == ["dpo"]
