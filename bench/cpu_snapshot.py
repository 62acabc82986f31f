"""CPU seconds used so far by gunicorn processes and PostgreSQL backends (for CPU-per-annotation figures).

    python bench/cpu_snapshot.py > before.json; ...run...; python bench/cpu_snapshot.py --since before.json
"""
import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def snapshot() -> dict:
    out = {"gunicorn": 0.0, "postgres": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        if "gunicorn" in cmd:
            out["gunicorn"] += cpu
        elif cmd.startswith("postgres"):
            out["postgres"] += cpu
    return out


if __name__ == "__main__":
    now = snapshot()
    if len(sys.argv) == 3 and sys.argv[1] == "--since":
        before = json.load(open(sys.argv[2]))
        now = {k: round(now[k] - before.get(k, 0.0), 2) for k in now}
    print(json.dumps(now))
