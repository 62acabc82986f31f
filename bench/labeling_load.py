"""Labeling load benchmark: C simulated labelers drain a campaign over HTTP.

    python bench/labeling_load.py --base-url http://127.0.0.1:8123 --tokens-file var/bench/tokens.json \
        --concurrency 8 [--database-url postgres://...]

Prepare the tokens file and the tasks with ``manage.py seed_benchmark`` (bench/run_labeling_load.sh
does all of it: seeds, starts gunicorn on PostgreSQL, runs C=1, 8, 32, stops the server).

Each labeler is a thread with its own token and one keep-alive HTTP connection. It loops
``POST /api/v1/queue/next`` → ``POST /api/v1/assignments/{id}/submit`` (a valid random ranking,
ties allowed, plus Likert ratings and flags) until ``next`` answers 204. Printed at the end:
annotations/s, p50/p95/p99 latency of next and submit, errors by kind, and, checked in the database
(``--database-url`` or ``$DATABASE_URL``): double assignments (a labeler holding a task twice),
over-labeled tasks (more labels than required), lost submissions (a 201 whose record is not stored),
and tasks left unfinished. Bounded: stops after ``--max-seconds`` whatever happens.

``--think-ms`` (default 0) makes each labeler pause that long after each submit, as a person reading
the next task would; the printed line says so. With 0, every labeler is a tight loop, so in a closed
system of C labelers each cycle (next + submit) takes C / throughput on average (Little's law).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Stats:
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    annotations: int = 0
    submitted: list[tuple[int, int]] = field(default_factory=list)  # (assignment id, record id) of 201s
    tasks_seen: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    finished_at: float = 0.0


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects once if the server closed it."""

    def __init__(self, base_url: str, token: str, timeout: float):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json",
                        "Accept": "application/json", "Connection": "keep-alive"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def post(self, path: str, body: dict) -> tuple[int, dict | None, float]:
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                self.conn.request("POST", path, body=data, headers=self.headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                elapsed = (time.perf_counter() - t0) * 1000
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return resp.status, (json.loads(raw) if raw else None), elapsed
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                # A closed keep-alive connection: both endpoints are idempotent (next returns the held
                # lease, a repeated submit of the same body answers 200), so one retry is safe.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def random_submission(task: dict, rng: random.Random) -> dict:
    ids = [c["id"] for c in task["completions"]]
    rng.shuffle(ids)
    groups, i = [], 0
    while i < len(ids):
        size = 2 if rng.random() < 0.15 and i + 1 < len(ids) else 1  # occasional ties
        groups.append(ids[i:i + size])
        i += size
    flags = task.get("flags") or []
    ratings = [{"completion": cid, "likert": rng.randint(1, 7),
                "flags": rng.sample(flags, 1) if flags and rng.random() < 0.2 else [], "note": ""}
               for cid in ids]
    return {"ranking": groups, "ratings": ratings, "none_acceptable": False, "seconds_spent": 1.0}


def labeler_loop(base_url, token, campaign, stats: Stats, lock: threading.Lock, deadline: float, seed: int,
                 timeout: float, think_s: float = 0.0):
    rng = random.Random(seed)
    client = Client(base_url, token, timeout)
    local = Stats()
    body = {"campaign": campaign} if campaign else {}
    try:
        while time.monotonic() < deadline:
            status, payload, ms = client.post("/api/v1/queue/next", body)
            local.next_ms.append(ms)
            if status == 204:
                break
            if status != 200:
                local.errors[f"next {status}"] += 1
                time.sleep(0.05)
                continue
            task = payload["task"]
            local.tasks_seen[task["id"]] += 1
            status, record, ms = client.post(f"/api/v1/assignments/{payload['assignment_id']}/submit",
                                             random_submission(task, rng))
            local.submit_ms.append(ms)
            if status == 201:
                local.annotations += 1
                local.submitted.append((payload["assignment_id"], record.get("id")))
            else:
                local.errors[f"submit {status}"] += 1
            if think_s:
                time.sleep(think_s)
        else:
            local.errors["stopped by --max-seconds"] += 1
    except Exception as exc:  # a dead connection or bad JSON: count it, end this labeler
        local.errors[f"exception {type(exc).__name__}: {exc}"[:120]] += 1
    local.finished_at = time.monotonic()
    with lock:
        stats.next_ms += local.next_ms
        stats.submit_ms += local.submit_ms
        stats.annotations += local.annotations
        stats.submitted += local.submitted
        stats.errors.update(local.errors)
        # A task leased twice to the same labeler, as the client saw it.
        for task_id, n in local.tasks_seen.items():
            if n > 1:
                stats.errors["client saw the same task twice"] += n - 1
        stats.finished_at = max(stats.finished_at, local.finished_at)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def _connect(database_url: str):
    """A DB-API connection and its parameter marker: PostgreSQL (psycopg) or the embedded SQLite file."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        return sqlite3.connect(database_url[len("sqlite:///"):]), "?"
    import psycopg

    return psycopg.connect(database_url), "%s"


def db_checks(database_url: str, campaign: int, submitted: list[tuple[int, int]]) -> dict:
    """Invariants checked in the database (PostgreSQL or SQLite) after the run."""
    conn, mark = _connect(database_url)
    ids = sorted({a for a, _ in submitted})

    def one(sql: str, params: tuple = (campaign,)) -> int:
        cur = conn.cursor()
        cur.execute(sql.replace("%s", mark), params)
        return cur.fetchone()[0]

    try:
        double = one("""SELECT count(*) FROM (SELECT task_id, labeler_id FROM labeling_assignment WHERE campaign_id = %s
                        GROUP BY task_id, labeler_id HAVING count(*) > 1) d""")
        submitted_per_task = ("(SELECT count(*) FROM labeling_assignment a WHERE a.task_id = t.id "
                              "AND a.status = 'submitted')")
        overlabeled = one(f"SELECT count(*) FROM labeling_task t WHERE t.campaign_id = %s AND t.required_labels < {submitted_per_task}")
        unfinished = one(f"SELECT count(*) FROM labeling_task t WHERE t.campaign_id = %s AND t.required_labels > {submitted_per_task}")
        stored = 0
        for start in range(0, len(ids), 500):  # IN lists, not ANY(array): SQLite has no arrays
            chunk = tuple(ids[start:start + 500])
            stored += one(f"""SELECT count(*) FROM labeling_assignment a JOIN labeling_ranking r ON r.assignment_id = a.id
                              WHERE a.status = 'submitted' AND a.id IN ({", ".join(["%s"] * len(chunk))})""", chunk)
        rankings = one("SELECT count(*) FROM labeling_ranking r JOIN labeling_assignment a ON a.id = r.assignment_id "
                       "WHERE a.campaign_id = %s")
    finally:
        conn.close()
    return {"double_assignments": double, "overlabeled_tasks": overlabeled, "unfinished_tasks": unfinished,
            "lost_submissions": len(ids) - stored, "rankings_in_db": rankings}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8123")
    parser.add_argument("--tokens-file", required=True)
    parser.add_argument("--concurrency", "-c", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard stop for the whole run")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout (s)")
    parser.add_argument("--any-campaign", action="store_true", help="ask `next` without the campaign filter")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause after each submit (default 0: tight loop)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--json", help="also write the summary as JSON here")
    parser.add_argument("--label", default="", help="recorded in the JSON summary (e.g. the backend measured)")
    args = parser.parse_args(argv)

    seeded = json.load(open(args.tokens_file, encoding="utf-8"))
    tokens = [entry["token"] for entry in seeded["labelers"]][: args.concurrency]
    if len(tokens) < args.concurrency:
        parser.error(f"{args.tokens_file} has only {len(tokens)} labelers; seed with --labelers {args.concurrency}")
    campaign = None if args.any_campaign else seeded["campaign"]
    stats, lock = Stats(), threading.Lock()
    started = time.monotonic()
    deadline = started + args.max_seconds
    threads = [threading.Thread(target=labeler_loop, args=(args.base_url, t, campaign, stats, lock, deadline, i,
                                                           args.timeout, args.think_ms / 1000), daemon=True)
               for i, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic() + args.timeout + 5))
    elapsed = max((stats.finished_at or time.monotonic()) - started, 1e-9)

    summary = {
        "label": args.label, "concurrency": args.concurrency, "think_ms": args.think_ms,
        "tasks": seeded["tasks"], "k": seeded["k"], "overlap": seeded["overlap"],
        "annotations": stats.annotations, "seconds": round(elapsed, 2),
        "annotations_per_s": round(stats.annotations / elapsed, 1),
        "next_ms": {p: round(pct(stats.next_ms, p), 1) for p in (50, 95, 99)},
        "submit_ms": {p: round(pct(stats.submit_ms, p), 1) for p in (50, 95, 99)},
        "requests": len(stats.next_ms) + len(stats.submit_ms),
        "errors": dict(stats.errors),
    }
    if args.database_url and campaign is not None:
        summary["db"] = db_checks(args.database_url, seeded["campaign"], stats.submitted)
    think = f" (think {args.think_ms:g} ms)" if args.think_ms else ""
    print(f"C={args.concurrency:<3}{think} {summary['annotations']} annotations in {summary['seconds']}s = "
          f"{summary['annotations_per_s']} annotations/s | next p50/p95/p99 "
          f"{summary['next_ms'][50]}/{summary['next_ms'][95]}/{summary['next_ms'][99]} ms | submit p50/p95/p99 "
          f"{summary['submit_ms'][50]}/{summary['submit_ms'][95]}/{summary['submit_ms'][99]} ms")
    db = summary.get("db", {})
    print(f"      double assignments: {db.get('double_assignments', '?')}, over-labeled tasks: "
          f"{db.get('overlabeled_tasks', '?')}, lost submissions: {db.get('lost_submissions', '?')}, "
          f"unfinished tasks: {db.get('unfinished_tasks', '?')}, errors: {summary['errors'] or 0}")
    if args.json:
        with open(args.json, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(summary) + "\n")
    bad = db.get("double_assignments", 0) or db.get("overlabeled_tasks", 0) or db.get("lost_submissions", 0)
    return 1 if bad or stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
