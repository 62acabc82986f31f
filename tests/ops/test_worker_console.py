"""The worker console: beat's lease sweep every 30 s is silent unless it expired something; other
tasks' lines and every failure still show (issue 7: two lease-expiry lines repeated every 30 s)."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from celery.app.trace import LOG_FAILURE, LOG_RECEIVED, LOG_SUCCESS
from celery.app.trace import info as trace_info
from django.utils import timezone

import config.celery  # noqa: F401  (installs the filter, as the worker does on start)
from labeling.services.queue import assignment_next, assignments_expire_stale

SWEEP = "labeling.tasks.expire_stale_leases"


def worker_lines(task_name: str) -> None:
    """What the worker logs for one task run, through Celery's own loggers and formats."""
    context = {"id": "4f1c", "name": task_name, "return_value": "0", "runtime": 0.004, "args": "()", "kwargs": "{}"}
    logging.getLogger("celery.worker.strategy").info(LOG_RECEIVED, context, extra={"data": context})
    trace_info(LOG_SUCCESS, context)


def test_the_sweep_leaves_no_lines_at_info_but_other_tasks_do(caplog):
    caplog.set_level(logging.INFO)
    worker_lines(SWEEP)
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "expire-stale-leases", SWEEP)
    assert caplog.messages == []
    worker_lines("labeling.tasks.export_snapshot")
    assert len(caplog.messages) == 2 and "export_snapshot" in caplog.messages[1]


def test_a_failing_sweep_is_still_logged(caplog):
    caplog.set_level(logging.INFO)
    context = {"id": "4f1c", "name": SWEEP, "description": "raised unexpected", "exc": "OperationalError()"}
    logging.getLogger("celery.app.trace").error(LOG_FAILURE, context, extra={"data": context})
    assert caplog.messages == [f"Task {SWEEP}[4f1c] raised unexpected: OperationalError()"]


def test_at_debug_the_sweep_lines_show_as_debug(caplog):
    caplog.set_level(logging.DEBUG)
    worker_lines(SWEEP)
    assert [r.levelname for r in caplog.records] == ["DEBUG", "DEBUG"]


@pytest.mark.django_db
def test_the_sweep_says_at_info_what_it_expired_and_nothing_when_idle(make_campaign, labeler, caplog):
    caplog.set_level(logging.INFO, logger="labeling.services.queue")
    make_campaign(n=1, lease_seconds=60)
    assert assignments_expire_stale() == 0
    assert caplog.messages == []
    assignment_next(labeler=labeler)
    assert assignments_expire_stale(now=timezone.now() + timedelta(seconds=61)) == 1
    assert caplog.messages == ["expired 1 stale lease(s); their slots are free again"]
