"""Campaign progress aggregates, kept up to date by the beat sweep instead of recounted per request.

Three derived tables (``labeling.models_dashboards``) hold what ``selectors.campaigns.campaign_progress``
used to count on every request:

- ``ProgressTaskBlock``: per block of ``BLOCK`` task ids × campaign × kind, the non-gold tasks' totals,
  done count, required and submitted labels. A block is recounted *whole* from ``Task`` (never a delta),
  so recounting is idempotent and a block is exact again after any recount.
- ``ProgressTotal``: per campaign × kind, the sum of its blocks, moved by each recount's difference.
- ``ProgressHour``: submitted labels per campaign and UTC hour (the per-day chart).
- ``ProgressLabeler``: each labeler's latest submitted label per campaign ("active labelers, 24 h").

Why not a counter row updated by the submit statement: 32 labelers of one campaign would serialise on
that row, and the labeling hot path (one SQL statement in ``submissions_pg``) would grow. Nothing here
touches the hot path; the sweep reads what the labels already record.

The sweep (``progress_refresh``) recounts a *window*: labels submitted (``Assignment.submitted_at``),
reviews made and tasks created since ``watermark - margin``. A submit transaction can commit after a
sweep with a ``submitted_at`` taken before it (a late commit), so the watermark never moves past the
start of the oldest transaction still open on PostgreSQL (``pg_stat_activity``), and the margin covers
the moments between a service taking ``now`` and its statement starting, and clock skew between web
servers. As a second line, each sweep re-verifies ``SCRUB_BLOCKS`` older blocks and one older hour
(across all campaigns) in rotation, so anything missed (a transaction older than ``MAX_LAG``, a task
changed outside the services) is corrected within one rotation. ``progress_rebuild`` recounts
everything (after bulk loads: ``manage.py dashboards_rebuild``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from labeling.models import (
    Assignment, Campaign, DashboardState, LabelReview, ProgressHour, ProgressLabeler, ProgressTaskBlock, ProgressTotal,
    Task,
)

logger = logging.getLogger(__name__)

BLOCK = 1024  # tasks per block: a recount reads at most this many task rows by primary key
SCRUB_BLOCKS = 64  # older blocks re-verified per sweep
SCRUB_DAYS = 14  # hours re-verified in rotation: the per-day chart's span
STATE = "progress"


def _margin() -> timedelta:
    return timedelta(seconds=settings.DASHBOARD_MARGIN_S)


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)


def _oldest_open_transaction() -> datetime | None:
    """Start of the oldest other transaction open on this database (PostgreSQL), or None."""
    if connection.vendor != "postgresql":
        return None  # SQLite: one writer at a time, transactions of milliseconds; the margin covers them
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state <> 'idle' AND xact_start IS NOT NULL")
        return cursor.fetchone()[0]


def _campaign_ids() -> list[int]:
    # Every query below names the campaigns, so PostgreSQL walks (campaign, submitted_at) per campaign
    # instead of scanning all assignments for a time range.
    return list(Campaign.objects.values_list("id", flat=True))


COUNTERS = ("tasks_total", "tasks_done", "labels_required", "labels_submitted")


def _sums(rows) -> dict[tuple[int, str], list[int]]:
    sums: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        key = (row["campaign_id"], row["kind"])
        sums[key] = [a + (row[c] or 0) for a, c in zip(sums.get(key, [0, 0, 0, 0]), COUNTERS)]
    return sums


def _move_totals(old: dict, new: dict) -> None:
    """Add (new - old) to each (campaign, kind) total. Precondition: the caller holds the sweep's lock."""
    for key in old.keys() | new.keys():
        delta = [b - a for a, b in zip(old.get(key, [0, 0, 0, 0]), new.get(key, [0, 0, 0, 0]))]
        if not any(delta):
            continue
        campaign_id, kind = key
        ProgressTotal.objects.get_or_create(campaign_id=campaign_id, kind=kind)
        ProgressTotal.objects.filter(campaign_id=campaign_id, kind=kind).update(
            **{c: F(c) + d for c, d in zip(COUNTERS, delta)})


