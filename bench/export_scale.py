"""Comparisons snapshot at scale (issue 12, item 2): rows/s and peak RSS growth for 10k, 100k, 1M rankings.

    .venv/bin/python bench/export_scale.py                    # 10k and 100k rankings
    .venv/bin/python bench/export_scale.py --sizes 10000,100000,1000000
    .venv/bin/python bench/export_scale.py --old               # + the pre-issue-12 export on the 10k set

Uses its own PostgreSQL database (``--db``, default prefloop_scaleexport_bench; created and migrated if
missing) and fills one campaign per size by COPY: prompts by 5,000 authors (one in ten without an
author), K=4 completions of ~300 characters, one ranking per task with a second labeler on 10 % of
the tasks, Likert ratings and flags on every completion. Filled campaigns are reused across runs.

Each export runs in a fresh child process, which reports its wall time and the growth of its peak
RSS (``VmHWM`` after the export minus ``VmHWM`` just before it). The baseline is PostgreSQL itself:
the same rows (the export's query, one JSON array per ranking) sent by ``COPY ... TO STDOUT`` into a
counter, i.e. the speed of reading the data without writing any file. ``--old`` also runs the
export code as it was before this change (``git show 1b93295:labeling/services/exports.py``) on the
smallest size.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OLD_COMMIT = "1b93295"
AUTHORS, LABELERS, K = 5000, 200, 4


def setup_django(db: str) -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()


def ensure_database(db: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    setup_django(db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _copy(cursor, model, columns: list[str], rows) -> None:
    """COPY ``rows`` (tuples of text-format values, None for NULL) into ``model``'s table."""
    with cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def fill(size: int) -> int:
    """A campaign of ``size`` submitted rankings (made once, by COPY); returns its id."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from labeling.models import Assignment, Campaign, Completion, Prompt, Rating, Ranking, Task

    name = f"bench-export-{size}"
    existing = Campaign.objects.filter(name=name).first()
    if existing:
        return existing.pk
    started = time.perf_counter()
    User = get_user_model()
    users = [User.objects.get_or_create(username=f"bench-labeler-{i}")[0].pk for i in range(LABELERS)]
    now = timezone.now().isoformat()
    overlap_every = 10  # one task in ten gets a second labeler
    n_tasks = size * overlap_every // (overlap_every + 1) + 1
    with transaction.atomic():
        campaign = Campaign.objects.create(name=name, status="active", task_kinds=["ranking"],
                                           completions_per_prompt=K, labels_per_task=2)
        with connection.cursor() as cur:
            def next_id(model):
                cur.execute(f"SELECT nextval(pg_get_serial_sequence('{model._meta.db_table}', 'id'))")
                return cur.fetchone()[0]

            def bump(model, last):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{model._meta.db_table}', 'id'), %s)", [last])

            p0, c0, t0, a0, r0, g0 = (next_id(m) + 1000 for m in (Prompt, Completion, Task, Assignment, Ranking, Rating))
            pc = ["id", "created_at", "updated_at", "campaign_id", "messages", "author_id", "source_id",
                  "content_hash", "category", "metadata"]
            _copy(cur, Prompt, pc, (
                (p0 + i, now, now, campaign.pk,
                 json.dumps([{"role": "user", "content": f"Question {i}: explain the \"tide\" — précisément, "
                                                         f"in {i % 7 + 2} short steps.\nKeep it simple."}]),
                 "" if i % 10 == 0 else f"author-{i % AUTHORS}", "", f"{size}-{i}", "open_qa", "{}")
                for i in range(n_tasks)))
            bump(Prompt, p0 + n_tasks)
            text = "A careful answer that walks through the question step by step, with an example. " * 4
            _copy(cur, Completion, ["id", "created_at", "updated_at", "prompt_id", "model_version_id", "text",
                                    "generation_settings"],
                  ((c0 + i, now, now, p0 + i // K, None, f"{i % K}: {text}", "{}") for i in range(n_tasks * K)))
            bump(Completion, c0 + n_tasks * K)
            _copy(cur, Task, ["id", "created_at", "updated_at", "campaign_id", "prompt_id", "kind", "required_labels",
                              "submitted_count", "active_leases", "priority", "status", "gold_answer"],
                  ((t0 + i, now, now, campaign.pk, p0 + i, "ranking", 2 if i % overlap_every == 0 else 1,
                    2 if i % overlap_every == 0 else 1, 0, 0, "done", None) for i in range(n_tasks)))
            bump(Task, t0 + n_tasks)
            _copy(cur, Task.completions.through, ["task_id", "completion_id"],
                  ((t0 + i // K, c0 + i) for i in range(n_tasks * K)))
            labels = [(i, j) for i in range(n_tasks) for j in range(2 if i % overlap_every == 0 else 1)][:size]
            _copy(cur, Assignment, ["id", "created_at", "updated_at", "task_id", "campaign_id", "labeler_id", "status",
                                    "expires_at", "display_order", "submitted_at", "seconds_spent", "skip_reason",
                                    "submission_digest"],
                  ((a0 + n, now, now, t0 + i, campaign.pk, users[(i + j * 7) % LABELERS], "submitted", now,
                    json.dumps([c0 + i * K + x for x in range(K)]), now, 30.0, "", "")
                   for n, (i, j) in enumerate(labels)))
            bump(Assignment, a0 + len(labels))
            orders = [[[2], [0, 3], [1]], [[0], [1], [2], [3]], [[3], [2], [1, 0]]]
            _copy(cur, Ranking, ["id", "created_at", "updated_at", "assignment_id", "groups", "none_acceptable"],
                  ((r0 + n, now, now, a0 + n, json.dumps([[c0 + i * K + x for x in g] for g in orders[n % 3]]), False)
                   for n, (i, _) in enumerate(labels)))
            bump(Ranking, r0 + len(labels))
            _copy(cur, Rating, ["id", "created_at", "updated_at", "assignment_id", "completion_id", "likert", "flags",
                                "note"],
                  ((g0 + n * K + x, now, now, a0 + n, c0 + i * K + x, 1 + (n + x) % 7,
                    '["hallucination"]' if (n + x) % 7 == 0 else "[]", "")
                   for n, (i, _) in enumerate(labels) for x in range(K)))
            bump(Rating, g0 + len(labels) * K)
        cur_count = len(labels)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"  filled {cur_count:,} rankings on {n_tasks:,} tasks in {time.perf_counter() - started:.0f} s", flush=True)
    return campaign.pk


def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_one(db: str, campaign_id: int, mode: str) -> dict:
    """In a child process: one export (``new`` / ``old``) or the COPY baseline; wall time and RSS growth."""
    setup_django(db)
    import tempfile

    from django.conf import settings
    from django.db import connection

    settings.PREFLOOP_DATA_DIR = tempfile.mkdtemp(prefix="bench-export-")
    from labeling.services import exports

    exports.snapshot_create  # imported before measuring
    connection.ensure_connection()
    before = vm_hwm_kib()
    started = time.perf_counter()
    if mode == "copy":
        rows = _copy_baseline(campaign_id)
        pairs = 0
    else:
        module = exports if mode == "new" else _old_module()
        snap = module.snapshot_create(kind="comparisons", campaign_ids=[campaign_id],
                                      name=f"bench-{mode}-{time.time_ns()}")
    seconds = time.perf_counter() - started
    if mode != "copy":
        import shutil

        manifest = json.loads((Path(snap.path) / "manifest.json").read_text())
        rows, pairs = snap.rows, manifest["files"]["pairwise_train.jsonl"]["rows"] + \
            manifest["files"]["pairwise_valid.jsonl"]["rows"]
        shutil.rmtree(settings.PREFLOOP_DATA_DIR, ignore_errors=True)  # gigabytes at 1M: not kept
        snap.delete()
    return {"rows": rows, "pairs": pairs, "seconds": seconds, "rss_growth_mib": (vm_hwm_kib() - before) / 1024}


def _copy_baseline(campaign_id: int) -> int:
    """PostgreSQL's own speed for the export's rows: the same statement under COPY TO STDOUT, lines counted."""
    from django.db import connection

    from labeling.models import Ranking
    from labeling.services import export_comparisons, export_quality

    rankings = Ranking.objects.filter(assignment__in=export_quality.submitted_labels([campaign_id]))
    sql, params = export_comparisons.pg_records_sql(rankings, "default")
    rows = 0
    with connection.cursor() as cur:
        cur.execute("SET jit = off")  # as in the export's transaction (labeling.db_routing)
        with cur.cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
            for data in copy:
                rows += bytes(data).count(b"\n")
    return rows


def _old_module():
    import importlib.util
    import tempfile

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:labeling/services/exports.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_exports.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_exports", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_exports"] = module
    spec.loader.exec_module(module)
    return module


def child(db: str, campaign_id: int, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--db", db, "--child", f"{campaign_id}:{mode}"],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{mode} export of campaign {campaign_id} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated ranking counts")
    parser.add_argument("--db", default="prefloop_scaleexport_bench")
    parser.add_argument("--old", action="store_true", help="also run the pre-issue-12 export on the smallest size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        campaign_id, mode = args.child.split(":")
        print(json.dumps(run_one(args.db, int(campaign_id), mode)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    ensure_database(args.db)
    print(f"comparisons snapshot, database {args.db}, K={K}, {AUTHORS} authors, {LABELERS} labelers")
    campaigns = {size: fill(size) for size in sizes}
    print(f"{'rankings':>10} {'path':>6} {'seconds':>8} {'rows/s':>9} {'pairs':>10} {'peak RSS growth':>16} "
          f"{'vs COPY':>8}")
    for size in sizes:
        copy = child(args.db, campaigns[size], "copy")
        modes = ["new"] + (["old"] if args.old and size == sizes[0] else [])
        for mode in modes:
            r = child(args.db, campaigns[size], mode)
            rate, copy_rate = r["rows"] / r["seconds"], copy["rows"] / copy["seconds"]
            print(f"{r['rows']:>10,} {mode:>6} {r['seconds']:>8.2f} {rate:>9,.0f} {r['pairs']:>10,} "
                  f"{r['rss_growth_mib']:>12.1f} MiB {rate / copy_rate:>7.2f}x", flush=True)
        print(f"{copy['rows']:>10,} {'COPY':>6} {copy['seconds']:>8.2f} {copy['rows'] / copy['seconds']:>9,.0f} "
              f"{'':>10} {copy['rss_growth_mib']:>12.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
