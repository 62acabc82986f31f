"""The embedded default end to end: ``manage.py serve`` on SQLite + kombu's filesystem broker starts web,
worker and beat; beat's lease-expiry task really reaches the worker through the filesystem broker; the
web answers; the gpu worker starts beside the default one; Ctrl-C stops them all; a dead child stops the rest."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "PREFLOOP_DATA_DIR")}
    env.update({"PREFLOOP_VAR_DIR": str(tmp_path / "var"), "LEASE_EXPIRY_INTERVAL_S": "1", "PYTHONUNBUFFERED": "1"})
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=300)
    return env


EXPIRED_LEASE = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from labeling.models import Assignment, Campaign, Prompt, Task
user = get_user_model().objects.create(username="away")
campaign = Campaign.objects.create(name="c", status="active", task_kinds=["demonstration"])
prompt = Prompt.objects.create(campaign=campaign, messages=[{"role": "user", "content": "hi"}], content_hash="h")
task = Task.objects.create(campaign=campaign, prompt=prompt, kind="demonstration", active_leases=1)
Assignment.objects.create(task=task, campaign=campaign, labeler=user, expires_at=timezone.now() - timedelta(minutes=1))
"""


def _start(env, port, log_path):
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--no-collectstatic",
                             "--web-workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, log


def _wait(predicate, timeout, log_path, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}:\n{log_path.read_text(errors='replace')[-5000:]}")


def _http_ok(port) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/auth/csrf", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def test_serve_runs_web_worker_beat_over_the_filesystem_broker(embedded_env, tmp_path):
    # A lease already past its deadline: beat's sweep, run by the worker, frees it and says so (the sweep's
    # routine runs are quiet at INFO).
    subprocess.run([sys.executable, "manage.py", "shell", "-c", EXPIRED_LEASE], cwd=ROOT, env=embedded_env, check=True,
                   timeout=120)
    port, log_path = _free_port(), tmp_path / "serve.log"
    proc, log = _start(embedded_env, port, log_path)
    try:
        def expired_by_the_worker():
            return any(line.startswith("worker") and "expired 1 stale lease" in line
                       for line in log_path.read_text(errors="replace").splitlines())

        _wait(expired_by_the_worker, 120, log_path, "beat's lease sweep, run by the worker")
        _wait(lambda: _http_ok(port), 60, log_path, "the web server")
        text = log_path.read_text(errors="replace")
        assert "filesystem://" in text and "sqlite3" in text
        assert any(line.startswith("gpu-worker") and "ready." in line for line in text.splitlines())
        assert (Path(embedded_env["PREFLOOP_VAR_DIR"]) / "broker").is_dir()
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=60) == 0
        assert "stopped." in log_path.read_text(errors="replace")
        assert not _http_ok(port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_serve_exits_when_a_child_dies(embedded_env, tmp_path):
    port, log_path = _free_port(), tmp_path / "serve.log"
    blocker = socket.socket()  # the web port is taken: gunicorn cannot start
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    proc, log = _start(embedded_env, port, log_path)
    try:
        assert proc.wait(timeout=120) == 1
        assert "web exited with status" in log_path.read_text(errors="replace")
    finally:
        blocker.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
