"""Where export reads go: the ``replica`` database when one is configured, always in one consistent snapshot.

``DATABASE_REPLICA_URL`` adds a ``replica`` alias (config/settings/base.py) and sets
``EXPORT_READ_DATABASE = "replica"``. Inside ``export_reads()`` every ORM read of this thread is routed
there by ``ExportReadRouter`` (the export's selectors need no ``.using``), while writes, such as the
``DatasetSnapshot`` row, still go to the primary. Outside it nothing is routed: the queue and the
dashboards read the primary, and a replica's lag never shows in them.

On PostgreSQL the reads run in one ``REPEATABLE READ READ ONLY`` transaction without JIT and with cursors planned for their whole result, so the distinct authors
counted for the split, the rows and the manifest's figures all see the same data even while labels
keep arriving (a hot standby allows this isolation level). Nested in a caller's transaction on the same
database they share that transaction's snapshot instead. SQLite exports are not wrapped: its
``IMMEDIATE`` transactions would hold the write lock, and the queue, for the whole export.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

_reading: ContextVar[str | None] = ContextVar("export_read_alias", default=None)


def export_read_alias() -> str:
    return getattr(settings, "EXPORT_READ_DATABASE", DEFAULT_DB_ALIAS) or DEFAULT_DB_ALIAS


class ExportReadRouter:
    """Routes reads made inside ``export_reads()`` to the export database; leaves everything else alone."""

    def db_for_read(self, model, **hints):
        return _reading.get()

    def db_for_write(self, model, **hints):
        return None

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows: an object read there may point at one read here

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return None if db == DEFAULT_DB_ALIAS else False  # a replica follows the primary's schema


@contextmanager
def export_reads():
    """Route this thread's reads to the export database, in one consistent read-only snapshot; yields the alias."""
    alias = export_read_alias()
    connection = connections[alias]
    if connection.vendor != "postgresql":
        token = _reading.set(alias)
        try:
            yield alias
        finally:
            _reading.reset(token)
        return
    fresh = not connection.in_atomic_block
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            if fresh:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # JIT compiling the export's statement took 2.3 s of 3.2 s for 10k rankings and saves little
            # per row of a streamed, index-driven plan. An export reads its cursors to the end, so plan them
            # for the whole result (the default, 0.1, favours the first rows).
            cursor.execute("SELECT current_setting('jit'), current_setting('cursor_tuple_fraction'), "
                           "set_config('jit', 'off', true), set_config('cursor_tuple_fraction', '1', true)")
            jit, fraction = cursor.fetchone()[:2]
        token = _reading.set(alias)
        try:
            yield alias
        finally:
            _reading.reset(token)
        if not fresh:  # back to the caller's setting (a rolled-back savepoint undoes it by itself)
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('jit', %s, true), set_config('cursor_tuple_fraction', %s, true)",
                               [jit, fraction])
