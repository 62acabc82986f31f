"""Concurrency on PostgreSQL: 32 labeler threads drain the queue through the services.

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefloop``. Each thread has its own
database connection (Django connections are per thread) and closes it at the end. Checks: every
task gets exactly its required labels, no labeler labels a task twice, nothing is lost (every
submit that returned has its row, and the rows add up).
"""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from factories import campaign_with_tasks, make_user
from labeling.models import Assignment, Ranking, Task
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

LABELERS = 32

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL (SELECT … FOR UPDATE SKIP LOCKED): set DATABASE_URL=postgres://…",
    ),
]


def _labeler_loop(user, start: threading.Barrier, done: dict, errors: list) -> None:
    mine = []
    try:
        start.wait()
        while (a := assignment_next(labeler=user)) is not None:
            ids = a.display_order
            body = {"ranking": [[ids[0]], ids[1:3], [ids[3]]], "ratings": [{"completion": ids[0], "likert": 6}]}
            result = assignment_submit(assignment_id=a.pk, labeler=user, data=body)
            assert result.created
            mine.append((a.pk, a.task_id))
    except Exception as exc:  # reported by the main thread, never swallowed
        errors.append(f"{user.username}: {exc!r}")
    finally:
        done[user.pk] = mine
        connection.close()


def drain(campaign_tasks: int, overlap: int):
    campaign = campaign_with_tasks(n=campaign_tasks, k=4, overlap=overlap)
    users = [make_user() for _ in range(LABELERS)]
    start, done, errors = threading.Barrier(LABELERS), {}, []
    threads = [threading.Thread(target=_labeler_loop, args=(u, start, done, errors)) for u in users]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - began
    return campaign, done, errors, elapsed


def check(campaign, done, errors, overlap: int, n_tasks: int) -> None:
    assert not errors, errors[:5]
    assert len(done) == LABELERS
    labels = [pair for mine in done.values() for pair in mine]
    assert len(labels) == n_tasks * overlap
    for mine in done.values():  # nobody got a task twice
        assert len({task for _, task in mine}) == len(mine)
    tasks = Task.objects.filter(campaign=campaign)
    assert tasks.count() == n_tasks
    assert not tasks.exclude(submitted_count=overlap).exists()
    assert not tasks.exclude(active_leases=0).exists()
    assert not tasks.exclude(status=Task.Status.DONE).exists()
    # Nothing lost: every submit the threads saw return is stored, once, with its ratings.
    stored = set(Ranking.objects.filter(assignment__campaign=campaign).values_list("assignment_id", flat=True))
    assert stored == {a for a, _ in labels}
    per_task = Assignment.objects.filter(campaign=campaign, status="submitted").values("task").annotate(n=Count("id"))
    assert {row["n"] for row in per_task} == {overlap}
    assert Assignment.objects.filter(campaign=campaign).exclude(status="submitted").count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("n_tasks, overlap", [(2000, 1), (700, 3)], ids=["2000x1", "700x3"])
def test_32_labelers_drain_the_queue(n_tasks, overlap, capsys):
    campaign, done, errors, elapsed = drain(n_tasks, overlap)
    check(campaign, done, errors, overlap, n_tasks)
    with capsys.disabled():
        print(f"\n  {LABELERS} labelers, {n_tasks} tasks x {overlap}: {n_tasks * overlap / elapsed:.0f} labels/s (services, threads)")


@pytest.mark.django_db(transaction=True)
def test_one_labeler_in_many_tabs_gets_one_lease():
    campaign_with_tasks(n=20)
    user = make_user()
    start, got, errors = threading.Barrier(8), [], []

    def tab():
        try:
            start.wait()
            got.append(assignment_next(labeler=user).pk)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=tab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(set(got)) == 1
    assert Assignment.objects.filter(labeler=user).count() == 1
    assert Task.objects.filter(active_leases=1).count() == 1


