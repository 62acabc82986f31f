"""The labeling queue (DESIGN §3): lease the best open task to a labeler, expire stale leases.

Slot accounting lives on the task row: ``submitted_count`` + ``active_leases`` never exceed
``required_labels`` (a database CHECK backs this up). A lease takes a slot (``active_leases`` + 1);
submit moves it to ``submitted_count``; skip and expiry give it back. Every counter change is an
``UPDATE … SET x = x ± n`` made while holding the task's row lock or inside a conditional UPDATE,
so nothing is counted twice under concurrency.

Concurrency: on PostgreSQL the candidate scan is ``SELECT … FOR NO KEY UPDATE OF task SKIP LOCKED``
(FOR UPDATE's weaker sibling: it does not block the foreign-key checks of inserts that reference
the task), so 32 labelers asking at once each lock a different task instead of queueing on the
first one; the WHERE clause is re-checked on the locked row version, so a task filled meanwhile is
passed over. On SQLite every transaction is ``BEGIN IMMEDIATE`` (settings), which serializes writers.

Two implementations of the lease, one behaviour: on PostgreSQL, ``queue_pg`` picks, counts and
records a lease in one autocommit statement (the hot path: the load benchmark's ``next``); on
SQLite, ``queue_sqlite`` does it in four statements inside ``BEGIN IMMEDIATE``. tests/labeling
runs on both backends.

Lock order, which keeps it deadlock-free: submit/skip lock the assignment, then update its task;
the sweep locks assignments (SKIP LOCKED), then tasks in id order; ``next`` locks one task and
only waits for a lock while holding none.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from labeling.models import Assignment, Campaign, Completion, Task
from labeling.rawsql import RowShape, fetch_rows
from labeling.services import qualification, queue_pg, queue_sqlite

logger = logging.getLogger(__name__)
Leased = Assignment.Status.LEASED

_CAMPAIGN = RowShape(Campaign, "c")
_HELD = RowShape(Assignment, "a", fields=("id", "task", "campaign", "status", "expires_at"))
# Active campaigns and, joined on, the labeler's lease in each (at most one per campaign: the
# ``assignment_one_live_lease`` constraint). One query instead of two on every ``next``.
_CAMPAIGNS_SQL = (
    f"SELECT {_CAMPAIGN.sql}, {_HELD.sql} FROM labeling_campaign c"
    " LEFT JOIN labeling_assignment a ON a.campaign_id = c.id AND a.labeler_id = %s AND a.status = 'leased'"
    " WHERE c.status = 'active'"
)
# PostgreSQL: the leases are read once (a MATERIALIZED CTE; SQLite before 3.35 lacks the syntax).
# Joined directly, PostgreSQL probed the partial index once per active campaign, each probe stepping
# over the labeler's leases submitted since the last VACUUM (1,600 buffers with 50 campaigns,
# docs/scale.md).
_CAMPAIGNS_SQL_PG = (
    f"WITH a AS MATERIALIZED (SELECT {_HELD.sql} FROM labeling_assignment a"
    " WHERE a.labeler_id = %s AND a.status = 'leased')"
    f" SELECT {_CAMPAIGN.sql}, {_HELD.sql} FROM labeling_campaign c LEFT JOIN a ON a.campaign_id = c.id"
    " WHERE c.status = 'active'"
)


def _campaigns_and_held(labeler, campaign_id: int | None) -> tuple[dict[int, Campaign], Assignment | None]:
    """Active campaigns (only ``campaign_id`` if given) and the labeler's first leased assignment
    in them (live or not yet expired by the sweep; only id, task, campaign, status, expires_at loaded)."""
    sql = _CAMPAIGNS_SQL_PG if connection.vendor == "postgresql" else _CAMPAIGNS_SQL
    params = [labeler.pk]
    if campaign_id is not None:
        sql, params = sql + " AND c.id = %s", [labeler.pk, campaign_id]
    campaigns, held = {}, None
    for row in fetch_rows(sql, params):
        campaign = _CAMPAIGN.load(row)
        campaigns[campaign.pk] = campaign
        if row[_CAMPAIGN.width] is not None:
            lease = _HELD.load(row, _CAMPAIGN.width)
            if held is None or lease.pk < held.pk:
                held = lease
    return campaigns, held


def _completions_prefetch(prefix: str = "") -> Prefetch:
    return Prefetch(f"{prefix}completions", queryset=Completion.objects.only("id", "text", "prompt_id").order_by("id"))


def _held_lease(labeler, campaign_ids: Iterable[int]) -> Assignment | None:
    """The labeler's leased assignment in one of these campaigns (live or not yet expired by the sweep)."""
    return (
        Assignment.objects.filter(labeler=labeler, status=Leased, campaign_id__in=list(campaign_ids))
        .select_related("task__prompt")
        .prefetch_related(_completions_prefetch("task__"))
        .order_by("id")
        .first()
    )


