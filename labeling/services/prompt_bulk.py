"""Set-based writes of a prompt import: rows are staged in a temporary table as they are parsed, then
prompts, completions, tasks and the task↔completion links are written with a few ``INSERT … SELECT``.

Why: the ORM path (``prompts_create``: ``bulk_create`` of model instances) spent most of a 100k-prompt
import building Python objects and SQL text; here Python touches each row once, to stage it.

- Staging (outside any transaction: nothing the campaign can see): PostgreSQL ``COPY … FROM STDIN``
  into a session temp table; SQLite (the embedded default) batched ``executemany`` into one.
- Writing (one transaction, the campaign row locked ``FOR NO KEY UPDATE`` as ``prompts_create`` does, so
  concurrent imports into one campaign cannot race on the per-campaign unique hash): duplicates are
  found in SQL (same NFKC content hash as a prompt of the campaign, or as an earlier line), the fresh
  rows get their ids and are inserted ``ON CONFLICT DO NOTHING`` (the ``prompt_unique_per_campaign``
  constraint stays the last word), then their tasks, completions and links. On PostgreSQL ids come
  from the tables' sequences up front, so the links need no read-back; on SQLite they are read back
  by the unique (campaign, hash) index.

Every column not set here gets its model default (``_insert``), so a new column with a default needs
no change in this module.

Foreign keys (PostgreSQL). Every row written here references the campaign, locked by this transaction,
or rows inserted by this same transaction (invisible to every other, so nobody can delete them), with
ids taken from ``prefloop_import_new``; each INSERT's row count is checked against that table, so a
reference to a row that was not written raises before commit. The database's own per-row foreign-key
triggers would re-check those 17 references per prompt one at a time at COMMIT: 8 of 19 s of a 100k
import (docs/scale.md). So when the database role may set ``session_replication_role`` (a superuser,
or PostgreSQL 15's ``GRANT SET ON PARAMETER session_replication_role TO <role>``), the write runs with
it set to ``replica`` for its own statements only (``SET LOCAL``, set back to what it was before the
transaction goes on), unless ``PROMPT_IMPORT_SKIP_FK_TRIGGERS`` is off or the tables carry a trigger or
rule of their own (which ``replica`` would silence too). Otherwise the triggers check as before.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from labeling.models import Campaign, Completion, Prompt, Task
from labeling.services.prompts import MAX_REPORTED_DUPLICATES, PromptRow, prompt_content_hash

ROWS, FIRST, NEW = "prefloop_import_rows", "prefloop_import_first", "prefloop_import_new"
STAGE_COLUMNS = ("line", "hash", "author_id", "source_id", "category", "ncomp", "doc")
SQLITE_BATCH = 2000
PG_WORK_MEM = "256MB"  # the dedupe and link joins hash a million rows: keep them in memory
TaskCompletion = Task.completions.through
WRITTEN_TABLES = (Prompt._meta.db_table, Task._meta.db_table, Completion._meta.db_table, TaskCompletion._meta.db_table)


@dataclass
class PromptsImported:
    """What an import did. ``duplicates`` holds ``{"line", "reason"}`` for the first
    ``MAX_REPORTED_DUPLICATES`` skipped lines; ``duplicates_count`` counts them all."""

    imported: int
    tasks_created: int
    duplicates: list[dict]
    duplicates_count: int


def _insert(model, given: dict[str, str], source: str, params: list, now) -> tuple[str, list]:
    """``INSERT INTO <model table> (...) SELECT ... <source>`` with ``given`` SQL expressions by attname;
    every other column gets its model default as a parameter (auto-now timestamps: ``now``)."""
    columns, exprs, values = [], [], []
    for field in model._meta.concrete_fields:
        if field.attname in given:
            exprs.append(given[field.attname])
        elif field.primary_key:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            exprs.append("%s")
            values.append(now)
        elif field.has_default():
            exprs.append("%s")
            values.append(field.get_db_prep_save(field.get_default(), connection))
        elif field.null:
            exprs.append("NULL")
        else:
            raise ImproperlyConfigured(f"{model.__name__}.{field.name} has no default: the bulk import must set it")
        columns.append(connection.ops.quote_name(field.column))
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {source}"
    return sql, values + list(params)


def _may_skip_fk_triggers(cur) -> bool:
    """Whether this import's write may run with ``session_replication_role = replica`` (module docstring):
    the setting allows it, the role may set the parameter, and no table written carries a trigger or
    rule that is not a foreign key's own."""
    if not settings.PROMPT_IMPORT_SKIP_FK_TRIGGERS:
        return False
    if connection.pg_version >= 150000:
        cur.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    else:
        cur.execute("SELECT current_setting('is_superuser') = 'on'")
    if not cur.fetchone()[0]:
        return False
    tables = list(WRITTEN_TABLES)
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal) "
                "OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = ANY(%s::regclass[]))", [tables, tables])
    return not cur.fetchone()[0]


