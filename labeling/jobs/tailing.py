"""Following a training run's files while it runs: new metrics rows and the end of its log."""
from __future__ import annotations

import json
import os
from pathlib import Path

LOG_TAIL_BYTES = 16_000


class MetricsTail:
    """Reads complete new lines appended to metrics.jsonl since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def read(self) -> list[dict]:
        try:
            with self.path.open("rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < self.offset:  # the file was rewritten (a resume truncates it): start over
                    self.offset, self.partial = 0, b""
                fh.seek(self.offset)
                data = fh.read()
                self.offset += len(data)
        except FileNotFoundError:
            return []
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()  # an incomplete last line waits for the next read
        rows = []
        for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


def log_tail(path: Path, size: int = LOG_TAIL_BYTES) -> str:
    """The last ``size`` bytes of a log file as text ("" while it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            fh.seek(max(0, end - size))
            return fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
