"""The set-based SQL of a prompt import's write (``prompt_bulk``): one chunk of staged rows becomes prompts,
tasks, completions and task↔completion links with a few ``INSERT … SELECT`` (PostgreSQL: ids from the
sequences up front; SQLite: ids read back through the unique (campaign, hash) index).

Foreign keys (PostgreSQL). Every row written here references the campaign, locked by the import's
transaction, or rows inserted by this same transaction (invisible to every other, so nobody can delete
them), with ids taken from ``prefloop_import_new``; each INSERT's row count is checked against that table,
so a reference to a row that was not written raises before commit. The database's own per-row foreign-key
triggers would re-check those 17 references per prompt one at a time at COMMIT: 8 of 19 s of a 100k import
(docs/scale.md). So when the database role may set ``session_replication_role`` (a superuser, or
PostgreSQL 15's ``GRANT SET ON PARAMETER session_replication_role TO <role>``), the import's transaction
runs with it set to ``replica`` (``SET LOCAL``, set back to what it was before the transaction goes on),
unless ``PROMPT_IMPORT_SKIP_FK_TRIGGERS`` is off or the tables carry a trigger or rule of their own (which
``replica`` would silence too). Otherwise the triggers check as before.

Every column not set here gets its model default (``_insert``), so a new column with a default needs
no change in this module.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection

from labeling.models import Campaign, Completion, Prompt, Task

ROWS, FIRST, NEW, LINES = "prefloop_import_rows", "prefloop_import_first", "prefloop_import_new", "prefloop_import_lines"
TaskCompletion = Task.completions.through
WRITTEN_TABLES = (Prompt._meta.db_table, Task._meta.db_table, Completion._meta.db_table, TaskCompletion._meta.db_table)


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


def may_skip_fk_triggers(cur) -> bool:
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


def check_count(what: str, written: int, expected: int) -> None:
    """The proof the skipped foreign-key triggers would have given (module docstring)."""
    if written != expected:
        raise RuntimeError(f"prompt import wrote {written} {what}, expected {expected}: rolled back")


def _check_prompts_inserted(cur, expected: int) -> None:
    if cur.rowcount != expected:  # only if the campaign lock was bypassed by a raw writer
        raise ValidationError({"file": ["prompts were added to this campaign during the import: try again"]})


def _fresh() -> str:
    """The first line of each hash the campaign does not hold yet."""
    return f"FROM {ROWS} s JOIN {FIRST} f ON f.first_line = s.line WHERE f.existing_id IS NULL"


def _task_columns(campaign: Campaign, task_id: str | None) -> dict[str, str]:
    columns = {"campaign_id": str(campaign.pk), "prompt_id": "t.prompt_id", "kind": "t.kind",
               "required_labels": str(int(campaign.labels_per_task)), "priority": str(int(campaign.priority))}
    if task_id:
        columns["id"] = task_id
    return columns


def write_pg(cur, campaign: Campaign, demos: bool, rankings: bool, now) -> tuple[int, int]:
    """Write the staged chunk (PostgreSQL); returns (prompts imported, tasks created)."""
    seq = {}
    for model in (Prompt, Task):
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        seq[model] = cur.fetchone()[0]
    # Ids up front, in line order (the subquery's order): no read-back to link tasks and completions.
    cur.execute(
        f"CREATE TEMP TABLE {NEW} AS SELECT nextval(%s) AS prompt_id, "
        f"CASE WHEN %s THEN nextval(%s) END AS demo_task_id, "
        f"CASE WHEN %s AND s.ncomp >= 2 THEN nextval(%s) END AS rank_task_id, s.line, s.ncomp "
        f"FROM (SELECT s.line, s.ncomp {_fresh()} ORDER BY s.line) s",
        [seq[Prompt], demos, seq[Task], rankings, seq[Task]])
    cur.execute(f"SELECT count(*), count(demo_task_id) + count(rank_task_id), coalesce(sum(ncomp), 0), "
                f"coalesce(sum(ncomp) FILTER (WHERE rank_task_id IS NOT NULL), 0) FROM {NEW}")
    imported, tasks_expected, completions_expected, links_expected = cur.fetchone()
    if not imported:
        return 0, 0
    cur.execute(f"ANALYZE {NEW}")
    join = f"FROM {NEW} n JOIN {ROWS} s ON s.line = n.line"
    sql, params = _insert(Prompt, {
        "id": "n.prompt_id", "campaign_id": str(campaign.pk), "messages": "s.doc->'m'", "author_id": "s.author_id",
        "source_id": "s.source_id", "content_hash": "s.hash", "category": "s.category", "metadata": "s.doc->'x'",
    }, f"{join} ORDER BY n.prompt_id ON CONFLICT DO NOTHING", [], now)
    cur.execute(sql, params)
    _check_prompts_inserted(cur, imported)
    sql, params = _insert(Task, _task_columns(campaign, "t.id"), (
        f"FROM (SELECT demo_task_id AS id, prompt_id, 'demonstration' AS kind FROM {NEW} WHERE demo_task_id IS NOT NULL "
        f"UNION ALL SELECT rank_task_id, prompt_id, 'ranking' FROM {NEW} WHERE rank_task_id IS NOT NULL) t ORDER BY t.id"),
        [], now)
    cur.execute(sql, params)
    tasks_created = cur.rowcount
    check_count("tasks", tasks_created, tasks_expected)
    sql, params = _insert(Completion, {"prompt_id": "n.prompt_id", "text": "e.value"}, (
        f"{join} CROSS JOIN LATERAL jsonb_array_elements_text(s.doc->'k') WITH ORDINALITY e(value, pos) "
        f"ORDER BY n.prompt_id, e.pos RETURNING id, prompt_id"), [], now)
    cur.execute(
        f"WITH c AS ({sql}), l AS (INSERT INTO {TaskCompletion._meta.db_table} (task_id, completion_id) "
        f"SELECT n.rank_task_id, c.id FROM c JOIN {NEW} n ON n.prompt_id = c.prompt_id "
        f"WHERE n.rank_task_id IS NOT NULL ORDER BY c.id RETURNING 1) "
        f"SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM l)", params)
    completions, links = cur.fetchone()
    check_count("completions", completions, completions_expected)
    check_count("task-completion links", links, links_expected)
    return imported, tasks_created


def write_sqlite(cur, campaign: Campaign, demos: bool, rankings: bool, now) -> tuple[int, int]:
    """Write everything staged (SQLite); returns (prompts imported, tasks created)."""
    cur.execute(f"CREATE TEMP TABLE {NEW} AS SELECT s.line AS line, s.hash AS hash, s.ncomp AS ncomp, "
                f"NULL AS prompt_id {_fresh()} ORDER BY s.line")
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
    _check_prompts_inserted(cur, imported)
    # The ids SQLite gave, read back through the unique (campaign, content_hash) index.
    cur.execute(f"CREATE INDEX {NEW}_line ON {NEW} (line)")
    cur.execute(f"UPDATE {NEW} SET prompt_id = (SELECT p.id FROM {Prompt._meta.db_table} p "
                f"WHERE p.campaign_id = %s AND p.content_hash = {NEW}.hash)", [campaign.pk])
    cur.execute(f"CREATE INDEX {NEW}_prompt ON {NEW} (prompt_id)")
    sql, params = _insert(Task, _task_columns(campaign, None), (
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
