"""Real Celery worker processes for tests: start, stop, kill -9, and wait for a state.

A worker is a separate process on the test database (PostgreSQL: another process cannot see an
in-memory SQLite database) and a real Redis broker. It runs in its own session so a test can kill it
(and only it) with SIGKILL, as an out-of-memory killer or a crashed machine would.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def _broker_for_this_process() -> str:
    """CELERY_TEST_BROKER_URL's Redis db, one lower per xdist worker (gw1 → db 14 for /15): tests that
    flush their broker can then run on two workers at once."""
    url = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker[2:]) if worker[2:].isdigit() else 0
    base, _, db = url.rpartition("/")
    return f"{base}/{int(db) - offset}" if db.isdigit() and int(db) >= offset else url


BROKER = _broker_for_this_process()


def redis_or_skip(url: str = BROKER):
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis not reachable at {url}")
    return client


def database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def point_celery_at(broker: str) -> None:
    """Make this process's Celery app publish to ``broker`` (dropping pooled connections)."""
    from kombu import pools

    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    pools.reset()  # kombu keeps producer pools per connection globally: drop the closed ones too
    celery_app.conf.broker_url = broker
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def worker_env(*, broker: str, data_dir, model_cache, **extra) -> dict:
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs a database it can share: run with DATABASE_URL=postgres://...")
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker, "PREFLOOP_DATA_DIR": str(data_dir), "PREFLOOP_MODEL_CACHE": str(model_cache),
        "PREFLOOP_JOB_POLL_S": "0.2", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CONN_MAX_AGE": "0",
        **{k: str(v) for k, v in extra.items()},
    }


def start_worker(env: dict, log_path: Path, *, queues: str = "default,gpu") -> subprocess.Popen:
    """A `celery worker --pool solo` process (tasks run in it, one at a time); returns once it is ready."""
    name = f"pytest-{os.getpid()}-{log_path.stem}@%h"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", name],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    wait_for(lambda: "ready." in log_path.read_text(errors="replace") or proc.poll() is not None, 120,
             "the worker to start", log_path)
    assert proc.poll() is None, f"worker died:\n{log_path.read_text(errors='replace')}"
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def kill9(proc: subprocess.Popen) -> None:
    """SIGKILL the worker's whole process group (not the training child: that has its own session)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for(predicate, timeout: float, what: str, *logs: Path, interval: float = 0.2):
    """Poll until ``predicate()`` is truthy (returns it); fail with the logs' ends after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tails = "\n".join(f"--- {p}:\n{p.read_text(errors='replace')[-5000:]}" for p in logs if p.exists())
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tails}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