def _expire_one(assignment: Assignment) -> None:
    # Conditional UPDATE: if the sweep got there first, rowcount is 0 and the slot is not freed twice.
    if Assignment.objects.filter(pk=assignment.pk, status=Leased).update(status=Assignment.Status.EXPIRED):
        Task.objects.filter(pk=assignment.task_id).update(active_leases=F("active_leases") - 1)
        assignment.status = Assignment.Status.EXPIRED


def _pick_and_lease(labeler, campaigns: dict[int, Campaign], kind: str | None, now: datetime,
                    gold: bool = False) -> Assignment | None:
    """SQLite: the lease in ``queue_sqlite``'s statements.
    Precondition: inside a ``BEGIN IMMEDIATE`` transaction (SQLite's write lock is the row lock)."""
    def lease() -> Assignment | None:
        return queue_sqlite.lease_next(labeler_id=labeler.pk, campaigns=campaigns, kind=kind, now=now, gold=gold)

    assignment = lease()
    # Stale leases elsewhere only matter when nothing else is left: sweep lazily then, so the hot
    # path stays a handful of queries (the beat task sweeps every LEASE_EXPIRY_INTERVAL_S anyway).
    # Gold tasks never fill up, so a labeler out of gold is not a reason to sweep.
    if assignment is None and not gold and assignments_expire_stale(now=now):
        assignment = lease()
    if assignment is not None:
        assignment.labeler = labeler
    return assignment


def _pick_and_lease_pg(labeler, campaigns: dict[int, Campaign], kind: str | None, now: datetime,
                       gold: bool = False) -> Assignment | None:
    """PostgreSQL: each attempt is one autocommit statement (``queue_pg``).
    Precondition: as for ``queue_pg.lease_next``."""
    def lease(skip_locked: bool) -> Assignment | None:
        return queue_pg.lease_next(labeler_id=labeler.pk, campaigns=campaigns, kind=kind, now=now,
                                   skip_locked=skip_locked, gold=gold)

    # Same fallbacks as the portable path: wait for a briefly locked candidate, then sweep lazily.
    assignment = lease(True) or lease(False)
    if assignment is None and not gold and assignments_expire_stale(now=now):
        assignment = lease(True)
    if assignment is not None:
        assignment.labeler = labeler
    return assignment


def _lease_planned(lease, labeler, kind: str | None, gold_first: dict, ordinary: dict,
                   now: datetime) -> Assignment | None:
    """A gold task from ``gold_first`` if there is one the labeler has not seen, else an ordinary task."""
    assignment = lease(labeler, gold_first, kind, now, gold=True) if gold_first else None
    if assignment is None and ordinary:
        assignment = lease(labeler, ordinary, kind, now)
    return assignment


