"""Comparison rows of a snapshot, streamed: one server-side cursor, plain records, lines built from pieces.

A ranking becomes one *record* ``(ranking_id, prompt_id, author_id, labeler_id, groups, none_acceptable,
messages, completions, ratings)`` with ``completions`` as ``[[completion_id, text], ...]`` in
completion id order and ``ratings`` as ``[[completion_id, likert, flags], ...]`` in rating order.

- On PostgreSQL one statement builds each record as a JSON array (the task's completions and the
  assignment's ratings aggregated by correlated subqueries) and a named cursor streams them, so the
  export costs one round trip per block of rows, no ORM instance and no per-row query, and the
  process never holds more than a block.
- Elsewhere (SQLite, the embedded default) the rankings are read in blocks with two ``IN`` queries per
  block for completions and ratings.

The JSON lines are then assembled from encoded pieces instead of ``json.dumps`` of a dict per row and
per pair: each text is encoded once (``json.encoder.encode_basestring``, the function ``json.dumps``
itself uses with ``ensure_ascii=False``), and every pairwise row reuses the encoded prompt and texts.
The bytes are exactly those of ``json.dumps(row, ensure_ascii=False, sort_keys=True)`` (tested).
"""
from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from itertools import islice

from django.db import connections

from labeling.models import Assignment, Completion, Prompt, Rating, Ranking, Task
from labeling.services.export_split import author_key

FETCH_ROWS = 2000
_encode_str = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) applies to a str
_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def comparison_lines(rankings, alias: str, labeler_hash) -> Iterator[tuple[str, str, list[str]] | None]:
    """(author, row line, pairwise lines) for each ranking of the ``rankings`` queryset, by id.

    A ranking whose completions changed after it was made (an id no longer on the task, or not all of
    them ranked) cannot be written as indices and gives ``None``, as does a task with fewer than two; the
    caller leaves it out (and still counts it as read).
    """
    records = _pg_records(rankings, alias) if connections[alias].vendor == "postgresql" else _block_records(rankings)
    hashed: dict[int, str] = {}  # labeler id → encoded pseudonym (one entry per labeler, not per row)
    for record in records:
        labeler = hashed.get(record[3])
        if labeler is None:
            labeler = hashed[record[3]] = _encode_str(labeler_hash(record[3]))
        yield record_lines(record, labeler)


def record_lines(record, labeler: str) -> tuple[str, str, list[str]] | None:
    """The row line and pairwise lines of one record; ``labeler`` is the encoded pseudonym.

    A record is ``(ranking_id, prompt_id, author_id, labeler_id, groups, none_acceptable, prompt, completion_ids,
    texts, ratings)``: ``prompt`` is the encoded turn list, ``texts`` the encoded completion texts in
    ``completion_ids`` order, ``ratings`` ``(completion_id, likert, encoded flags)`` in rating order.
    """
    ranking_id, prompt_id, author_id, _, groups, none_acceptable, prompt, completion_ids, texts, ratings = record
    index = dict(zip(completion_ids, range(len(completion_ids))))
    try:
        ranked = [[index[cid] for cid in group] for group in groups]
    except (KeyError, TypeError):
        return None
    if len(completion_ids) < 2 or sorted(i for g in ranked for i in g) != list(range(len(completion_ids))):
        return None
    rated = ", ".join(f'{{"completion": {index[cid]}, "flags": {flags}, "likert": {likert}}}'
                      for cid, likert, flags in ratings if cid in index)
    # ``ranked!s`` below: a list of lists of ints prints exactly as json.dumps writes it, at a third of the cost.
    line = (f'{{"completions": [{", ".join(texts)}], "labeler": {labeler}, '
            f'"none_acceptable": {"true" if none_acceptable else "false"}, "prompt": {prompt}, '
            f'"prompt_id": {prompt_id}, "ranking": {ranked!s}, "ranking_id": {ranking_id}, '
            f'"ratings": [{rated}]}}\n')
    turns = [f'[{{"content": {text}, "role": "assistant"}}]' for text in texts]
    ids = f'"labeler": {labeler}, "prompt": {prompt}, "prompt_id": {prompt_id}, "ranking_id": {ranking_id}'
    pairs = [f'{{"chosen": {turns[w]}, {ids}, "rejected": {turns[lo]}}}\n'
             for hi, better in enumerate(ranked) for worse in ranked[hi + 1:] for w in better for lo in worse]
    return author_key(author_id, prompt_id), line, pairs


def encode_turns(messages) -> str:
    """The encoded ``[{"content": ..., "role": ...}, ...]`` of a prompt's turns (other keys dropped)."""
    return _dumps([{"role": m["role"], "content": m["content"]} for m in messages])


