"""Set-based writes of a prompt import: rows are staged in a temporary table as they are parsed, then
prompts, completions, tasks and the task↔completion links are written with a few ``INSERT … SELECT``
(``prompt_bulk_write``).

Why: the ORM path (``prompts_create``: ``bulk_create`` of model instances) spent most of a 100k-prompt
import building Python objects and SQL text; here Python touches each row once, to stage it.

- Staging: PostgreSQL ``COPY … FROM STDIN`` into a session temp table; SQLite (the embedded default)
  batched ``executemany`` into one.
- Writing (one transaction, the campaign row locked ``FOR NO KEY UPDATE`` as ``prompts_create`` does, so
  concurrent imports into one campaign cannot race on the per-campaign unique hash): duplicates are
  found in SQL (same NFKC content hash as a prompt of the campaign, or as an earlier line), the fresh
  rows get their ids and are inserted ``ON CONFLICT DO NOTHING`` (the ``prompt_unique_per_campaign``
  constraint stays the last word), then their tasks, completions and links.
- In chunks, on PostgreSQL: every ``PROMPT_IMPORT_WRITE_CHUNK_ROWS`` staged rows are written while the rest
  of the file is still being read (``prompt_import`` reads it in a thread), inside the one transaction, so
  the database works while Python parses. A prompt written by an earlier chunk counts as a duplicate "of
  line N in this file", as it would in one pass (``prefloop_import_lines`` keeps its line). SQLite writes
  once, at the end: its single writer would otherwise hold up every labeler for the whole read.

Anything that fails, or a bad line found after chunks were written, rolls the whole transaction back:
the campaign's tables see all of the file or none of it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from labeling.models import Campaign, Prompt, Task
from labeling.services import prompt_bulk_write as bulk_sql
from labeling.services.prompt_bulk_write import FIRST, LINES, NEW, ROWS
from labeling.services.prompts import MAX_REPORTED_DUPLICATES, PromptRow, prompt_content_hash

STAGE_COLUMNS = ("line", "hash", "author_id", "source_id", "category", "ncomp", "doc")
SQLITE_BATCH = 2000
PG_WORK_MEM = "256MB"  # the dedupe and link joins hash a million rows: keep them in memory


@dataclass
class PromptsImported:
    """What an import did. ``duplicates`` holds ``{"line", "reason"}`` for the first
    ``MAX_REPORTED_DUPLICATES`` skipped lines; ``duplicates_count`` counts them all."""

    imported: int
    tasks_created: int
    duplicates: list[dict]
    duplicates_count: int


def staged_values(line: int, row: PromptRow) -> tuple:
    """The staging table's row for a validated prompt row (its content hash computed here)."""
    doc = json.dumps({"m": row.messages, "x": row.metadata, "k": row.completions})
    return (line, prompt_content_hash(row.messages), row.author_id, row.source_id, row.category,
            len(row.completions), doc)


