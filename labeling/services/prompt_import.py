"""Prompt import from an uploaded JSONL or CSV file (docs/api.md, ``POST /campaigns/{id}/prompts/import``).

The file is streamed in chunks and refused as soon as it passes ``settings.PROMPT_IMPORT_MAX_BYTES``.
Every line is validated first; any bad line rejects the whole file (nothing is written) with a
report of line numbers and reasons. Duplicates (of a prompt already in the campaign, or of an
earlier line of the same file) are *not* errors: they are skipped and listed in the result, so
re-uploading a file that grew is safe. Blank lines are ignored. A NUL character (a raw byte or a JSON
``\u0000`` escape) makes its line bad: PostgreSQL cannot store it.
"""

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

from labeling.models import Campaign
from labeling.services.errors import ImportRejected, PayloadTooLarge
from labeling.services.prompts import (
    NUL_ROW_REASON,
    PromptRow,
    PromptsCreated,
    RowError,
    prompt_row_from_dict,
    prompts_create,
)

CHUNK = 64 * 1024
_LINE_END = re.compile(rb"\r\n|\r|\n")
CSV_COLUMNS = ("prompt", "author_id", "category", "source_id")
CSV_COMPLETION_COLUMNS = tuple(f"completion_{i}" for i in range(1, 10))


def _chunks(file) -> Iterator[bytes]:
    if hasattr(file, "chunks"):  # Django's UploadedFile (in memory or a temp file)
        yield from file.chunks(CHUNK)
        return
    while chunk := file.read(CHUNK):
        yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk


def _byte_lines(file, limit: int) -> Iterator[bytes]:
    """Yield raw lines without their ends, refusing the file once more than ``limit`` bytes were read.

    Lines end with ``\\n``, ``\\r\\n`` or a lone ``\\r`` (old Mac exports; Python's universal newlines).
    JSON allows a raw CR only as whitespace between tokens, which no JSONL writer emits, so valid
    rows stay whole; in a quoted CSV field a raw CR becomes a newline, as any universal-newline
    reader would make it.
    """
    total, pending = 0, b""
    for chunk in _chunks(file):
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
        pending += chunk
        keep = 1 if pending.endswith(b"\r") else 0  # it may be the first half of a "\r\n" split across chunks
        *lines, rest = _LINE_END.split(pending[: len(pending) - keep])
        pending = rest + pending[len(pending) - keep :]
        yield from lines
    if pending:
        lines = _LINE_END.split(pending)
        yield from lines[:-1] if lines[-1] == b"" else lines


def _decode(raw: bytes, lineno: int) -> str:
    """UTF-8 (a BOM on the first line is dropped); raises RowError on undecodable bytes."""
    try:
        text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(f"not valid UTF-8 (byte {exc.start + 1})") from None
    if "\x00" in text:  # PostgreSQL cannot store it; say so rather than "bad JSON"
        raise RowError(NUL_ROW_REASON)
    return text.rstrip("\r")


def _parse_jsonl(lines: Iterable[bytes], rows: list[PromptRow], errors: list[dict]) -> None:
    for lineno, raw in enumerate(lines, start=1):
        try:
            text = _decode(raw, lineno)
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RowError(f"bad JSON: {exc.msg} (column {exc.colno})") from None
            except ValueError as exc:  # e.g. an integer of more than 4300 digits
                raise RowError(f"bad JSON: {exc}") from None
            except RecursionError:
                raise RowError("bad JSON: nested too deeply") from None
            rows.append(prompt_row_from_dict(obj, line=lineno))
        except RowError as exc:
            errors.append({"line": lineno, "reason": str(exc)})


def _text_lines(lines: Iterable[bytes], errors: list[dict]) -> Iterator[str]:
    # csv needs the line ends back to keep newlines inside quoted fields; undecodable lines are
    # reported here and replaced so the reader can go on and report later lines too.
    for lineno, raw in enumerate(lines, start=1):
        try:
            yield _decode(raw, lineno) + "\n"
        except RowError as exc:
            errors.append({"line": lineno, "reason": str(exc)})
            yield raw.decode("utf-8", errors="replace").replace("\x00", "") + "\n"  # reported once, here


def _csv_header(header: list[str]) -> list[str]:
    names = [h.strip().lower() for h in header]
    allowed = set(CSV_COLUMNS) | set(CSV_COMPLETION_COLUMNS)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise RowError(f"unknown column {unknown[0]!r} (allowed: {', '.join(CSV_COLUMNS)}, completion_1..completion_9)")
    if "prompt" not in names:
        raise RowError("missing column 'prompt'")
    if len(set(names)) != len(names):
        raise RowError("a column name is repeated")
    return names


def _csv_record(names: list[str], cells: list[str]) -> dict:
    if len(cells) > len(names):
        raise RowError(f"{len(cells)} fields but the header has {len(names)}")
    record = dict(zip(names, cells))
    raw = {k: record.get(k, "") for k in CSV_COLUMNS if record.get(k, "") != "" or k == "prompt"}
    completions = [record[c] for c in CSV_COMPLETION_COLUMNS if record.get(c, "").strip()]
    if completions:
        raw["completions"] = completions
    return raw


def _parse_csv(lines: Iterable[bytes], rows: list[PromptRow], errors: list[dict]) -> None:
    reader = csv.reader(_text_lines(lines, errors))
    try:
        names = _csv_header(next(reader, []))
    except RowError as exc:
        errors.append({"line": 1, "reason": str(exc)})
        return
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader cannot resync after this: report and stop
            errors.append({"line": start, "reason": f"bad CSV: {exc}"})
            return
        if not any(c.strip() for c in cells):
            continue
        try:
            rows.append(prompt_row_from_dict(_csv_record(names, cells), line=start))
        except RowError as exc:
            errors.append({"line": start, "reason": str(exc)})


def _format_of(filename: str) -> str:
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    raise ValidationError({"file": ["unsupported file type: upload a .jsonl or a .csv file"]})


def prompts_import(*, campaign: Campaign, file: IO, filename: str | None = None) -> PromptsCreated:
    """Parse and import a prompt file into ``campaign``; returns what was imported.

    ``file`` is a Django ``UploadedFile`` or any binary file object; the format comes from
    ``filename`` (default ``file.name``): ``.jsonl``/``.ndjson`` or ``.csv``. Raises
    ``PayloadTooLarge`` over ``settings.PROMPT_IMPORT_MAX_BYTES``, ``ImportRejected`` (with the
    line report) if any line is bad, ``ValidationError`` for an unknown format, an empty file or an
    archived campaign. Preconditions: none beyond a saved campaign.
    """
    limit = settings.PROMPT_IMPORT_MAX_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
    fmt = _format_of(filename or getattr(file, "name", ""))
    rows: list[PromptRow] = []
    errors: list[dict] = []
    parse = _parse_jsonl if fmt == "jsonl" else _parse_csv
    parse(_byte_lines(file, limit), rows, errors)
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise ImportRejected(errors=errors)
    if not rows:
        raise ValidationError({"file": ["the file contains no prompts"]})
    return prompts_create(campaign=campaign, rows=rows)