def pg_records_sql(rankings, alias: str) -> tuple[str, tuple]:
    """The statement giving each ranking of the ``rankings`` queryset as record pieces, by id.

    PostgreSQL encodes the strings itself (``to_json(text)`` escapes exactly as ``json.dumps`` with
    ``ensure_ascii=False``: ``\\"``, ``\\\\``, ``\\b\\f\\n\\r\\t`` and ``\\u00xx`` below 0x20), so Python
    only splits and joins. Texts are tab-separated: an encoded string never holds a raw tab.
    """
    selected, params = rankings.values("id").order_by().query.get_compiler(using=alias).as_sql()
    through = Task.completions.through._meta.db_table
    sql = f"""
        SELECT r.id, t.prompt_id, p.author_id, a.labeler_id, r.groups::text, r.none_acceptable,
            (SELECT '[' || string_agg('{{"content": ' || to_json(m ->> 'content')::text || ', "role": '
                                      || to_json(m ->> 'role')::text || '}}', ', ' ORDER BY n) || ']'
               FROM jsonb_array_elements(p.messages) WITH ORDINALITY AS turn(m, n)),
            (SELECT string_agg(tc.completion_id::text, ',' ORDER BY tc.completion_id) || E'\\n'
                    || string_agg(to_json(c.text)::text, E'\\t' ORDER BY tc.completion_id)
               FROM {through} tc JOIN {Completion._meta.db_table} c ON c.id = tc.completion_id
              WHERE tc.task_id = t.id),
            (SELECT string_agg(rt.completion_id::text || ' ' || rt.likert::text || ' ' || rt.flags::text, E'\\t'
                               ORDER BY rt.id)
               FROM {Rating._meta.db_table} rt WHERE rt.assignment_id = a.id)
        FROM {Ranking._meta.db_table} r
        JOIN {Assignment._meta.db_table} a ON a.id = r.assignment_id
        JOIN {Task._meta.db_table} t ON t.id = a.task_id
        JOIN {Prompt._meta.db_table} p ON p.id = t.prompt_id
        WHERE r.id IN ({selected})
        ORDER BY r.id"""
    return sql, params


def _pg_records(rankings, alias: str) -> Iterator[tuple]:
    """Records from one statement on a named (server-side) cursor, the next block fetched while this one is written."""
    sql, params = pg_records_sql(rankings, alias)
    loads = json.loads
    with connections[alias].chunked_cursor() as cursor:  # a named cursor: the server holds the result, we hold blocks
        cursor.execute(sql, params)
        for block in _prefetched(lambda: cursor.fetchmany(FETCH_ROWS)):
            for rid, prompt_id, author_id, labeler_id, groups, none_acceptable, prompt, completions, ratings in block:
                ids, _, texts = (completions or "\n").partition("\n")
                yield (rid, prompt_id, author_id, labeler_id, loads(groups), none_acceptable, prompt or "[]",
                       list(map(int, ids.split(","))) if ids else [], texts.split("\t") if texts else [],
                       [(int(c), likert, flags) for c, likert, flags in
                        (piece.split(" ", 2) for piece in ratings.split("\t"))] if ratings else [])


def _prefetched(fetch) -> Iterator[list]:
    """Blocks from ``fetch()`` until an empty one, fetched one block ahead by a thread.

    While Python builds and writes the lines of a block, PostgreSQL computes the next one; the thread
    waits on the socket with the GIL released. At most two blocks are held.
    """
    blocks: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def run():
        try:
            while not stop.is_set():
                block = fetch()
                blocks.put(block)
                if not block:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            blocks.put(exc)

    thread = threading.Thread(target=run, name="export-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            block = blocks.get()
            if isinstance(block, BaseException):
                raise block
            if not block:
                return
            yield block
    finally:
        stop.set()
        while thread.is_alive():  # unblock a put() so the thread ends before the cursor closes
            try:
                blocks.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def _block_records(rankings) -> Iterator[tuple]:
    """Records read in blocks: the rankings, then the blocks' completions and ratings in one query each."""
    rows = rankings.order_by("id").values_list(
        "id", "assignment__task__prompt_id", "assignment__task__prompt__author_id", "assignment__labeler_id",
        "groups", "none_acceptable", "assignment__task__prompt__messages", "assignment__task_id", "assignment_id",
    ).iterator(chunk_size=FETCH_ROWS)
    while block := list(islice(rows, FETCH_ROWS)):
        completions: dict[int, list] = {}
        for task_id, cid, text in (
            Task.completions.through.objects.filter(task_id__in={row[7] for row in block})
            .order_by("task_id", "completion_id").values_list("task_id", "completion_id", "completion__text")
        ):
            completions.setdefault(task_id, []).append((cid, _encode_str(text)))
        ratings: dict[int, list] = {}
        for assignment_id, cid, likert, flags in (
            Rating.objects.filter(assignment_id__in=[row[8] for row in block]).order_by("id")
            .values_list("assignment_id", "completion_id", "likert", "flags")
        ):
            ratings.setdefault(assignment_id, []).append((cid, str(likert), _dumps(list(flags))))
        for row in block:
            items = completions.get(row[7], [])
            yield (*row[:6], encode_turns(row[6]), [cid for cid, _ in items], [text for _, text in items],
                   ratings.get(row[8], []))
