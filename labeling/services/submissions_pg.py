"""PostgreSQL's submit: read the assignment, then write everything in ONE statement.

The portable path in ``services.submissions`` runs a transaction of six statements (lock the
assignment, move the task's slot, mark the assignment, insert the record, insert the ratings,
commit). Here the answer is validated against an unlocked read (an assignment's task, kind and
display order never change), and one statement of data-modifying CTEs does the rest, atomic by
itself in autocommit:

1. ``claim`` locks the assignment and reads its status as of the lock (a row changed since our
   snapshot is read in its latest version); unless it is still the one we read, nothing below
   matches, so a concurrent submit, skip or expiry makes the whole statement a no-op;
2. ``counted`` moves the slot on the task: a held lease turns its slot into a submitted label; a
   lease the sweep expired takes a free slot back, and if there is none, nothing matches;
3. ``submitted`` marks the assignment, only if ``counted`` happened;
4. the record (ranking + ratings, or demonstration) is inserted, only if ``submitted`` happened.

Locks are taken in the portable path's order (assignment, then task). When the statement wrote
nothing, the caller falls back to the portable locked path, which decides between an idempotent
retry, a ``Conflict`` and a late submit under the row lock.

The INSERTs name every column of their tables: a field added to ``Ranking``, ``Rating`` or
``Demonstration`` must be added here too (tests/labeling/test_hot_path.py checks them).
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection

from labeling.models import Assignment, Demonstration, Ranking, Rating, Task
from labeling.rawsql import RowShape, fetch_rows

_ASSIGNMENT = RowShape(Assignment, "a")
_TASK = RowShape(Task, "t")

_READ_SQL = (
    f"SELECT {_ASSIGNMENT.sql}, {_TASK.sql} FROM labeling_assignment a"
    " JOIN labeling_task t ON t.id = a.task_id WHERE a.id = %s AND a.labeler_id = %s"
)

# ``claim`` finds the row by its primary key alone and checks the status it locked afterwards (in
# ``counted``): with ``status = 'leased'`` in its WHERE, PostgreSQL took the partial unique index
# assignment_one_live_lease (all leased rows, and the dead entries of every lease submitted since
# the last VACUUM) and filtered it on id, a scan that grew with the submit rate (docs/scale.md).
_CLAIM_SQL = """
WITH claim AS (
    SELECT id, task_id, status FROM labeling_assignment WHERE id = %(id)s FOR NO KEY UPDATE
), counted AS (
    UPDATE labeling_task t
    SET submitted_count = t.submitted_count + 1,
        active_leases = t.active_leases - %(held)s,
        status = CASE WHEN t.submitted_count >= t.required_labels - 1 THEN 'done' ELSE t.status END
    FROM claim
    WHERE t.id = claim.task_id AND claim.status = %(status)s
      AND (%(held)s = 1 OR t.required_labels > t.submitted_count + t.active_leases)
    RETURNING t.id
), submitted AS (
    UPDATE labeling_assignment a
    SET status = 'submitted', submitted_at = %(now)s, submission_digest = %(digest)s,
        seconds_spent = COALESCE(%(seconds)s, a.seconds_spent), updated_at = %(now)s
    FROM claim, counted
    WHERE a.id = claim.id
    RETURNING a.id
)"""

_RANKING_SQL = _CLAIM_SQL + """, record AS (
    INSERT INTO labeling_ranking (created_at, updated_at, assignment_id, groups, none_acceptable)
    SELECT %(now)s, %(now)s, s.id, %(groups)s::jsonb, %(none_acceptable)s FROM submitted s
    RETURNING id
), ratings AS (
    INSERT INTO labeling_rating (created_at, updated_at, assignment_id, completion_id, likert, flags, note)
    SELECT %(now)s, %(now)s, s.id, r.completion, r.likert, r.flags, r.note
    FROM submitted s, jsonb_to_recordset(%(ratings)s::jsonb) AS r(completion bigint, likert int, flags jsonb, note text)
    RETURNING id, completion_id
)
SELECT (SELECT id FROM record), (SELECT array_agg(id ORDER BY completion_id) FROM ratings)
"""

_DEMONSTRATION_SQL = _CLAIM_SQL + """, record AS (
    INSERT INTO labeling_demonstration (created_at, updated_at, assignment_id, text)
    SELECT %(now)s, %(now)s, s.id, %(text)s FROM submitted s
    RETURNING id
)
SELECT (SELECT id FROM record), NULL
"""


def assignment_read(*, assignment_id: int, labeler_id: int) -> Assignment:
    """The labeler's own assignment with its task, unlocked (one query; portable SQL, SQLite's
    submit uses it too).
    Raises ``Assignment.DoesNotExist`` for a missing id or someone else's."""
    # An id beyond 64 bits names no row (the ORM answers the same); SQLite would refuse to bind it.
    rows = fetch_rows(_READ_SQL, [assignment_id, labeler_id]) if -2**63 <= assignment_id < 2**63 else []
    if not rows:
        raise Assignment.DoesNotExist("Assignment matching query does not exist.")
    assignment = _ASSIGNMENT.load(rows[0])
    assignment.task = _TASK.load(rows[0], _ASSIGNMENT.width)
    return assignment


