"""PostgreSQL's lease: pick, count and record a new assignment in ONE statement.

The portable path in ``services.queue`` (SQLite) needs a transaction and five statements: lock the
best candidate, load its completions, bump ``active_leases``, insert the assignment, commit. Here
they are one ``UPDATE … RETURNING`` wrapped in data-modifying CTEs, so in autocommit mode the
lease is a single round trip, atomic by itself (no BEGIN/COMMIT), and any failure (a constraint)
rolls back all of it.

Same semantics as the portable path:

- Candidate choice: ``FOR NO KEY UPDATE SKIP LOCKED`` in the ``WHERE id = (SELECT …)`` sub-select,
  which PostgreSQL runs once; a row that changed after our snapshot is re-checked against the
  WHERE clause once locked (READ COMMITTED), so a task that filled up meanwhile is passed over. The
  ``task_slots_not_oversold`` CHECK still backs the counter up.
- Display order: the task's completion ids sorted by ``gen_random_uuid()``, which PostgreSQL draws
  from its strong random source (``pg_strong_random``): unpredictable, like the portable path's
  ``SystemRandom`` shuffle, and stored on the assignment in the same statement.
- Lease length: the task's campaign's ``lease_seconds``, read in the same statement.

The INSERT names every column of ``labeling_assignment``: a field added to ``Assignment`` must be
added there too (tests/labeling/test_hot_path.py checks the lists against the models).
"""

from __future__ import annotations

import json
from datetime import datetime

from django.utils import timezone

from labeling.models import Assignment, Campaign, Completion, Prompt, Task
from labeling.rawsql import RowShape, fetch_rows, set_prefetched

_ASSIGNMENT = RowShape(Assignment, "a")
_TASK = RowShape(Task, "l")
_PROMPT = RowShape(Prompt, "p")
_COMPLETION = RowShape(Completion, "c", fields=("id", "prompt", "text"))

_TASK_COLUMNS = ", ".join(f't."{f.column}"' for f in _TASK.fields)

# Conditions a candidate must meet, besides its campaign (``{campaign}``): open, a free slot, never
# touched by this labeler, of an allowed kind, gold or not.
_ELIGIBLE = """c.status = 'open'
          AND c.required_labels > c.submitted_count + c.active_leases
          AND NOT EXISTS (SELECT 1 FROM labeling_assignment x WHERE x.task_id = c.id AND x.labeler_id = %(labeler)s)
          {kind_filter}
          AND c.gold_answer IS {gold} NULL"""

# One campaign, or the wait-for-a-lock fallback: walk the queue in (priority, id) order and lock
# the first eligible task.
_PICK_WALK = """SELECT c.id FROM labeling_task c
        WHERE c.campaign_id IN ({campaigns}) AND """ + _ELIGIBLE + """
        ORDER BY c.priority DESC, c.id
        LIMIT 1
        FOR NO KEY UPDATE {skip_locked}"""

# Several campaigns: candidates come from one ordered walk of task_queue_campaign_idx per campaign
# (a LATERAL join over the campaign ids: the first PER_CAMPAIGN eligible tasks of each), the best
# CANDIDATES of them in queue order are kept, and the first of those not locked is locked. A plain
# ``campaign_id IN (…)`` walk of the global task_queue_open_idx has to step over the open tasks of
# every paused or archived campaign ahead in the order, a cost that grew with them (docs/scale.md).
# Why LATERAL rather than a UNION ALL of one branch per campaign (which PostgreSQL merges in order):
# that statement took ~100 ms to plan with 50 campaigns and PostgreSQL kept re-planning it on every
# run instead of caching a generic plan; this one is planned once for any number of campaigns.
# If every candidate is locked or taken meanwhile, the caller's wait fallback (``_PICK_WALK``
# without SKIP LOCKED) decides, so no eligible task is ever reported missing. Under contention the
# pick is the best unlocked task among each campaign's first PER_CAMPAIGN eligible ones.
CANDIDATES = 64
_PICK_MERGED = """SELECT c.id FROM (
            SELECT u.id, u.priority FROM unnest(%(campaign_ids)s::bigint[]) AS q(campaign_id)
            CROSS JOIN LATERAL (
                SELECT c.id, c.priority FROM labeling_task c
                WHERE c.campaign_id = q.campaign_id AND """ + _ELIGIBLE + """
                ORDER BY c.priority DESC, c.id
                LIMIT %(per_campaign)s
            ) u
            ORDER BY u.priority DESC, u.id
            LIMIT %(candidates)s
        ) best JOIN labeling_task c ON c.id = best.id
        WHERE c.status = 'open' AND c.required_labels > c.submitted_count + c.active_leases
        ORDER BY best.priority DESC, best.id
        LIMIT 1
        FOR NO KEY UPDATE OF c SKIP LOCKED"""

