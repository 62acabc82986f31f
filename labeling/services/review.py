"""Review of submitted labels by admins (issue 10, item 6): accept, or reject and re-open the slot.

Every decision is a new ``LabelReview`` row (who, when, why, and the signal that led there), so
the history is kept. Rejecting is final for a label: its task gets the slot back
(``submitted_count - 1``, a done task open again) so someone else labels it, and the label is
left out of agreement figures and, by default, of exports. The labeler who wrote it is never
offered the task again (``assignment_once_per_labeler``), and their label stays stored: nothing a
labeler submitted is deleted.

Concurrency: the assignment row is locked (``SELECT … FOR NO KEY UPDATE``) before the decision is
checked, so two admins rejecting the same label at once re-open one slot, not two (the partial
unique constraint ``label_rejected_once`` backs this up). The task's counter is changed by a
relative UPDATE, which waits for a lease statement holding the task row and then applies on top
of it: the queue's counters stay exact without locking the task first (lock order as in
``services.queue``: assignment, then task).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from labeling.models import Assignment, LabelReview, Task
from labeling.selectors.signals import SIGNALS
from labeling.services.errors import Conflict
from labeling.services.validation import NUL_MESSAGE, has_nul

REASON_MAX_CHARS = 2000


def _clean(decision: str, reason: str, signal: str) -> tuple[str, str, str]:
    errors = {}
    if decision not in LabelReview.Decision.values:
        errors["decision"] = [f"expected one of {', '.join(LabelReview.Decision.values)}"]
    reason = (reason or "").strip()
    if decision == LabelReview.Decision.REJECT and not reason:
        errors["reason"] = ["say why the label is rejected: the labeler and later reviewers read it"]
    elif len(reason) > REASON_MAX_CHARS:
        errors["reason"] = [f"at most {REASON_MAX_CHARS} characters"]
    elif has_nul(reason):
        errors["reason"] = [f"the reason {NUL_MESSAGE}"]
    signal = signal or ""
    if signal and signal not in SIGNALS:
        errors["signal"] = [f"expected one of {', '.join(SIGNALS)} (or nothing)"]
    if errors:
        raise ValidationError(errors)
    return decision, reason, signal


def _reopen_slot(task_id: int) -> None:
    """Give one submitted slot of the task back to the queue (a done task is open again)."""
    reopened = Case(When(status=Task.Status.DONE, then=Value(Task.Status.OPEN)), default=F("status"))
    Task.objects.filter(pk=task_id).update(submitted_count=F("submitted_count") - 1, status=reopened,
                                           updated_at=timezone.now())


def label_review_create(*, assignment_id: int, reviewer, decision: str, reason: str = "",
                        signal: str = "") -> LabelReview:
    """Record ``reviewer``'s ``decision`` ("accept" or "reject") on a submitted label.

    A rejection needs a reason and re-opens the label's task slot in the same transaction.
    Raises ``Assignment.DoesNotExist`` for an unknown id, ValidationError for a bad decision,
    reason or signal, ``Conflict`` for a label that is not submitted or was already rejected.
    Preconditions: the caller checked that ``reviewer`` may review this campaign; no row lock held.
    """
    decision, reason, signal = _clean(decision, reason, signal)
    with transaction.atomic():
        assignment = (Assignment.objects.select_for_update(no_key=True).only("id", "task_id", "status")
                      .get(pk=assignment_id))
        if assignment.status != Assignment.Status.SUBMITTED:
            raise Conflict(f"only submitted labels can be reviewed; this one is {assignment.status}")
        if LabelReview.objects.filter(assignment_id=assignment.pk, decision=LabelReview.Decision.REJECT).exists():
            raise Conflict("this label was already rejected and its slot re-opened; a rejection is final")
        review = LabelReview.objects.create(assignment_id=assignment.pk, decision=decision, reason=reason,
                                            signal=signal, reviewer=reviewer)
        if decision == LabelReview.Decision.REJECT:
            _reopen_slot(assignment.task_id)
    return review
