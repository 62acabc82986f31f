"""Queue under growth (issue 12, item 1): ``next`` and ``submit`` p50/p99 as open tasks grow.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python bench/queue_scale.py --sizes 2000,100000[,1000000] [--past 50000] [--explain]

Databases: a base ``<db-prefix>_base`` holds ``--labelers`` labelers who each submitted ``--past``
labels (on done tasks of a campaign of their own) and the smallest size's tasks; each size N is a
copy of it (CREATE DATABASE … TEMPLATE) topped up by ``manage.py generate_scale_data
--into-campaigns``: group A = 1 active campaign with N open tasks, group B = 50 active campaigns
sharing N open tasks. For each group (the other one paused, its tasks still in the tables) and each
concurrency C, C threads (one labeler and one database connection each) loop ``next`` + ``submit``
through the services the API views call (``services.queue.assignment_next``,
``services.submissions.assignment_submit``); the first ``--warmup`` cycles of each thread are left
out (connection set-up, and the first runs of each statement, which PostgreSQL plans afresh).

Prints a table per size, the ratio p99(largest)/p99(smallest) per series (target ≤ 1.5), and with
``--explain`` the EXPLAIN (ANALYZE, BUFFERS) of the statements ``next`` and ``submit`` run (rolled
back), with the indexes they use, plus the lease as the old single ``IN (…)`` walk, also with a
paused campaign's open tasks ahead. Each size is measured in a subprocess (``--measure``) so
Django binds to that size's database. ``--build-only`` / ``--reuse`` split building and measuring.
See docs/scale.md for a run's output.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {"A": 1, "B": 50}


def _db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _manage(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _recreate(url: str, name: str, template: str | None = None) -> None:
    import psycopg

    with psycopg.connect(_db_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def _generate(target: str, size: int, args, grow: bool = False) -> list[str]:
    """Group A (1 campaign) and group B (50 campaigns) get ``size`` more open tasks each."""
    common = ["--open-tasks", str(size), "--k", "4", "--overlap", "2", "--seed", "1", "--ratings-fraction", "0.1",
              "--labelers", str(args.labelers), "--reuse-labelers", "qsH-"]
    return [_manage(target, "generate_scale_data", "--prefix", f"qs{group}", "--campaigns", str(count), *common,
                    *(["--into-campaigns", f"qs{group}-"] if grow else []))
            for group, count in GROUPS.items()]


def build(url: str, name: str, size: int, args) -> None:
    """The size's database: a copy (CREATE DATABASE … TEMPLATE) of a base holding the labelers and
    their history plus the smallest size's tasks, then topped up with more open tasks."""
    base = f"{args.db_prefix}_base"
    started, outputs = time.perf_counter(), []
    if not args.reuse_base:
        _recreate(url, base)
        target = _db_url(url, base)
        _manage(target, "migrate", "-v0")
        # The history: every labeler submitted --past labels, on done tasks of a campaign of its own.
        outputs.append(_manage(target, "generate_scale_data", "--prefix", "qsH", "--campaigns", "1",
                               "--open-tasks", "0", "--labelers", str(args.labelers), "--k", "4",
                               "--past-assignments-per-labeler", str(args.past), "--history-on", "done",
                               "--ratings-fraction", "0"))
        outputs += _generate(target, args.base_size, args)
        args.reuse_base = True
    _recreate(url, name, template=base)
    target = _db_url(url, name)
    _manage(target, "migrate", "-v0")  # a migration added since the base was built
    if size > args.base_size:
        outputs += _generate(target, size - args.base_size, args, grow=True)
    print(f"# built {name} in {time.perf_counter() - started:.0f} s")
    for out in outputs:
        print("\n".join("#   " + line for line in out.strip().splitlines()))


# ---------------------------------------------------------------------------------- measuring

def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def _thread(user, cycles: int, warmup: int, start: threading.Barrier, out: dict, errors: list) -> None:
    from django.db import connection

    from labeling.services.queue import assignment_next
    from labeling.services.submissions import assignment_submit

    nexts, submits = [], []
    try:
        start.wait()
        for i in range(cycles + warmup):
            t0 = time.perf_counter()
            a = assignment_next(labeler=user)
            t1 = time.perf_counter()
            if a is None:
                errors.append(f"{user.username}: no task left")
                break
            ids = a.display_order
            assignment_submit(assignment_id=a.pk, labeler=user, data={"ranking": [[ids[0]], ids[1:3], ids[3:]]},
                              seconds_spent=1.0)
            t2 = time.perf_counter()
            if i >= warmup:
                nexts.append((t1 - t0) * 1000)
                submits.append((t2 - t1) * 1000)
    except Exception as exc:  # reported by the main thread
        errors.append(f"{user.username}: {exc!r}")
    finally:
        out[user.pk] = (nexts, submits)
        connection.close()


