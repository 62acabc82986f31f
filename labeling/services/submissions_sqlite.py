"""SQLite's submit: the embedded default's hot path in hand-written statements.

Same effects, in the same order, as the locked ORM path in ``services.submissions`` (move the
task's slot, mark the assignment, insert the record and its ratings), as four fixed statements
instead of querysets built and compiled per request. They run inside the caller's ``BEGIN
IMMEDIATE`` transaction, which holds SQLite's single write lock from the read of the assignment
to the last insert, so nothing can change in between (PostgreSQL needs a row lock for that).

The INSERTs name every column of their tables (tests/labeling/test_hot_path.py checks them).
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection

from labeling.models import Assignment, Demonstration, Ranking, Task
from labeling.rawsql import fetch_rows
from labeling.services.errors import Conflict
from labeling.services.submissions_pg import stored_submission

# ``held``: the lease still holds its slot (turn it into a submitted label); otherwise the sweep
# expired it and the slot is re-taken only if one is free.
_TAKE_SLOT_SQL = """
UPDATE labeling_task
SET submitted_count = submitted_count + 1, active_leases = active_leases - %(held)s,
    status = CASE WHEN submitted_count >= required_labels - 1 THEN 'done' ELSE status END
WHERE id = %(task)s AND (%(held)s = 1 OR required_labels > submitted_count + active_leases)
RETURNING id
"""

_MARK_SQL = """
UPDATE labeling_assignment
SET status = 'submitted', submitted_at = %(now)s, submission_digest = %(digest)s,
    seconds_spent = COALESCE(%(seconds)s, seconds_spent), updated_at = %(now)s
WHERE id = %(id)s
RETURNING id
"""

_RANKING_SQL = """
INSERT INTO labeling_ranking (created_at, updated_at, assignment_id, groups, none_acceptable)
VALUES (%s, %s, %s, %s, %s) RETURNING id
"""

_RATING_SQL = """
INSERT INTO labeling_rating (created_at, updated_at, assignment_id, completion_id, likert, flags, note)
VALUES {values} RETURNING id, completion_id
"""

_DEMONSTRATION_SQL = """
INSERT INTO labeling_demonstration (created_at, updated_at, assignment_id, text)
VALUES (%s, %s, %s, %s) RETURNING id
"""


def _insert_ranking(assignment_id: int, body: dict, stamp) -> tuple[int, list[int]]:
    (record_id,), = fetch_rows(_RANKING_SQL, [stamp, stamp, assignment_id, json.dumps(body["ranking"]),
                                              body["none_acceptable"]])
    ratings = body["ratings"]
    if not ratings:
        return record_id, []
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(ratings))
    params = [v for r in ratings
              for v in (stamp, stamp, assignment_id, r["completion"], r["likert"], json.dumps(r["flags"]), r["note"])]
    # RETURNING's row order is unspecified in SQLite: match the ids back by completion.
    by_completion = {completion: rid for rid, completion in fetch_rows(_RATING_SQL.format(values=values), params)}
    return record_id, [by_completion[r["completion"]] for r in ratings]


def submission_write(
    *, assignment: Assignment, body: dict, digest: str, seconds_spent: float | None, now: datetime
) -> Demonstration | Ranking:
    """Write ``body`` (canonical, from ``validation``) as the answer of a leased or expired
    ``assignment`` and return the record; ``assignment`` is updated in memory like the row.

    Raises ``Conflict`` (nothing written) when the sweep expired the lease and its slot was
    given to someone else. Preconditions: SQLite; ``assignment`` was read inside the caller's
    ``BEGIN IMMEDIATE`` transaction, which is still open.
    """
    held = int(assignment.status == Assignment.Status.LEASED)
    if not fetch_rows(_TAKE_SLOT_SQL, {"held": held, "task": assignment.task_id}):
        raise Conflict("this lease expired and its slot was given to another labeler; nothing was saved")
    stamp = connection.ops.adapt_datetimefield_value(now)
    fetch_rows(_MARK_SQL, {"now": stamp, "digest": digest, "seconds": seconds_spent, "id": assignment.pk})
    if body["kind"] == Task.Kind.DEMONSTRATION:
        (record_id,), = fetch_rows(_DEMONSTRATION_SQL, [stamp, stamp, assignment.pk, body["text"]])
        rating_ids = []
    else:
        record_id, rating_ids = _insert_ranking(assignment.pk, body, stamp)
    return stored_submission(assignment=assignment, body=body, record_id=record_id, rating_ids=rating_ids,
                             digest=digest, seconds_spent=seconds_spent, now=now)
