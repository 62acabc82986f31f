"""A real Celery worker process over Redis runs our tasks end to end against the test database:
a snapshot export on the ``default`` queue, then a tiny SFT training job on the ``gpu`` queue sent by
``job_create``'s on-commit hook. Needs PostgreSQL (the worker is another process: it cannot see an
in-memory SQLite test database) and Redis (``CELERY_TEST_BROKER_URL``, default db 15)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from config.celery import app as celery_app
from labeling.jobs import services as job_services
from labeling.models import DatasetSnapshot, Job, ModelVersion

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.celery, pytest.mark.slow, pytest.mark.xdist_group("celery-worker")]


def _redis_or_skip():
    import redis

    try:
        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis not reachable at {BROKER}")
    return client


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def redis_broker(monkeypatch):
    """Point this process's Celery app at the test broker (and back afterwards); start from an empty db."""
    _redis_or_skip().flushdb()
    monkeypatch.setattr(celery_app.conf, "broker_url", BROKER)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield BROKER
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def worker(redis_broker, data_dir, model_cache, settings, tmp_path):
    """A real `celery worker` process for both queues, on the test database."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share: run with DATABASE_URL=postgres://...")
    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": redis_broker,
        "PREFLOOP_DATA_DIR": str(data_dir),
        "PREFLOOP_MODEL_CACHE": str(model_cache),
        "PREFLOOP_JOB_POLL_S": "0.2",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "CONN_MAX_AGE": "0",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu", "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n", f"pytest-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while "ready." not in log_path.read_text(errors="replace"):
        assert proc.poll() is None, f"worker died:\n{log_path.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"worker not ready:\n{log_path.read_text(errors='replace')}"
        time.sleep(0.3)
    yield proc, log_path
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for(predicate, timeout, log_path, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log_path.read_text(errors='replace')[-6000:]}")


@pytest.mark.django_db(transaction=True)
def test_worker_runs_an_export_and_a_training_job(labeled, worker):
    proc, log_path = worker
    from labeling.jobs.tasks import create_snapshot

    create_snapshot.delay("sft", [labeled.campaign.pk], name="from-the-worker")
    snapshot = _wait_for(lambda: DatasetSnapshot.objects.filter(name="from-the-worker").first(), 60, log_path,
                         "the export task")
    assert snapshot.rows == 12
    assert Path(snapshot.path, "manifest.json").is_file()

    base = job_services.model_version_create(name="tiny-base-celery", kind="base", artifact_path="tiny")
    job = job_services.job_create(  # on commit → run_training_job.delay → the gpu queue
        kind="sft", params={"max_steps": 2, "batch_size": 2, "logging_steps": 1, "save_steps": 0, "device": "cpu",
                            "max_length": 64},
        input_snapshot_ids=[snapshot.pk], input_model_ids=[base.pk],
    )
    done = _wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed", "cancelled"]).first(),
        240, log_path, "the training job",
    )
    assert done.status == Job.Status.SUCCEEDED, f"{done.error}\n{done.log_tail}"
    assert ModelVersion.objects.get(job=done).kind == "sft"
    log = log_path.read_text(errors="replace")
    assert "labeling.jobs.tasks.create_snapshot" in log and "labeling.jobs.tasks.run_training_job" in log
    assert proc.poll() is None
    assert django_settings.CELERY_TASK_ROUTES["labeling.jobs.tasks.run_training_job"] == {"queue": "gpu"}
