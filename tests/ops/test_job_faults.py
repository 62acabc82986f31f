"""Jobs survive ordinary faults, with real processes: kill -9 of the gpu worker mid-job, the runner's
database connection terminated mid-job, the broker stopped while a job is created, and kill -9 of the
default worker mid-export. Each ends in a recorded state, and no training process outlives its worker.

The beat sweep (``labeling.jobs.sweep``) runs here in the test process, with ``JOB_STALE_AFTER_S``
shortened so a lost worker is noticed in seconds instead of the production default of two minutes.
"""
from __future__ import annotations

import hashlib
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from celery_workers import kill9, pid_alive, point_celery_at, start_worker, stop_worker, wait_for, worker_env
from labeling import roles
from labeling.jobs.services import job_create, model_version_create
from labeling.jobs.sweep import jobs_sweep
from labeling.models import Assignment, Completion, DatasetSnapshot, Job, ModelVersion, Prompt, Ranking, Task
from labeling.services.exports import snapshot_create, snapshots_root
from labeling.services.users import user_create_with_role

# Its own group: each xdist worker has its own Redis db (celery_workers.BROKER), so these run beside the
# end-to-end tests of test_celery_integration.py.
pytestmark = [pytest.mark.celery, pytest.mark.slow, pytest.mark.xdist_group("celery-faults")]
TINY = {"device": "cpu", "max_length": 64, "logging_steps": 1, "batch_size": 2}


@pytest.fixture
def faults(redis_broker, data_dir, model_cache, settings, tmp_path):
    """Settings for a fast sweep and a factory of worker processes, all stopped at the end."""
    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    settings.JOB_STALE_AFTER_S = 3
    settings.EXPORT_TMP_MAX_AGE_S = 0
    started = []

    def worker(name: str, queues: str, broker: str = redis_broker):
        log = tmp_path / f"{name}.log"
        proc = start_worker(worker_env(broker=broker, data_dir=data_dir, model_cache=model_cache), log, queues=queues)
        started.append(proc)
        return proc, log

    yield worker
    for proc in started:
        stop_worker(proc)


def _job(labeled, kind="reward", **params):
    snap = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], valid_fraction=0.2)
    base = ModelVersion.objects.filter(name="fault-base").first() or model_version_create(
        name="fault-base", kind="base", artifact_path="tiny")
    job, _ = job_create(kind=kind, inputs={"model": base.pk, "data": snap.pk}, params={**TINY, **params})
    return job


def _refresh(job: Job) -> Job:
    job.refresh_from_db()
    return job


def _sweep_until(outcome: str, what: str, *logs):
    return wait_for(lambda: jobs_sweep()[outcome], 60, what, *logs, interval=0.5)


@pytest.mark.django_db(transaction=True)
def test_kill9_of_the_gpu_worker_requeues_the_job_and_it_resumes_from_its_checkpoint(labeled, faults):
    proc, log = faults("gpu-1", "gpu")
    job = _job(labeled, max_steps=100_000, save_steps=5)
    wait_for(lambda: _refresh(job).pid and any(r.get("step", 0) >= 12 for r in job.metrics), 240,
             "training past its first checkpoints", log)
    training_pid = job.pid
    kill9(proc)
    wait_for(lambda: not pid_alive(training_pid), 30, "the training process to die with its supervisor", log)

    _sweep_until("requeued", "the sweep to re-queue the job", log)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.attempts == 1
    assert job.error.startswith("worker lost (no heartbeat for 3 s)")

    proc2, log2 = faults("gpu-2", "gpu")
    wait_for(lambda: _refresh(job).status == Job.Status.RUNNING and job.attempts == 2 and job.metrics
             and job.metrics[-1].get("step", 0) > 12, 240, "the job to resume on a new worker", log2)
    config = (Path(job.output_dir).parent / "config.json").read_text()
    assert '"resume": true' in config
    steps = [r["step"] for r in job.metrics if "step" in r]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # resumed from a checkpoint, not from 0
    assert "worker lost" in (Path(job.output_dir).parent / "log.txt").read_text()
    from labeling.jobs.services import job_cancel

    job_cancel(job=job)
    wait_for(lambda: _refresh(job).status == Job.Status.CANCELLED, 120, "the cancel", log2)


@pytest.mark.django_db(transaction=True)
def test_terminating_the_runners_database_connection_does_not_kill_the_run(labeled, faults):
    proc, log = faults("gpu", "gpu")
    job = _job(labeled, max_steps=300, save_steps=0)
    wait_for(lambda: _refresh(job).status == Job.Status.RUNNING and job.metrics, 240, "the job to train", log)
    training_pid = job.pid

    def noticed() -> int:  # a retried statement, or a heartbeat skipped when the retry failed too
        text = log.read_text(errors="replace")
        return text.count("database error") + text.count("heartbeat skipped")

    for blip in (1, 2):
        wait_for(lambda: _terminate_other_backends(), 30, "the runner's connection to terminate", log)
        # A run that ends between blips makes no more heartbeats to notice the second one with.
        wait_for(lambda: noticed() >= blip or _refresh(job).status in ("succeeded", "failed"), 30,
                 "the runner to notice and reconnect", log)
        assert pid_alive(training_pid) or _refresh(job).status == Job.Status.SUCCEEDED
    assert noticed() >= 1
    done = wait_for(lambda: _refresh(job).status in ("succeeded", "failed") and job, 300, "the job to finish", log)
    assert done.status == Job.Status.SUCCEEDED, done.error
    assert ModelVersion.objects.filter(job=done).exists()


