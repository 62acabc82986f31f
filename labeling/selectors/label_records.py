"""Submitted rankings as plain records, the input of every quality figure (agreement, consensus, signals).

Two queries per call whatever the campaign's size: the ranking assignments (with their task's
category, gold answer and the labeler's name) and their Likert ratings. Rejected labels
(``LabelReview`` with decision reject) are left out unless asked for: a label an admin threw out
should not move the figures used to judge the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from django.db.models import Exists, OuterRef

from labeling.models import Assignment, LabelReview, Rating, Task
from labeling.selectors.quality import gold_groups
from labeling.selectors.ranking_math import rank_of


@dataclass
class LabelRecord:
    """One submitted ranking with what the quality measures read from it."""

    assignment_id: int
    task_id: int
    labeler_id: int
    username: str
    category: str
    submitted_at: datetime
    groups: list[list[int]]
    display_order: list[int]
    seconds_spent: float | None
    gold: list[list[int]] | None
    likert: dict[int, int] = field(default_factory=dict)

    @cached_property
    def rank(self) -> dict[int, int]:
        return rank_of(self.groups)


def week_of(moment: datetime) -> date:
    """The Monday starting ``moment``'s ISO week: the time buckets of the agreement report."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


def rejected_assignments():
    """A subquery test usable in ``filter(~rejected_assignments())``: the label was rejected by a reviewer."""
    return Exists(LabelReview.objects.filter(assignment_id=OuterRef("pk"), decision=LabelReview.Decision.REJECT))


def label_records(*, campaign_ids: list[int], include_rejected: bool = False, labeler_id: int | None = None,
                  task_ids: list[int] | None = None, within=None) -> list[LabelRecord]:
    """The submitted rankings of ``campaign_ids`` (optionally one labeler's, some tasks', or only the
    assignments of the ``within`` queryset), oldest first."""
    qs = Assignment.objects.filter(campaign_id__in=campaign_ids, status=Assignment.Status.SUBMITTED,
                                   task__kind=Task.Kind.RANKING, ranking__isnull=False)
    if not include_rejected:
        qs = qs.filter(~rejected_assignments())
    if labeler_id is not None:
        qs = qs.filter(labeler_id=labeler_id)
    if task_ids is not None:
        qs = qs.filter(task_id__in=task_ids)
    if within is not None:
        qs = qs.filter(pk__in=within.values("pk"))
    rows = qs.order_by("submitted_at", "id").values_list(
        "id", "task_id", "labeler_id", "labeler__username", "task__prompt__category", "submitted_at",
        "ranking__groups", "display_order", "seconds_spent", "task__gold_answer",
    )
    records = {
        row[0]: LabelRecord(
            assignment_id=row[0], task_id=row[1], labeler_id=row[2], username=row[3], category=row[4],
            submitted_at=row[5], groups=row[6], display_order=list(row[7] or []), seconds_spent=row[8],
            gold=gold_groups(row[9]) if row[9] is not None else None,
        )
        for row in rows
    }
    if records:
        ratings = Rating.objects.filter(assignment_id__in=list(records)).values_list(
            "assignment_id", "completion_id", "likert")
        for assignment_id, completion_id, likert in ratings:
            records[assignment_id].likert[completion_id] = likert
    return list(records.values())


def by_task(records: list[LabelRecord]) -> dict[int, list[LabelRecord]]:
    """Records grouped by task, in task id order."""
    grouped: dict[int, list[LabelRecord]] = {}
    for record in sorted(records, key=lambda r: (r.task_id, r.assignment_id)):
        grouped.setdefault(record.task_id, []).append(record)
    return grouped
