"""The scale-out shape end to end: several web processes behind PgBouncer in transaction mode.

Two gunicorn processes (two threads each) reach PostgreSQL only through PgBouncer with a server
pool of 2 connections, so consecutive transactions of one web connection land on different server
connections. Eight simulated labelers (bench/labeling_load.py) drain a campaign through the HTTP
API: every lease and submit must succeed, and the database must show no task leased twice to one
labeler, no over-labeled task and no lost submission. This is what would break if the queue relied
on session state (prepared statements without PgBouncer's support, SET, advisory session locks).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DB = "prefloop_pgbouncer_test"
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("pgbouncer")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except urllib.error.HTTPError:  # any HTTP answer (401 here) means the server is up
        return True
    except OSError:
        return False


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def direct_url():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")
    admin = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
    subprocess.run(admin + [f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], check=True, capture_output=True)
    subprocess.run(admin + [f"CREATE DATABASE {DB}"], check=True, capture_output=True)
    yield f"postgres://postgres@127.0.0.1:5432/{DB}"
    subprocess.run(admin + [f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], capture_output=True)


@pytest.fixture
def pgbouncer():
    """PgBouncer in transaction mode in front of the test database; yields its port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.fail("pgbouncer is not installed (make test installs Debian's pgbouncer)")
    # Not under tmp_path: as root, PgBouncer runs as postgres, who cannot enter pytest's 0700 folders.
    port, folder = _free_port(), Path(tempfile.mkdtemp(prefix="prefloop-pgbouncer-"))
    folder.chmod(0o755)
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{DB} = host=127.0.0.1 port=5432 dbname={DB} user=postgres\n\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/users.txt\npool_mode = transaction\n"
        "default_pool_size = 2\nmax_client_conn = 200\nserver_reset_query =\n"
        f"logfile = {folder}/pgbouncer.log\npidfile = {folder}/pgbouncer.pid\n"
    )
    argv = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(folder, "postgres")
        for f in folder.iterdir():
            shutil.chown(f, "postgres")
        argv[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    _wait_for(lambda: _accepts(port), 30, "pgbouncer to listen", folder / "pgbouncer.log")
    yield port
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def test_the_queue_works_through_pgbouncer_in_transaction_mode(direct_url, pgbouncer, tmp_path):
    # One SECRET_KEY for seeding and serving: API tokens are stored as keyed hashes.
    base = {**{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}, "SECRET_KEY": "test-only"}
    direct = {**base, "DATABASE_URL": direct_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=direct, check=True,
                   timeout=300)
    tokens = tmp_path / "tokens.json"
    subprocess.run([sys.executable, "manage.py", "seed_benchmark", "--labelers", "8", "--tasks", "120",
                    "--overlap", "2", "--tokens-file", str(tokens)], cwd=ROOT, env=direct, check=True,
                   capture_output=True, timeout=300)
    web_port, log = _free_port(), tmp_path / "gunicorn.log"
    # What docs/scale.md prescribes behind a transaction-mode PgBouncer older than 1.21.
    pooled = {**base, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pgbouncer}/{DB}",
              "DB_PREPARE_THRESHOLD": "off", "DJANGO_SETTINGS_MODULE": "config.settings.production",
              "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
              "CSRF_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0", "AUTH_THROTTLE_SINGLE_PROCESS": "true"}
    with log.open("wb") as out:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
                                f"127.0.0.1:{web_port}", "--workers", "2", "--threads", "2", "--worker-class",
                                "gthread"], cwd=ROOT, env=pooled, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{web_port}/api/schema/"), 120, "gunicorn", log)
        summary = tmp_path / "summary.jsonl"
        run = subprocess.run(
            [sys.executable, "bench/labeling_load.py", "--base-url", f"http://127.0.0.1:{web_port}",
             "--tokens-file", str(tokens), "--concurrency", "8", "--database-url", direct_url,
             "--json", str(summary), "--max-seconds", "300"],
            cwd=ROOT, env=direct, capture_output=True, text=True, timeout=400,
        )
        assert run.returncode == 0, run.stdout + run.stderr + log.read_text(errors="replace")[-3000:]
    finally:
        web.terminate()
        web.wait(timeout=30)
    result = json.loads(summary.read_text().splitlines()[-1])
    assert result["annotations"] == 240 and not result["errors"]
    assert result["db"] == {"double_assignments": 0, "overlabeled_tasks": 0, "unfinished_tasks": 0,
                            "lost_submissions": 0, "rankings_in_db": 240}