def _churn_loop(user, seed: int, start, stop_at: float, log: list, errors: list) -> None:
    """Next, then submit / skip / submit late (after the sweeper may have expired the lease)."""
    import random

    from labeling.services.errors import Conflict
    from labeling.services.submissions import assignment_skip

    rng = random.Random(seed)
    try:
        start.wait()
        while time.perf_counter() < stop_at and (a := assignment_next(labeler=user)) is not None:
            roll = rng.random()
            if roll < 0.1:
                assignment_skip(assignment_id=a.pk, labeler=user, reason="chaos")
                continue
            if roll < 0.3:
                time.sleep(0.02)  # long enough for the sweeper to expire the lease and someone to retake it
            try:
                assignment_submit(assignment_id=a.pk, labeler=user, data={"ranking": [a.display_order]})
                log.append(("ok", a.pk))
            except Conflict:
                log.append(("conflict", a.pk))
    except Exception as exc:
        errors.append(f"{user.username}: {exc!r}")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_slot_accounting_survives_expiry_skips_and_late_submits():
    """16 labelers race a sweeper that expires every lease as soon as it exists (``now`` far in the
    future): late submits are accepted or refused with Conflict, and the counters always match
    the assignment rows; a final clean pass then completes every task exactly."""
    from datetime import timedelta

    from django.utils import timezone

    from labeling.services.queue import assignments_expire_stale

    overlap, n_tasks = 2, 300
    campaign = campaign_with_tasks(n=n_tasks, k=3, overlap=overlap)
    users = [make_user() for _ in range(16)]
    start, log, errors = threading.Barrier(len(users) + 1), [], []
    stop_at = time.perf_counter() + 8.0

    def sweeper():
        try:
            start.wait()
            while time.perf_counter() < stop_at:
                assignments_expire_stale(now=timezone.now() + timedelta(days=1))
                time.sleep(0.005)
        except Exception as exc:
            errors.append(f"sweeper: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=_churn_loop, args=(u, i, start, stop_at, log, errors)) for i, u in enumerate(users)]
    threads.append(threading.Thread(target=sweeper))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:5]
    assert any(kind == "conflict" for kind, _ in log), "the race never produced a late submit conflict"

    def assert_counters_match_rows():
        rows = Assignment.objects.filter(campaign=campaign).values("task", "status").annotate(n=Count("id"))
        counted = {}
        for row in rows:
            counted.setdefault(row["task"], {})[row["status"]] = row["n"]
        for task in Task.objects.filter(campaign=campaign):
            c = counted.get(task.pk, {})
            assert task.submitted_count == c.get("submitted", 0) <= task.required_labels
            assert task.active_leases == c.get("leased", 0)

    assert_counters_match_rows()
    ok = {pk for kind, pk in log if kind == "ok"}
    assert set(Ranking.objects.filter(assignment__campaign=campaign).values_list("assignment_id", flat=True)) == ok
    assert not Assignment.objects.filter(pk__in=[pk for kind, pk in log if kind == "conflict"], status="submitted").exists()

    assignments_expire_stale(now=timezone.now() + timedelta(days=1))
    finishers = [make_user() for _ in range(overlap)]
    for u in finishers:
        while (a := assignment_next(labeler=u)) is not None:
            assignment_submit(assignment_id=a.pk, labeler=u, data={"ranking": [a.display_order]})
    assert_counters_match_rows()
    assert not Task.objects.filter(campaign=campaign).exclude(submitted_count=overlap).exists()


