"""``manage.py serve [--port 8000]``: the embedded default in one command — web + Celery worker + beat.

Runs, as child processes supervised by this one:

    web     gunicorn (or ``runserver --noreload`` with ``--web runserver``)
    worker      celery -A config worker -Q default --concurrency 1   (exports, iterations, sweeps)
    gpu-worker  celery -A config worker -Q gpu --concurrency 1       (training jobs, one at a time)
    beat        celery -A config beat

With no environment at all this is SQLite + kombu's filesystem broker under ``var/`` (no server to
install); with ``DATABASE_URL``/``CELERY_BROKER_URL`` set it runs against those instead. Static files
are collected first. Each child's output is prefixed with its name. Ctrl-C (or SIGTERM) stops all
of them gracefully; if one of them dies, the others are stopped and the command exits non-zero.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.core.management.base import BaseCommand

STOP_GRACE_S = 20.0


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], out):
        self.name = name
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # we forward signals ourselves
        )
        self.thread = threading.Thread(target=self._pump, args=(out,), daemon=True)
        self.thread.start()

    def _pump(self, out):
        prefix = f"{self.name:<6} | "
        for raw in iter(self.proc.stdout.readline, b""):
            out.write(prefix + raw.decode("utf-8", errors="replace").rstrip("\n") + "\n")
            out.flush()

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass


class Command(BaseCommand):
    help = "Run web + Celery worker + beat together (the embedded default: SQLite + filesystem broker)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PREFLOOP_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--web", choices=["gunicorn", "runserver"], default="gunicorn")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--web-threads", type=int, default=2, help="threads per gunicorn worker")
        parser.add_argument("--access-log", action="store_true", help="log every HTTP request (off: errors only)")
        parser.add_argument("--no-collectstatic", action="store_true")

    def handle(self, *args, **opts):
        if not opts["no_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        self._prepare_broker()
        python = sys.executable
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.dev"),
               "PYTHONUNBUFFERED": "1"}
        bind = f"{opts['host']}:{opts['port']}"
        if opts["web"] == "gunicorn":
            # gthread, as in production (docs/operations.md): a thread waiting on the database does
            # not hold up the process, and keep-alive connections stay open between requests.
            web = [python, "-m", "gunicorn", "config.wsgi:application", "--bind", bind,
                   "--workers", str(opts["web_workers"]), "--threads", str(opts["web_threads"]),
                   "--worker-class", "gthread", "--keep-alive", "30", "--timeout", "120"]
            if opts["access_log"]:
                web += ["--access-logfile", "-"]
        else:
            web = [python, "manage.py", "runserver", "--noreload", bind]
        schedule = Path(settings.CELERY_BEAT_SCHEDULE_FILENAME)
        schedule.parent.mkdir(parents=True, exist_ok=True)
        commands = [
            ("web", web),
            # Two workers so an hours-long training job never holds up exports, lease expiry or iterations.
            ("worker", [python, "-m", "celery", "-A", "config", "worker", "-Q", "default", "--concurrency", "1",
                        "--loglevel", "INFO", "-n", "embedded@%h"]),
            ("gpu-worker", [python, "-m", "celery", "-A", "config", "worker", "-Q", "gpu", "--concurrency", "1",
                            "--loglevel", "INFO", "-n", "embedded-gpu@%h"]),
            ("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                      "--schedule", str(schedule)]),
        ]
        stopping = threading.Event()

        def on_signal(signum, frame):
            stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        children = [Child(name, argv, env, self.stdout) for name, argv in commands]
        db = settings.DATABASES["default"]
        self.stdout.write(self.style.SUCCESS(
            f"Prefloop is starting on http://{bind}/  (API docs: http://{bind}/api/docs/, admin: http://{bind}/admin/)\n"
            f"  database: {connection.vendor} {db['NAME']}\n"
            f"  broker:   {settings.CELERY_BROKER_URL}\n"
            f"  Ctrl-C stops web, worker and beat."
        ))
        exit_code = 0
        while not stopping.is_set():
            dead = [c for c in children if c.proc.poll() is not None]
            if dead:
                for c in dead:
                    self.stderr.write(f"{c.name} exited with status {c.proc.returncode}; stopping the others")
                exit_code = 1
                break
            stopping.wait(0.5)
        self._stop(children)
        if exit_code:
            sys.exit(exit_code)
        self.stdout.write("stopped.")

    def _prepare_broker(self) -> None:
        opts = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        for key in ("data_folder_in", "data_folder_out", "processed_folder"):
            if opts.get(key):
                Path(opts[key]).mkdir(parents=True, exist_ok=True)

    def _stop(self, children: list[Child]) -> None:
        for c in children:
            c.signal(signal.SIGTERM)  # gunicorn: graceful; celery: warm shutdown
        deadline = time.monotonic() + STOP_GRACE_S
        for c in children:
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{c.name} did not stop within {STOP_GRACE_S:.0f}s: killing it")
                c.signal(signal.SIGKILL)
                c.proc.wait()
        for c in children:
            c.thread.join(timeout=2)