_LEASE_SQL = f"""
WITH leased AS (
    UPDATE labeling_task t SET active_leases = t.active_leases + 1
    WHERE t.id = (
        {{pick}}
    )
    RETURNING {_TASK_COLUMNS}
), inserted AS (
    INSERT INTO labeling_assignment (created_at, updated_at, task_id, campaign_id, labeler_id, status, expires_at,
                                     display_order, submitted_at, seconds_spent, skip_reason, submission_digest)
    SELECT %(stamp)s, %(stamp)s, l.id, l.campaign_id, %(labeler)s, 'leased',
           %(now)s + make_interval(secs => cp.lease_seconds),
           (SELECT COALESCE(jsonb_agg(tc.completion_id ORDER BY gen_random_uuid()), '[]'::jsonb)
              FROM labeling_task_completions tc WHERE tc.task_id = l.id),
           NULL, NULL, '', ''
    FROM leased l JOIN labeling_campaign cp ON cp.id = l.campaign_id
    RETURNING *
)
SELECT {_ASSIGNMENT.sql}, {_TASK.sql}, {_PROMPT.sql},
       (SELECT json_agg(json_build_array({_COMPLETION.sql}) ORDER BY c.id)
          FROM labeling_task_completions tc JOIN labeling_completion c ON c.id = tc.completion_id
         WHERE tc.task_id = l.id)
FROM inserted a JOIN leased l ON l.id = a.task_id JOIN labeling_prompt p ON p.id = l.prompt_id
"""


def kind_filter(campaigns: dict[int, Campaign], kind: str | None) -> tuple[str, dict]:
    """Only ``kind`` if the labeler chose one, and exclude the kinds a campaign does not do (usually
    nothing: tasks are only created for a campaign's kinds). Both are row filters on the walk of the
    partial queue index, which still gives the (priority, id) order and stops at the first match."""
    clauses, params = [], {}
    if kind is not None:
        clauses.append("AND c.kind = %(only_kind)s")
        params["only_kind"] = kind
    for i, kind in enumerate(Task.Kind.values):
        without = [cid for cid, c in campaigns.items() if kind not in c.task_kinds]
        if without:
            # An IN list, not ``= ANY(array)``: the same clause serves SQLite (queue_sqlite), which has no arrays.
            listed = ", ".join(f"%(without{i}_{j})s" for j in range(len(without)))
            clauses.append(f"AND NOT (c.kind = %(kind{i})s AND c.campaign_id IN ({listed}))")
            params |= {f"kind{i}": kind} | {f"without{i}_{j}": cid for j, cid in enumerate(without)}
    return " ".join(clauses), params


def lease_statement(
    *, labeler_id: int, campaigns: dict[int, Campaign], kind: str | None, now: datetime, skip_locked: bool,
    gold: bool = False,
) -> tuple[str, dict]:
    """The one lease statement and its parameters (``lease_next`` runs it; tests EXPLAIN it)."""
    kind_filter_sql, params = kind_filter(campaigns, kind)
    # ``IN (%s, …)``, not ``= ANY(%s)``: PostgreSQL turns a one-element IN into ``=``, which lets it
    # walk task_queue_campaign_idx in (priority, id) order and stop at the first free task; with
    # ANY it sorts every open task of the campaign first (and, before ANALYZE, anti-joins each).
    fill = {"kind_filter": kind_filter_sql, "gold": "NOT" if gold else ""}
    if len(campaigns) > 1 and skip_locked:
        pick = _PICK_MERGED.format(**fill)
        params |= {"campaign_ids": list(campaigns), "candidates": CANDIDATES,
                   "per_campaign": max(2, -(-CANDIDATES // len(campaigns)))}
    else:
        params |= {f"campaign{i}": cid for i, cid in enumerate(campaigns)}
        pick = _PICK_WALK.format(campaigns=", ".join(f"%(campaign{i})s" for i in range(len(campaigns))),
                                 skip_locked="SKIP LOCKED" if skip_locked else "", **fill)
    sql = _LEASE_SQL.format(pick=pick)
    # ``now`` (the caller's clock, simulated in tests) sets the deadline; the row's timestamps are
    # the real time, as ``auto_now_add`` gives the portable path.
    return sql, {"labeler": labeler_id, "now": now, "stamp": timezone.now(), **params}


def lease_next(
    *, labeler_id: int, campaigns: dict[int, Campaign], kind: str | None = None, now: datetime, skip_locked: bool,
    gold: bool = False,
) -> Assignment | None:
    """Lease the best open task in ``campaigns`` (only of ``kind`` if given) to the labeler, or
    ``None`` if there is none.

    ``gold``: lease a gold task (``task_queue_gold_idx``) instead of an ordinary one; the queue
    decides which to ask for (``services.queue``), so the two never mix in one scan.

    Returns the assignment with ``task``, ``task.prompt``, ``task.campaign`` and the task's
    completions loaded (what ``selectors.assignments.assignment_payload`` reads). ``skip_locked``
    False waits for the first locked candidate instead of passing it over.
    Preconditions: PostgreSQL; autocommit or a savepoint of the caller's (an IntegrityError, such
    as the one-live-lease constraint refusing a racing second tab, must be recoverable); the
    labeler holds no live lease in ``campaigns``.
    """
    sql, params = lease_statement(labeler_id=labeler_id, campaigns=campaigns, kind=kind, now=now,
                                  skip_locked=skip_locked, gold=gold)
    rows = fetch_rows(sql, params)
    if not rows:
        return None
    row = rows[0]
    assignment = _ASSIGNMENT.load(row)
    offset = _ASSIGNMENT.width
    task = _TASK.load(row, offset)
    prompt = _PROMPT.load(row, offset + _TASK.width)
    pairs = row[-1]
    if isinstance(pairs, str):  # psycopg may hand json back as text
        pairs = json.loads(pairs)
    completions = [_COMPLETION.load(pair) for pair in pairs or []]
    task.prompt = prompt
    task.campaign = assignment.campaign = campaigns[task.campaign_id]
    set_prefetched(task, "completions", completions)
    assignment.task = task
    return assignment