def _terminate_other_backends() -> int:
    """pg_terminate_backend of every other connection to the test database (the runner's); how many."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return len(cur.fetchall())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    wait_for(lambda: _pings(redis.Redis(port=port, socket_connect_timeout=0.5)), 20, "a private redis-server")
    return proc


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


@pytest.mark.django_db(transaction=True)
def test_a_job_created_while_the_broker_is_down_is_recorded_and_dispatched_later(labeled, faults):
    port = _free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis_proc = _redis_server(port)
    redis_proc.terminate()
    redis_proc.wait()
    point_celery_at(broker)
    Group.objects.get_or_create(name=roles.RESEARCHER)
    api = APIClient()
    api.force_authenticate(user_create_with_role(username="broker-down", roles=[roles.RESEARCHER]))
    snap = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], valid_fraction=0.2)
    base = model_version_create(name="broker-base", kind="base", artifact_path="tiny")
    body = {"kind": "reward", "inputs": {"model": base.pk, "data": snap.pk}, "params": {**TINY, "max_steps": 2}}

    r = api.post("/api/v1/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert r.status_code == 503 and r["Content-Type"] == "application/json", r.content
    job_id = r.json()["job_id"]
    assert Job.objects.get(pk=job_id).status == Job.Status.QUEUED and Job.objects.get(pk=job_id).dispatched_at is None
    again = api.post("/api/v1/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert again.status_code == 200 and again.json()["id"] == job_id and Job.objects.count() == 1

    redis_proc = _redis_server(port)
    try:
        proc, log = faults("gpu", "gpu", broker=broker)
        Job.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(minutes=1))
        assert jobs_sweep()["redispatched"] == 1
        done = wait_for(lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(), 240,
                        "the re-dispatched job", log)
        assert done.status == Job.Status.SUCCEEDED, done.error
    finally:
        redis_proc.terminate()
        redis_proc.wait()


def _many_rankings(labeled, n: int) -> None:
    """``n`` ranked prompts in bulk (a few statements), enough for an export to take a moment."""
    campaign, labeler = labeled.campaign, labeled.labelers[0]
    prompts = Prompt.objects.bulk_create([
        Prompt(campaign=campaign, messages=[{"role": "user", "content": f"Bulk question {i}? " + "words " * 40}],
               author_id=f"bulk-{i % 50}", category="open_qa",
               content_hash=hashlib.sha256(f"bulk-{i}".encode()).hexdigest()) for i in range(n)])
    completions = Completion.objects.bulk_create([
        Completion(prompt=p, text=f"answer {j} " + "text " * 60) for p in prompts for j in range(3)])
    tasks = Task.objects.bulk_create([Task(campaign=campaign, prompt=p, kind="ranking", submitted_count=1,
                                           status="done") for p in prompts])
    Through = Task.completions.through
    Through.objects.bulk_create([Through(task_id=t.pk, completion_id=c.pk)
                                 for i, t in enumerate(tasks) for c in completions[3 * i:3 * i + 3]])
    now = timezone.now()
    assignments = Assignment.objects.bulk_create([
        Assignment(task=t, campaign=campaign, labeler=labeler, status="submitted", expires_at=now, submitted_at=now)
        for t in tasks])
    Ranking.objects.bulk_create([Ranking(assignment=a, groups=[[c.pk] for c in completions[3 * i:3 * i + 3]])
                                 for i, a in enumerate(assignments)])


@pytest.mark.django_db(transaction=True)
def test_kill9_mid_export_leaves_no_temporary_folder_and_the_export_completes(labeled, faults, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 100
    _many_rankings(labeled, 3000)
    Group.objects.get_or_create(name=roles.RESEARCHER)
    api = APIClient()
    api.force_authenticate(user_create_with_role(username="exporter", roles=[roles.RESEARCHER]))
    proc, log = faults("default", "default")
    r = api.post("/api/v1/snapshots", {"kind": "comparisons", "campaign_ids": [labeled.campaign.pk],
                                       "name": "big-export"}, format="json")
    assert r.status_code == 202, r.content
    job_id = r.json()["job"]
    root = snapshots_root()
    wait_for(lambda: any(root.glob(".tmp-big-export-*")), 120, "the export to start writing", log, interval=0.005)
    kill9(proc)
    assert any(root.glob(".tmp-big-export-*")) and not (root / "big-export").exists()

    _sweep_until("requeued", "the sweep to re-queue the export", log)
    assert not any(root.glob(".tmp-*")), "the abandoned temporary folder was not removed"
    proc2, log2 = faults("default-2", "default")
    done = wait_for(lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(), 240,
                    "the re-run export", log2)
    assert done.status == Job.Status.SUCCEEDED, done.error
    snap = DatasetSnapshot.objects.get(name="big-export")
    assert snap.rows == 3012 and Path(snap.path, "manifest.json").is_file()
    assert not any(root.glob(".tmp-*"))