class PromptStage:
    """``with PromptStage(campaign=c) as stage: stage.add(line, row) ...; stage.write()``.

    ``add`` stages a validated row; ``close`` ends the staging; ``write`` does the set-based insert in
    one transaction and returns :class:`PromptsImported`. Leaving the block drops the staging tables,
    so a rejected or failed import leaves nothing behind.
    """

    def __init__(self, *, campaign: Campaign):
        self.campaign = campaign
        self.staged = 0
        self.pg = connection.vendor == "postgresql"
        self._copy_cm = self._copy = None
        self._batch: list[tuple] = []

    # ---------------------------------------------------------------- staging

    def __enter__(self) -> PromptStage:
        self.cursor = connection.cursor()
        self._drop()
        doc, key = ("jsonb", "") if self.pg else ("text", " PRIMARY KEY")
        self.cursor.execute(
            f"CREATE TEMP TABLE {ROWS} (line integer NOT NULL{key}, hash text NOT NULL, author_id text NOT NULL, "
            f"source_id text NOT NULL, category text NOT NULL, ncomp integer NOT NULL, doc {doc} NOT NULL)")
        if self.pg:
            self._copy_cm = self.cursor.copy(f"COPY {ROWS} ({', '.join(STAGE_COLUMNS)}) FROM STDIN")
            self._copy = self._copy_cm.__enter__()
        return self

    def add(self, line: int, row: PromptRow) -> None:
        """Stage one validated row (its content hash is computed here)."""
        doc = json.dumps({"m": row.messages, "x": row.metadata, "k": row.completions})
        values = (line, prompt_content_hash(row.messages), row.author_id, row.source_id, row.category,
                  len(row.completions), doc)
        self.staged += 1
        if self._copy is not None:
            self._copy.write_row(values)
            return
        self._batch.append(values)
        if len(self._batch) >= SQLITE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self.cursor.executemany(f"INSERT INTO {ROWS} ({', '.join(STAGE_COLUMNS)}) VALUES ({', '.join(['%s'] * 7)})",
                                    self._batch)
            self._batch = []

    def close(self) -> None:
        """End the staging (finishes the COPY normally even on error: aborting it would abort an
        enclosing transaction)."""
        if self._copy_cm is not None:
            cm, self._copy_cm, self._copy = self._copy_cm, None, None
            cm.__exit__(None, None, None)
        self._flush()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.close()
            self._drop()
        except Exception:
            if exc_type is None:
                raise  # otherwise the original error matters more than the cleanup's
        finally:
            self.cursor.close()

    def _drop(self) -> None:
        for table in (NEW, FIRST, ROWS):
            self.cursor.execute(f"DROP TABLE IF EXISTS {table}")

    # ---------------------------------------------------------------- writing

    def write(self) -> PromptsImported:
        """Dedupe and insert everything staged, in one transaction (see the module docstring)."""
        self.close()
        cur, now = self.cursor, timezone.now()
        with transaction.atomic():
            # NO KEY UPDATE: serializes imports into this campaign without blocking the queue, whose
            # Assignment inserts only need a KEY SHARE lock on the campaign row (foreign key check).
            campaign = Campaign.objects.select_for_update(no_key=True).get(pk=self.campaign.pk)
            if campaign.status == Campaign.Status.ARCHIVED:
                raise ValidationError({"campaign": ["this campaign is archived"]})
            if self.pg:
                cur.execute(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
                # The planner takes jsonb_array_elements_text for 100 rows a call (25x too many) and so
                # JIT-compiles the completions statement, which runs once: 0.3 s of compiling per import.
                cur.execute("SET LOCAL jit = off")
                cur.execute(f"ANALYZE {ROWS} (line, hash)")  # a temp table has no statistics until asked
            cur.execute(
                f"CREATE TEMP TABLE {FIRST} AS SELECT g.hash, g.first_line, g.n, p.id AS existing_id "
                f"FROM (SELECT hash, min(line) AS first_line, count(*) AS n FROM {ROWS} GROUP BY hash) g "
                f"LEFT JOIN {Prompt._meta.db_table} p ON p.campaign_id = %s AND p.content_hash = g.hash",
                [campaign.pk])
            kinds = set(campaign.task_kinds)
            demos, rankings = Task.Kind.DEMONSTRATION in kinds, Task.Kind.RANKING in kinds
            write = self._write_pg if self.pg else self._write_sqlite
            imported, tasks_created = write(campaign, demos, rankings, now)
            duplicates = self._duplicates() if imported < self.staged else []
        return PromptsImported(imported=imported, tasks_created=tasks_created, duplicates=duplicates,
                               duplicates_count=self.staged - imported)

    def _fresh(self) -> str:
        """The first line of each hash the campaign does not hold yet."""
        return f"FROM {ROWS} s JOIN {FIRST} f ON f.first_line = s.line WHERE f.existing_id IS NULL"

    def _check_inserted(self, expected: int) -> None:
        if self.cursor.rowcount != expected:  # only if the campaign lock was bypassed by a raw writer
            raise ValidationError({"file": ["prompts were added to this campaign during the import: try again"]})

    def _check_count(self, what: str, written: int, expected: int) -> None:
        """The proof the skipped foreign-key triggers would have given (module docstring)."""
        if written != expected:
            raise RuntimeError(f"prompt import wrote {written} {what}, expected {expected}: rolled back")

    def _write_pg(self, campaign: Campaign, demos: bool, rankings: bool, now) -> tuple[int, int]:
        cur = self.cursor
        seq = {}
        for model in (Prompt, Task):
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
            seq[model] = cur.fetchone()[0]
        # Ids up front, in line order (the subquery's order): no read-back to link tasks and completions.
        cur.execute(
            f"CREATE TEMP TABLE {NEW} AS SELECT nextval(%s) AS prompt_id, "
            f"CASE WHEN %s THEN nextval(%s) END AS demo_task_id, "
            f"CASE WHEN %s AND s.ncomp >= 2 THEN nextval(%s) END AS rank_task_id, s.line, s.ncomp "
            f"FROM (SELECT s.line, s.ncomp {self._fresh()} ORDER BY s.line) s",
            [seq[Prompt], demos, seq[Task], rankings, seq[Task]])
        cur.execute(f"SELECT count(*), count(demo_task_id) + count(rank_task_id), coalesce(sum(ncomp), 0), "
                    f"coalesce(sum(ncomp) FILTER (WHERE rank_task_id IS NOT NULL), 0) FROM {NEW}")
        imported, tasks_expected, completions_expected, links_expected = cur.fetchone()
        if not imported:
            return 0, 0
        cur.execute(f"ANALYZE {NEW}")
        skip_fk_triggers = _may_skip_fk_triggers(cur)
        if skip_fk_triggers:
            cur.execute("SELECT current_setting('session_replication_role')")
            role_before = cur.fetchone()[0]
            cur.execute("SET LOCAL session_replication_role = replica")
        join = f"FROM {NEW} n JOIN {ROWS} s ON s.line = n.line"
        sql, params = _insert(Prompt, {
            "id": "n.prompt_id", "campaign_id": str(campaign.pk), "messages": "s.doc->'m'", "author_id": "s.author_id",
            "source_id": "s.source_id", "content_hash": "s.hash", "category": "s.category", "metadata": "s.doc->'x'",
        }, f"{join} ORDER BY n.prompt_id ON CONFLICT DO NOTHING", [], now)
        cur.execute(sql, params)
        self._check_inserted(imported)
        sql, params = _insert(Task, self._task_columns(campaign, "t.id"), (
            f"FROM (SELECT demo_task_id AS id, prompt_id, 'demonstration' AS kind FROM {NEW} WHERE demo_task_id IS NOT NULL "
            f"UNION ALL SELECT rank_task_id, prompt_id, 'ranking' FROM {NEW} WHERE rank_task_id IS NOT NULL) t ORDER BY t.id"),
            [], now)
        cur.execute(sql, params)
        tasks_created = cur.rowcount
        self._check_count("tasks", tasks_created, tasks_expected)
        sql, params = _insert(Completion, {"prompt_id": "n.prompt_id", "text": "e.value"}, (
            f"{join} CROSS JOIN LATERAL jsonb_array_elements_text(s.doc->'k') WITH ORDINALITY e(value, pos) "
            f"ORDER BY n.prompt_id, e.pos RETURNING id, prompt_id"), [], now)
        cur.execute(
            f"WITH c AS ({sql}), l AS (INSERT INTO {TaskCompletion._meta.db_table} (task_id, completion_id) "
            f"SELECT n.rank_task_id, c.id FROM c JOIN {NEW} n ON n.prompt_id = c.prompt_id "
            f"WHERE n.rank_task_id IS NOT NULL ORDER BY c.id RETURNING 1) "
            f"SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM l)", params)
        completions, links = cur.fetchone()
        self._check_count("completions", completions, completions_expected)
        self._check_count("task-completion links", links, links_expected)
        if skip_fk_triggers:  # the rest of the transaction is checked as before
            cur.execute("SELECT set_config('session_replication_role', %s, true)", [role_before])
        return imported, tasks_created

    def _task_columns(self, campaign: Campaign, task_id: str | None) -> dict[str, str]:
        columns = {"campaign_id": str(campaign.pk), "prompt_id": "t.prompt_id", "kind": "t.kind",
                   "required_labels": str(int(campaign.labels_per_task)), "priority": str(int(campaign.priority))}
        if task_id:
            columns["id"] = task_id
        return columns

    def _write_sqlite(self, campaign: Campaign, demos: bool, rankings: bool, now) -> tuple[int, int]:
        cur = self.cursor
        cur.execute(f"CREATE TEMP TABLE {NEW} AS SELECT s.line AS line, s.hash AS hash, s.ncomp AS ncomp, "
                    f"NULL AS prompt_id {self._fresh()} ORDER BY s.line")
        cur.execute(f"SELECT count(*) FROM {NEW}")
        imported = cur.fetchone()[0]
        if not imported:
            return 0, 0
        join = f"FROM {NEW} n JOIN {ROWS} s ON s.line = n.line"
        sql, params = _insert(Prompt, {
            "campaign_id": str(campaign.pk), "messages": "json_extract(s.doc, '$.m')", "author_id": "s.author_id",
            "source_id": "s.source_id", "content_hash": "s.hash", "category": "s.category",
            "metadata": "json_extract(s.doc, '$.x')",
        }, f"{join} WHERE true ORDER BY n.line ON CONFLICT DO NOTHING", [], now)
        cur.execute(sql, params)
        self._check_inserted(imported)
        # The ids SQLite gave, read back through the unique (campaign, content_hash) index.
        cur.execute(f"CREATE INDEX {NEW}_line ON {NEW} (line)")
        cur.execute(f"UPDATE {NEW} SET prompt_id = (SELECT p.id FROM {Prompt._meta.db_table} p "
                    f"WHERE p.campaign_id = %s AND p.content_hash = {NEW}.hash)", [campaign.pk])
        cur.execute(f"CREATE INDEX {NEW}_prompt ON {NEW} (prompt_id)")
        sql, params = _insert(Task, self._task_columns(campaign, None), (
            f"FROM (SELECT prompt_id, line, 0 AS o, 'demonstration' AS kind FROM {NEW} WHERE %s "
            f"UNION ALL SELECT prompt_id, line, 1, 'ranking' FROM {NEW} WHERE %s AND ncomp >= 2) t ORDER BY t.line, t.o"),
            [demos, rankings], now)
        cur.execute(sql, params)
        tasks_created = cur.rowcount
        sql, params = _insert(Completion, {"prompt_id": "n.prompt_id", "text": "e.value"},
                              f"{join}, json_each(s.doc, '$.k') e ORDER BY n.line, e.key", [], now)
        cur.execute(sql, params)
        cur.execute(
            f"INSERT INTO {TaskCompletion._meta.db_table} (task_id, completion_id) SELECT t.id, c.id FROM {NEW} n "
            f"JOIN {Task._meta.db_table} t ON t.prompt_id = n.prompt_id AND t.kind = 'ranking' "
            f"JOIN {Completion._meta.db_table} c ON c.prompt_id = n.prompt_id ORDER BY t.id, c.id")
        return imported, tasks_created

    def _duplicates(self) -> list[dict]:
        """The first skipped lines, with what each duplicates (the same wording as ``prompts_create``)."""
        self.cursor.execute(
            f"SELECT s.line, f.existing_id, f.first_line FROM {ROWS} s JOIN (SELECT hash, first_line, existing_id "
            f"FROM {FIRST} WHERE existing_id IS NOT NULL OR n > 1) f ON f.hash = s.hash "
            f"WHERE f.existing_id IS NOT NULL OR s.line > f.first_line ORDER BY s.line LIMIT %s",
            [MAX_REPORTED_DUPLICATES])
        return [{"line": line, "reason": f"duplicate of an existing prompt (id {existing})" if existing is not None
                 else f"duplicate of line {first} in this file"} for line, existing, first in self.cursor.fetchall()]
