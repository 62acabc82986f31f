"""The Celery app: two queues, ``default`` (CPU work: exports, lease expiry) and ``gpu`` (training jobs)."""
import logging
import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("prefloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("gpu"))
app.autodiscover_tasks()


class QuietHousekeeping(logging.Filter):
    """Demote Celery's per-task INFO lines to DEBUG for the tasks beat runs on a schedule.

    Why: Celery logs every task's receipt and success at INFO ("Task … received", "Task … succeeded
    in 0.004s: 0"), and beat logs each send ("Sending due task …"); for the lease sweep every 30 s
    that filled the worker console with the same lines whether or not anything happened. The
    housekeeping tasks log at INFO themselves when they did something ("expired 3 stale leases …");
    failures are logged at ERROR and left alone. ``--loglevel DEBUG`` still shows every line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or self._task_name(record) not in self._scheduled():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _scheduled() -> set[str]:
        return {entry["task"] for entry in (app.conf.beat_schedule or {}).values()}

    @staticmethod
    def _task_name(record: logging.LogRecord) -> str | None:
        data = getattr(record, "data", None)  # the worker's received/succeeded lines carry their context here
        if isinstance(data, dict):
            return data.get("name")
        if record.name == "celery.beat" and isinstance(record.args, tuple) and len(record.args) == 2:
            return record.args[1]  # "Scheduler: Sending due task %s (%s)", entry name and task name
        return None


# Filters on the emitting loggers themselves, so they apply whatever handlers Celery sets up.
for _name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
    logging.getLogger(_name).addFilter(QuietHousekeeping())
