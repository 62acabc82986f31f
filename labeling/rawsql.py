"""Hand-written SQL on the labeling hot path, mapped back onto model instances.

Why not the ORM there: on the queue endpoints, building and compiling querysets cost more web CPU
than PostgreSQL spent executing them (profiled before this module existed: ~40% of the web
process's CPU per annotation went to ``QuerySet.filter``/``SQLCompiler.as_sql``). The statements
themselves live next to the services and selectors that own them; this module only

- lists a model's columns for a SELECT or RETURNING clause (``RowShape.sql``), and
- turns the matching slice of a result row into a model instance exactly as the ORM would
  (``RowShape.load``): the same backend and field converters run, so JSON columns are decoded and
  datetimes are aware on SQLite and PostgreSQL alike.

Statements run through ``django.db.connection.cursor()``, so they are wrapped, logged and counted
like ORM queries (tests/labeling/test_queue.py asserts the counts).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
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

    def _get_converters(self) -> list:
        if self._converters is None or self._vendor != connection.vendor:
            converters = []
            for i, field in enumerate(self.fields):
                col = field.get_col(self.model._meta.db_table)
                fns = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if fns:
                    converters.append((i, fns, col))
            self._converters, self._vendor = converters, connection.vendor
        return self._converters

    def load(self, row: Sequence, start: int = 0) -> Model:
        """The instance for ``row[start:start + width]`` (missing fields are deferred, as with ``only()``)."""
        values = list(row[start:start + self.width])
        for i, fns, col in self._get_converters():
            value = values[i]
            for fn in fns:
                value = fn(value, col, connection)
            values[i] = value
        return self.model.from_db(connection.alias, self.attnames, values)


def fetch_rows(sql: str, params: Sequence | dict) -> list[tuple]:
    """Run one statement through Django's cursor (logged and counted like ORM queries)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


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
