"""CPU seconds used so far by gunicorn processes and PostgreSQL backends (for CPU-per-annotation figures).

    python bench/cpu_snapshot.py [--server PID] [--db NAME] > before.json
    ...run...
    python bench/cpu_snapshot.py [--server PID] [--db NAME] --since before.json

``--server``: count only that gunicorn master and its workers; ``--db``: count only the client
backends connected to that database (plus PostgreSQL's own background processes: WAL writer,
checkpointer, autovacuum). Without them every gunicorn and every backend on the machine counts,
which overstates our share when other jobs use the same PostgreSQL.
"""
import argparse
import json
import os
import re

TICK = os.sysconf("SC_CLK_TCK")
# A client backend's title: "postgres: 15/main: <user> <database> <host>(<port>) <state>".
CLIENT_BACKEND = re.compile(r"^postgres: [^:]+: \S+ (\S+) \S+\(\d+\)")


def _proc(pid: str) -> tuple[str, int, float] | None:
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return cmd, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK  # cmdline, ppid, utime + stime


def snapshot(server: int | None = None, db: str | None = None) -> dict:
    out = {"gunicorn": 0.0, "postgres": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        info = _proc(pid)
        if info is None:
            continue
        cmd, ppid, cpu = info
        if "gunicorn" in cmd:
            if server is None or int(pid) == server or ppid == server:
                out["gunicorn"] += cpu
        elif cmd.startswith("postgres"):
            backend = CLIENT_BACKEND.match(cmd)
            if db is None or backend is None or backend.group(1) == db:
                out["postgres"] += cpu
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", type=int, help="gunicorn master pid")
    parser.add_argument("--db", help="database name")
    parser.add_argument("--since", help="a previous snapshot: print the difference")
    args = parser.parse_args()
    now = snapshot(args.server, args.db)
    if args.since:
        before = json.load(open(args.since))
        now = {k: round(now[k] - before.get(k, 0.0), 2) for k in now}
    print(json.dumps(now))
