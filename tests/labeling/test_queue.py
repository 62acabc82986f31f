"""The queue (DESIGN §3): order, overlap, never twice, held leases, expiry, display order, cost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Assignment, Task
from labeling.services.campaigns import campaign_pause, campaign_update
from labeling.services.queue import assignment_next, assignments_expire_stale
from labeling.services.submissions import assignment_skip, assignment_submit

pytestmark = pytest.mark.django_db


def rank_all(assignment):
    return {"ranking": [[cid] for cid in assignment.display_order]}


def drain(labeler, **kw):
    """Lease + submit until the queue is empty for ``labeler``; returns the task ids done."""
    done = []
    while (a := assignment_next(labeler=labeler, **kw)) is not None:
        body = {"text": "an answer"} if a.task.kind == Task.Kind.DEMONSTRATION else rank_all(a)
        assignment_submit(assignment_id=a.pk, labeler=labeler, data=body)
        done.append(a.task_id)
    return done


def test_serves_highest_priority_then_oldest(make_campaign, labeler):
    low = make_campaign(n=2, priority=0, prefix="low")
    high = make_campaign(n=2, priority=5, prefix="high")
    order = [t for t in drain(labeler)]
    expected = list(high.tasks.order_by("id").values_list("id", flat=True)) + list(
        low.tasks.order_by("id").values_list("id", flat=True)
    )
    assert order == expected


def test_overlap_is_respected_and_no_labeler_gets_a_task_twice(make_campaign, make_user):
    campaign = make_campaign(n=4, overlap=2)
    labelers = [make_user() for _ in range(3)]
    per_labeler = {u.pk: drain(u) for u in labelers}
    for tasks in per_labeler.values():
        assert len(tasks) == len(set(tasks))
    assert sum(len(t) for t in per_labeler.values()) == 8
    for task in campaign.tasks.all():
        assert (task.submitted_count, task.active_leases, task.status) == (2, 0, Task.Status.DONE)


def test_a_held_lease_is_returned_again(make_campaign, labeler):
    make_campaign(n=3)
    first = assignment_next(labeler=labeler)
    again = assignment_next(labeler=labeler)
    assert again.pk == first.pk and again.display_order == first.display_order
    assert Assignment.objects.filter(labeler=labeler).count() == 1


def test_campaign_filter_and_inactive_campaigns(make_campaign, labeler):
    a = make_campaign(n=1)
    b = make_campaign(n=1)
    assert assignment_next(labeler=labeler, campaign_id=b.pk).task.campaign_id == b.pk
    campaign_pause(campaign=a)
    assert assignment_next(labeler=labeler, campaign_id=a.pk) is None
    drain(labeler)
    assert assignment_next(labeler=labeler) is None
    assert Assignment.objects.filter(campaign=a).count() == 0


def test_only_kinds_the_campaign_does(make_campaign, labeler):
    campaign = make_campaign(n=2, kinds=("demonstration", "ranking"))
    campaign_update(campaign=campaign, data={"task_kinds": ["ranking"]})
    kinds = {Task.objects.get(pk=t).kind for t in drain(labeler)}
    assert kinds == {Task.Kind.RANKING}


def test_a_chosen_kind_is_the_only_kind_leased(make_campaign, labeler):
    campaign = make_campaign(n=3, kinds=("demonstration", "ranking"))
    rankings = drain(labeler, kind="ranking")
    assert {Task.objects.get(pk=t).kind for t in rankings} == {Task.Kind.RANKING}
    assert rankings == list(campaign.tasks.filter(kind="ranking").order_by("id").values_list("id", flat=True))
    demonstrations = drain(labeler, kind="demonstration")
    assert len(demonstrations) == 3 and {Task.objects.get(pk=t).kind for t in demonstrations} == {"demonstration"}
    assert assignment_next(labeler=labeler) is None


def test_a_chosen_kind_keeps_priority_order_and_campaign_filter(make_campaign, labeler):
    low = make_campaign(n=2, kinds=("demonstration", "ranking"), priority=0)
    high = make_campaign(n=2, kinds=("demonstration", "ranking"), priority=5)
    first = assignment_next(labeler=labeler, kind="demonstration")
    assert (first.task.kind, first.task.campaign_id) == ("demonstration", high.pk)
    assignment_submit(assignment_id=first.pk, labeler=labeler, data={"text": "an answer"})
    only_low = assignment_next(labeler=labeler, campaign_id=low.pk, kind="ranking")
    assert (only_low.task.kind, only_low.task.campaign_id) == ("ranking", low.pk)


def test_a_kind_nobody_offers_leases_nothing(make_campaign, labeler):
    make_campaign(n=2, kinds=("ranking",))
    assert assignment_next(labeler=labeler, kind="demonstration") is None
    assert Assignment.objects.count() == 0


def test_a_held_lease_is_returned_whatever_kind_is_asked(make_campaign, labeler):
    make_campaign(n=2, kinds=("demonstration", "ranking"))
    held = assignment_next(labeler=labeler, kind="demonstration")
    again = assignment_next(labeler=labeler, kind="ranking")
    assert again.pk == held.pk and again.task.kind == "demonstration"
    assignment_skip(assignment_id=held.pk, labeler=labeler, reason="I want rankings")
    assert assignment_next(labeler=labeler, kind="ranking").task.kind == "ranking"


def test_display_order_is_a_stored_per_assignment_shuffle(make_campaign, make_user):
    campaign = make_campaign(n=1, k=9, overlap=20)
    task = campaign.tasks.get()
    ids = sorted(task.completions.values_list("id", flat=True))
    orders = set()
    for _ in range(20):
        a = assignment_next(labeler=make_user())
        assert sorted(a.display_order) == ids
        assert Assignment.objects.get(pk=a.pk).display_order == a.display_order
        orders.add(tuple(a.display_order))
    assert len(orders) > 10  # 9! orders: 20 draws colliding this much would be astronomically unlikely


def test_expired_lease_frees_its_slot_via_the_sweep(make_campaign, make_user):
    campaign = make_campaign(n=1, lease_seconds=60)
    first, second = make_user(), make_user()
    a = assignment_next(labeler=first)
    assert assignment_next(labeler=second) is None  # the only slot is leased
    later = timezone.now() + timedelta(seconds=61)
    assert assignments_expire_stale(now=later) == 1
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED
    b = assignment_next(labeler=second)
    assert b.task_id == a.task_id
    assert Task.objects.get(pk=a.task_id).active_leases == 1
    assert campaign.tasks.get().submitted_count == 0


def test_expired_lease_is_freed_lazily_when_the_queue_looks_empty(make_campaign, make_user):
    make_campaign(n=1, lease_seconds=60)
    first, second = make_user(), make_user()
    a = assignment_next(labeler=first)
    b = assignment_next(labeler=second, now=timezone.now() + timedelta(seconds=61))
    assert b is not None and b.task_id == a.task_id
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED


def test_my_own_stale_lease_is_expired_and_not_served_again(make_campaign, labeler):
    make_campaign(n=2, lease_seconds=60)
    a = assignment_next(labeler=labeler)
    b = assignment_next(labeler=labeler, now=timezone.now() + timedelta(seconds=61))
    assert b.task_id != a.task_id
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED
    assert Task.objects.get(pk=a.task_id).active_leases == 0


def test_skip_gives_the_slot_back_but_never_the_task_to_me(make_campaign, make_user):
    make_campaign(n=1)
    me, other = make_user(), make_user()
    a = assignment_next(labeler=me)
    assignment_skip(assignment_id=a.pk, labeler=me, reason="not my language")
    assert assignment_next(labeler=me) is None
    assert assignment_next(labeler=other).task_id == a.task_id


# Inside the test's wrapping transaction each service's atomic() is a SAVEPOINT + RELEASE, which
# are logged as queries; in production it is BEGIN/COMMIT, or nothing at all for PostgreSQL's
# one-statement lease and submit (autocommit). Counts below are real statements + TX.
TX = 2


def _pg() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


@pytest.mark.parametrize("kind", [None, "ranking"])
def test_next_query_count(make_campaign, labeler, django_assert_num_queries, kind):
    make_campaign(n=5)
    # campaigns + my held lease (one query); then PostgreSQL: one statement that picks, counts,
    # inserts and returns the payload; elsewhere: pick, completions, counter update, insert.
    # Choosing a kind costs nothing more.
    with django_assert_num_queries((1 + 1 if _pg() else 1 + 4) + TX):
        a = assignment_next(labeler=labeler, kind=kind)
    # campaigns + held lease, then the held assignment (+ completions prefetch); no transaction
    with django_assert_num_queries(3):
        assert assignment_next(labeler=labeler, kind=kind).pk == a.pk
    # PostgreSQL: read, then one statement; elsewhere: lock assignment, counter update,
    # assignment update, ranking insert, ratings insert
    body = {**rank_all(a), "ratings": [{"completion": c, "likert": 4} for c in a.display_order]}
    with django_assert_num_queries((2 if _pg() else 5) + TX):
        assignment_submit(assignment_id=a.pk, labeler=labeler, data=body)


def test_next_and_submit_query_count_over_http(make_campaign, labeler, client_for, django_assert_num_queries):
    make_campaign(n=5)
    client = client_for(labeler)
    # + one query for the token, its user and the user's roles (labeling.api.authentication)
    with django_assert_num_queries((3 if _pg() else 6) + TX):
        r = client.post("/api/v1/queue/next", {}, format="json")
    assert r.status_code == 200
    ids = [c["id"] for c in r.json()["task"]["completions"]]
    body = {"ranking": [[i] for i in ids], "ratings": [{"completion": i, "likert": 5} for i in ids]}
    with django_assert_num_queries((3 if _pg() else 6) + TX):
        r = client.post(f"/api/v1/assignments/{r.json()['assignment_id']}/submit", body, format="json")
    assert r.status_code == 201


def test_next_over_http_takes_a_kind_and_refuses_an_unknown_one(make_campaign, labeler, client_for):
    make_campaign(n=2, kinds=("demonstration", "ranking"))
    client = client_for(labeler)
    r = client.post("/api/v1/queue/next", {"kind": "ranking"}, format="json")
    assert r.status_code == 200 and r.json()["task"]["kind"] == "ranking"
    r = client.post("/api/v1/queue/next", {"kind": "rankings"}, format="json")
    assert r.status_code == 400 and "rankings" in r.json()["kind"][0]
