"""Training jobs: validation, the command line, and real ``python -m training`` runs through the runner
(tiny model, CPU, seconds): success registers a ModelVersion with lineage, a generate job closes the
loop with new ranking tasks, a bad param fails with the CLI's message, cancel stops the process group."""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from labeling.jobs import runner, services
from labeling.jobs.runner import MetricsTail, build_command, run_job
from labeling.jobs.services import job_cancel, job_create
from labeling.models import Job, ModelVersion, Task
from labeling.services.errors import Conflict
from labeling.services.exports import snapshot_create

FAST = {"max_steps": 2, "batch_size": 2, "logging_steps": 1, "save_steps": 0, "device": "cpu", "max_length": 64}


@pytest.fixture
def job_env(settings, data_dir, model_cache, monkeypatch):
    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child is alone with pytest on 2 shared cores
    return settings


@pytest.fixture
def base_model(db):
    return services.model_version_create(name="tiny-base", kind="base", artifact_path="tiny")


def _snapshot(labeled, kind):
    return snapshot_create(kind=kind, campaign_ids=[labeled.campaign.pk], valid_fraction=0.2)


# ---------------------------------------------------------------- validation and command line

@pytest.mark.django_db
def test_job_create_checks_kinds_inputs_and_params(labeled, data_dir, base_model, django_capture_on_commit_callbacks):
    sft_snap, cmp_snap = _snapshot(labeled, "sft"), _snapshot(labeled, "comparisons")
    with pytest.raises(ValidationError, match="unknown job kind"):
        job_create(kind="train", input_snapshot_ids=[sft_snap.pk], input_model_ids=[base_model.pk])
    with pytest.raises(ValidationError, match="needs a sft snapshot"):
        job_create(kind="sft", input_snapshot_ids=[cmp_snap.pk], input_model_ids=[base_model.pk])
    with pytest.raises(ValidationError, match="one base, sft or policy model"):
        job_create(kind="sft", input_snapshot_ids=[sft_snap.pk])
    with pytest.raises(ValidationError, match="one policy .* and one reward model"):
        job_create(kind="ppo", input_snapshot_ids=[_snapshot(labeled, "prompts").pk], input_model_ids=[base_model.pk])
    with pytest.raises(ValidationError, match="set from the job's inputs"):
        job_create(kind="sft", params={"output_dir": "/tmp/x"}, input_snapshot_ids=[sft_snap.pk],
                   input_model_ids=[base_model.pk])
    with pytest.raises(ValidationError, match="values must be"):
        job_create(kind="sft", params={"max_steps": [1]}, input_snapshot_ids=[sft_snap.pk],
                   input_model_ids=[base_model.pk])
    assert not Job.objects.exists()

    enqueued = []
    import labeling.jobs.services as job_services

    orig = job_services.job_enqueue
    job_services.job_enqueue = lambda *, job: enqueued.append(job.pk)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = job_create(kind="sft", params={"max_steps": 3}, input_snapshot_ids=[sft_snap.pk],
                             input_model_ids=[base_model.pk])
    finally:
        job_services.job_enqueue = orig
    assert enqueued == [job.pk]
    assert job.status == Job.Status.QUEUED
    assert job.output_dir == str(Path(data_dir) / "jobs" / str(job.pk) / "output")


@pytest.mark.django_db
def test_command_line_uses_the_cli_flags_and_a_config_file(labeled, job_env, base_model):
    snap = _snapshot(labeled, "sft")
    job = job_create(kind="sft", params={"max_steps": 5, "learning_rate": 1e-4}, input_snapshot_ids=[snap.pk],
                     input_model_ids=[base_model.pk], enqueue=False)
    cmd = build_command(job)
    assert cmd.argv[1:4] == ["-m", "training", "sft"]
    flags = dict(zip(cmd.argv[4::2], cmd.argv[5::2]))
    assert flags["--model"] == "tiny"
    assert flags["--data"] == snap.path
    assert flags["--output_dir"] == job.output_dir
    assert json.loads(Path(flags["--config"]).read_text()) == {"max_steps": 5, "learning_rate": 1e-4}
    assert cmd.env["PREFLOOP_MODEL_CACHE"] == str(job_env.PREFLOOP_MODEL_CACHE)
    assert cmd.env["HF_HUB_OFFLINE"] == "1" and "DJANGO_SETTINGS_MODULE" not in cmd.env

    multi = job_create(kind="sft", params={"accelerate_config": "docker/accelerate/ddp.yaml", "num_processes": 4},
                       input_snapshot_ids=[snap.pk], input_model_ids=[base_model.pk], enqueue=False)
    argv = build_command(multi).argv
    assert argv[1:3] == ["-m", "accelerate.commands.launch"]
    assert argv[argv.index("--config_file") + 1] == "docker/accelerate/ddp.yaml"
    assert argv[argv.index("--num_processes") + 1] == "4"
    assert argv[argv.index("training") - 1] == "-m"
    assert json.loads((services.job_dir(multi) / "config.json").read_text()) == {}


