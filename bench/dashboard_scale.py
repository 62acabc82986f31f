"""Dashboards at scale (issue 12, item 4): p50/p99 of each dashboard endpoint on a database of many labels,
next to the same figure computed the old way (recounted per request), and the ratio.

    .venv/bin/python bench/dashboard_scale.py                      # 200k labels over 10 campaigns (a few minutes)
    .venv/bin/python bench/dashboard_scale.py --labels 10000000 --campaigns 50    # the issue's 10M labels
    .venv/bin/python bench/dashboard_scale.py --reuse              # measure again without refilling
    .venv/bin/python bench/dashboard_scale.py --reuse --only jobs,models   # some endpoints only

Fills PostgreSQL database ``--db`` (default prefloop_scaledash_bench; dropped and recreated unless
``--reuse``) with ``manage.py generate_scale_data`` (COPY), plus one K=2 evaluation campaign of
``--eval-labels`` comparisons between three policies, ``--jobs`` jobs and ``--models`` models. Then:
rebuilds the aggregates (``progress_rebuild``, timed), computes the stored reports as a worker would
(timed: that is the background cost), and measures each endpoint through DRF's test client
(in-process: URL routing, permissions, serializers, the queries; no network), ``--reps`` times:

- progress  ``GET /campaigns/{id}/progress``            vs ``campaign_progress_live`` (the old selector)
- agreement ``GET /campaigns/{id}/agreement?n_boot=500`` vs ``campaign_agreement`` (recomputed)
- labelers  ``GET /campaigns/{id}/labelers?n_boot=500``  vs ``campaign_labeler_signals`` (recomputed)
- jobs      ``GET /jobs?limit=200``                      (unchanged code, new ORDER BY index; no baseline)
- models    ``GET /models?limit=500``                    vs the old list (two queries per model)
- leaderboard ``GET /leaderboard``                       vs ``leaderboard()`` (bootstrap recomputed)

Baselines are the old selectors called directly (no HTTP layer), so the ratios are if anything low.
Slow baselines are measured ``--baseline-reps`` times. Also prints one incremental sweep's time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", default="prefloop_scaledash_bench")
    p.add_argument("--labels", type=int, default=200_000)
    p.add_argument("--campaigns", type=int, default=10)
    p.add_argument("--open-tasks", type=int, default=20_000)
    p.add_argument("--labelers", type=int, default=64)
    p.add_argument("--eval-labels", type=int, default=20_000)
    p.add_argument("--jobs", type=int, default=20_000)
    p.add_argument("--models", type=int, default=2_000)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--baseline-reps", type=int, default=3, help="0: do not measure the old code paths")
    p.add_argument("--reuse", action="store_true", help="keep the filled database, measure again")
    p.add_argument("--only", default="", help="comma-separated endpoints to measure (default: all)")
    return p.parse_args()


ARGS = _args()
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{ARGS.db}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import psycopg  # noqa: E402

if not ARGS.reuse:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{ARGS.db}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{ARGS.db}"')

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from labeling.models import (  # noqa: E402
    Campaign, Completion, DashboardReport, Evaluation, Job, ModelVersion, Task,
)
from labeling.selectors.agreement import campaign_agreement  # noqa: E402
from labeling.selectors.campaigns import campaign_progress_live  # noqa: E402
from labeling.selectors.evaluations import leaderboard  # noqa: E402
from labeling.selectors.signals import campaign_labeler_signals  # noqa: E402
from labeling.services.dashboard_reports import report_key, report_refresh  # noqa: E402
from labeling.services.dashboards import progress_rebuild, progress_refresh  # noqa: E402

settings.DASHBOARD_READ_REFRESH_S = 3600.0  # measure reads; the sweep is timed on its own
N_BOOT = 500


def _fill() -> None:
    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("generate_scale_data", campaigns=ARGS.campaigns, open_tasks=ARGS.open_tasks, labels=ARGS.labels,
                 labelers=ARGS.labelers, k=4, overlap=2, seed=1, prefix="dash", verbosity=0)
    call_command("generate_scale_data", campaigns=1, open_tasks=0, labels=ARGS.eval_labels, labelers=ARGS.labelers,
                 k=2, overlap=1, seed=2, prefix="dasheval", verbosity=0)
    _make_evaluation()
    _make_jobs_and_models()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"filled {ARGS.labels + ARGS.eval_labels:,} labels in {time.perf_counter() - began:.0f} s")


def _make_evaluation() -> None:
    """The K=2 campaign becomes a blind evaluation: its two completions per task come from two of three policies."""
    campaign = Campaign.objects.filter(name__startswith="dasheval").order_by("-id").first()
    base = ModelVersion.objects.create(name="bench-base", kind="base", artifact_path="tiny")
    policies = [ModelVersion.objects.create(name=f"bench-policy-{i}", kind="policy", artifact_path="tiny", parent=base)
                for i in range(3)]
    ids = [p.pk for p in policies]
    with connection.cursor() as cursor:  # one UPDATE: completion i of a task (by id order) → policy (t + i) % 3
        cursor.execute("""
            UPDATE labeling_completion c SET model_version_id = (ARRAY[%s, %s, %s])[1 + ((x.task_id + x.pos) %% 3)]
            FROM (SELECT tc.completion_id, tc.task_id,
                         row_number() OVER (PARTITION BY tc.task_id ORDER BY tc.completion_id) - 1 AS pos
                  FROM labeling_task_completions tc JOIN labeling_task t ON t.id = tc.task_id
                  WHERE t.campaign_id = %s) x
            WHERE c.id = x.completion_id""", [*ids, campaign.pk])
    evaluation = Evaluation.objects.create(name="bench-eval", status=Evaluation.Status.LABELING, campaign=campaign)
    evaluation.policies.set(policies)


def _make_jobs_and_models() -> None:
    jobs = Job.objects.bulk_create([Job(kind="sft", status="succeeded", params={"max_steps": i}, progress=1.0)
                                    for i in range(ARGS.jobs)], batch_size=5000)
    ModelVersion.objects.bulk_create([ModelVersion(name=f"bench-model-{i}", kind="sft", artifact_path="tiny",
                                                   job=jobs[i % len(jobs)], metrics={"loss": 1.0})
                                      for i in range(ARGS.models)], batch_size=5000)


def _pcts(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def _time(call, reps: int) -> tuple[float, float, float]:
    """p50 and p99 wall ms, and p50 CPU ms of this process (the machine may be shared: CPU time is what the
    request itself costs in Python, the database's share aside)."""
    samples, cpu = [], []
    for _ in range(reps):
        began, began_cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return (*_pcts(samples), statistics.median(cpu))


def _get(client, url: str):
    def call():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return call


def _old_models_list(client) -> None:
    """The models list as it was: the job and its snapshots fetched per model."""
    from labeling.api.research import ModelVersionOutput
    qs = ModelVersion.objects.select_related("parent", "reward_model").order_by("-created_at", "-id")[:500]
    ModelVersionOutput(qs, many=True).data


def main() -> None:
    if not ARGS.reuse:
        _fill()
    from django.contrib.auth import get_user_model
    staff = get_user_model().objects.filter(is_staff=True).first() or get_user_model().objects.create_user(
        "bench-staff", is_staff=True)
    client = APIClient()
    client.force_authenticate(user=staff)

    began = time.perf_counter()
    progress_rebuild()
    print(f"progress_rebuild (after the bulk load): {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    progress_refresh()
    print(f"one incremental sweep (nothing new): {(time.perf_counter() - began) * 1000:.0f} ms")

    campaign = Campaign.objects.filter(name__startswith="dash-").order_by("id").first()
    labels = Task.objects.filter(campaign=campaign).count()
    evaluation_ids = list(Evaluation.objects.values_list("pk", flat=True))
    for name, params in (("agreement", {"campaign": campaign.pk, "n_boot": N_BOOT}),
                         ("labelers", {"campaign": campaign.pk, "n_boot": N_BOOT}),
                         ("leaderboard", {"evaluations": []})):
        row, _ = DashboardReport.objects.get_or_create(key=report_key(name, params),
                                                       defaults={"computed_at": "2000-01-01T00:00Z"})
        if row.payload and ARGS.reuse:  # measured before (--reuse): its computation time is stored
            print(f"stored report {name}: computed by the worker in {row.seconds:.1f} s (earlier run)")
            continue
        seconds = report_refresh(key=report_key(name, params))
        print(f"stored report {name}: computed by the worker in {seconds:.1f} s")
    print(f"measured campaign #{campaign.pk}: {labels:,} tasks; {len(evaluation_ids)} evaluation(s); "
          f"{Job.objects.count():,} jobs, {ModelVersion.objects.count():,} models")

    rows = [
        ("progress", _get(client, f"/api/v1/campaigns/{campaign.pk}/progress"),
         lambda: campaign_progress_live(campaign=campaign)),
        ("agreement", _get(client, f"/api/v1/campaigns/{campaign.pk}/agreement?n_boot={N_BOOT}"),
         lambda: campaign_agreement(campaign=campaign, n_boot=N_BOOT)),
        ("labelers", _get(client, f"/api/v1/campaigns/{campaign.pk}/labelers?n_boot={N_BOOT}"),
         lambda: campaign_labeler_signals(campaign=campaign, n_boot=N_BOOT)),
        ("jobs list", _get(client, "/api/v1/jobs?limit=200"), None),
        ("models list", _get(client, "/api/v1/models?limit=500"), lambda: _old_models_list(client)),
        ("leaderboard", _get(client, "/api/v1/leaderboard"), lambda: leaderboard()),
    ]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"\n{'endpoint':<12} {'new p50 ms':>10} {'new p99 ms':>10} {'cpu p50':>8} {'old p50 ms':>11} {'old p99 ms':>11} "
          f"{'ratio p50':>9}")
    only = {x.strip() for x in ARGS.only.split(",") if x.strip()}
    for name, new, old in rows:
        if only and name.split()[0] not in only:
            continue
        new(), new()  # warm
        n50, n99, c50 = _time(new, ARGS.reps)
        if old is None or ARGS.baseline_reps == 0:
            print(f"{name:<12} {n50:>10.1f} {n99:>10.1f} {c50:>8.1f} {'-':>11} {'-':>11} {'-':>9}")
            continue
        o50, o99, _ = _time(old, ARGS.baseline_reps)
        print(f"{name:<12} {n50:>10.1f} {n99:>10.1f} {c50:>8.1f} {o50:>11.1f} {o99:>11.1f} {o50 / n50:>8.0f}x")


if __name__ == "__main__":
    main()
