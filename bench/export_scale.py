"""Comparisons snapshot at scale (issue 12, item 2): rows/s and peak RSS growth for 10k, 100k, 1M rankings.

    .venv/bin/python bench/export_scale.py                    # 10k and 100k rankings
    .venv/bin/python bench/export_scale.py --sizes 10000,100000,1000000
    .venv/bin/python bench/export_scale.py --old               # + the pre-issue-12 export on the 10k set

Uses its own PostgreSQL database (``--db``, default prefloop_scaleexport_bench_g; created and migrated if
missing) and fills one campaign per size with ``manage.py generate_scale_data`` (COPY): prompts by
5,000 authors, K=4 completions, two labelers per task (every task moves the manifest's agreement
figures: the worst case for them), Likert ratings on every label, 200 labelers. Filled campaigns are
reused across runs.

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
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OLD_COMMIT = "1b93295"
AUTHORS, LABELERS, K, OVERLAP = 5000, 200, 4, 2


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


def fill(size: int) -> int:
    """A campaign of ``size`` submitted rankings, made once by ``manage.py generate_scale_data``; its id."""
    from django.core.management import call_command

    from labeling.models import Campaign

    prefix = f"export{size}"
    existing = Campaign.objects.filter(name__startswith=f"{prefix}-").first()
    if existing:
        return existing.pk
    started = time.perf_counter()
    call_command("generate_scale_data", campaigns=1, open_tasks=0, labels=size, labelers=LABELERS, overlap=OVERLAP,
                 authors=AUTHORS, ratings_fraction=1.0, k=K, prefix=prefix, verbosity=0)
    print(f"  filled {size:,} rankings in {time.perf_counter() - started:.0f} s", flush=True)
    return Campaign.objects.get(name__startswith=f"{prefix}-").pk


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
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    before, cpu_before, pg_before = vm_hwm_kib(), _cpu_self(), _cpu_of(backend)
    started = time.perf_counter()
    if mode == "copy":
        rows = _copy_baseline(campaign_id)
        pairs = 0
    else:
        module = exports if mode == "new" else _old_module()
        snap = module.snapshot_create(kind="comparisons", campaign_ids=[campaign_id],
                                      name=f"bench-{mode}-{time.time_ns()}")
    seconds = time.perf_counter() - started
    cpu, pg_cpu = _cpu_self() - cpu_before, _cpu_of(backend) - pg_before
    if mode != "copy":
        manifest = json.loads((Path(snap.path) / "manifest.json").read_text())
        rows, pairs = snap.rows, manifest["files"]["pairwise_train.jsonl"]["rows"] + \
            manifest["files"]["pairwise_valid.jsonl"]["rows"]
        snap.delete()
    shutil.rmtree(settings.PREFLOOP_DATA_DIR, ignore_errors=True)  # gigabytes at 1M: not kept
    return {"rows": rows, "pairs": pairs, "seconds": seconds, "rss_growth_mib": (vm_hwm_kib() - before) / 1024,
            "cpu": cpu, "pg_cpu": pg_cpu}


def _cpu_self() -> float:
    times = os.times()
    return times.user + times.system


def _cpu_of(pid: int) -> float:
    """CPU seconds of a PostgreSQL backend on this machine (its /proc entry: utime + stime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--db", default="prefloop_scaleexport_bench_g")
    parser.add_argument("--old", action="store_true", help="also run the pre-issue-12 export on the smallest size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        campaign_id, mode = args.child.split(":")
        print(json.dumps(run_one(args.db, int(campaign_id), mode)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    ensure_database(args.db)
    print(f"comparisons snapshot, database {args.db}, K={K}, overlap {OVERLAP}, {AUTHORS} authors, "
          f"{LABELERS} labelers")
    campaigns = {size: fill(size) for size in sizes}
    print(f"{'rankings':>10} {'path':>6} {'seconds':>8} {'rows/s':>9} {'pairs':>10} {'peak RSS growth':>16} "
          f"{'vs COPY':>8} {'py CPU s':>9} {'pg CPU s':>9} {'rows/CPU-s':>11}")
    for size in sizes:
        copy = child(args.db, campaigns[size], "copy")
        modes = ["new"] + (["old"] if args.old and size == sizes[0] else [])
        for mode in modes:
            r = child(args.db, campaigns[size], mode)
            rate, copy_rate = r["rows"] / r["seconds"], copy["rows"] / copy["seconds"]
            print(f"{r['rows']:>10,} {mode:>6} {r['seconds']:>8.2f} {rate:>9,.0f} {r['pairs']:>10,} "
                  f"{r['rss_growth_mib']:>12.1f} MiB {rate / copy_rate:>7.2f}x {_cpu_columns(r)}", flush=True)
        print(f"{copy['rows']:>10,} {'COPY':>6} {copy['seconds']:>8.2f} {copy['rows'] / copy['seconds']:>9,.0f} "
              f"{'':>10} {copy['rss_growth_mib']:>12.1f} MiB {'':>8} {_cpu_columns(copy)}", flush=True)


def _cpu_columns(r: dict) -> str:
    """CPU seconds of the exporting process and of its PostgreSQL backend, and rows per second of the busier
    one: what the two cores would give if the machine were not shared (they work in parallel)."""
    busiest = max(r["cpu"], r["pg_cpu"])
    return f"{r['cpu']:>9.2f} {r['pg_cpu']:>9.2f} {r['rows'] / busiest if busiest else 0:>11,.0f}"


if __name__ == "__main__":
    main()
