"""Prompt import from an uploaded JSONL or CSV file (docs/api.md, ``POST /campaigns/{id}/prompts/import``).

One streaming pass: the file is read in chunks (refused as soon as it passes
``settings.PROMPT_IMPORT_MAX_BYTES``), each line is validated and hashed, and the good rows go straight
into a staging table (``prompt_bulk``: PostgreSQL COPY, or batched inserts on SQLite); memory stays
bounded whatever the file size. Any bad line rejects the whole file (nothing is written) with a report
of line numbers and reasons (the first ``ImportRejected.MAX_REPORTED``, lowest line numbers first, and
the full count). Duplicates (of a prompt already in the campaign, or of an earlier line of the same
file) are *not* errors: they are skipped and listed in the result, so re-uploading a file that grew is
safe. Blank lines are ignored. A NUL character (a raw byte or a JSON ``\\u0000`` escape) makes its line
bad: PostgreSQL cannot store it.

Large files go through a background job instead of the web request (``labeling.jobs.import_job``),
which passes an :class:`ImportProgress` that this module keeps up to date.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

from labeling.models import Campaign
from labeling.services.errors import ImportRejected, PayloadTooLarge, ServiceError
from labeling.services.json_input import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH
from labeling.services.prompt_bulk import PromptsImported, PromptStage
from labeling.services.prompts import NUL_ROW_REASON, PromptRow, RowError, prompt_row_from_dict

CHUNK = 1024 * 1024
CSV_COLUMNS = ("prompt", "author_id", "category", "source_id")
CSV_COMPLETION_COLUMNS = tuple(f"completion_{i}" for i in range(1, 10))


class ImportCancelled(ServiceError):
    """The import's job was cancelled while it ran; nothing was imported."""


class ImportProgress:
    """Counters the import keeps current while it runs (read by a job's heartbeat thread, so plain
    attributes: one writer, and a slightly stale read is fine). Set ``cancelled`` to stop the import."""

    def __init__(self, bytes_total: int | None = None):
        self.bytes_total = bytes_total
        self.bytes_read = 0
        self.lines_read = 0
        self.phase = "reading"  # then "writing" (the set-based inserts), then "done"
        self.cancelled = False

    def as_dict(self) -> dict:
        return {"phase": self.phase, "lines_read": self.lines_read, "bytes_read": self.bytes_read,
                "bytes_total": self.bytes_total}


class _ErrorLog:
    """Bad lines: the count of all, and the ``keep`` lowest line numbers (bounded memory even if every
    line of a huge file is bad; CSV can report a line slightly out of order, hence the sort)."""

    def __init__(self, keep: int = ImportRejected.MAX_REPORTED):
        self.keep, self.count, self.errors = keep, 0, []

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        self.errors.append({"line": line, "reason": reason})
        if len(self.errors) >= 2 * self.keep:
            self._trim()

    def _trim(self) -> None:
        self.errors.sort(key=lambda e: e["line"])
        del self.errors[self.keep:]

    def rejected(self) -> ImportRejected:
        self._trim()
        return ImportRejected(errors=self.errors, bad_lines=self.count)


def _chunks(file) -> Iterator[bytes]:
    if hasattr(file, "chunks"):  # Django's UploadedFile (in memory or a temp file)
        yield from file.chunks(CHUNK)
        return
    while chunk := file.read(CHUNK):
        yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk


def _byte_lines(file, limit: int, progress: ImportProgress) -> Iterator[bytes]:
    """Yield raw lines without their ends, refusing the file once more than ``limit`` bytes were read.

    Lines end with ``\\n``, ``\\r\\n`` or a lone ``\\r`` (old Mac exports; Python's universal newlines;
    ``bytes.splitlines`` splits on exactly these). JSON allows a raw CR only as whitespace between
    tokens, which no JSONL writer emits, so valid rows stay whole; in a quoted CSV field a raw CR
    becomes a newline, as any universal-newline reader would make it.
    """
    pending = b""
    for chunk in _chunks(file):
        progress.bytes_read += len(chunk)
        if progress.bytes_read > limit:
            raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
        if progress.cancelled:
            raise ImportCancelled("the import was cancelled")
        data = pending + chunk
        end = len(data) - 1 if data.endswith(b"\r") else len(data)  # maybe the first half of a "\r\n"
        cut = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
        if cut < 0:
            pending = data
            continue
        pending = data[cut + 1:]
        yield from data[: cut + 1].splitlines()
    if pending:
        yield from pending.splitlines()


def _decode(raw: bytes, lineno: int) -> str:
    """UTF-8 (a BOM on the first line is dropped); raises RowError on undecodable bytes."""
    try:
        text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(f"not valid UTF-8 (byte {exc.start + 1})") from None
    if "\x00" in text:  # PostgreSQL cannot store it; say so rather than "bad JSON"
        raise RowError(NUL_ROW_REASON)
    return text


