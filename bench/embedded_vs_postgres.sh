#!/usr/bin/env bash
# The embedded default against the production shape, in one window: the same load client
# (bench/labeling_load.py) drains the same campaign from `manage.py serve` on SQLite (what `make demo`
# runs) and from gunicorn + PostgreSQL (bench/run_labeling_load.sh), alternating ROUNDS times, then
# prints embedded/PostgreSQL ratios of throughput, p99 latency and web CPU per annotation.
#
#   bash bench/embedded_vs_postgres.sh                  # N=1000, levels "1 8", 2 rounds
#   N=2000 LEVELS="1 8 32" ROUNDS=1 bash bench/embedded_vs_postgres.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export N=${N:-1000} LEVELS=${LEVELS:-"1 8"}
ROUNDS=${ROUNDS:-2}
OUT=${BENCH_OUT:-var/bench}/embedded-vs-pg
export BENCH_OUT=$OUT
rm -rf "$OUT" && mkdir -p "$OUT"
for round in $(seq "$ROUNDS"); do
  for backend in postgres embedded; do
    echo "== round $round: $backend"
    BACKEND=$backend bash bench/run_labeling_load.sh
  done
done
${VPY:-.venv/bin/python} - "$OUT" <<'PY'
import json, statistics, sys
from collections import defaultdict

out = sys.argv[1]
runs, cpu = defaultdict(list), defaultdict(list)
for line in open(f"{out}/results.jsonl", encoding="utf-8"):
    r = json.loads(line)
    runs[r["label"], r["concurrency"]].append(r)
for line in open(f"{out}/cpu.jsonl", encoding="utf-8"):
    r = json.loads(line)
    cpu[r["label"], r["concurrency"]].append(r["web_ms"] + r["postgres_ms"])

def med(key, f):
    return statistics.median(f(r) for r in runs[key])

print("\nembedded (manage.py serve, SQLite) vs gunicorn + PostgreSQL, medians over rounds")
print(f"{'C':>3} | {'annotations/s emb / pg':>24} | {'next p99 ms emb / pg':>22} | {'submit p99 ms emb / pg':>24} | "
      f"{'server CPU ms/annotation emb / pg':>34}")
for c in sorted({c for _, c in runs}):
    e, p = ("embedded", c), ("postgres", c)
    if not runs[e] or not runs[p]:
        continue
    tput = (med(e, lambda r: r["annotations_per_s"]), med(p, lambda r: r["annotations_per_s"]))
    nxt = (med(e, lambda r: r["next_ms"]["99"]), med(p, lambda r: r["next_ms"]["99"]))
    sub = (med(e, lambda r: r["submit_ms"]["99"]), med(p, lambda r: r["submit_ms"]["99"]))
    ms = (statistics.median(cpu[e]), statistics.median(cpu[p]))
    print(f"{c:>3} | {tput[0]:7.1f} / {tput[1]:6.1f} = {tput[1] / tput[0]:4.2f}x slower | "
          f"{nxt[0]:6.1f} / {nxt[1]:6.1f} = {nxt[0] / nxt[1]:4.2f}x | {sub[0]:6.1f} / {sub[1]:6.1f} = {sub[0] / sub[1]:4.2f}x | "
          f"{ms[0]:6.1f} / {ms[1]:6.1f} = {ms[0] / ms[1]:4.2f}x")
PY
