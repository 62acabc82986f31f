"""Submissions: idempotency, conflicts, late submits, skips, and validation of ranking bodies."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labeling.models import Assignment, Demonstration, Ranking, Rating, Task
from labeling.services.errors import Conflict
from labeling.services.queue import assignment_next, assignments_expire_stale
from labeling.services.submissions import assignment_skip, assignment_submit

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def ranking_lease(make_campaign, labeler):
    make_campaign(n=1, k=4, lease_seconds=60)
    return assignment_next(labeler=labeler)


def ranking_body(a, **extra):
    ids = a.display_order
    return {"ranking": [[ids[0]], [ids[1], ids[2]], [ids[3]]], **extra}


def submit_http(client, a, body):
    return client.post(f"{API}/assignments/{a.pk}/submit", body, format="json")


# --- idempotency and conflicts ----------------------------------------------------------------


def test_identical_retry_returns_the_first_record(ranking_lease, labeler, client_for):
    client = client_for(labeler)
    ids = ranking_lease.display_order
    body = ranking_body(ranking_lease, ratings=[{"completion": ids[0], "likert": 6, "flags": ["hallucination"]}])
    first = submit_http(client, ranking_lease, {**body, "seconds_spent": 12.5})
    assert first.status_code == 201, first.content
    # Same answer, ties listed in another order, another client timer: still the same submission.
    retry_body = {**body, "ranking": [[ids[0]], [ids[2], ids[1]], [ids[3]]], "seconds_spent": 14}
    retry = submit_http(client, ranking_lease, retry_body)
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert first.json()["ranking"] == [[ids[0]], sorted(ids[1:3]), [ids[3]]]
    assert first.json()["ratings"] == [{"completion": ids[0], "likert": 6, "flags": ["hallucination"], "note": ""}]
    assert Ranking.objects.count() == 1 and Rating.objects.count() == 1
    task = Task.objects.get(pk=ranking_lease.task_id)
    assert (task.submitted_count, task.active_leases, task.status) == (1, 0, Task.Status.DONE)


def test_a_different_body_after_submission_is_a_conflict(ranking_lease, labeler, client_for):
    client = client_for(labeler)
    assert submit_http(client, ranking_lease, ranking_body(ranking_lease)).status_code == 201
    ids = ranking_lease.display_order
    r = submit_http(client, ranking_lease, {"ranking": [[i] for i in reversed(ids)]})
    assert r.status_code == 409 and "different" in r.json()["detail"]
    stored = Ranking.objects.get(assignment=ranking_lease)
    assert stored.groups == [[ids[0]], sorted(ids[1:3]), [ids[3]]]


def test_demonstration_submit_and_retry(make_campaign, labeler, client_for):
    make_campaign(n=1, k=0, kinds=("demonstration",))
    a = assignment_next(labeler=labeler)
    assert a.display_order == []
    client = client_for(labeler)
    r = submit_http(client, a, {"text": "  The ideal answer.  "})
    assert r.status_code == 201 and r.json()["text"] == "The ideal answer." and r.json()["kind"] == "demonstration"
    assert submit_http(client, a, {"text": "The ideal answer."}).status_code == 200
    assert submit_http(client, a, {"text": "Another answer."}).status_code == 409
    assert Demonstration.objects.get().text == "The ideal answer."


def test_someone_elses_assignment_is_404(ranking_lease, make_user, client_for):
    other = client_for(make_user())
    assert submit_http(other, ranking_lease, ranking_body(ranking_lease)).status_code == 404
    assert other.get(f"{API}/assignments/{ranking_lease.pk}").status_code == 404
    assert other.post(f"{API}/assignments/{ranking_lease.pk}/skip", {}, format="json").status_code == 404


# --- late submits -------------------------------------------------------------------------------


def test_late_submit_before_the_sweep_is_accepted(ranking_lease, labeler):
    # Past its deadline but not yet expired by anyone: the slot is still counted as ours.
    result = assignment_submit(assignment_id=ranking_lease.pk, labeler=labeler, data=ranking_body(ranking_lease))
    assert result.created
    task = Task.objects.get(pk=ranking_lease.task_id)
    assert (task.submitted_count, task.active_leases) == (1, 0)


def test_late_submit_after_expiry_with_a_free_slot_is_accepted(ranking_lease, labeler):
    assignments_expire_stale(now=timezone.now() + timedelta(seconds=61))
    assert Task.objects.get(pk=ranking_lease.task_id).active_leases == 0
    result = assignment_submit(assignment_id=ranking_lease.pk, labeler=labeler, data=ranking_body(ranking_lease))
    assert result.created and result.assignment.status == Assignment.Status.SUBMITTED
    task = Task.objects.get(pk=ranking_lease.task_id)
    assert (task.submitted_count, task.active_leases, task.status) == (1, 0, Task.Status.DONE)


def test_late_submit_after_the_slot_was_retaken_is_a_conflict(ranking_lease, labeler, make_user, client_for):
    later = timezone.now() + timedelta(seconds=61)
    other = make_user()
    b = assignment_next(labeler=other, now=later)  # lazily expires ours and takes the slot
    assert b.task_id == ranking_lease.task_id
    r = submit_http(client_for(labeler), ranking_lease, ranking_body(ranking_lease))
    assert r.status_code == 409 and "slot" in r.json()["detail"]
    assert not Ranking.objects.exists()
    ranking_lease.refresh_from_db()
    assert ranking_lease.status == Assignment.Status.EXPIRED and ranking_lease.submission_digest == ""
    # The new holder's work goes through, and nothing of the first labeler overwrote it.
    assert assignment_submit(assignment_id=b.pk, labeler=other, data=ranking_body(b)).created
    task = Task.objects.get(pk=b.task_id)
    assert (task.submitted_count, task.active_leases) == (1, 0)


# --- skips -------------------------------------------------------------------------------------------


def test_skip_then_submit_is_a_conflict_and_submit_then_skip_too(make_campaign, labeler, client_for):
    make_campaign(n=2)
    client = client_for(labeler)
    a = assignment_next(labeler=labeler)
    r = client.post(f"{API}/assignments/{a.pk}/skip", {"reason": "offensive"}, format="json")
    assert r.status_code == 200 and r.json() == {"id": a.pk, "status": "skipped"}
    assert client.post(f"{API}/assignments/{a.pk}/skip", {}, format="json").status_code == 200  # idempotent
    assert submit_http(client, a, ranking_body(a)).status_code == 409
    assert Assignment.objects.get(pk=a.pk).skip_reason == "offensive"
    b = assignment_next(labeler=labeler)
    assert submit_http(client, b, ranking_body(b)).status_code == 201
    assert client.post(f"{API}/assignments/{b.pk}/skip", {}, format="json").status_code == 409
    with pytest.raises(Conflict):
        assignment_skip(assignment_id=b.pk, labeler=labeler)


# --- validation of ranking bodies -------------------------------------------------------------------


def errors_for(a, labeler, data) -> dict:
    with pytest.raises(ValidationError) as exc:
        assignment_submit(assignment_id=a.pk, labeler=labeler, data=data)
    assert not Ranking.objects.exists() and Assignment.objects.get(pk=a.pk).status == Assignment.Status.LEASED
    return exc.value.message_dict


def test_ranking_missing_a_completion(ranking_lease, labeler):
    ids = ranking_lease.display_order
    errors = errors_for(ranking_lease, labeler, {"ranking": [[ids[0]], [ids[1], ids[2]]]})
    assert errors["ranking"] == [f"completion {ids[3]} missing from the ranking"]


def test_ranking_repeating_a_completion(ranking_lease, labeler):
    ids = ranking_lease.display_order
    errors = errors_for(ranking_lease, labeler, {"ranking": [[ids[0]], [ids[1], ids[2]], [ids[3], ids[0]]]})
    assert errors["ranking"] == [f"completion {ids[0]} appears more than once"]


def test_ranking_inventing_a_completion(ranking_lease, labeler):
    ids = ranking_lease.display_order
    errors = errors_for(ranking_lease, labeler, {"ranking": [[ids[0]], [ids[1], ids[2]], [ids[3]], [999999]]})
    assert errors["ranking"] == ["completion 999999 is not part of this task"]


@pytest.mark.parametrize("likert", [0, 8, -1, 3.5, "5", True, None])
def test_likert_outside_1_to_7_is_refused(ranking_lease, labeler, likert):
    body = ranking_body(ranking_lease, ratings=[{"completion": ranking_lease.display_order[0], "likert": likert}])
    errors = errors_for(ranking_lease, labeler, body)
    assert "likert must be an integer from 1 to 7" in errors["ratings"][0]


def test_unknown_flag_is_refused_by_name(ranking_lease, labeler):
    cid = ranking_lease.display_order[0]
    body = ranking_body(ranking_lease, ratings=[{"completion": cid, "likert": 3, "flags": ["hallucination", "rude"]}])
    errors = errors_for(ranking_lease, labeler, body)
    assert errors["ratings"] == [f"rating of completion {cid}: unknown flag 'rude'"]


def test_rating_a_completion_not_in_the_task_or_twice(ranking_lease, labeler):
    cid = ranking_lease.display_order[0]
    errors = errors_for(ranking_lease, labeler, ranking_body(ranking_lease, ratings=[{"completion": 424242, "likert": 3}]))
    assert errors["ratings"] == ["completion 424242 is not part of this task"]
    twice = [{"completion": cid, "likert": 3}, {"completion": cid, "likert": 4}]
    errors = errors_for(ranking_lease, labeler, ranking_body(ranking_lease, ratings=twice))
    assert errors["ratings"] == [f"completion {cid} is rated more than once"]


def test_wrong_kind_of_body(ranking_lease, labeler):
    errors = errors_for(ranking_lease, labeler, {"text": "hello"})
    assert set(errors) == {"text", "ranking"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"ranking": []}, "ranking"),
        ({"ranking": [[]]}, "ranking"),
        ({"ranking": "1,2,3"}, "ranking"),
        ({"ranking": [[1, "x"]]}, "ranking"),
        ({"ratings": [{"likert": 8}]}, "ranking"),
        ({"ranking": [[1]], "none_acceptable": "maybe"}, "none_acceptable"),
        ({"ratings": "good"}, "ratings"),
    ],
)
def test_malformed_bodies_are_400_over_http(ranking_lease, labeler, client_for, body, field):
    r = submit_http(client_for(labeler), ranking_lease, body)
    assert r.status_code == 400 and field in r.json(), r.json()
    assert not Ranking.objects.exists()


def test_http_validation_messages(ranking_lease, labeler, client_for):
    ids = ranking_lease.display_order
    body = {"ranking": [[ids[0]], [ids[1]], [ids[2]], [ids[3]], [17]], "ratings": [{"completion": ids[0], "likert": 9, "flags": ["nope"]}]}
    r = submit_http(client_for(labeler), ranking_lease, body)
    assert r.status_code == 400
    assert r.json() == {
        "ranking": ["completion 17 is not part of this task"],
        "ratings": [
            f"rating of completion {ids[0]}: likert must be an integer from 1 to 7",
            f"rating of completion {ids[0]}: unknown flag 'nope'",
        ],
    }


def test_none_acceptable_and_notes_are_stored(ranking_lease, labeler):
    ids = ranking_lease.display_order
    body = ranking_body(ranking_lease, none_acceptable=True, ratings=[{"completion": ids[1], "likert": 1, "note": " off topic "}])
    result = assignment_submit(assignment_id=ranking_lease.pk, labeler=labeler, data=body)
    assert result.record.none_acceptable is True
    assert Rating.objects.get().note == "off topic"
