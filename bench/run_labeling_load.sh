#!/usr/bin/env bash
# The labeling load benchmark end to end: a fresh PostgreSQL database, gunicorn (gthread: one worker
# process per core x 2 threads), C = 1, 8, 32 simulated labelers draining N ranking tasks (K=4,
# overlap 1), then stop. On this 2-core box one process per core beat 2*cores+1 processes (less
# context switching between processes competing with PostgreSQL and the client for the same cores),
# and 2 threads per process beat 8 on latency at the same throughput: one thread runs Python while
# the other waits on PostgreSQL, and the rest of the requests queue in order instead of all sharing
# the GIL at once (C=32 next p99 ~180-210 ms with 8 threads, ~75-105 ms with 2; docs/operations.md).
# Idle keep-alive connections do not hold a thread. Override with WORKERS=3 THREADS=4.
#
#   bash bench/run_labeling_load.sh                 # N=2000, levels "1 8 32"
#   N=500 LEVELS="8" bash bench/run_labeling_load.sh
#   THINK_MS=500 bash bench/run_labeling_load.sh    # labelers pause 500 ms between tasks (default 0)
#   BENCH_DB=prefloop_bench_2 PORT=8124 ...          # run beside another benchmark
#   BACKEND=embedded bash bench/run_labeling_load.sh # the embedded default instead: `manage.py serve`
#                                                    # (SQLite, default settings) exactly as `make demo` runs it
#
# Needs PostgreSQL on 127.0.0.1:5432 (make services). Results: printed, and appended to var/bench/results.jsonl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VPY=${VPY:-.venv/bin/python}
N=${N:-2000}
K=${K:-4}
OVERLAP=${OVERLAP:-1}
LEVELS=${LEVELS:-"1 8 32"}
PORT=${PORT:-8123}
DB=${BENCH_DB:-prefloop_bench}
CORES=$(nproc)
WORKERS=${WORKERS:-$CORES}
THREADS=${THREADS:-2}
THINK_MS=${THINK_MS:-0}
OUT=${BENCH_OUT:-var/bench}
mkdir -p "$OUT"

# Any HTTP answer means the web is up (production settings answer 401 to anonymous requests).
wait_for_web() {
  for _ in $(seq 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/schema/")" != 000 ] && return
    sleep 0.5
  done
  echo "the web server did not answer on port $PORT" >&2
  return 1
}

BACKEND=${BACKEND:-postgres}
if [ "$BACKEND" = embedded ]; then
  # What a first user runs: no environment at all but the database file (kept under var/bench).
  DBFILE="$PWD/$OUT/embedded.sqlite3"
  rm -f "$DBFILE" "$DBFILE-wal" "$DBFILE-shm"
  export DATABASE_URL="sqlite:///$DBFILE"
  unset DJANGO_SETTINGS_MODULE
  $VPY manage.py migrate --noinput -v0
  $VPY manage.py serve --port "$PORT" --no-collectstatic >"$OUT/serve.log" 2>&1 &
  SERVE=$!
  trap 'kill $SERVE 2>/dev/null || true; wait $SERVE 2>/dev/null || true' EXIT
  wait_for_web
  SERVER=$(pgrep -P "$SERVE" -f gunicorn | head -1)  # the gunicorn master: CPU is counted for it and its workers
  echo "embedded default (manage.py serve): SQLite $DBFILE; N=$N K=$K overlap=$OVERLAP"
else
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export DJANGO_SETTINGS_MODULE=config.settings.production
export SECRET_KEY=${SECRET_KEY:-bench-only-not-secret}
export SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false SECURE_SSL_REDIRECT=false SECURE_HSTS_SECONDS=0
# Plain HTTP on localhost; the benchmark logs in through seed_benchmark, not the throttled endpoints.
export AUTH_THROTTLE_SINGLE_PROCESS=true
export CONN_MAX_AGE=600 LOG_LEVEL=ERROR

psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB" >/dev/null
$VPY manage.py migrate --noinput -v0

$VPY -m gunicorn config.wsgi:application --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
  --threads "$THREADS" --worker-class gthread --keep-alive 30 --backlog 256 --log-level warning \
  ${GUNICORN_ARGS:-} >"$OUT/gunicorn.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
wait_for_web
echo "gunicorn: $WORKERS workers x $THREADS threads on $CORES cores, PostgreSQL db $DB; N=$N K=$K overlap=$OVERLAP"
fi
MAXC=0; for C in $LEVELS; do (( C > MAXC )) && MAXC=$C; done

status=0
for C in $LEVELS; do
  $VPY manage.py seed_benchmark --labelers "$MAXC" --tasks "$N" --k "$K" --overlap "$OVERLAP" \
    --tokens-file "$OUT/tokens.json" >/dev/null
  $VPY bench/cpu_snapshot.py --server "$SERVER" --db "$DB" >"$OUT/cpu-before.json"
  /usr/bin/time -f "%U %S" -o "$OUT/client-cpu.txt" \
    $VPY bench/labeling_load.py --base-url "http://127.0.0.1:$PORT" --tokens-file "$OUT/tokens.json" \
    --concurrency "$C" --think-ms "$THINK_MS" --json "$OUT/results.jsonl" --label "$BACKEND" || status=1
  used=$($VPY bench/cpu_snapshot.py --server "$SERVER" --db "$DB" --since "$OUT/cpu-before.json")
  client=$(awk '{print $1 + $2}' "$OUT/client-cpu.txt")
  annotations=$(tail -1 "$OUT/results.jsonl" | $VPY -c 'import json,sys; print(json.load(sys.stdin)["annotations"])')
  $VPY - "$used" "$client" "$annotations" "$BACKEND" "$C" "$OUT/cpu.jsonl" <<'PY'
import json, os, sys
used, client, n = json.loads(sys.argv[1]), float(sys.argv[2]), max(int(sys.argv[3]), 1)
total = used["gunicorn"] + used["postgres"] + client
with open(sys.argv[6], "a", encoding="utf-8") as fh:
    fh.write(json.dumps({"label": sys.argv[4], "concurrency": int(sys.argv[5]), "web_ms": 1000 * used["gunicorn"] / n,
                         "postgres_ms": 1000 * used["postgres"] / n}) + "\n")
print(f"      CPU per annotation: web {1000 * used['gunicorn'] / n:.1f} ms + postgres {1000 * used['postgres'] / n:.1f} ms"
      f" + client {1000 * client / n:.1f} ms = {1000 * total / n:.1f} ms"
      f" → at most {n / total * os.cpu_count():.0f} annotations/s on {os.cpu_count()} idle cores"
      f" (client {100 * client / total:.0f}% of it); load average {os.getloadavg()[0]:.2f}")
PY
done
exit $status
