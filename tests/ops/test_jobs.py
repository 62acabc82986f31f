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
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from labeling.jobs import runner, services
from labeling.jobs.command import build_command
from labeling.jobs.outputs import evaluation_record
from labeling.jobs.runner import run_job
from labeling.jobs.services import job_cancel
from labeling.jobs.services import job_create as _job_create
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


def job_create(**kwargs) -> Job:
    """The service, not sent to a broker: these tests run jobs in-process with run_job."""
    kwargs.setdefault("enqueue", False)
    return _job_create(**kwargs)[0]


def _flags(argv: list[str]) -> dict[str, str]:
    """``--name=value`` arguments after the command name."""
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)


def _model_dir(data_dir, name: str) -> str:
    """A folder inside the data dir that may be registered as a model."""
    path = Path(data_dir) / "models" / name
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


# ---------------------------------------------------------------- validation and command line

@pytest.mark.django_db
def test_job_create_checks_kinds_inputs_and_params(labeled, data_dir, base_model, django_capture_on_commit_callbacks):
    sft_snap, cmp_snap = _snapshot(labeled, "sft"), _snapshot(labeled, "comparisons")
    with pytest.raises(ValidationError, match="unknown job kind"):
        job_create(kind="train", inputs={"model": base_model.pk, "data": sft_snap.pk})
    with pytest.raises(ValidationError, match="data: a sft job needs a sft snapshot"):
        job_create(kind="sft", inputs={"model": base_model.pk, "data": cmp_snap.pk})
    with pytest.raises(ValidationError, match="model: required"):
        job_create(kind="sft", inputs={"data": sft_snap.pk})
    with pytest.raises(ValidationError, match="prompts: required"):
        job_create(kind="ppo", inputs={"model": base_model.pk})
    with pytest.raises(ValidationError, match="output_dir.*not a parameter of a sft job"):
        job_create(kind="sft", params={"output_dir": "/tmp/x"}, inputs={"model": base_model.pk, "data": sft_snap.pk})
    with pytest.raises(ValidationError, match="max_steps: must be an integer"):
        job_create(kind="sft", params={"max_steps": [1]}, inputs={"model": base_model.pk, "data": sft_snap.pk})
    with pytest.raises(ValidationError, match="learning_rate: must be a finite number"):
        job_create(kind="sft", params={"learning_rate": float("nan")}, inputs={"model": base_model.pk,
                                                                              "data": sft_snap.pk})
    with pytest.raises(ValidationError, match="no snapshot 'nope'"):
        job_create(kind="sft", inputs={"model": base_model.pk, "data": "nope"})
    assert not Job.objects.exists()

    sent = []
    orig = services.job_dispatch
    services.job_dispatch = lambda *, job_id: sent.append(job_id)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = job_create(kind="sft", params={"max_steps": 3}, inputs={"model": "tiny-base", "data": sft_snap.name},
                             enqueue=True)
    finally:
        services.job_dispatch = orig
    assert sent == [job.pk]
    assert job.status == Job.Status.QUEUED
    assert job.inputs == {"model": {"type": "model", "id": base_model.pk, "name": "tiny-base"},
                          "data": {"type": "snapshot", "id": sft_snap.pk, "name": sft_snap.name}}
    assert job.output_dir == str(Path(data_dir) / "jobs" / str(job.pk) / "output")


