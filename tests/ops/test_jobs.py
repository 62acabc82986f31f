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
from labeling.jobs.runner import build_command, run_job
from labeling.jobs.services import job_cancel, job_create
from labeling.jobs.tailing import MetricsTail
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


# ---------------------------------------------------------------- evaluate jobs

@pytest.fixture
def two_policies(base_model):
    newer = services.model_version_create(name="tiny-sft", kind="sft", artifact_path="tiny", parent=base_model)
    return base_model, newer


@pytest.mark.django_db
def test_evaluate_job_inputs_are_checked(labeled, data_dir, two_policies):
    older, newer = two_policies
    rm = services.model_version_create(name="tiny-rm", kind="reward", artifact_path="/models/rm")
    cmp_snap, prompts = _snapshot(labeled, "comparisons"), _snapshot(labeled, "prompts")

    def create(snapshot, models, **params):
        return job_create(kind="evaluate", params=params, input_snapshot_ids=[snapshot.pk],
                          input_model_ids=[m.pk for m in models], enqueue=False)

    with pytest.raises(ValidationError, match="comparisons snapshot takes exactly one reward model"):
        create(cmp_snap, [rm, older])
    with pytest.raises(ValidationError, match="comparisons snapshot takes exactly one reward model"):
        create(cmp_snap, [older])
    with pytest.raises(ValidationError, match="prompts snapshot takes one reward model and exactly two policies"):
        create(prompts, [rm, older])
    with pytest.raises(ValidationError, match="prompts snapshot takes one reward model and exactly two policies"):
        create(prompts, [older, newer])
    with pytest.raises(ValidationError, match="needs a comparisons snapshot .* or a prompts snapshot"):
        create(_snapshot(labeled, "sft"), [rm])
    with pytest.raises(ValidationError, match="is not one of the job's two input policies"):
        create(prompts, [rm, older, newer], baseline=rm.pk)
    with pytest.raises(ValidationError, match="must be different"):
        create(prompts, [rm, older, newer], baseline=older.pk, candidate=older.pk)
    with pytest.raises(ValidationError, match="only a win-rate evaluation"):
        create(cmp_snap, [rm], candidate=older.pk)
    with pytest.raises(ValidationError, match="must be the id"):
        create(prompts, [rm, older, newer], baseline="older")
    with pytest.raises(ValidationError, match="only evaluate jobs"):
        job_create(kind="sft", params={"baseline": older.pk}, input_snapshot_ids=[_snapshot(labeled, "sft").pk],
                   input_model_ids=[older.pk], enqueue=False)
    for reserved in ("comparisons", "policy_a", "policy_b"):
        with pytest.raises(ValidationError, match="set from the job's inputs"):
            create(prompts, [rm, older, newer], **{reserved: "/elsewhere"})
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_evaluate_command_lines(labeled, job_env, two_policies):
    older, newer = two_policies
    rm = services.model_version_create(name="tiny-rm", kind="reward", artifact_path="/models/rm")
    cmp_snap, prompts = _snapshot(labeled, "comparisons"), _snapshot(labeled, "prompts")

    def flags_of(job):
        argv = build_command(job).argv
        assert argv[1:4] == ["-m", "training", "evaluate"]
        return dict(zip(argv[4::2], argv[5::2]))

    acc = job_create(kind="evaluate", params={"split": "valid"}, input_snapshot_ids=[cmp_snap.pk],
                     input_model_ids=[rm.pk], enqueue=False)
    flags = flags_of(acc)
    assert flags.pop("--config")
    assert flags == {"--reward_model": "/models/rm", "--comparisons": cmp_snap.path,
                     "--output": str(Path(acc.output_dir) / "result.json")}
    assert Path(acc.output_dir).is_dir()

    # The older model is the baseline (policy A) unless the params say otherwise.
    win = job_create(kind="evaluate", params={"max_new_tokens": 8}, input_snapshot_ids=[prompts.pk],
                     input_model_ids=[newer.pk, rm.pk, older.pk], enqueue=False)
    older.artifact_path, newer.artifact_path = "/models/older", "/models/newer"
    older.save(), newer.save()
    flags = flags_of(win)
    assert json.loads(Path(flags.pop("--config")).read_text()) == {"max_new_tokens": 8}
    assert flags == {"--reward_model": "/models/rm", "--prompts": prompts.path, "--policy_a": "/models/older",
                     "--policy_b": "/models/newer", "--output": str(Path(win.output_dir) / "result.json")}
    swapped = job_create(kind="evaluate", params={"baseline": newer.pk}, input_snapshot_ids=[prompts.pk],
                         input_model_ids=[newer.pk, rm.pk, older.pk], enqueue=False)
    flags = flags_of(swapped)
    assert (flags["--policy_a"], flags["--policy_b"]) == ("/models/newer", "/models/older")
    assert json.loads(Path(flags["--config"]).read_text()) == {}  # runner keys stay out of the CLI config
    assert flags_of(job_create(kind="evaluate", params={"candidate": older.pk}, input_snapshot_ids=[prompts.pk],
                               input_model_ids=[newer.pk, rm.pk, older.pk], enqueue=False))["--policy_b"] == "/models/older"
    # A redelivered evaluate job reruns from scratch: evaluate has no resume option.
    Job.objects.filter(pk=win.pk).update(attempts=2)
    win.refresh_from_db()
    assert "resume" not in json.loads(Path(flags_of(win)["--config"]).read_text())


