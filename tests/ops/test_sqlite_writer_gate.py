"""The embedded default's SQLite writers queue on a file lock (config/sqlite_backend): every transaction
holds it from BEGIN to COMMIT or ROLLBACK, concurrent writers all get through, and a gate that cannot be
had within the timeout falls back to SQLite's own locking instead of hanging."""
from __future__ import annotations

import fcntl
import os
import threading

import pytest
from django.db import connections, transaction

ALIAS = "gate_test"


@pytest.fixture
def gated(tmp_path, django_db_blocker):
    """A file database of its own on the gated backend (not the test database: the gate is for files)."""
    with django_db_blocker.unblock():
        yield from _gated_database(tmp_path)


def _gated_database(tmp_path):
    path = tmp_path / "embedded.sqlite3"
    config = connections.configure_settings({"default": {}, ALIAS: {
        "ENGINE": "config.sqlite_backend", "NAME": str(path),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}}})[ALIAS]
    connections.settings[ALIAS] = config
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        cursor.execute("INSERT INTO counter VALUES (0)")
    yield path
    connections[ALIAS].close()
    del connections[ALIAS]
    del connections.settings[ALIAS]


def gate_is_free(path) -> bool:
    """Another process's view: can the writers' lock be taken right now?"""
    fd = os.open(f"{path}.writers", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def increment():
    with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        (n,) = cursor.fetchone()
        cursor.execute("UPDATE counter SET n = %s", [n + 1])


def count() -> int:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        return cursor.fetchone()[0]


def test_a_transaction_holds_the_gate_until_commit_or_rollback(gated):
    with transaction.atomic(using=ALIAS):
        connections[ALIAS].cursor().execute("UPDATE counter SET n = n + 1")
        assert not gate_is_free(gated)
    assert gate_is_free(gated) and count() == 1
    with pytest.raises(RuntimeError), transaction.atomic(using=ALIAS):
        connections[ALIAS].cursor().execute("UPDATE counter SET n = n + 1")
        raise RuntimeError("rolled back")
    assert gate_is_free(gated) and count() == 1


def test_concurrent_writers_all_get_through_in_turn(gated):
    errors = []

    def worker():
        try:
            for _ in range(25):
                increment()
        except Exception as exc:  # a "database is locked" would land here
            errors.append(exc)
        finally:
            connections[ALIAS].close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and count() == 200  # read-modify-write under the gate: no lost update


def test_a_gate_held_elsewhere_past_the_timeout_falls_back_to_sqlite_locking(gated):
    connections.settings[ALIAS]["OPTIONS"]["timeout"] = 0.2
    connections[ALIAS].close()
    del connections[ALIAS]  # the next use connects with the short timeout
    stuck = os.open(f"{gated}.writers", os.O_RDWR | os.O_CREAT)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # e.g. a process that hung while holding it
    try:
        increment()  # still commits: SQLite's own write lock is free
        assert count() == 1
    finally:
        os.close(stuck)
    increment()  # and the gate works again once it is free
    assert count() == 2 and gate_is_free(gated)