@pytest.mark.django_db
def test_command_line_passes_every_input_by_its_cli_name(labeled, job_env, base_model, data_dir):
    snap = _snapshot(labeled, "sft")
    job = job_create(kind="sft", params={"max_steps": 5, "learning_rate": 1e-4},
                     inputs={"model": base_model.pk, "data": snap.pk})
    cmd = build_command(job)
    assert cmd.argv[1:4] == ["-m", "training", "sft"]
    flags = _flags(cmd.argv)
    assert flags == {"config": str(services.job_dir(job) / "config.json"), "model": "tiny", "data": snap.path,
                     "output_dir": job.output_dir}
    assert json.loads(Path(flags["config"]).read_text()) == {"max_steps": 5, "learning_rate": 1e-4}
    assert cmd.env["PREFLOOP_MODEL_CACHE"] == str(job_env.PREFLOOP_MODEL_CACHE)
    assert cmd.env["HF_HUB_OFFLINE"] == "1" and "DJANGO_SETTINGS_MODULE" not in cmd.env

    # PPO gets --prompts, --ptx_data and --value_model: the flags its CLI declares (it once got --data).
    rm = services.model_version_create(name="rm", kind="reward", artifact_path=_model_dir(data_dir, "rm"))
    ppo = job_create(kind="ppo", inputs={"model": base_model.pk, "reward_model": rm.pk,
                                         "prompts": _snapshot(labeled, "prompts").pk, "ptx_data": snap.pk,
                                         "value_model": rm.pk})
    flags = _flags(build_command(ppo).argv)
    assert set(flags) == {"config", "model", "reward_model", "prompts", "ptx_data", "value_model", "output_dir"}
    assert flags["ptx_data"] == snap.path and flags["value_model"] == rm.artifact_path

    multi = job_create(kind="sft", params={"accelerate_config": "ddp", "num_processes": 4},
                       inputs={"model": base_model.pk, "data": snap.pk})
    argv = build_command(multi).argv
    assert argv[1:3] == ["-m", "accelerate.commands.launch"]
    assert argv[3] == f"--config_file={Path(django_settings().BASE_DIR) / 'docker' / 'accelerate' / 'ddp.yaml'}"
    assert "--num_processes=4" in argv and argv[argv.index("training") - 1] == "-m"
    assert json.loads((services.job_dir(multi) / "config.json").read_text()) == {}


def django_settings():
    from django.conf import settings

    return settings


@pytest.mark.django_db
def test_no_path_or_flag_a_researcher_types_reaches_the_command_line(labeled, job_env, base_model, data_dir):
    """A model path must be a registered name or a folder inside the allowed roots; configs are chosen by name."""
    for bad in ("--config=/etc/passwd", "relative/folder", "/etc", f"{data_dir}/../../etc"):
        with pytest.raises(ValidationError, match="artifact_path"):
            services.model_version_create(name="evil", kind="base", artifact_path=bad)
    snap = _snapshot(labeled, "sft")
    with pytest.raises(ValidationError, match="accelerate_config: must be one of"):
        job_create(kind="sft", params={"accelerate_config": "/etc/passwd"}, inputs={"model": base_model.pk,
                                                                                   "data": snap.pk})
    # A row changed behind the service's back is checked again when the command line is built.
    job = job_create(kind="sft", inputs={"model": base_model.pk, "data": snap.pk})
    ModelVersion.objects.filter(pk=base_model.pk).update(artifact_path="--config=/etc/passwd")
    assert run_job(job.pk) == Job.Status.FAILED
    job.refresh_from_db()
    assert job.error.startswith("cannot start: ") and "must be an absolute folder" in job.error


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
def test_cancelling_a_queued_job_means_it_never_starts(labeled, job_env, base_model, django_user_model):
    job = job_create(kind="sft", params=FAST, inputs={"model": base_model.pk, "data": _snapshot(labeled, "sft").pk})
    stranger = django_user_model.objects.create(username="someone-else")
    with pytest.raises(PermissionDenied):
        job_cancel(job=job, by=stranger)
    job_cancel(job=job)
    assert run_job(job.pk) is None
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.attempts == 0
    with pytest.raises(Conflict):
        job_cancel(job=job)


@pytest.mark.django_db
def test_a_job_that_is_running_elsewhere_is_not_run_twice(labeled, job_env, base_model):
    job = job_create(kind="sft", params=FAST, inputs={"model": base_model.pk, "data": _snapshot(labeled, "sft").pk})
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=timezone.now(), attempts=1)
    assert run_job(job.pk) is None
    # An orphan (its worker died: the heartbeat is stale) is taken over and resumes from its checkpoint.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    claimed = runner.claim(job.pk)
    assert claimed.attempts == 2
    assert json.loads(Path(_flags(build_command(claimed).argv)["config"]).read_text())["resume"] is True