def _recount_blocks(blocks: set[int]) -> None:
    """Recount whole blocks of task ids from ``Task`` (non-gold tasks), replacing their rows and moving the
    campaign totals by the difference. Precondition: the caller holds the sweep's lock (``_state_locked``)."""
    if not blocks:
        return
    ordered = sorted(blocks)
    runs, start = [], ordered[0]
    for prev, cur in zip(ordered, ordered[1:] + [None]):
        if cur != prev + 1:
            runs.append((start, prev))
            start = cur
    for first, last in runs:
        rows = list(Task.objects.filter(id__gte=first * BLOCK, id__lt=(last + 1) * BLOCK, gold_answer__isnull=True)
                    .annotate(block=F("id") / BLOCK).values("block", "campaign_id", "kind")
                    .annotate(tasks_total=Count("id"), tasks_done=Count("id", filter=Q(status=Task.Status.DONE)),
                              labels_required=Sum("required_labels"), labels_submitted=Sum("submitted_count"))
                    .order_by())
        stored = ProgressTaskBlock.objects.filter(block__gte=first, block__lte=last)
        _move_totals(_sums(stored.values("campaign_id", "kind", *COUNTERS)), _sums(rows))
        stored.delete()
        ProgressTaskBlock.objects.bulk_create([
            ProgressTaskBlock(block=r["block"], campaign_id=r["campaign_id"], kind=r["kind"],
                              **{c: r[c] or 0 for c in COUNTERS}) for r in rows], batch_size=2000)


def _recount_hours(campaign_ids: list[int], since: datetime | None, until: datetime | None = None) -> None:
    """Recount ``ProgressHour`` for the whole hours from ``since`` (None: all time) up to ``until``."""
    labels = Assignment.objects.filter(campaign_id__in=campaign_ids, status=Assignment.Status.SUBMITTED)
    stored = ProgressHour.objects.all()
    if since is not None:
        since = _floor_hour(since)
        labels, stored = labels.filter(submitted_at__gte=since), stored.filter(hour__gte=since)
    if until is not None:
        labels, stored = labels.filter(submitted_at__lt=until), stored.filter(hour__lt=until)
    rows = (labels.annotate(h=TruncHour("submitted_at", tzinfo=dt_timezone.utc)).values("campaign_id", "h")
            .annotate(n=Count("id")).order_by())
    stored.delete()
    ProgressHour.objects.bulk_create([ProgressHour(campaign_id=r["campaign_id"], hour=r["h"], labels=r["n"])
                                      for r in rows], batch_size=2000)


def _recount_labelers(campaign_ids: list[int], since: datetime | None) -> None:
    """Raise each (campaign, labeler)'s latest submitted label to what the window holds."""
    labels = Assignment.objects.filter(campaign_id__in=campaign_ids, status=Assignment.Status.SUBMITTED)
    if since is not None:
        labels = labels.filter(submitted_at__gte=since)
    else:
        ProgressLabeler.objects.all().delete()
    rows = labels.values("campaign_id", "labeler_id").annotate(last=Max("submitted_at")).order_by()
    ProgressLabeler.objects.bulk_create(
        [ProgressLabeler(campaign_id=r["campaign_id"], labeler_id=r["labeler_id"], last_submitted_at=r["last"])
         for r in rows if r["last"] is not None],
        update_conflicts=True, unique_fields=["campaign", "labeler"], update_fields=["last_submitted_at"],
        batch_size=2000)


def _touched_blocks(campaign_ids: list[int], since: datetime) -> set[int]:
    """Blocks of the tasks that got a label, a review or were created since ``since``."""
    block = F("task_id") / BLOCK
    labelled = (Assignment.objects.filter(campaign_id__in=campaign_ids, status=Assignment.Status.SUBMITTED,
                                          submitted_at__gte=since).annotate(b=block).values_list("b", flat=True))
    reviewed = (LabelReview.objects.filter(created_at__gte=since).annotate(b=F("assignment__task_id") / BLOCK)
                .values_list("b", flat=True))
    created = Task.objects.filter(created_at__gte=since).annotate(b=F("id") / BLOCK).values_list("b", flat=True)
    return set(labelled.distinct()) | set(reviewed.distinct()) | set(created.distinct())


