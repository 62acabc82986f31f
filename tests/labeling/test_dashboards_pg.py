"""A label whose transaction commits long after a sweep is still counted (PostgreSQL: the sweep's watermark
stops at the oldest open transaction, ``pg_stat_activity``)."""
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from factories import campaign_with_tasks, make_user
from labeling.selectors.campaigns import campaign_progress, campaign_progress_live
from labeling.services import dashboards
from labeling.services.dashboards import progress_refresh
from labeling.services.queue import assignment_next

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL"),
]


def _other_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")})


def test_a_label_committed_after_several_sweeps_is_counted(monkeypatch):
    monkeypatch.setattr(dashboards, "SCRUB_BLOCKS", 0)  # only the window may find it
    c = campaign_with_tasks(n=2, k=2)
    user = make_user()
    lease = assignment_next(labeler=user, campaign_id=c.pk)
    progress_refresh()
    started = timezone.now()
    with _other_connection() as slow:
        # A submit in flight in another session: its row is dated now, its commit comes much later.
        slow.execute("UPDATE labeling_assignment SET status = 'submitted', submitted_at = %s WHERE id = %s",
                     [started, lease.pk])
        slow.execute("UPDATE labeling_task SET submitted_count = 1, active_leases = 0, status = 'done'"
                     " WHERE id = %s", [lease.task_id])
        # Sweeps long after, well past the margin: the open transaction holds the watermark back.
        for minutes in (10, 20, 30):
            progress_refresh(now=started + timedelta(minutes=minutes))
        slow.commit()
    later = started + timedelta(minutes=40)
    progress_refresh(now=later)
    progress = campaign_progress(campaign=c, now=later)
    assert progress["labels_submitted"] == 1 and progress["tasks_done"] == 1
    assert {k: v for k, v in progress.items() if k != "as_of"} == campaign_progress_live(campaign=c, now=later)