@pytest.mark.django_db
def test_idempotency_key_returns_the_first_job(labeled, job_env, base_model, django_user_model):
    user = django_user_model.objects.create(username="retrier")
    inputs = {"model": base_model.pk, "data": _snapshot(labeled, "sft").pk}
    first, created = _job_create(kind="sft", inputs=inputs, created_by=user, idempotency_key="k-1", enqueue=False)
    again, created_again = _job_create(kind="sft", inputs=inputs, created_by=user, idempotency_key="k-1",
                                       enqueue=False)
    assert created and not created_again and again.pk == first.pk
    assert Job.objects.count() == 1


# ---------------------------------------------------------------- real runs (tiny model)

@pytest.mark.slow
@pytest.mark.django_db
def test_sft_then_generate_closes_the_loop(labeled, job_env, base_model):
    sft_job = job_create(kind="sft", params=FAST, inputs={"model": base_model.pk, "data": _snapshot(labeled, "sft").pk})
    assert run_job(sft_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=sft_job.pk).log_tail
    sft_job.refresh_from_db()
    assert sft_job.progress == 1.0 and sft_job.finished_at and sft_job.heartbeat_at
    assert [row["step"] for row in sft_job.metrics if "loss" in row] == [1, 2]
    assert "training sft" in sft_job.log_tail
    model = ModelVersion.objects.get(job=sft_job)
    assert model.kind == "sft" and model.parent == base_model
    assert (Path(model.artifact_path) / "config.json").is_file()
    assert sft_job.result["model_version_id"] == model.pk

    tasks_before = Task.objects.filter(kind="ranking").count()
    gen_job = job_create(kind="generate", params={"k": 3, "max_new_tokens": 8, "temperature": 1.0, "device": "cpu"},
                         inputs={"model": model.pk, "prompts": _snapshot(labeled, "prompts").pk})
    assert run_job(gen_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=gen_job.pk).log_tail
    gen_job.refresh_from_db()
    imported = gen_job.result["imported"]
    new_tasks = Task.objects.filter(kind="ranking").count() - tasks_before
    assert imported["tasks_created"] == new_tasks
    # The tiny random model may repeat itself, but most prompts get ≥2 distinct samples.
    assert new_tasks + imported["skipped_too_few_samples"] == 12 and new_tasks > 0
    task = Task.objects.filter(kind="ranking").order_by("-id").first()
    assert all(c.model_version_id == model.pk for c in task.completions.all())