def test_metrics_tail_reads_only_complete_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.read() == []
    with path.open("w") as fh:
        fh.write('{"step": 1, "progress": 0.5}\n{"step": 2, "pro')
    assert tail.read() == [{"step": 1, "progress": 0.5}]
    with path.open("a") as fh:
        fh.write('gress": 1.0}\n')
    assert tail.read() == [{"step": 2, "progress": 1.0}]
    path.write_text('{"step": 1}\n')  # rewritten (a resume truncates it)
    assert tail.read() == [{"step": 1}]


@pytest.mark.django_db
def test_cancelling_a_queued_job_means_it_never_starts(labeled, job_env, base_model):
    job = job_create(kind="sft", params=FAST, input_snapshot_ids=[_snapshot(labeled, "sft").pk],
                     input_model_ids=[base_model.pk], enqueue=False)
    job_cancel(job=job)
    assert run_job(job.pk) is None
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.attempts == 0
    with pytest.raises(Conflict):
        job_cancel(job=job)


@pytest.mark.django_db
def test_a_job_that_is_running_elsewhere_is_not_run_twice(labeled, job_env, base_model):
    job = job_create(kind="sft", params=FAST, input_snapshot_ids=[_snapshot(labeled, "sft").pk],
                     input_model_ids=[base_model.pk], enqueue=False)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=timezone.now(), attempts=1)
    assert run_job(job.pk) is None
    # An orphan (its worker died: the heartbeat is stale) is taken over and resumes from its checkpoint.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    claimed = runner._claim(job.pk)
    assert claimed.attempts == 2
    assert json.loads(Path(build_command(claimed).argv[5]).read_text())["resume"] is True


# ---------------------------------------------------------------- real runs (tiny model)

@pytest.mark.slow
@pytest.mark.django_db
def test_sft_then_generate_closes_the_loop(labeled, job_env, base_model):
    sft_job = job_create(kind="sft", params=FAST, input_snapshot_ids=[_snapshot(labeled, "sft").pk],
                         input_model_ids=[base_model.pk], enqueue=False)
    assert run_job(sft_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=sft_job.pk).log_tail
    sft_job.refresh_from_db()
    assert sft_job.progress == 1.0 and sft_job.finished_at and sft_job.heartbeat_at
    assert [row["step"] for row in sft_job.metrics] == [1, 2]
    assert "loss" in sft_job.metrics[0]
    assert "training sft" in sft_job.log_tail
    model = ModelVersion.objects.get(job=sft_job)
    assert model.kind == "sft" and model.parent == base_model
    assert (Path(model.artifact_path) / "config.json").is_file()
    assert sft_job.result["model_version_id"] == model.pk

    tasks_before = Task.objects.filter(kind="ranking").count()
    gen_job = job_create(
        kind="generate", params={"k": 3, "max_new_tokens": 8, "temperature": 1.0, "device": "cpu"},
        input_snapshot_ids=[_snapshot(labeled, "prompts").pk], input_model_ids=[model.pk], enqueue=False,
    )
    assert run_job(gen_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=gen_job.pk).log_tail
    gen_job.refresh_from_db()
    imported = gen_job.result["imported"]
    new_tasks = Task.objects.filter(kind="ranking").count() - tasks_before
    assert imported["tasks_created"] == new_tasks
    # The tiny random model may repeat itself, but most prompts get ≥2 distinct samples.
    assert new_tasks + imported["skipped_too_few_samples"] == 12 and new_tasks > 0
    task = Task.objects.filter(kind="ranking").order_by("-id").first()
    assert all(c.model_version_id == model.pk for c in task.completions.all())


@pytest.mark.slow
@pytest.mark.django_db
def test_reward_job_registers_a_reward_model(labeled, job_env, base_model):
    job = job_create(kind="reward", params=FAST, input_snapshot_ids=[_snapshot(labeled, "comparisons").pk],
                     input_model_ids=[base_model.pk], enqueue=False)
    assert run_job(job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=job.pk).log_tail
    model = ModelVersion.objects.get(job=job)
    assert model.kind == "reward" and model.parent == base_model
    assert "valid_pairwise_accuracy" in model.metrics["summary"]


@pytest.mark.django_db
def test_a_bad_param_fails_with_the_cli_message(labeled, job_env, base_model):
    job = job_create(kind="sft", params={**FAST, "no_such_field": 1}, input_snapshot_ids=[_snapshot(labeled, "sft").pk],
                     input_model_ids=[base_model.pk], enqueue=False)
    assert run_job(job.pk, poll_s=0.2) == Job.Status.FAILED
    job.refresh_from_db()
    assert "no_such_field" in job.error
    assert not ModelVersion.objects.filter(job=job).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_job(labeled, job_env, base_model):
    job = job_create(kind="sft", params={**FAST, "max_steps": 100000}, input_snapshot_ids=[_snapshot(labeled, "sft").pk],
                     input_model_ids=[base_model.pk], enqueue=False)
    outcome = {}

    def work():
        try:
            outcome["status"] = run_job(job.pk, poll_s=0.2)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until it is really training (a metrics row exists)
        job.refresh_from_db()
        if job.metrics:
            break
        assert thread.is_alive(), job.log_tail
        time.sleep(0.3)
    assert job.metrics, "the job never logged a step"
    pid = job.pid
    job_cancel(job=job)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome["status"] == Job.Status.CANCELLED
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.pid is None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    assert not ModelVersion.objects.filter(job=job).exists()
