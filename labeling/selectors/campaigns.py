"""Campaign reads: lists, what a labeler can work on, progress statistics."""

from collections import defaultdict
from datetime import datetime, timedelta

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from labeling.models import (
    Assignment, Campaign, DashboardState, ProgressHour, ProgressLabeler, ProgressTotal, Prompt, Task,
)

PROGRESS_DAYS = 14


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Campaign.Status.choices)

    class Meta:
        model = Campaign
        fields = ["status"]


def campaign_list(*, filters: dict | None = None) -> QuerySet[Campaign]:
    """Campaigns, newest first, filtered by ``{"status": ...}`` (unknown values → ValidationError)."""
    qs = Campaign.objects.order_by("-created_at", "-id")
    fs = CampaignFilter(filters or {}, queryset=qs)
    if not fs.is_valid():
        raise ValidationError(fs.errors)
    return fs.qs


def campaign_prompts(*, campaign: Campaign) -> QuerySet[Prompt]:
    """The campaign's prompts in import order, with their completion counts."""
    return campaign.prompts.order_by("id").annotate(completions_count=Count("completions"))


def campaigns_available_to_labeler(*, labeler, now: datetime | None = None) -> list[dict]:
    """Active campaigns where ``labeler`` still has work: ``[{id, name, status, open_tasks}]``.

    ``open_tasks`` counts tasks the queue could hand them now (a free slot, a kind the campaign
    does, not touched by them) plus the lease they hold there, if any. Three queries.
    """
    now = now or timezone.now()
    campaigns = {c.pk: c for c in Campaign.objects.filter(status=Campaign.Status.ACTIVE).order_by("-priority", "id")}
    touched = Assignment.objects.filter(task_id=OuterRef("pk"), labeler=labeler)
    counts: dict[int, int] = defaultdict(int)
    rows = (
        Task.objects.filter(
            campaign_id__in=list(campaigns), status=Task.Status.OPEN,
            required_labels__gt=F("submitted_count") + F("active_leases"),
            gold_answer__isnull=True,  # gold tasks are yardsticks served at gold_fraction, not work to list
        )
        .filter(~Exists(touched))
        .values_list("campaign_id", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for campaign_id, kind, n in rows:
        if kind in campaigns[campaign_id].task_kinds:
            counts[campaign_id] += n
    held = Assignment.objects.filter(
        labeler=labeler, status=Assignment.Status.LEASED, expires_at__gt=now, campaign_id__in=list(campaigns)
    ).values_list("campaign_id", flat=True)
    for campaign_id in held:
        counts[campaign_id] += 1
    return [
        {"id": c.pk, "name": c.name, "status": c.status, "open_tasks": counts[c.pk]}
        for c in campaigns.values()
        if counts[c.pk]
    ]


def _by_kind(campaign: Campaign) -> dict[str, dict[str, int]]:
    zero = {"tasks_total": 0, "tasks_done": 0, "labels_required": 0, "labels_submitted": 0}
    by_kind = {kind: dict(zero) for kind in Task.Kind.values}
    rows = (
        campaign.tasks.filter(gold_answer__isnull=True).values("kind")  # gold tasks are yardsticks, not work
        .annotate(
            tasks_total=Count("id"),
            tasks_done=Count("id", filter=Q(status=Task.Status.DONE)),
            labels_required=Sum("required_labels"),
            labels_submitted=Sum("submitted_count"),
        )
        .order_by()
    )
    for row in rows:
        kind = row.pop("kind")
        by_kind[kind] = {k: v or 0 for k, v in row.items()}
    return by_kind


def _labels_per_day(campaign: Campaign, now: datetime) -> list[dict]:
    today = timezone.localtime(now).date()
    first = today - timedelta(days=PROGRESS_DAYS - 1)
    rows = (
        Assignment.objects.filter(
            campaign=campaign, status=Assignment.Status.SUBMITTED, submitted_at__date__gte=first
        )
        .annotate(day=TruncDate("submitted_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict(rows)
    days = [first + timedelta(days=i) for i in range(PROGRESS_DAYS)]
    return [{"date": d.isoformat(), "count": counts.get(d, 0)} for d in days]


def campaign_progress_live(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """``campaign_progress`` recounted from the labels themselves (four queries whose cost grows with the
    campaign): the reference the aggregates are tested against, and the benchmark's baseline."""
    now = now or timezone.now()
    by_kind = _by_kind(campaign)
    totals = {k: sum(v[k] for v in by_kind.values()) for k in next(iter(by_kind.values()))}
    mine = Assignment.objects.filter(campaign=campaign)
    return {
        **totals,
        "active_leases": mine.filter(status=Assignment.Status.LEASED, expires_at__gt=now).count(),
        "active_labelers_24h": mine.filter(submitted_at__gte=now - timedelta(hours=24))
        .values("labeler_id").distinct().count(),
        "labels_per_day": _labels_per_day(campaign, now),
        "by_kind": by_kind,
    }


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """``{tasks_total, tasks_done, labels_required, labels_submitted, active_leases, active_labelers_24h,
    labels_per_day (last 14 days, oldest first), by_kind, as_of}`` from the aggregates the progress sweep
    keeps (``services.dashboards``), so the cost does not grow with the campaign.

    ``as_of`` is when the aggregates were last swept: task and label counts are exact as of then.
    ``active_leases`` is counted live (the live leases are few, whatever the campaign's size).
    """
    now = now or timezone.now()
    zero = {"tasks_total": 0, "tasks_done": 0, "labels_required": 0, "labels_submitted": 0}
    by_kind = {kind: dict(zero) for kind in Task.Kind.values}
    for row in ProgressTotal.objects.filter(campaign=campaign).values("kind", *zero):
        by_kind[row.pop("kind")] = row
    totals = {k: sum(v[k] for v in by_kind.values()) for k in zero}
    today = timezone.localtime(now).date()
    first = today - timedelta(days=PROGRESS_DAYS - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()), timezone.get_current_timezone())
    counts: dict = defaultdict(int)
    for hour, n in ProgressHour.objects.filter(campaign=campaign, hour__gte=start).values_list("hour", "labels"):
        counts[timezone.localtime(hour).date()] += n
    days = [first + timedelta(days=i) for i in range(PROGRESS_DAYS)]
    return {
        **totals,
        "active_leases": Assignment.objects.filter(campaign=campaign, status=Assignment.Status.LEASED,
                                                   expires_at__gt=now).count(),
        "active_labelers_24h": ProgressLabeler.objects.filter(
            campaign=campaign, last_submitted_at__gte=now - timedelta(hours=24)).count(),
        "labels_per_day": [{"date": d.isoformat(), "count": counts.get(d, 0)} for d in days],
        "by_kind": by_kind,
        "as_of": DashboardState.objects.filter(name="progress").values_list("swept_at", flat=True).first(),
    }
