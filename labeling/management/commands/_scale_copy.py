"""COPY helpers for ``generate_scale_data``: explicit ids, text-format rows, timing per table.

Why COPY with explicit ids: the ORM's ``bulk_create`` costs ~50 µs a row in Python and a round
trip per batch; COPY streams rows PostgreSQL parses in C, and ids chosen up front (above the
table's current maximum, sequences reset afterwards) let the tables reference each other without
reading anything back.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.management.color import no_style
from django.db import connection

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
CHUNK_ROWS = 20_000


def _text(value) -> str:
    """One value in COPY's text format (``\\N`` for NULL, JSON for lists/dicts, ISO for datetimes)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        value = json.dumps(value, separators=(",", ":"))
    return value.translate(_ESCAPES)


class CopyStats:
    """Rows and seconds per table, printed as rows/s at the end."""

    def __init__(self):
        self.tables: dict[str, list[float]] = {}

    def add(self, table: str, rows: int, seconds: float) -> None:
        entry = self.tables.setdefault(table, [0, 0.0])
        entry[0] += rows
        entry[1] += seconds

    def lines(self) -> list[str]:
        out = []
        for table, (rows, seconds) in self.tables.items():
            if not rows and table.startswith("("):
                out.append(f"  {table:<28} {'':>16} {seconds:8.2f} s")
                continue
            rate = rows / seconds if seconds > 0 else float("inf")
            out.append(f"  {table:<28} {int(rows):>11,} rows {seconds:8.2f} s {rate:>12,.0f} rows/s")
        return out


def line(*values) -> str:
    """One row in COPY's text format, for the generic path (hot generators build their lines directly)."""
    return "\t".join(map(_text, values))


def copy_rows(table: str, columns: Sequence[str], lines: Iterable[str], stats: CopyStats) -> int:
    """COPY ``lines`` (rows in COPY's text format, ``columns`` order, no newline) into ``table`` on
    Django's connection (inside its transaction); returns how many. Sent in chunks of ``CHUNK_ROWS``."""
    connection.ensure_connection()
    raw = connection.connection  # the psycopg 3 connection, in Django's open transaction
    started, count = time.perf_counter(), 0
    cols = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        buffer: list[str] = []
        for row in lines:
            buffer.append(row)
            if len(buffer) >= CHUNK_ROWS:
                copy.write("\n".join(buffer) + "\n")
                count += len(buffer)
                buffer = []
        if buffer:
            copy.write("\n".join(buffer) + "\n")
            count += len(buffer)
    stats.add(table, count, time.perf_counter() - started)
    return count


@contextmanager
def indexes_deferred(tables: Sequence[str], stats: CopyStats, check_foreign_keys: bool = True):
    """Drop the plain (non-constraint) indexes of ``tables`` while the block COPYs, and build them
    again after: one sorted build per index is several times faster than maintaining it row by row.
    Indexes that back a primary key or unique constraint stay (they also check the data). Runs in
    the caller's transaction, so a failure leaves every index in place."""
    with connection.cursor() as cursor:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED; an index cannot be built while
        # checks are pending, so each COPY's checks run at its end instead of at commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if not check_foreign_keys:
            # Foreign-key checks are per-row triggers (a lookup each): off for this transaction only;
            # the generator makes every reference itself. Needs a superuser; otherwise they stay on.
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [list(tables)])
        saved = cursor.fetchall()
        for name, _ in saved:
            cursor.execute(f"DROP INDEX {name}")
    yield
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in saved:
            cursor.execute(definition)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    stats.add(f"(rebuild {len(saved)} indexes)", 0, time.perf_counter() - started)


def next_ids(*tables: str) -> dict[str, int]:
    """The first free id of each table (its current maximum + 1), read under an EXCLUSIVE lock held
    until the transaction ends, so nothing else inserts rows in between."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        first = {}
        for table in tables:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
            first[table] = cursor.fetchone()[0]
    return first


def reset_sequences(models) -> None:
    """Move each model's id sequence past the ids COPY wrote (what ``manage.py sqlsequencereset`` prints)."""
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)


def analyze(tables: Sequence[str]) -> float:
    """ANALYZE the filled tables (fresh statistics, so the planner sees the new sizes); seconds taken."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started
