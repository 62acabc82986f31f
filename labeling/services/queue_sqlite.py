"""SQLite's lease: the embedded default's hot path in hand-written statements.

The ORM built and compiled five querysets per lease (candidate with its prompt, completions,
counter, insert), which cost the web process about as much CPU as the rest of the request
(bench/embedded_vs_postgres.sh). Here they are four fixed statements run inside the caller's
transaction; SQLite has no data-modifying CTEs, so this cannot be one statement as on PostgreSQL.

Concurrency: every transaction on the embedded default is ``BEGIN IMMEDIATE`` (settings), which
takes SQLite's single write lock before the first read. The pick, the counter and the insert
therefore see and change the database as one writer: no other lease can take the same slot in
between, which is what ``FOR NO KEY UPDATE SKIP LOCKED`` achieves on PostgreSQL.

Same choice of task as ``queue_pg`` (the candidate conditions and order are written the same way;
``kind_filter`` is shared), and the display order is shuffled with ``SystemRandom`` as before.
The INSERT names every column of ``labeling_assignment`` (tests/labeling/test_hot_path.py).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from labeling.models import Assignment, Campaign, Completion, Prompt, Task
from labeling.rawsql import RowShape, fetch_rows, set_prefetched
from labeling.services.queue_pg import kind_filter

_rng = random.SystemRandom()  # display order must not be predictable from ids (position bias)
_TASK = RowShape(Task, "c")  # "c": the alias ``kind_filter`` writes its clauses for
_PROMPT = RowShape(Prompt, "p")
_COMPLETION = RowShape(Completion, "x", fields=("id", "prompt", "text"))
_ASSIGNMENT = RowShape(Assignment, "labeling_assignment")

_PICK_SQL = f"""
SELECT {_TASK.sql}, {_PROMPT.sql} FROM labeling_task c JOIN labeling_prompt p ON p.id = c.prompt_id
WHERE c.campaign_id IN ({{campaigns}}) AND c.status = 'open'
  AND c.required_labels > c.submitted_count + c.active_leases
  AND NOT EXISTS (SELECT 1 FROM labeling_assignment a WHERE a.task_id = c.id AND a.labeler_id = %(labeler)s)
  {{kind_filter}}
  AND c.gold_answer IS {{gold}} NULL
ORDER BY c.priority DESC, c.id
LIMIT 1
"""

_COMPLETIONS_SQL = (
    f"SELECT {_COMPLETION.sql} FROM labeling_task_completions tc JOIN labeling_completion x ON x.id = tc.completion_id"
    " WHERE tc.task_id = %s ORDER BY x.id"
)

_COUNT_SQL = "UPDATE labeling_task SET active_leases = active_leases + 1 WHERE id = %s RETURNING active_leases"

_RETURNING = ", ".join(f'"{f.column}"' for f in _ASSIGNMENT.fields)
_INSERT_SQL = f"""
INSERT INTO labeling_assignment (created_at, updated_at, task_id, campaign_id, labeler_id, status, expires_at,
                                 display_order, submitted_at, seconds_spent, skip_reason, submission_digest)
VALUES (%s, %s, %s, %s, %s, 'leased', %s, %s, NULL, NULL, '', '')
RETURNING {_RETURNING}
"""


def _pick(labeler_id: int, campaigns: dict[int, Campaign], kind: str | None, gold: bool) -> tuple | None:
    filter_sql, params = kind_filter(campaigns, kind)
    params |= {f"campaign{i}": cid for i, cid in enumerate(campaigns)} | {"labeler": labeler_id}
    sql = _PICK_SQL.format(campaigns=", ".join(f"%(campaign{i})s" for i in range(len(campaigns))),
                           kind_filter=filter_sql, gold="NOT" if gold else "")
    rows = fetch_rows(sql, params)
    return rows[0] if rows else None


def lease_next(
    *, labeler_id: int, campaigns: dict[int, Campaign], kind: str | None = None, now: datetime, gold: bool = False,
) -> Assignment | None:
    """Lease the best open task in ``campaigns`` (only of ``kind`` if given; gold or ordinary as
    ``gold`` says) to the labeler, or ``None`` if there is none.

    Returns the assignment with ``task``, ``task.prompt``, ``task.campaign`` and the task's
    completions loaded, like ``queue_pg.lease_next``. Preconditions: SQLite; inside a transaction
    begun with ``BEGIN IMMEDIATE`` (the write lock is held from the pick to the insert); the
    labeler holds no live lease in ``campaigns``.
    """
    row = _pick(labeler_id, campaigns, kind, gold)
    if row is None:
        return None
    task, prompt = _TASK.load(row), _PROMPT.load(row, _TASK.width)
    completions = [_COMPLETION.load(r) for r in fetch_rows(_COMPLETIONS_SQL, [task.pk])]
    order = [c.pk for c in completions]
    _rng.shuffle(order)
    (task.active_leases,), = fetch_rows(_COUNT_SQL, [task.pk])
    campaign = campaigns[task.campaign_id]
    adapt = connection.ops.adapt_datetimefield_value
    stamp = adapt(timezone.now())  # the row's own timestamps are real time, as auto_now_add gives
    expires = adapt(now + timedelta(seconds=campaign.lease_seconds))
    (inserted,) = fetch_rows(_INSERT_SQL, [stamp, stamp, task.pk, campaign.pk, labeler_id, expires, json.dumps(order)])
    assignment = _ASSIGNMENT.load(inserted)
    task.prompt = prompt
    task.campaign = assignment.campaign = campaign
    set_prefetched(task, "completions", completions)
    assignment.task = task
    return assignment