def _scrub(state: DashboardState, campaign_ids: list[int], now: datetime) -> set[int]:
    """Advance the rotations: the next ``SCRUB_BLOCKS`` blocks (returned) and one hour of the last ``SCRUB_DAYS``
    (recounted here)."""
    top = (Task.objects.aggregate(m=Max("id"))["m"] or 0) // BLOCK
    first = state.scrub_block if state.scrub_block <= top else 0
    blocks = set(range(first, min(first + SCRUB_BLOCKS, top + 1)))
    state.scrub_block = first + SCRUB_BLOCKS if first + SCRUB_BLOCKS <= top else 0
    hours = SCRUB_DAYS * 24
    state.scrub_hour = (state.scrub_hour + 1) % hours
    hour = _floor_hour(now) - timedelta(hours=hours - state.scrub_hour)
    _recount_hours(campaign_ids, hour, hour + timedelta(hours=1))
    return blocks


def _state_locked() -> DashboardState | None:
    """The sweep's bookmark, locked; None if another sweep holds it (that one does the work)."""
    DashboardState.objects.get_or_create(name=STATE)
    return DashboardState.objects.select_for_update(skip_locked=True).filter(name=STATE).first()


def progress_refresh(*, now: datetime | None = None) -> dict:
    """Bring the progress aggregates up to date (the beat sweep; also run by a read that finds them old).

    Recounts the window since the last watermark (minus ``DASHBOARD_MARGIN_S``), the blocks it touched and
    a rotating slice of older blocks and hours; the first run (no watermark) rebuilds everything. One
    sweep at a time: a concurrent call returns ``{"skipped": True}`` at once. Returns what it did.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = _state_locked()
        if state is None:
            return {"skipped": True}
        # Measured before counting: a transaction open now may commit rows dated before now; one that
        # starts later dates its rows later than this.
        oldest = _oldest_open_transaction()
        if state.watermark is None:
            return _rebuild(state, now, oldest)
        since = max(state.watermark - _margin(), now - timedelta(seconds=settings.DASHBOARD_MAX_LAG_S))
        ids = _campaign_ids()
        _recount_hours(ids, since)
        _recount_labelers(ids, since)
        blocks = _touched_blocks(ids, since)
        touched = len(blocks)
        blocks |= _scrub(state, ids, now)
        _recount_blocks(blocks)
        state.watermark = max(state.watermark, min(now, oldest) if oldest else now)
        state.swept_at = now
        state.save()
    return {"skipped": False, "since": since.isoformat(), "blocks": len(blocks), "touched_blocks": touched}


def _rebuild(state: DashboardState, now: datetime, oldest: datetime | None) -> dict:
    ids = _campaign_ids()
    _recount_hours(ids, None)
    _recount_labelers(ids, None)
    ProgressTaskBlock.objects.all().delete()
    ProgressTotal.objects.all().delete()
    top = (Task.objects.aggregate(m=Max("id"))["m"] or 0) // BLOCK
    for first in range(0, top + 1, 256):  # bounded GROUP BYs: memory stays flat on a million tasks
        _recount_blocks(set(range(first, min(first + 256, top + 1))))
    state.watermark = min(now, oldest) if oldest else now
    state.swept_at = now
    state.save()
    return {"skipped": False, "rebuilt": True, "blocks": top + 1}


def progress_rebuild(*, now: datetime | None = None) -> dict:
    """Recount every progress aggregate from the labels (after a bulk load, or to check the sweep).
    Waits for a running sweep rather than skipping."""
    now = now or timezone.now()
    with transaction.atomic():
        DashboardState.objects.get_or_create(name=STATE)
        state = DashboardState.objects.select_for_update().get(name=STATE)
        return _rebuild(state, now, _oldest_open_transaction())


def progress_tasks_changed(*, task_ids: list[int]) -> None:
    """Recount the blocks of tasks changed by an admin action the window cannot see (a gold answer set or
    removed: the task leaves or rejoins the progress counts). Call after the change commits; waits for a
    running sweep (the totals move under its lock)."""
    with transaction.atomic():
        DashboardState.objects.get_or_create(name=STATE)
        DashboardState.objects.select_for_update().get(name=STATE)
        _recount_blocks({task_id // BLOCK for task_id in task_ids})


def progress_is_current(*, now: datetime | None = None) -> bool:
    """Whether the aggregates were swept within ``DASHBOARD_READ_REFRESH_S`` (else a read refreshes them)."""
    now = now or timezone.now()
    swept = DashboardState.objects.filter(name=STATE).values_list("swept_at", flat=True).first()
    return swept is not None and now - swept <= timedelta(seconds=settings.DASHBOARD_READ_REFRESH_S)
