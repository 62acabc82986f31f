"""Prompt imports at scale (issue 12, item 3): seconds, prompts/s, peak RSS, against the old path and a raw COPY floor.

    .venv/bin/python bench/import_scale.py                  # 10k and 100k, JSONL and CSV, K=4 completions
    .venv/bin/python bench/import_scale.py --million        # adds 1M (takes minutes)
    .venv/bin/python bench/import_scale.py --sizes 10000 --formats jsonl

Each import runs in a fresh process (so its peak RSS is its own) against a fresh PostgreSQL database
``prefloop_scaleimport_bench`` (cloned from a migrated template), with the campaign doing demonstrations
and rankings: every prompt gives a prompt row, 4 completions, 2 tasks and 4 task↔completion links.

- ``new``: ``prompts_import`` as the API and the import job call it (stream, stage, set-based insert).
- ``old``: the implementation this replaced (``labeling/services/prompt_import.py`` at ``OLD_COMMIT``,
  loaded from git, over the ORM ``prompts_create``), on the smallest size only: it is slow.
- ``triggers``: ``new`` with ``PROMPT_IMPORT_SKIP_FK_TRIGGERS=false``: the write as it runs for a database role
  that may not set ``session_replication_role`` (PostgreSQL's per-row foreign-key triggers check every reference).
- ``floor``: no validation at all, the same rows COPYed straight into the four tables with ids
  computed in Python, in one transaction: what these tables' indexes and foreign keys cost by themselves.

Prints wall seconds, prompts/s, the client's and the database backend's CPU seconds (the machine is
shared: wall time moves with the load, CPU time much less), peak RSS of the importing process, ``ref ms``
(PostgreSQL's time for a fixed CPU-bound query just before the import: the machine's speed at that moment),
and the ratios. Needs PostgreSQL (``--pg``, default postgres://postgres@127.0.0.1:5432).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OLD_COMMIT = "1b93295"  # main before the streaming import
DB, TEMPLATE = "prefloop_scaleimport_bench", "prefloop_scaleimport_bench_tpl"
BEFORE_TEMPLATE = "prefloop_scaleimport_bench_before_tpl"
WORDS = ("the model should answer clearly and kindly about rivers mountains code recipes history physics poems "
         "summaries budgets travel gardens music chess weather cats dogs trains bridges").split()
CATEGORIES = ("generation", "open_qa", "brainstorming", "summarization")


def _rows(n: int, k: int, seed: int = 0):
    rng = random.Random(seed)
    for i in range(n):
        text = lambda a, b: " ".join(rng.choice(WORDS) for _ in range(rng.randint(a, b)))  # noqa: E731
        yield {"prompt": f"#{i} {text(10, 25)}?", "category": rng.choice(CATEGORIES), "author_id": f"a{i % 97}",
               "completions": [text(10, 25) for _ in range(k)]}


def generate(folder: Path, n: int, k: int, fmt: str) -> Path:
    path = folder / f"prompts-{n}.{fmt}"
    if path.exists():
        return path
    with path.open("w", encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            for row in _rows(n, k):
                f.write(json.dumps(row) + "\n")
        else:
            out = csv.writer(f)
            out.writerow(["prompt", "author_id", "category", *[f"completion_{j}" for j in range(1, k + 1)]])
            for row in _rows(n, k):
                out.writerow([row["prompt"], row["author_id"], row["category"], *row["completions"]])
    return path


# ---------------------------------------------------------------- database

def _psql(pg: str, sql: str) -> None:
    subprocess.run(["psql", f"{pg}/postgres", "-qtAc", sql], check=True, capture_output=True)


def fresh_database(pg: str, template: str = TEMPLATE) -> None:
    _psql(pg, f"DROP DATABASE IF EXISTS {DB}")
    _psql(pg, f"CREATE DATABASE {DB} TEMPLATE {template}")


def make_template(pg: str, template: str = TEMPLATE, labeling_migration: str | None = None) -> None:
    """A migrated database to clone; ``labeling_migration`` stops the labeling app at that migration."""
    _psql(pg, f"DROP DATABASE IF EXISTS {template}")
    _psql(pg, f"CREATE DATABASE {template}")
    env = {**os.environ, "DATABASE_URL": f"{pg}/{template}", "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    target = ["labeling", labeling_migration] if labeling_migration else []
    subprocess.run([sys.executable, "manage.py", "migrate", *target, "-v0"], cwd=REPO, env=env, check=True)


# ---------------------------------------------------------------- one import, in a child process

def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _old_import():
    """The replaced implementation, loaded from git (reachable from this bench only)."""
    import types

    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:labeling/services/prompt_import.py"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("old_prompt_import")
    exec(compile(source, "old_prompt_import.py", "exec"), module.__dict__)
    return module.prompts_import


def _floor(campaign, path: Path, fmt: str) -> tuple[int, int]:
    """COPY the same rows into the four tables, ids from Python, no validation, one transaction."""
    from django.db import connection, transaction
    from django.utils import timezone

    from labeling.services.prompts import prompt_content_hash

    now = timezone.now()
    with open(path, encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            rows = (json.loads(line) for line in f)
        else:
            reader = csv.reader(f)
            next(reader)
            rows = ({"prompt": r[0], "author_id": r[1], "category": r[2], "completions": r[3:]} for r in reader)
        with transaction.atomic(), connection.cursor() as cur:
            prompts, tasks, comps, links = [], [], [], []
            pid = tid = cid = 0
            for row in rows:
                pid += 1
                messages = [{"role": "user", "content": row["prompt"]}]
                prompts.append((pid, now, now, campaign.pk, json.dumps(messages), row["author_id"], "",
                                prompt_content_hash(messages), row["category"], "{}"))
                tasks.append((tid + 1, now, now, campaign.pk, pid, "demonstration", 1, 0, 0, 0, "open"))
                tasks.append((tid + 2, now, now, campaign.pk, pid, "ranking", 1, 0, 0, 0, "open"))
                tid += 2
                for text in row["completions"]:
                    cid += 1
                    comps.append((cid, now, now, pid, text, "{}"))
                    links.append((tid, cid))
            for table, columns, data in (
                ("labeling_prompt", "id, created_at, updated_at, campaign_id, messages, author_id, source_id, "
                                    "content_hash, category, metadata", prompts),
                ("labeling_task", "id, created_at, updated_at, campaign_id, prompt_id, kind, required_labels, "
                                  "submitted_count, active_leases, priority, status", tasks),
                ("labeling_completion", "id, created_at, updated_at, prompt_id, text, generation_settings", comps),
                ("labeling_task_completions", "task_id, completion_id", links),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for values in data:
                        copy.write_row(values)
            for table in ("labeling_prompt", "labeling_task", "labeling_completion", "labeling_task_completions"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return pid, tid


def _speed_reference() -> float:
    """Milliseconds PostgreSQL takes for a fixed CPU-bound query (best of 3), just before the import: this VM's
    speed moves by half over tens of minutes, and this column tells a slow phase from a slower import."""
    from django.db import connection

    best = float("inf")
    with connection.cursor() as cur:
        for _ in range(3):
            began = time.perf_counter()
            cur.execute("SELECT count(*) FROM generate_series(1, 3000000) g WHERE g % 7 = 3")
            cur.fetchone()
            best = min(best, (time.perf_counter() - began) * 1000)
    return best


def child(mode: str, path: Path, fmt: str) -> None:
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from labeling.services.campaigns import campaign_create

    settings.PROMPT_IMPORT_MAX_BYTES = 8 * 1024 ** 3
    campaign = campaign_create(name="bench", task_kinds=["demonstration", "ranking"])
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    ref_ms = _speed_reference()
    importer = _old_import() if mode == "old" else None
    began, cpu0, server0 = time.perf_counter(), time.process_time(), _server_cpu(backend)
    if mode == "floor":
        imported, tasks = _floor(campaign, path, fmt)
    else:
        from labeling.services.prompt_import import prompts_import

        with path.open("rb") as f:
            result = (importer or prompts_import)(campaign=campaign, file=f, filename=path.name)
        imported, tasks = result.imported, result.tasks_created
    seconds = time.perf_counter() - began
    print(json.dumps({"ref_ms": ref_ms, "seconds": seconds, "client_cpu": time.process_time() - cpu0,
                      "server_cpu": _server_cpu(backend) - server0, "imported": imported, "tasks": tasks,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(pg: str, mode: str, path: Path, fmt: str) -> dict:
    fresh_database(pg, BEFORE_TEMPLATE if mode == "before" else TEMPLATE)
    env = {**os.environ, "DATABASE_URL": f"{pg}/{DB}", "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "PROMPT_IMPORT_SKIP_FK_TRIGGERS": "false" if mode == "triggers" else "true"}
    child_mode = "new" if mode in ("before", "triggers") else mode
    out = subprocess.run([sys.executable, __file__, "--child", child_mode, str(path), fmt], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--million", action="store_true", help="add 1,000,000 prompts")
    parser.add_argument("--formats", default="jsonl,csv")
    parser.add_argument("--k", type=int, default=4, help="completions per prompt")
    parser.add_argument("--no-old", action="store_true", help="skip the old path (slow)")
    parser.add_argument("--no-floor", action="store_true", help="skip the raw COPY floor")
    parser.add_argument("--triggers", action="store_true",
                        help="also run the new path with the per-row foreign-key triggers on (mode 'triggers')")
    parser.add_argument("--schema-before", metavar="MIGRATION", default=None,
                        help="also run the new path on the schema as of this labeling migration (mode 'before'), "
                             "e.g. 0009_dashboards: what a schema change did to the import, in one run")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "prefloop-import-bench"))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]), args.child[2])
    sizes = sorted({int(s) for s in args.sizes.split(",")} | ({1_000_000} if args.million else set()))
    folder = Path(args.data)
    folder.mkdir(parents=True, exist_ok=True)
    make_template(args.pg)
    if args.schema_before:
        make_template(args.pg, BEFORE_TEMPLATE, args.schema_before)
    print(f"# prompts with K={args.k} completions; campaign does demonstrations + rankings; "
          f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'format':6} {'size':>9} {'mode':8} {'MB':>6} {'seconds':>8} {'prompts/s':>10} {'client cpu':>10} "
          f"{'db cpu':>7} {'peak RSS MB':>11} {'ref ms':>6}  ratio")
    for fmt in args.formats.split(","):
        baseline = None
        for n in sizes:
            path = generate(folder, n, args.k, fmt)
            modes = (["new"] + (["triggers"] if args.triggers else []) + (["before"] if args.schema_before else [])
                     + ([] if args.no_floor else ["floor"])
                     + ([] if args.no_old or n != sizes[0] else ["old"]))
            results = {}
            for mode in modes:
                r = results[mode] = measure(args.pg, mode, path, fmt)
                assert r["imported"] == n, r
                ratio = ""
                if mode == "old":
                    baseline = r["seconds"]
                    ratio = f"new is {r['seconds'] / results['new']['seconds']:.1f}x faster than old"
                elif mode == "before":
                    ratio = f"new schema: {r['server_cpu'] / results['new']['server_cpu']:.2f}x less db cpu"
                elif mode == "triggers":
                    ratio = f"triggers take {r['seconds'] / results['new']['seconds']:.2f}x new's time"
                elif mode == "floor":
                    ratio = f"new takes {results['new']['seconds'] / r['seconds']:.2f}x the floor"
                elif baseline:
                    ratio = f"{(n / r['seconds']) / (sizes[0] / baseline):.1f}x the old path's prompts/s at {sizes[0]}"
                print(f"{fmt:6} {n:>9} {mode:8} {path.stat().st_size / 1e6:>6.0f} {r['seconds']:>8.1f} "
                      f"{n / r['seconds']:>10.0f} {r['client_cpu']:>10.1f} {r['server_cpu']:>7.1f} {r['rss_mb']:>11.0f} "
                      f"{r['ref_ms']:>6.0f}  "
                      f"{ratio}", flush=True)
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