@pytest.mark.django_db
def test_evaluation_record_keeps_one_win_rate_per_baseline(labeled, data_dir, two_policies):
    older, newer = two_policies
    third = services.model_version_create(name="tiny-ppo", kind="policy", artifact_path="tiny", parent=newer)
    rm = services.model_version_create(name="tiny-rm", kind="reward", artifact_path="/models/rm")
    prompts = _snapshot(labeled, "prompts")
    for baseline, value in ((older, 0.75), (newer, 0.625)):
        job = job_create(kind="evaluate", input_snapshot_ids=[prompts.pk], input_model_ids=[rm.pk, baseline.pk, third.pk],
                         enqueue=False)
        recorded = services.evaluation_record(job=job, result={"mode": "winrate", "win_rate_b_over_a": value})
        assert recorded == {"model_version_id": third.pk, "metric": "win_rate", "value": value,
                            "baseline_model_id": baseline.pk, "candidate_model_id": third.pk}
    third.refresh_from_db()
    assert third.metrics["win_rate_vs"] == {str(older.pk): 0.75, str(newer.pk): 0.625}
    assert third.metrics["win_rate"] == 0.625
    # A NaN (no decided pair) records nothing.
    assert services.evaluation_record(job=job, result={"win_rate_b_over_a": float("nan")})["value"] is None
    third.refresh_from_db()
    assert third.metrics["win_rate"] == 0.625


@pytest.mark.slow
@pytest.mark.django_db
def test_evaluate_jobs_measure_a_trained_reward_model_and_a_win_rate(labeled, job_env, two_policies):
    older, newer = two_policies
    cmp_snap = _snapshot(labeled, "comparisons")
    reward_job = job_create(kind="reward", params=FAST, input_snapshot_ids=[cmp_snap.pk], input_model_ids=[older.pk],
                            enqueue=False)
    assert run_job(reward_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=reward_job.pk).log_tail
    rm = ModelVersion.objects.get(job=reward_job)

    acc_job = job_create(kind="evaluate", params={"device": "cpu"}, input_snapshot_ids=[cmp_snap.pk],
                         input_model_ids=[rm.pk], enqueue=False)
    assert run_job(acc_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=acc_job.pk).log_tail
    acc_job.refresh_from_db()
    result = acc_job.result["result"]
    assert result["mode"] == "accuracy" and result["rows"] == 12
    assert result["pairs"] == 30  # 6 rankings [[2],[0,1]] (2 pairs) + 6 rankings [[1],[0],[2]] (3 pairs)
    assert 0.0 <= result["accuracy"] <= 1.0 and acc_job.progress == 1.0
    rm.refresh_from_db()
    assert rm.metrics["pairwise_accuracy"] == result["accuracy"]
    assert rm.metrics["pairwise_accuracy_on"] == {str(cmp_snap.pk): result["accuracy"]}
    assert "valid_pairwise_accuracy" in rm.metrics["summary"]  # what the reward job recorded is kept

    win_job = job_create(kind="evaluate", params={"device": "cpu", "max_new_tokens": 4},
                         input_snapshot_ids=[_snapshot(labeled, "prompts").pk],
                         input_model_ids=[rm.pk, older.pk, newer.pk], enqueue=False)
    assert run_job(win_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=win_job.pk).log_tail
    win_job.refresh_from_db()
    result = win_job.result["result"]
    # Both policies are the same tiny model, sampled greedily: every prompt is a tie.
    assert result["mode"] == "winrate" and result["win_rate_b_over_a"] == 0.5 and result["prompts"] == 12
    assert "items" not in result  # per-prompt texts stay in result.json
    assert len(json.loads((Path(win_job.output_dir) / "result.json").read_text())["items"]) == 12
    assert win_job.result["recorded"] == {"model_version_id": newer.pk, "metric": "win_rate", "value": 0.5,
                                          "baseline_model_id": older.pk, "candidate_model_id": newer.pk}
    newer.refresh_from_db()
    assert newer.metrics["win_rate_vs"] == {str(older.pk): 0.5} and newer.metrics["win_rate"] == 0.5
