"""The embedded default's SQLite backend: Django's, with writers queued on a file lock.

SQLite has one writer at a time. Every transaction here is ``BEGIN IMMEDIATE`` (settings), and a
writer that finds the lock taken waits in SQLite's busy handler, which *sleeps* and retries on a
growing schedule (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms). With eight labelers at once a
waiter often sleeps through several commits: p50 latency matched PostgreSQL's, p99 was 2.4x it
(docs/scale.md, "The embedded default keeps up").

Here a transaction first takes an exclusive ``flock`` on ``<database>.writers`` and only then
``BEGIN IMMEDIATE``; commit or rollback releases it. Waiters block in the kernel and wake when the
lock is released, the way PostgreSQL queues writers on a row lock. SQLite's own lock still guarantees
correctness: the gate only decides who asks for it next. Writes outside a transaction (autocommit)
and other programs do not take the gate and fall back to the busy handler, as before.

The wait is bounded by the connection's ``timeout`` (20 s in settings): after that the transaction
goes ahead to ``BEGIN IMMEDIATE`` without the gate, and SQLite's busy timeout applies as before.
"""
from __future__ import annotations

import fcntl
import os
import threading

from django.db.backends.sqlite3 import base


class WriterGate:
    """An exclusive ``flock`` on one file, held by one connection for one transaction at a time."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self.held = False

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the lock; True when it is held."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self._wait(fd, timeout):
                return False
        self.held = True
        return True

    def _wait(self, fd: int, timeout: float) -> bool:
        """Block on the lock in a helper thread (``flock`` itself takes no timeout).

        On timeout the helper is abandoned with the descriptor: it releases the lock and closes the
        descriptor as soon as it gets it, and this gate opens a new one next time.
        """
        got, lock = threading.Event(), threading.Lock()
        abandoned = []

        def wait():
            fcntl.flock(fd, fcntl.LOCK_EX)
            with lock:
                if abandoned:
                    os.close(fd)  # closing releases the lock
                    return
                got.set()

        threading.Thread(target=wait, name="sqlite-writer-gate", daemon=True).start()
        if got.wait(timeout):
            return True
        with lock:
            if got.is_set():
                return True
            abandoned.append(True)
            self._fd = None
        return False

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is not None and self._pid != os.getpid():
            self._fd = None  # inherited over fork: that descriptor's lock is shared with the parent
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's SQLite wrapper whose transactions queue on a :class:`WriterGate` before ``BEGIN``."""

    def _gate(self) -> WriterGate | None:
        if self.is_in_memory_db():
            return None
        gate = getattr(self, "_writer_gate", None)
        if gate is None:
            gate = self._writer_gate = WriterGate(f"{self.settings_dict['NAME']}.writers")
        return gate

    def _start_transaction_under_autocommit(self):
        gate = self._gate()
        if gate is not None:
            gate.acquire(float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5)))
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_gate()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_gate()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_gate()

    def _close(self):
        try:
            return super()._close()
        finally:
            gate = getattr(self, "_writer_gate", None)
            if gate is not None:
                gate.close()

    def _release_gate(self) -> None:
        gate = getattr(self, "_writer_gate", None)
        if gate is not None:
            gate.release()