@pytest.mark.django_db(transaction=True)
def test_labelers_choosing_kinds_each_get_only_their_kind():
    """16 labelers ask for rankings and 16 for demonstrations in one campaign that has both: each
    gets only the kind it chose, and every task is labeled exactly once."""
    campaign = campaign_with_tasks(n=150, k=3, kinds=("demonstration", "ranking"))
    kinds = ["ranking", "demonstration"] * (LABELERS // 2)
    users = [make_user() for _ in range(LABELERS)]
    start, got, errors = threading.Barrier(LABELERS), {}, []

    def labeler(user, kind):
        mine = []
        try:
            start.wait()
            while (a := assignment_next(labeler=user, kind=kind)) is not None:
                body = {"text": "an answer"} if a.task.kind == "demonstration" else {"ranking": [a.display_order]}
                assignment_submit(assignment_id=a.pk, labeler=user, data=body)
                mine.append(a.task.kind)
        except Exception as exc:
            errors.append(f"{user.username}: {exc!r}")
        finally:
            got[user.pk] = (kind, mine)
            connection.close()

    threads = [threading.Thread(target=labeler, args=(u, k)) for u, k in zip(users, kinds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:5]
    for kind, mine in got.values():
        assert set(mine) <= {kind}
    assert sum(len(mine) for _, mine in got.values()) == 300
    assert not Task.objects.filter(campaign=campaign).exclude(status=Task.Status.DONE, submitted_count=1).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [None, "ranking"])
def test_the_lease_with_a_kind_still_walks_the_partial_queue_index(kind):
    """The kind is a row filter on the (campaign, priority, id) index walk: no sort of the campaign's
    open tasks, no other access path. Seq scans are switched off so that a table this small shows
    which index the statement can use rather than what the planner prefers for 20 rows."""
    from django.utils import timezone

    from labeling.services import queue_pg

    campaign = campaign_with_tasks(n=10, kinds=("demonstration", "ranking"))
    user = make_user()
    sql, params = queue_pg.lease_statement(labeler_id=user.pk, campaigns={campaign.pk: campaign}, kind=kind,
                                           now=timezone.now(), skip_locked=True)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    candidate = plan.split("InitPlan")[1].split("CTE inserted")[0]  # the sub-select that picks the task
    assert "Index Scan using task_queue_campaign_idx" in candidate, plan
    assert "Sort" not in candidate, plan


@pytest.mark.django_db
def test_a_lease_over_several_campaigns_merges_their_queue_walks():
    """Several campaigns: one ordered walk of task_queue_campaign_idx per campaign (no walk of the
    global open-task index, which holds paused campaigns' tasks too, and no sort of a campaign's tasks)."""
    from django.utils import timezone

    from labeling.services import queue_pg

    campaigns = {c.pk: c for c in (campaign_with_tasks(n=10, prefix=f"merge{i}") for i in range(3))}
    user = make_user()
    sql, params = queue_pg.lease_statement(labeler_id=user.pk, campaigns=campaigns, kind=None,
                                           now=timezone.now(), skip_locked=True)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The walks are the subtree that produces ``best``; how the chosen ids are joined back to their
    # rows (primary key, or a bitmap of the open-task index on a nearly empty table) is the
    # planner's choice by table size and does not walk any queue.
    walks = _subtree(plan, "Subquery Scan on best")
    assert "Index Scan using task_queue_campaign_idx" in walks, plan
    assert "task_queue_open_idx" not in walks, plan
    per_campaign = walks.split("Function Scan on unnest")[1]
    assert "Sort" not in per_campaign, plan


def _subtree(plan: str, node: str) -> str:
    """The lines of an EXPLAIN text plan from the node whose line contains ``node`` to the end of its children."""
    lines = plan.splitlines()
    start = next(i for i, line in enumerate(lines) if node in line)
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next((i for i in range(start + 1, len(lines)) if len(lines[i]) - len(lines[i].lstrip()) <= indent),
               len(lines))
    return "\n".join(lines[start:end])


@pytest.mark.django_db(transaction=True)
def test_32_labelers_drain_several_campaigns():
    """The merged multi-campaign pick under contention: every task gets exactly its labels, nobody
    gets a task twice, and nobody is told the queue is empty while it is not."""
    campaigns = [campaign_with_tasks(n=150, k=4, overlap=2, prefix=f"drain{i}") for i in range(3)]
    users = [make_user() for _ in range(LABELERS)]
    start, done, errors = threading.Barrier(LABELERS), {}, []
    threads = [threading.Thread(target=_labeler_loop, args=(u, start, done, errors)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors[:5]
    labels = [pair for mine in done.values() for pair in mine]
    assert len(labels) == 3 * 150 * 2
    for mine in done.values():
        assert len({task for _, task in mine}) == len(mine)
    tasks = Task.objects.filter(campaign__in=campaigns)
    assert not tasks.exclude(submitted_count=2, active_leases=0, status=Task.Status.DONE).exists()
