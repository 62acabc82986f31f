"""Submitting and skipping assignments.

Idempotency: the canonical form of a submitted body is hashed into ``Assignment.submission_digest``.
A retry with the same body returns the stored record (``created=False``); a different body gets
``Conflict``. ``seconds_spent`` is left out of the digest: a client timer differs between retries.

Late submits: a lease past its deadline that the sweep has not processed still holds its slot, so
it is accepted. One the sweep expired is accepted only if its task still has a free slot (it takes
the slot back); otherwise ``Conflict`` and nothing is written.
"""

import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from labeling.models import Assignment, Demonstration, Ranking, Rating, Task
from labeling.services import submissions_pg, submissions_sqlite
from labeling.services.errors import Conflict
from labeling.services.queue import release_leases
from labeling.services.validation import clean_demonstration, clean_ranking

Status = Assignment.Status


@dataclass
class SubmissionResult:
    """``record`` is the Demonstration or Ranking (with ``ratings`` loaded); ``created`` is False on an idempotent retry."""

    assignment: Assignment
    record: Demonstration | Ranking
    created: bool


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _locked_assignment(assignment_id: int, labeler) -> Assignment:
    """The labeler's own assignment, row-locked. Raises ``Assignment.DoesNotExist`` for others' ids."""
    return (
        Assignment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("task")
        .get(pk=assignment_id, labeler=labeler)
    )


def _stored_record(assignment: Assignment) -> Demonstration | Ranking:
    if assignment.task.kind == Task.Kind.DEMONSTRATION:
        return Demonstration.objects.get(assignment=assignment)
    ranking = Ranking.objects.get(assignment=assignment)
    ranking.rating_list = list(assignment.ratings.order_by("completion_id"))
    return ranking


def _take_slot(assignment: Assignment) -> None:
    """Turn the assignment's claim into a submitted label on its task, or raise ``Conflict``."""
    done_when = Case(When(submitted_count__gte=F("required_labels") - 1, then=Value(Task.Status.DONE)), default=F("status"))
    tasks = Task.objects.filter(pk=assignment.task_id)
    if assignment.status == Status.LEASED:  # the slot is still ours, even past the deadline
        tasks.update(submitted_count=F("submitted_count") + 1, active_leases=F("active_leases") - 1, status=done_when)
        return
    # Expired by the sweep: the slot went back to the queue; re-take it only if still free.
    free = tasks.filter(required_labels__gt=F("submitted_count") + F("active_leases"))
    if not free.update(submitted_count=F("submitted_count") + 1, status=done_when):
        raise Conflict("this lease expired and its slot was given to another labeler; nothing was saved")


def _write_record(assignment: Assignment, body: dict) -> Demonstration | Ranking:
    if body["kind"] == Task.Kind.DEMONSTRATION:
        return Demonstration.objects.create(assignment=assignment, text=body["text"])
    ranking = Ranking.objects.create(
        assignment=assignment, groups=body["ranking"], none_acceptable=body["none_acceptable"]
    )
    ranking.rating_list = Rating.objects.bulk_create(
        [
            Rating(assignment=assignment, completion_id=r["completion"], likert=r["likert"], flags=r["flags"], note=r["note"])
            for r in body["ratings"]
        ]
    )
    return ranking


def _clean_body(assignment: Assignment, data: dict) -> dict:
    if assignment.task.kind == Task.Kind.DEMONSTRATION:
        return clean_demonstration(data)
    return clean_ranking(data, task_completion_ids=assignment.display_order)


