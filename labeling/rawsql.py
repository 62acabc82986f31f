"""Hand-written SQL on the labeling hot path, mapped back onto model instances.

Why not the ORM there: on the queue endpoints, building and compiling querysets cost more web CPU
than PostgreSQL spent executing them (profiled before this module existed: ~40% of the web
process's CPU per annotation went to ``QuerySet.filter``/``SQLCompiler.as_sql``). The statements
themselves live next to the services and selectors that own them; this module only

- lists a model's columns for a SELECT or RETURNING clause (``RowShape.sql``), and
- turns the matching slice of a result row into a model instance exactly as the ORM would
  (``RowShape.load``): the same backend and field converters run, so JSON columns are decoded and
  datetimes are aware on SQLite and PostgreSQL alike.

Statements run through Django's cursor wrapper (``fetch_rows``), so they are wrapped, logged and counted
like ORM queries (tests/labeling/test_queue.py asserts the counts).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


class RowShape:
    """Some (default: all) concrete columns of ``model`` under a table alias, in field order.

    Build these at import time; converters are looked up on first use (they depend on the
    backend, which is only known once settings are loaded).
    """

    def __init__(self, model: type[Model], alias: str, fields: Sequence[str] | None = None):
        concrete = model._meta.concrete_fields
        self.model = model
        self.fields = [f for f in concrete if fields is None or f.attname in fields or f.name in fields]
        self.attnames = [f.attname for f in self.fields]
        self.width = len(self.fields)
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in self.fields)
        self._converters: list | None = None
        self._vendor: str | None = None

    def _get_converters(self, conn) -> list:
        if self._converters is None or self._vendor != conn.vendor:
            converters = []
            for i, field in enumerate(self.fields):
                col = field.get_col(self.model._meta.db_table)
                fns = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
                if fns:
                    converters.append((i, fns, col))
            self._converters, self._vendor = converters, conn.vendor
        return self._converters

    def load(self, row: Sequence, start: int = 0) -> Model:
        """The instance for ``row[start:start + width]`` (missing fields are deferred, as with ``only()``)."""
        conn = connections[DEFAULT_DB_ALIAS]  # once: each ``django.db.connection.x`` is a thread-local lookup
        values = list(row[start:start + self.width])
        for i, fns, col in self._get_converters(conn):
            value = values[i]
            for fn in fns:
                value = fn(value, col, conn)
            values[i] = value
        return self.model.from_db(conn.alias, self.attnames, values)


def _cursor():
    """Django's cursor wrapper (errors translated, queries logged and counted as usual) around, on
    PostgreSQL, a server-side-binding psycopg cursor: Django's own cursors bind parameters on the
    client, which means PostgreSQL parses and plans every statement from scratch; ours send the
    parameters separately, so psycopg can prepare each hot statement once per connection (after
    ``prepare_threshold`` runs, set in settings: ``DB_PREPARE_THRESHOLD``) and PostgreSQL skips
    the parse/plan work afterwards. ORM queries keep Django's client-side cursors, unprepared."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        return conn.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What ``conn.cursor()`` does, with our cursor class instead of the configured one.
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    conn.validate_thread_sharing()
    with conn.wrap_database_errors:
        raw = ServerBindingCursor(conn.connection)
    return conn.make_debug_cursor(raw) if conn.queries_logged else conn.make_cursor(raw)


def fetch_rows(sql: str, params: Sequence | dict) -> list[tuple]:
    """Run one statement that returns rows (a SELECT, or a write with RETURNING or a final SELECT)
    through Django's cursor wrapper, so it is logged and counted like ORM queries."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        # Not guarded by ``cursor.description``: psycopg builds a Column object per column on each
        # access, a measurable cost on the hot path, and every statement here returns rows.
        rows = cursor.fetchall()
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.queries_logged and conn.vendor == "postgresql":
        # psycopg keeps no text for a prepared run, so Django would log None: log the statement
        # with its parameters inlined, like Django's own queries (debug mode and tests only).
        conn.queries_log[-1]["sql"] = conn.ops.compose_sql(sql, params)
    return rows


def set_prefetched(instance: Model, name: str, objects: list[Model]) -> None:
    """Make ``instance.<name>.all()`` return ``objects`` without a query, as ``prefetch_related`` does.

    The related manager reads ``_prefetched_objects_cache[name]``; we store a queryset of the
    relation with its result cache filled (so ``.all()``, ``len()`` and iteration use ``objects``,
    while ``.filter()`` and friends still query the database correctly instead of filtering a list).
    """
    qs = getattr(instance, name).get_queryset()
    qs._result_cache = list(objects)
    qs._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = qs
