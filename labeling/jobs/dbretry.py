"""Database calls that survive a blip: a transient error closes the broken connection and retries.

The job runner supervises hours-long training runs; a PostgreSQL restart or a dropped connection
must cost it a few retries, never the run. Django reconnects lazily once the broken connection is
closed, so a retry gets a fresh one.
"""
from __future__ import annotations

import logging
import time

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError)


def db_call(fn, *, what: str, budget_s: float = 0.0, first_delay_s: float = 0.2):
    """Run ``fn()``; on a transient database error close the connection and retry for up to ``budget_s``.

    With ``budget_s=0`` a failure is retried once on a fresh connection and then re-raised.
    Precondition: not inside ``transaction.atomic`` (a retry must start a new transaction).
    """
    deadline = time.monotonic() + budget_s
    delay = first_delay_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except TRANSIENT as exc:
            connection.close()  # drop the broken connection: the next query opens a fresh one
            if attempt > 1 and time.monotonic() + delay > deadline:
                raise
            logger.warning("%s: database error (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