def _copy_text(value: str) -> str:
    """A value in COPY's text format (the only characters it treats specially; NUL never gets this far)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class PromptStage:
    """``with PromptStage(campaign=c) as stage: stage.add_values([stage.encode(line, row), ...]) ...; stage.write()``.

    ``add_values`` stages rows made by :meth:`encode` (and on PostgreSQL writes a chunk when enough are
    staged); ``write`` writes the rest, commits and returns :class:`PromptsImported`. Leaving the block
    without ``write`` (an error, a rejected file) rolls back whatever was written and drops the staging
    tables, so nothing is left behind.
    """

    def __init__(self, *, campaign: Campaign):
        self.campaign = campaign
        self.staged = 0
        self.pg = connection.vendor == "postgresql"
        self.chunk_rows = settings.PROMPT_IMPORT_WRITE_CHUNK_ROWS if self.pg else 0
        self._in_chunk = 0
        self._copy_cm = self._copy = None
        self._batch: list[tuple] = []
        self._atomic = None
        self._role_before = None
        self._imported = self._tasks_created = 0
        self._duplicates: list[dict] = []

    # ---------------------------------------------------------------- staging

    def __enter__(self) -> PromptStage:
        self.cursor = connection.cursor()
        self._drop()
        doc, key = ("jsonb", "") if self.pg else ("text", " PRIMARY KEY")
        self.cursor.execute(
            f"CREATE TEMP TABLE {ROWS} (line integer NOT NULL{key}, hash text NOT NULL, author_id text NOT NULL, "
            f"source_id text NOT NULL, category text NOT NULL, ncomp integer NOT NULL, doc {doc} NOT NULL)")
        self.cursor.execute(f"CREATE TEMP TABLE {LINES} (prompt_id bigint PRIMARY KEY, line integer NOT NULL)")
        self._open_copy()
        return self

    def _open_copy(self) -> None:
        if self.pg:
            self._copy_cm = self.cursor.copy(f"COPY {ROWS} ({', '.join(STAGE_COLUMNS)}) FROM STDIN")
            self._copy = self._copy_cm.__enter__()

    def encode(self, line: int, row: PromptRow):
        """A validated row as :meth:`add_values` takes it: a line of COPY text on PostgreSQL (made here, in the
        reader thread, so that the thread writing to the database only passes blocks on), else a tuple."""
        values = staged_values(line, row)
        if not self.pg:
            return values
        line_no, content_hash, author_id, source_id, category, ncomp, doc = values
        return (f"{line_no}\t{content_hash}\t{_copy_text(author_id)}\t{_copy_text(source_id)}\t"
                f"{_copy_text(category)}\t{ncomp}\t{_copy_text(doc)}\n")

    def add_values(self, rows: list) -> None:
        """Stage rows made by :meth:`encode`; on PostgreSQL, write a chunk once enough are staged."""
        if self._copy is not None:
            self._copy.write("".join(rows))
        else:
            self._batch.extend(rows)
            if len(self._batch) >= SQLITE_BATCH:
                self._flush()
        self.staged += len(rows)
        self._in_chunk += len(rows)
        if self.chunk_rows and self._in_chunk >= self.chunk_rows:
            self._write_chunk(more=True)

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
            try:
                self.close()
            finally:
                if self._atomic is not None:  # left without write(): roll back every chunk written
                    atomic, self._atomic = self._atomic, None
                    atomic.__exit__(exc_type or RuntimeError, exc or RuntimeError("import not finished"), tb)
            self._drop()
        except Exception:
            if exc_type is None:
                raise  # otherwise the original error matters more than the cleanup's
        finally:
            self.cursor.close()

    def _drop(self) -> None:
        for table in (NEW, FIRST, ROWS, LINES):
            self.cursor.execute(f"DROP TABLE IF EXISTS {table}")

    # ---------------------------------------------------------------- writing

    def write(self) -> PromptsImported:
        """Write what is staged and not yet written, and commit (see the module docstring)."""
        self._write_chunk(more=False)
        if self._role_before is not None:  # the rest of an enclosing transaction is checked as before
            self.cursor.execute("SELECT set_config('session_replication_role', %s, true)", [self._role_before])
        atomic, self._atomic = self._atomic, None
        atomic.__exit__(None, None, None)  # commits (or releases the savepoint of an enclosing transaction)
        return PromptsImported(imported=self._imported, tasks_created=self._tasks_created,
                               duplicates=self._duplicates, duplicates_count=self.staged - self._imported)

    def _begin(self) -> None:
        """Open the import's transaction: lock the campaign, set the session up for the write."""
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        cur = self.cursor
        # NO KEY UPDATE: serializes imports into this campaign without blocking the queue, whose
        # Assignment inserts only need a KEY SHARE lock on the campaign row (foreign key check).
        self.campaign = Campaign.objects.select_for_update(no_key=True).get(pk=self.campaign.pk)
        if self.campaign.status == Campaign.Status.ARCHIVED:
            raise ValidationError({"campaign": ["this campaign is archived"]})
        if not self.pg:
            return
        cur.execute(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
        # The planner takes jsonb_array_elements_text for 100 rows a call (25x too many) and so
        # JIT-compiles the completions statement, which runs once: 0.3 s of compiling per import.
        cur.execute("SET LOCAL jit = off")
        if bulk_sql.may_skip_fk_triggers(cur):
            cur.execute("SELECT current_setting('session_replication_role')")
            self._role_before = cur.fetchone()[0]
            cur.execute("SET LOCAL session_replication_role = replica")

    def _write_chunk(self, *, more: bool) -> None:
        """Write the rows staged since the last chunk; ``more``: rows will follow (restart the staging)."""
        self.close()
        if self._atomic is None:
            self._begin()
        cur, now = self.cursor, timezone.now()
        if self._in_chunk:
            if self.pg:
                cur.execute(f"ANALYZE {ROWS} (line, hash)")  # a temp table has no statistics until asked
            cur.execute(
                f"CREATE TEMP TABLE {FIRST} AS SELECT g.hash, g.first_line, g.n, p.id AS existing_id "
                f"FROM (SELECT hash, min(line) AS first_line, count(*) AS n FROM {ROWS} GROUP BY hash) g "
                f"LEFT JOIN {Prompt._meta.db_table} p ON p.campaign_id = %s AND p.content_hash = g.hash",
                [self.campaign.pk])
            kinds = set(self.campaign.task_kinds)
            demos, rankings = Task.Kind.DEMONSTRATION in kinds, Task.Kind.RANKING in kinds
            write = bulk_sql.write_pg if self.pg else bulk_sql.write_sqlite
            imported, tasks_created = write(cur, self.campaign, demos, rankings, now)
            if imported < self._in_chunk and len(self._duplicates) < MAX_REPORTED_DUPLICATES:
                self._duplicates += self._chunk_duplicates(MAX_REPORTED_DUPLICATES - len(self._duplicates))
            if more and imported:  # later chunks report their duplicates of these prompts by line
                cur.execute(f"INSERT INTO {LINES} (prompt_id, line) SELECT prompt_id, line FROM {NEW}")
            self._imported += imported
            self._tasks_created += tasks_created
        if more:
            cur.execute(f"TRUNCATE {ROWS}")
            for table in (NEW, FIRST):
                cur.execute(f"DROP TABLE IF EXISTS {table}")
            self._in_chunk = 0
            self._open_copy()

    def _chunk_duplicates(self, limit: int) -> list[dict]:
        """This chunk's first skipped lines, with what each duplicates (the same wording as ``prompts_create``)."""
        self.cursor.execute(
            f"SELECT s.line, f.existing_id, f.first_line, l.line FROM {ROWS} s JOIN (SELECT hash, first_line, "
            f"existing_id FROM {FIRST} WHERE existing_id IS NOT NULL OR n > 1) f ON f.hash = s.hash "
            f"LEFT JOIN {LINES} l ON l.prompt_id = f.existing_id "
            f"WHERE f.existing_id IS NOT NULL OR s.line > f.first_line ORDER BY s.line LIMIT %s", [limit])
        return [{"line": line, "reason": f"duplicate of line {earlier} in this file" if earlier is not None
                 else f"duplicate of an existing prompt (id {existing})" if existing is not None
                 else f"duplicate of line {first} in this file"}
                for line, existing, first, earlier in self.cursor.fetchall()]