def assignment_submit(
    *, assignment_id: int, labeler, data: dict, seconds_spent: float | None = None
) -> SubmissionResult:
    """Store the labeler's answer for their assignment.

    ``data`` is ``{"text"}`` for a demonstration task, or ``{"ranking", "ratings"?, "none_acceptable"?}``
    for a ranking task (see ``validation.clean_ranking``). Raises ``Assignment.DoesNotExist`` if the
    assignment is not this labeler's, ``ValidationError`` for a bad body (nothing written),
    ``Conflict`` for a skipped assignment, a different body after a submission, or a late submit
    whose slot was taken. Preconditions: none. Two concurrent submits of one assignment cannot
    both write: on PostgreSQL a first-time submit is one conditional statement after a plain read
    (``submissions_pg``: 2 queries in all); on SQLite it is a read and four hand-written writes
    under the database's write lock (``submissions_sqlite``); a retry, a conflict or any other
    backend runs in a transaction holding the assignment's row lock.
    """
    if seconds_spent is not None:
        seconds_spent = max(0.0, float(seconds_spent))
    if connection.vendor == "postgresql":
        assignment = submissions_pg.assignment_read(assignment_id=assignment_id, labeler_id=labeler.pk)
        if assignment.status in (Status.LEASED, Status.EXPIRED):
            body = _clean_body(assignment, data)
            # A savepoint only inside a caller's transaction; in autocommit the statement is atomic alone.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                record = submissions_pg.submission_write(
                    assignment=assignment, body=body, digest=_digest(body), seconds_spent=seconds_spent,
                    now=timezone.now(),
                )
            if record is not None:
                assignment.labeler = labeler
                return SubmissionResult(assignment, record, created=True)
        # Answered or skipped already, or it changed under us: decide under the row lock.
    elif connection.vendor == "sqlite":
        with transaction.atomic():  # BEGIN IMMEDIATE: SQLite's write lock is held from the read on
            assignment = submissions_pg.assignment_read(assignment_id=assignment_id, labeler_id=labeler.pk)
            if assignment.status in (Status.LEASED, Status.EXPIRED):
                body = _clean_body(assignment, data)
                record = submissions_sqlite.submission_write(
                    assignment=assignment, body=body, digest=_digest(body), seconds_spent=seconds_spent,
                    now=timezone.now(),
                )
                assignment.labeler = labeler
                return SubmissionResult(assignment, record, created=True)
        # Answered or skipped already: the idempotent retry or the conflict, decided below.
    return _submit_locked(assignment_id, labeler, data, seconds_spent)


def _submit_locked(assignment_id: int, labeler, data: dict, seconds_spent: float | None) -> SubmissionResult:
    with transaction.atomic():
        assignment = _locked_assignment(assignment_id, labeler)
        body = _clean_body(assignment, data)
        digest = _digest(body)
        if assignment.status == Status.SUBMITTED:
            if digest != assignment.submission_digest:
                raise Conflict("this assignment was already submitted with a different answer")
            return SubmissionResult(assignment, _stored_record(assignment), created=False)
        if assignment.status == Status.SKIPPED:
            raise Conflict("this assignment was skipped; it cannot be submitted")
        _take_slot(assignment)
        assignment.status = Status.SUBMITTED
        assignment.submitted_at = timezone.now()
        assignment.submission_digest = digest
        if seconds_spent is not None:
            assignment.seconds_spent = seconds_spent
        assignment.save(update_fields=["status", "submitted_at", "submission_digest", "seconds_spent", "updated_at"])
        record = _write_record(assignment, body)
    return SubmissionResult(assignment, record, created=True)


def assignment_skip(*, assignment_id: int, labeler, reason: str = "") -> Assignment:
    """Give the task back (the labeler will not be offered it again). Idempotent on a skipped one.

    A live or stale lease frees its slot; an expired one already did. Raises ``Conflict`` if the
    assignment was submitted, ``Assignment.DoesNotExist`` if it is not this labeler's.
    """
    reason = (reason or "").strip()[:2000]
    with transaction.atomic():
        assignment = _locked_assignment(assignment_id, labeler)
        if assignment.status == Status.SUBMITTED:
            raise Conflict("this assignment was already submitted; it cannot be skipped")
        if assignment.status == Status.SKIPPED:
            return assignment
        if assignment.status == Status.LEASED:
            release_leases([assignment], status=Status.SKIPPED)
        assignment.status = Status.SKIPPED
        assignment.skip_reason = reason
        assignment.save(update_fields=["status", "skip_reason", "updated_at"])
    return assignment

