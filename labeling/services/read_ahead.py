"""Run a generator in a thread and hand its items over in batches, so that producing them (parsing and
checking a prompt file: pure Python) overlaps with what the caller does with them (writing them to the
database: psycopg releases the GIL while it waits on the server, so the two really run at once on two cores).

Only the calling thread touches the database. An exception in the generator reaches the caller at the point
where its items would have; leaving the ``with`` block (normally, or on an error of the caller's) stops the
thread and waits for it.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

_DONE = object()


class ReadAhead:
    """``with ReadAhead(items, transform) as batches: for batch in batches: ...``

    ``transform(item)`` runs in the thread too; it returns the value to hand over, or None to drop the item.
    At most ``depth`` batches of ``batch_size`` wait in memory.
    """

    def __init__(self, items: Iterable, transform: Callable, *, batch_size: int = 1000, depth: int = 8,
                 name: str = "read-ahead"):
        self._items, self._transform, self._batch_size = items, transform, batch_size
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Iterator[list]:
        self._thread.start()
        return self._batches()

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        self._thread.join()

    def _batches(self) -> Iterator[list]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _run(self) -> None:
        batch: list = []
        try:
            try:
                for item in self._items:
                    value = self._transform(item)
                    if value is not None:
                        batch.append(value)
                    if len(batch) >= self._batch_size:
                        self._put(batch)
                        batch = []
            except _Stopped:
                raise
            except BaseException as exc:  # handed to the caller after the items before it
                if batch:
                    self._put(batch)
                self._put(exc)
                return
            if batch:
                self._put(batch)
            self._put(_DONE)
        except _Stopped:
            return

    def _put(self, item) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


class _Stopped(Exception):
    """The caller left: the thread ends without producing the rest."""
