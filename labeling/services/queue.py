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

Lock order, which keeps it deadlock-free: submit/skip lock the assignment, then update its task;
the sweep locks assignments (SKIP LOCKED), then tasks in id order; ``next`` locks one task and
only waits for a lock while holding none.
"""

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone

from labeling.models import Assignment, Campaign, Completion, Task

_rng = random.SystemRandom()  # display order must not be predictable from ids (position bias)
Leased = Assignment.Status.LEASED


def _active_campaigns(campaign_id: int | None) -> dict[int, Campaign]:
    qs = Campaign.objects.filter(status=Campaign.Status.ACTIVE)
    if campaign_id is not None:
        qs = qs.filter(pk=campaign_id)
    return {c.pk: c for c in qs}


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


def _candidate_tasks(labeler, campaigns: dict[int, Campaign]):
    """Open tasks with a free slot, in an active campaign that does their kind, never touched by
    this labeler (no Assignment in any status), best first: priority desc, then oldest."""
    scope = Q(campaign_id__in=list(campaigns))
    for kind in Task.Kind.values:
        # Usually empty (tasks are only created for a campaign's kinds), which keeps the SQL a
        # plain ``campaign_id IN (…)`` that the partial queue index serves in order.
        without = [cid for cid, c in campaigns.items() if kind not in c.task_kinds]
        if without:
            scope &= ~Q(campaign_id__in=without, kind=kind)
    touched = Assignment.objects.filter(task_id=OuterRef("pk"), labeler=labeler)
    return (
        Task.objects.filter(scope, status=Task.Status.OPEN, required_labels__gt=F("submitted_count") + F("active_leases"))
        .filter(~Exists(touched))
        .order_by("-priority", "id")
    )


def _pick_task(labeler, campaigns: dict[int, Campaign], *, skip_locked: bool = True) -> Task | None:
    qs = (
        _candidate_tasks(labeler, campaigns)
        .select_related("prompt")
        .prefetch_related(_completions_prefetch())
        # NO KEY UPDATE: we only change counters, so foreign-key checks (KEY SHARE) are not blocked.
        .select_for_update(skip_locked=skip_locked, of=("self",), no_key=True)
    )
    return next(iter(qs[:1]), None)


def _expire_one(assignment: Assignment) -> None:
    # Conditional UPDATE: if the sweep got there first, rowcount is 0 and the slot is not freed twice.
    if Assignment.objects.filter(pk=assignment.pk, status=Leased).update(status=Assignment.Status.EXPIRED):
        Task.objects.filter(pk=assignment.task_id).update(active_leases=F("active_leases") - 1)
        assignment.status = Assignment.Status.EXPIRED


def _lease(labeler, task: Task, campaign: Campaign, now: datetime) -> Assignment:
    order = [c.pk for c in task.completions.all()]
    _rng.shuffle(order)
    Task.objects.filter(pk=task.pk).update(active_leases=F("active_leases") + 1)
    task.active_leases += 1
    task.campaign = campaign
    return Assignment.objects.create(
        task=task, campaign=campaign, labeler=labeler, display_order=order,
        expires_at=now + timedelta(seconds=campaign.lease_seconds),
    )


def _pick_and_lease(labeler, campaigns: dict[int, Campaign], now: datetime) -> Assignment | None:
    """Precondition: inside a transaction that holds no row lock yet (so waiting cannot deadlock)."""
    task = _pick_task(labeler, campaigns)
    if task is None and connection.features.has_select_for_update_skip_locked:
        # SKIP LOCKED found nothing, but a candidate may only be locked for a moment by another
        # labeler's submit. Wait for the first one instead of answering "no work" falsely; the
        # WHERE clause is re-checked once its lock is released, so a task that got full is passed over.
        task = _pick_task(labeler, campaigns, skip_locked=False)
    # Stale leases elsewhere only matter when nothing else is left: sweep lazily then, so the hot
    # path stays a handful of queries (the beat task sweeps every LEASE_EXPIRY_INTERVAL_S anyway).
    if task is None and assignments_expire_stale(now=now):
        task = _pick_task(labeler, campaigns)
    if task is None:
        return None
    return _lease(labeler, task, campaigns[task.campaign_id], now)


def _live(held: Assignment | None, campaigns: dict[int, Campaign], now: datetime) -> Assignment | None:
    if held is None or held.expires_at <= now:
        return None
    held.campaign = held.task.campaign = campaigns[held.campaign_id]
    return held


def assignment_next(*, labeler, campaign_id: int | None = None, now: datetime | None = None) -> Assignment | None:
    """Lease the best open task to ``labeler`` (optionally only in ``campaign_id``); ``None`` if none.

    If the labeler already holds a live lease in a matching active campaign, that assignment is
    returned again (a page reload never burns a second task); a stale one of theirs is expired
    first. The returned assignment has ``task``, ``task.prompt``, ``task.campaign`` and the task's
    completions loaded, ready for ``selectors.assignments.assignment_payload``.
    Preconditions: the caller checked the labeler's role; no transaction is open (the row locks
    must be held only briefly). Cost: 6 queries for a new lease, 3 for a held one
    (tests/labeling/test_queue.py asserts it).
    """
    now = now or timezone.now()
    campaigns = _active_campaigns(campaign_id)
    if not campaigns:
        return None
    held = _held_lease(labeler, campaigns)
    if (live := _live(held, campaigns, now)) is not None:
        return live
    if held is not None:
        with transaction.atomic():
            _expire_one(held)  # the labeler's own stale lease: free its slot now
    try:
        with transaction.atomic():
            return _pick_and_lease(labeler, campaigns, now)
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
            return total