def _stored(model, **values):
    obj = model(**values)
    obj._state.adding, obj._state.db = False, connection.alias
    return obj


def submission_write(
    *, assignment: Assignment, body: dict, digest: str, seconds_spent: float | None, now: datetime
) -> Demonstration | Ranking | None:
    """Write ``body`` (canonical, from ``validation``) as the assignment's answer, or return ``None``
    having written nothing if the assignment is no longer in the status it was read in, or was
    expired and its slot is taken. On success ``assignment`` is updated in memory like the row.

    Preconditions: PostgreSQL; ``assignment`` comes from ``assignment_read`` and is leased or
    expired; autocommit or a savepoint of the caller's.
    """
    params = {
        "id": assignment.pk, "status": assignment.status, "held": int(assignment.status == Assignment.Status.LEASED),
        "now": now, "digest": digest, "seconds": seconds_spent,
    }
    if body["kind"] == Task.Kind.DEMONSTRATION:
        (record_id, rating_ids), = fetch_rows(_DEMONSTRATION_SQL, {**params, "text": body["text"]})
    else:
        params |= {"groups": json.dumps(body["ranking"]), "none_acceptable": body["none_acceptable"],
                   "ratings": json.dumps(body["ratings"])}
        (record_id, rating_ids), = fetch_rows(_RANKING_SQL, params)
    if record_id is None:
        return None
    return stored_submission(assignment=assignment, body=body, record_id=record_id, rating_ids=rating_ids or [],
                             digest=digest, seconds_spent=seconds_spent, now=now)


def stored_submission(
    *, assignment: Assignment, body: dict, record_id: int, rating_ids: list[int], digest: str,
    seconds_spent: float | None, now: datetime,
) -> Demonstration | Ranking:
    """After a hand-written submit stored ``body``: mark ``assignment`` submitted in memory, as the
    row now is, and build the record (with its ratings, ``rating_ids`` in the order of
    ``body["ratings"]``) without reading it back."""
    assignment.status, assignment.submitted_at, assignment.submission_digest = Assignment.Status.SUBMITTED, now, digest
    assignment.updated_at = now
    if seconds_spent is not None:
        assignment.seconds_spent = seconds_spent
    stamps = {"created_at": now, "updated_at": now, "assignment": assignment}
    if body["kind"] == Task.Kind.DEMONSTRATION:
        return _stored(Demonstration, id=record_id, text=body["text"], **stamps)
    ranking = _stored(Ranking, id=record_id, groups=body["ranking"], none_acceptable=body["none_acceptable"], **stamps)
    ranking.rating_list = [
        _stored(Rating, id=rid, completion_id=r["completion"], likert=r["likert"], flags=r["flags"], note=r["note"], **stamps)
        for rid, r in zip(rating_ids, body["ratings"], strict=True)
    ]
    return ranking