class _JsonLines:
    """JSONL rows. ``json.loads`` with hooks that flag floats and NaN/Infinity, so that the generic
    JSON checks (``prompt_row_from_dict(json_checked=False)``) run only on lines that could fail them."""

    def __init__(self):
        self.special = False
        self.decoder = json.JSONDecoder(parse_float=self._number, parse_constant=self._number)

    def _number(self, text: str) -> float:
        self.special = True  # NaN, Infinity, 1e400, or just a float: let the full check decide
        return float(text)

    def _needs_json_checks(self, text: str, size: int) -> bool:
        """Whether the generic checks could fail on this line; when False they provably pass: a NUL or a
        lone surrogate can only come from a ``\\u`` escape (raw ones were refused while decoding), the
        depth is at most the count of ``{`` and ``[``, non-finite numbers are floats, and without floats
        the compact re-encoding is no longer than the line (so under the file limit, and the metadata
        under its 64 KB when the line is)."""
        if self.special or size > DEFAULT_MAX_BYTES:
            return True
        if "\\u" in text and ("\\u0000" in text or "\\ud" in text or "\\uD" in text):
            return True
        return text.count("{") + text.count("[") > DEFAULT_MAX_DEPTH

    def rows(self, lines: Iterable[bytes], errors: _ErrorLog, progress: ImportProgress) -> Iterator[tuple[int, PromptRow]]:
        for lineno, raw in enumerate(lines, start=1):
            progress.lines_read = lineno
            try:
                text = _decode(raw, lineno)
                if not text or text.isspace():
                    continue
                self.special = False
                try:
                    obj = self.decoder.decode(text)
                except json.JSONDecodeError as exc:
                    raise RowError(f"bad JSON: {exc.msg} (column {exc.colno})") from None
                except ValueError as exc:  # e.g. an integer of more than 4300 digits
                    raise RowError(f"bad JSON: {exc}") from None
                except RecursionError:
                    raise RowError("bad JSON: nested too deeply") from None
                checked = not self._needs_json_checks(text, len(raw))
                yield lineno, prompt_row_from_dict(obj, line=lineno, json_checked=checked)
            except RowError as exc:
                errors.add(lineno, str(exc))


def _text_lines(lines: Iterable[bytes], errors: _ErrorLog, progress: ImportProgress) -> Iterator[str]:
    # csv needs the line ends back to keep newlines inside quoted fields; undecodable lines are
    # reported here and replaced so the reader can go on and report later lines too.
    for lineno, raw in enumerate(lines, start=1):
        progress.lines_read = lineno
        try:
            yield _decode(raw, lineno) + "\n"
        except RowError as exc:
            errors.add(lineno, str(exc))
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


def _csv_rows(lines: Iterable[bytes], errors: _ErrorLog, progress: ImportProgress) -> Iterator[tuple[int, PromptRow]]:
    reader = csv.reader(_text_lines(lines, errors, progress))
    try:
        names = _csv_header(next(reader, []))
    except RowError as exc:
        errors.add(1, str(exc))
        return
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader cannot resync after this: report and stop
            errors.add(start, f"bad CSV: {exc}")
            return
        if not any(c.strip() for c in cells):
            continue
        try:
            # Cells are decoded UTF-8 text without NUL, flat, and no longer than the file: the generic
            # JSON checks cannot fail on them.
            yield start, prompt_row_from_dict(_csv_record(names, cells), line=start, json_checked=True)
        except RowError as exc:
            errors.add(start, str(exc))


def import_format(filename: str) -> str:
    """``"jsonl"`` or ``"csv"`` from a file name; ValidationError for anything else."""
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    raise ValidationError({"file": ["unsupported file type: upload a .jsonl or a .csv file"]})


def prompts_import(*, campaign: Campaign, file: IO, filename: str | None = None,
                   progress: ImportProgress | None = None) -> PromptsImported:
    """Parse and import a prompt file into ``campaign``; returns what was imported.

    ``file`` is a Django ``UploadedFile`` or any binary file object; the format comes from
    ``filename`` (default ``file.name``): ``.jsonl``/``.ndjson`` or ``.csv``. Raises
    ``PayloadTooLarge`` over ``settings.PROMPT_IMPORT_MAX_BYTES``, ``ImportRejected`` (with the
    line report) if any line is bad, ``ValidationError`` for an unknown format, an empty file or an
    archived campaign, ``ImportCancelled`` if ``progress.cancelled`` was set. All or nothing: only the
    final set-based write touches the campaign's tables, in one transaction. Preconditions: a saved
    campaign.
    """
    limit = settings.PROMPT_IMPORT_MAX_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
    fmt = import_format(filename or getattr(file, "name", ""))
    progress = progress or ImportProgress(bytes_total=size)
    errors = _ErrorLog()
    parse = _JsonLines().rows if fmt == "jsonl" else _csv_rows
    with PromptStage(campaign=campaign) as stage:
        for line, row in parse(_byte_lines(file, limit, progress), errors, progress):
            if not errors.count:  # after a bad line nothing will be written: only keep validating
                stage.add(line, row)
        if errors.count:
            raise errors.rejected()
        if not stage.staged:
            raise ValidationError({"file": ["the file contains no prompts"]})
        progress.phase = "writing"
        result = stage.write()
    progress.phase = "done"
    return result