def _recoverable():
    """Where a constraint error must be recoverable: a savepoint if the caller has a transaction
    open; nothing in autocommit, where a failed statement rolls back alone (and a savepoint would
    cost two extra round trips, BEGIN and COMMIT)."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def _live(held: Assignment | None, campaigns: dict[int, Campaign], now: datetime) -> Assignment | None:
    if held is None or held.expires_at <= now:
        return None
    held.campaign = held.task.campaign = campaigns[held.campaign_id]
    return held


def assignment_next(
    *, labeler, campaign_id: int | None = None, kind: str | None = None, now: datetime | None = None
) -> Assignment | None:
    """Lease the best open task to ``labeler`` (optionally only in ``campaign_id``, only of ``kind``);
    ``None`` if none.

    If the labeler already holds a live lease in a matching active campaign, that assignment is
    returned again, whatever its kind (a page reload never burns a second task, and a lease is
    given back only by submitting or skipping it); a stale one of theirs is expired first. The returned assignment has ``task``, ``task.prompt``, ``task.campaign`` and the task's
    completions loaded, ready for ``selectors.assignments.assignment_payload``.
    Preconditions: the caller checked the labeler's role; no transaction is open (the row locks
    must be held only briefly). Cost for a new lease: 2 queries on PostgreSQL (campaigns + held
    lease, then the one-statement lease of ``queue_pg``), 5 + BEGIN/COMMIT elsewhere; for a held
    one, 3 (tests/labeling/test_queue.py asserts it). Gold and qualification
    (``services.qualification``) add nothing for a campaign without them; a gold draw that finds
    no unseen gold task costs one more lease statement, a qualification campaign one more query.
    """
    now = now or timezone.now()
    campaigns, held = _campaigns_and_held(labeler, campaign_id)
    if not campaigns:
        return None
    if held is not None and held.expires_at > now:
        # Load it with what the payload needs (the reload path: rare, so two plain ORM queries).
        if (live := _live(_held_lease(labeler, campaigns), campaigns, now)) is not None:
            return live
        held = None  # submitted or skipped meanwhile in another tab: lease a new one
    if held is not None:
        with transaction.atomic():
            _expire_one(held)  # the labeler's own stale lease: free its slot now
    # Gold first where the campaign's gold_fraction draw says so (or the labeler is qualifying).
    gold_first, ordinary = qualification.serving_plan(labeler=labeler, campaigns=campaigns)
    try:
        if connection.vendor == "postgresql":
            with _recoverable():
                return _lease_planned(_pick_and_lease_pg, labeler, kind, gold_first, ordinary, now)
        with transaction.atomic():
            return _lease_planned(_pick_and_lease, labeler, kind, gold_first, ordinary, now)
    except IntegrityError:
        # The same labeler's concurrent request (two tabs) leased first and the one-live-lease
        # constraint refused ours: answer with that lease, as a reload would.
        live = _live(_held_lease(labeler, campaigns), campaigns, now)
        if live is None:
            raise
        return live


def release_leases(assignments: list[Assignment], *, status: str) -> None:
    """Set leased ``assignments`` to ``status`` (expired/skipped) and give their slots back.

    Precondition: the caller holds row locks on these assignments (SELECT FOR UPDATE) and every
    one is currently ``leased``. The counter UPDATEs are relative (``x = x - n``), so they need no
    prior lock on the tasks.
    """
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(status=status, updated_at=timezone.now())
    by_count: dict[int, list[int]] = defaultdict(list)
    for task_id, n in Counter(a.task_id for a in assignments).items():
        by_count[n].append(task_id)
    for n, task_ids in by_count.items():  # one UPDATE per distinct count (usually just one)
        Task.objects.filter(pk__in=task_ids).update(active_leases=F("active_leases") - n)
    for a in assignments:
        a.status = status


def assignments_expire_stale(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire every lease whose deadline has passed and free its slot; returns how many.

    Safe to run concurrently with itself and with the queue: rows another transaction holds are
    skipped (SKIP LOCKED) and picked up next time; task rows are locked in id order, so two sweeps
    cannot deadlock. Called by the beat task ``labeling.tasks.expire_stale_leases`` and lazily by
    :func:`assignment_next` when the queue looks empty.
    """
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            stale = list(
                Assignment.objects.select_for_update(skip_locked=True, no_key=True)
                .filter(status=Leased, expires_at__lte=now)
                .only("id", "task_id", "status")
                .order_by("expires_at")[:batch_size]
            )
            if stale:
                task_ids = sorted({a.task_id for a in stale})
                locked = Task.objects.select_for_update(no_key=True).filter(pk__in=task_ids).order_by("pk")
                list(locked.values_list("pk"))
                release_leases(stale, status=Assignment.Status.EXPIRED)
        total += len(stale)
        if len(stale) < batch_size:
            # INFO only when something happened: the beat sweep runs every 30 s (see config/celery.py).
            logger.log(logging.INFO if total else logging.DEBUG, "expired %d stale lease(s); their slots are free again", total)
            return total