def _series(group: str, concurrency: int, args) -> dict:
    from django.contrib.auth import get_user_model

    from labeling.models import Campaign
    from labeling.services.campaigns import campaign_activate, campaign_pause

    for campaign in Campaign.objects.filter(name__startswith="qs"):
        active = campaign.name.startswith(f"qs{group}-")
        (campaign_activate if active else campaign_pause)(campaign=campaign)
    users = list(get_user_model().objects.filter(username__startswith="qsH-").order_by("id")[:concurrency])
    start, out, errors = threading.Barrier(len(users)), {}, []
    threads = [threading.Thread(target=_thread, args=(u, args.cycles, args.warmup, start, out, errors)) for u in users]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    nexts = [v for n, _ in out.values() for v in n]
    submits = [v for _, s in out.values() for v in s]
    return {"campaigns": GROUPS[group], "c": concurrency, "n": len(nexts), "errors": errors[:3],
            "labels_per_s": round(len(nexts) / elapsed, 1),
            "next": {"p50": round(statistics.median(nexts), 2) if nexts else None, "p99": round(_pct(nexts, 99), 2)},
            "submit": {"p50": round(statistics.median(submits), 2) if submits else None,
                       "p99": round(_pct(submits, 99), 2)}}


_INDEX = re.compile(r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? using (\S+)(?: on (\S+))?")


def _explain(sql: str, params) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return [row[0] for row in cursor.fetchall()]


def explain(group: str) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of next's and submit's statements for the first labeler, rolled back."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from labeling.models import Assignment, Campaign, Task
    from labeling.services import queue, queue_pg, submissions_pg
    from labeling.services.campaigns import campaign_activate, campaign_pause

    for campaign in Campaign.objects.filter(name__startswith="qs"):
        (campaign_activate if campaign.name.startswith(f"qs{group}-") else campaign_pause)(campaign=campaign)
    user = get_user_model().objects.filter(username__startswith="qsH-").order_by("id").first()
    plans = {}
    with transaction.atomic():
        campaigns, _ = queue._campaigns_and_held(user, None)
        plans["next: campaigns + held lease"] = _explain(queue._CAMPAIGNS_SQL_PG, [user.pk])
        now = timezone.now()
        sql, params = queue_pg.lease_statement(labeler_id=user.pk, campaigns=campaigns, kind=None, now=now,
                                               skip_locked=True)
        plans["next: lease_statement"] = _explain(sql, params)
        transaction.set_rollback(True)
    if len(campaigns) > 1:
        # For comparison, the statement this branch replaced: one ``campaign_id IN (…)`` walk of the
        # global open-task index (what ``_PICK_WALK`` still does for one campaign).
        with transaction.atomic():
            kind_filter, _ = queue_pg._kind_filter(campaigns, None)
            ids = ", ".join(f"%(campaign{i})s" for i in range(len(campaigns)))
            walk = queue_pg._PICK_WALK.format(campaigns=ids, skip_locked="SKIP LOCKED", kind_filter=kind_filter, gold="")
            walk_params = params | {f"campaign{i}": cid for i, cid in enumerate(campaigns)}
            plans["next: lease as one IN (...) walk (before)"] = _explain(queue_pg._LEASE_SQL.format(pick=walk),
                                                                          walk_params)
            transaction.set_rollback(True)
    if len(campaigns) > 1:
        # The case the merged walk is for: every open task of the paused group A ahead of group B's
        # (B's earlier tasks marked done, in a transaction rolled back).
        with transaction.atomic():
            last_a = Task.objects.filter(campaign__name__startswith="qsA-", status="open").order_by("-id").first()
            hidden = Task.objects.filter(campaign_id__in=list(campaigns), status="open", id__lt=last_a.pk).update(
                status="done")
            tag = f"paused campaign's open tasks ahead ({hidden:,} of B's tasks set aside)"
            plans[f"next: lease, {tag}: one IN (...) walk (before)"] = _explain(
                queue_pg._LEASE_SQL.format(pick=walk), walk_params)
            plans[f"next: lease, {tag}: lease_statement"] = _explain(sql, params)
            transaction.set_rollback(True)
    with transaction.atomic():
        _explain(sql, params)  # lease again (rolled back above), to explain the submit of that lease
        a = Assignment.objects.filter(labeler=user, status=Assignment.Status.LEASED).latest("id")  # EXPLAIN ANALYZE ran it
        plans["submit: assignment_read"] = _explain(submissions_pg._READ_SQL, [a.pk, user.pk])
        ids = a.display_order
        params = {"id": a.pk, "status": "leased", "held": 1, "now": now, "digest": "0" * 64, "seconds": 1.0,
                  "groups": json.dumps([ids]), "none_acceptable": False, "ratings": "[]"}
        plans["submit: submission_write (ranking)"] = _explain(submissions_pg._RANKING_SQL, params)
        transaction.set_rollback(True)
    return plans


def measure(args) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    django.setup()
    results = [_series(g, c, args) for g in args.groups for c in args.concurrency] if args.cycles else []
    plans = {g: explain(g) for g in args.groups} if args.explain else {}
    print(json.dumps({"series": results, "plans": plans}))


# ---------------------------------------------------------------------------------- report

def report(by_size: dict[int, dict]) -> None:
    print(f"{'open tasks':>10} {'campaigns':>9} {'C':>3} {'n':>5} | {'next p50':>8} {'p99':>8} | "
          f"{'submit p50':>10} {'p99':>8} | labels/s")
    for size, data in by_size.items():
        for s in data["series"]:
            print(f"{size:>10,} {s['campaigns']:>9} {s['c']:>3} {s['n']:>5} | {s['next']['p50']:>8} "
                  f"{s['next']['p99']:>8} | {s['submit']['p50']:>10} {s['submit']['p99']:>8} | {s['labels_per_s']}"
                  + (f"  errors: {s['errors']}" if s["errors"] else ""))
    sizes = sorted(by_size)
    if len(sizes) > 1:
        small, large = by_size[sizes[0]]["series"], by_size[sizes[-1]]["series"]
        print(f"\np99({sizes[-1]:,}) / p99({sizes[0]:,}) per series (target ≤ 1.5):")
        for a, b in zip(small, large, strict=True):
            for op in ("next", "submit"):
                ratio = b[op]["p99"] / a[op]["p99"] if a[op]["p99"] else float("nan")
                print(f"  campaigns={a['campaigns']:<2} C={a['c']:<2} {op:<6} {a[op]['p99']:>7} → {b[op]['p99']:>7} ms"
                      f"  ratio {ratio:.2f}")
    for size, data in by_size.items():
        for group, plans in data["plans"].items():
            for title, lines in plans.items():
                print(f"\n--- {size:,} open tasks, {GROUPS[group]} campaign(s): {title}")
                print("\n".join(lines))
                used = sorted({m.group(1) for line in lines for m in _INDEX.finditer(line)})
                print(f"    indexes used: {', '.join(used) or 'none'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,100000", help="open-task counts (1M: 2000,100000,1000000)")
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--groups", default="A,B", help="A: 1 campaign, B: 50 campaigns")
    parser.add_argument("--labelers", type=int, default=32)
    parser.add_argument("--past", type=int, default=5000, help="past labels of every labeler (issue: 50000)")
    parser.add_argument("--reuse-base", action="store_true", help="copy the existing base database, do not rebuild it")
    parser.add_argument("--cycles", type=int, default=30, help="measured next+submit cycles per thread")
    parser.add_argument("--warmup", type=int, default=12,
                        help="cycles per thread left out: connection set-up, and the first ~10 runs of each statement, which PostgreSQL plans every time before it caches a generic plan")
    parser.add_argument("--db-prefix", default="prefloop_scalequeue_bench")
    parser.add_argument("--reuse", action="store_true", help="measure the existing databases, build nothing")
    parser.add_argument("--build-only", action="store_true", help="build the databases, measure nothing")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.groups = args.groups.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    args.base_size = min(sizes)
    if max(args.concurrency) > args.labelers:
        parser.error("--labelers must be at least the largest concurrency")
    if args.measure:
        measure(args)
        return 0
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL=postgres://… (any database of the server: each size gets its own)")
    by_size = {}
    for size in sizes:
        name = f"{args.db_prefix}_{size}"
        if not args.reuse:
            build(url, name, size, args)
        if args.build_only:
            continue
        forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--reuse", "--build-only", "--reuse-base")]
        env = {**os.environ, "DATABASE_URL": _db_url(url, name), "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
        done = subprocess.run([sys.executable, __file__, "--measure", *forwarded], env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"measuring {name} failed:\n{done.stderr[-4000:]}")
        by_size[size] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"# measured {name}", flush=True)
    if by_size:
        report(by_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