@pytest.mark.django_db
def test_a_bad_param_value_fails_with_the_cli_message(labeled, job_env, base_model):
    job = job_create(kind="sft", params={**FAST, "max_steps": -1},
                     inputs={"model": base_model.pk, "data": _snapshot(labeled, "sft").pk})
    assert run_job(job.pk, poll_s=0.2) == Job.Status.FAILED
    job.refresh_from_db()
    assert job.error.splitlines()[0] == "config: max_steps must be > 0, got -1"
    assert not ModelVersion.objects.filter(job=job).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_job(labeled, job_env, base_model):
    job = job_create(kind="sft", params={**FAST, "max_steps": 100000},
                     inputs={"model": base_model.pk, "data": _snapshot(labeled, "sft").pk})
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
    rm = services.model_version_create(name="tiny-rm", kind="reward", artifact_path=_model_dir(data_dir, "rm"))
    cmp_snap, prompts = _snapshot(labeled, "comparisons"), _snapshot(labeled, "prompts")
    either = "either comparisons .* or prompts \\+ policy_a \\+ policy_b"
    with pytest.raises(ValidationError, match=either):
        job_create(kind="evaluate", inputs={"reward_model": rm.pk})
    with pytest.raises(ValidationError, match=either):
        job_create(kind="evaluate", inputs={"reward_model": rm.pk, "comparisons": cmp_snap.pk, "prompts": prompts.pk,
                                            "policy_a": older.pk, "policy_b": newer.pk})
    with pytest.raises(ValidationError, match=either):
        job_create(kind="evaluate", inputs={"reward_model": rm.pk, "prompts": prompts.pk, "policy_a": older.pk})
    with pytest.raises(ValidationError, match="must be two different models"):
        job_create(kind="evaluate", inputs={"reward_model": rm.pk, "prompts": prompts.pk, "policy_a": older.pk,
                                            "policy_b": older.pk})
    with pytest.raises(ValidationError, match="reward_model: a evaluate job needs a reward model"):
        job_create(kind="evaluate", inputs={"reward_model": older.pk, "comparisons": cmp_snap.pk})
    with pytest.raises(ValidationError, match="comparisons: a evaluate job needs a comparisons snapshot"):
        job_create(kind="evaluate", inputs={"reward_model": rm.pk, "comparisons": prompts.pk})
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_evaluate_command_lines(labeled, job_env, two_policies, data_dir):
    older, newer = two_policies
    rm = services.model_version_create(name="tiny-rm", kind="reward", artifact_path=_model_dir(data_dir, "rm"))
    cmp_snap, prompts = _snapshot(labeled, "comparisons"), _snapshot(labeled, "prompts")

    acc = job_create(kind="evaluate", params={"split": "valid"}, inputs={"reward_model": rm.pk,
                                                                        "comparisons": cmp_snap.pk})
    flags = _flags(build_command(acc).argv)
    assert flags.pop("config")
    assert flags == {"reward_model": rm.artifact_path, "comparisons": cmp_snap.path,
                     "output": str(Path(acc.output_dir) / "result.json")}
    win = job_create(kind="evaluate", params={"max_new_tokens": 8},
                     inputs={"reward_model": rm.pk, "prompts": prompts.pk, "policy_a": newer.pk, "policy_b": older.pk})
    flags = _flags(build_command(win).argv)
    assert json.loads(Path(flags.pop("config")).read_text()) == {"max_new_tokens": 8}
    assert flags == {"reward_model": rm.artifact_path, "prompts": prompts.path, "policy_a": "tiny", "policy_b": "tiny",
                     "output": str(Path(win.output_dir) / "result.json")}
    # A redelivered evaluate job reruns from scratch: evaluate has no resume option.
    Job.objects.filter(pk=win.pk).update(attempts=2)
    win.refresh_from_db()
    assert "resume" not in json.loads(Path(_flags(build_command(win).argv)["config"]).read_text())


@pytest.mark.django_db
def test_evaluation_record_keeps_one_win_rate_per_baseline(labeled, data_dir, two_policies):
    older, newer = two_policies
    third = services.model_version_create(name="tiny-ppo", kind="policy", artifact_path="tiny", parent=newer)
    rm = services.model_version_create(name="tiny-rm", kind="reward", artifact_path=_model_dir(data_dir, "rm"))
    prompts = _snapshot(labeled, "prompts")
    for baseline, value in ((older, 0.75), (newer, 0.625)):
        job = job_create(kind="evaluate", inputs={"reward_model": rm.pk, "prompts": prompts.pk,
                                                  "policy_a": baseline.pk, "policy_b": third.pk})
        recorded = evaluation_record(job=job, result={"mode": "winrate", "win_rate_b_over_a": value,
                                                      "ci_low": value - 0.1, "ci_high": value + 0.1})
        assert recorded == {"model_version_id": third.pk, "metric": "win_rate", "value": value,
                            "ci_low": value - 0.1, "ci_high": value + 0.1,
                            "baseline_model_id": baseline.pk, "candidate_model_id": third.pk}
    third.refresh_from_db()
    assert third.metrics["win_rate_vs"] == {str(older.pk): 0.75, str(newer.pk): 0.625}
    assert third.metrics["win_rate"] == 0.625
    # A NaN (no decided pair) records nothing.
    assert evaluation_record(job=job, result={"win_rate_b_over_a": float("nan")})["value"] is None
    third.refresh_from_db()
    assert third.metrics["win_rate"] == 0.625
