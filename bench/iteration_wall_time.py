"""Wall time of one iteration (export → SFT → reward → PPO-ptx or DPO → generate → evaluate), per stage,
with the dashboard's suggested params, on the tiny model or SmolLM2, and the run-time estimate beside each.

    python bench/iteration_wall_time.py --model tiny
    python bench/iteration_wall_time.py --model smollm2-135m-instruct --prompts 24 --threads 1

It uses a private SQLite database and data folder (nothing else is touched), fills a campaign with the 24
demo prompts labelled by simulated labelers (a demonstration each and a ranking of K=4 canned answers that
prefers the more complete ones), starts an iteration through the service a researcher's POST /iterations
calls, and runs each stage's job in this process, as a worker would, one after the other. Broker latency is
left out: this is the cost of the stages themselves. Prints one line per stage and the total.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _setup(workdir: Path, threads: int) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "PREFLOOP_DATA_DIR": str(workdir / "data"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads),
        "PREFLOOP_JOB_POLL_S": "0.5", "LOG_LEVEL": "ERROR",
    })
    os.environ.setdefault("PREFLOOP_MODEL_CACHE", str(ROOT / "var" / "models"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _labelled_campaign(k: int, n_prompts: int):
    """The demo prompts, each with a demonstration and a ranking that prefers the more complete answer."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from labeling.management.commands._demo_prompts import DEMO_PROMPTS
    from labeling.models import Assignment, Campaign, Completion, Demonstration, Prompt, Ranking, Task
    from labeling.services.prompts import prompt_content_hash

    campaign = Campaign.objects.create(name="bench-iteration", status="active", completions_per_prompt=k,
                                       task_kinds=["demonstration", "ranking"])
    labelers = [get_user_model().objects.create(username=f"sim-{i}") for i in range(3)]
    now = timezone.now()
    for i, row in enumerate((DEMO_PROMPTS * 4)[:n_prompts]):
        prompt = Prompt.objects.create(campaign=campaign, messages=row["messages"], author_id=f"{row['author_id']}-{i}",
                                       category=row["category"],
                                       content_hash=prompt_content_hash(row["messages"]) + str(i))
        topic = row["messages"][-1]["content"][:80]
        answers = [f"Here is a complete, careful answer about {topic}: " + "detail " * (12 - 3 * j) for j in range(k)]
        completions = [Completion.objects.create(prompt=prompt, text=t) for t in answers]
        for kind, labeler in (("demonstration", labelers[i % 3]), ("ranking", labelers[(i + 1) % 3])):
            task = Task.objects.create(campaign=campaign, prompt=prompt, kind=kind, submitted_count=1, status="done")
            a = Assignment.objects.create(task=task, campaign=campaign, labeler=labeler, status="submitted",
                                          expires_at=now, submitted_at=now)
            if kind == "demonstration":
                Demonstration.objects.create(assignment=a, text=answers[0])
            else:
                task.completions.set(completions)
                Ranking.objects.create(assignment=a, groups=[[c.pk] for c in completions])
    return campaign


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny | smollm2-135m-instruct | a folder")
    parser.add_argument("--method", default="ppo", choices=["ppo", "dpo"])
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="OMP threads for the training processes")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (every stage's device param)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="prefloop-iteration-bench-"))
    if Path(args.model).is_dir():  # a model folder may be registered once its root is an allowed one
        args.model = str(Path(args.model).resolve())
        os.environ["PREFLOOP_MODEL_ROOTS"] = str(Path(args.model).parent)
    _setup(workdir, args.threads)

    from labeling.jobs.estimate import job_estimate
    from labeling.jobs.export_job import run_export
    from labeling.jobs.inputs import resolve_inputs
    from labeling.jobs.runner import run_job
    from labeling.jobs.services import model_version_create
    from labeling.models import Iteration, Job
    from labeling.selectors.iterations import iteration_detail
    from labeling.services.iterations import STAGES, iteration_advance, iteration_create

    campaign = _labelled_campaign(4, args.prompts)
    base = model_version_create(name="bench-base", kind="base", artifact_path=args.model)
    stage_params = {s: {"device": args.device} for s in STAGES[args.method] if s != "export"}
    t0 = time.monotonic()
    iteration = iteration_create(source_campaign_ids=[campaign.pk], base_model=base, method=args.method,
                                 params=stage_params, valid_fraction=0.25, name="bench")
    print(f"model={args.model} method={args.method} prompts={args.prompts} threads={args.threads} workdir={workdir}")
    print(f"{'stage':<10}{'status':<11}{'wall s':>9}{'estimate s':>12}  key metric")
    while True:
        job = Job.objects.filter(iteration=iteration, status=Job.Status.QUEUED).order_by("id").first()
        if job is None:
            break
        estimate = None
        if job.kind != "export":
            inputs = resolve_inputs(job.kind, {k: v["id"] for k, v in job.inputs.items()})
            estimate = job_estimate(kind=job.kind, inputs=inputs, params=job.params)["seconds"]
        started = time.monotonic()
        status = run_export(job.pk) if job.kind == "export" else run_job(job.pk)
        wall = time.monotonic() - started
        stage = next(s for s in iteration_detail(iteration)["stages"] if s["job"] == job.pk)
        metric = stage["metric"] or {}
        print(f"{job.stage:<10}{status:<11}{wall:>9.1f}{(estimate if estimate is not None else float('nan')):>12.1f}"
              f"  {metric.get('name', '')} {metric.get('value', '')}", flush=True)
        if status != Job.Status.SUCCEEDED:
            print(Job.objects.get(pk=job.pk).error[:2000])
        iteration_advance(iteration_id=iteration.pk)
    iteration.refresh_from_db()
    win = iteration_detail(iteration)["win_rate"]
    print(f"iteration {iteration.status} in {time.monotonic() - t0:.1f} s; win rate of the policy over its SFT "
          f"parent (judged by the reward model): {win['value'] if win else 'n/a'}")
    return 0 if iteration.status == Iteration.Status.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
