"""The command line of a job's training run, built from its named inputs and params.

Inputs become ``--<field>=<path>`` with the field names of the training CLI's config dataclasses
(the same names the job stores), so every kind — ppo's ``--prompts``, ``--ptx_data`` and
``--value_model`` included — gets exactly the flags its CLI declares. Each value is written in the
``--flag=value`` form and is an absolute path checked to lie inside the allowed roots (or a registered
model name), so nothing stored in the database can read as another flag. Params travel in a
``--config`` file, validated again by the CLI itself.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from labeling.jobs.inputs import input_path
from labeling.jobs.kinds import accelerate_configs
from labeling.jobs.services import OUTPUT_KIND, RUNNER_KEYS, job_dir
from labeling.models import Job


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    cwd: str


def generations_path(job: Job) -> Path:
    """Where a generate job's samples land (inside its output folder, beside its metrics.jsonl)."""
    return Path(job.output_dir) / "generations.jsonl"


def succeeded_output(job: Job) -> Path:
    """The file whose presence (with exit status 0) means the run finished: result.json, or generate's output."""
    if job.kind == Job.Kind.GENERATE:
        return generations_path(job)
    return Path(job.output_dir) / "result.json"


def input_flags(job: Job) -> dict[str, str]:
    """Flag name → value for the job's inputs and output location (names are the CLI's config fields)."""
    flags = {name: input_path(entry) for name, entry in (job.inputs or {}).items()}
    if job.kind == Job.Kind.SCORE:  # the texts to score, written by the service that created the job
        flags["input"] = str(job_dir(job) / "samples.jsonl")
    if job.kind == Job.Kind.GENERATE:
        flags["output"] = str(generations_path(job))
    elif job.kind == Job.Kind.EVALUATE:
        flags["output"] = str(Path(job.output_dir) / "result.json")
    else:
        flags["output_dir"] = job.output_dir
    return flags


def _launch_prefix(job: Job, python: str) -> list[str]:
    """``python -m training`` or ``accelerate launch … -m training`` for several processes."""
    config_name = job.params.get("accelerate_config")
    processes = int(job.params.get("num_processes") or 1)
    if not config_name and processes <= 1:
        return [python, "-m", "training"]
    launch = [python, "-m", "accelerate.commands.launch"]
    if config_name:
        launch.append(f"--config_file={accelerate_configs()[config_name]}")
    if processes > 1:
        launch.append(f"--num_processes={processes}")
    return launch + ["-m", "training"]


def build_command(job: Job) -> Command:
    """argv + environment for the job's training run; writes ``config.json`` (the job's params)."""
    jdir = job_dir(job)
    jdir.mkdir(parents=True, exist_ok=True)
    Path(job.output_dir).mkdir(parents=True, exist_ok=True)
    training_params = {k: v for k, v in job.params.items() if k not in RUNNER_KEYS}
    if job.attempts > 1 and job.kind in OUTPUT_KIND:
        training_params["resume"] = True  # a re-queued training job continues from its last checkpoint
    config_path = jdir / "config.json"
    config_path.write_text(json.dumps(training_params, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    python = settings.PREFLOOP_TRAINING_PYTHON or sys.executable
    args = [job.kind, f"--config={config_path}"]
    args += [f"--{flag}={value}" for flag, value in input_flags(job).items()]
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1",
        "PREFLOOP_MODEL_CACHE": str(settings.PREFLOOP_MODEL_CACHE),
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    })
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the training half never sees Django's settings
    return Command(argv=_launch_prefix(job, python) + args, env=env, cwd=str(settings.BASE_DIR))
