"""Campaign status transitions race on PostgreSQL: archive and activate at the same moment.

Each try starts two threads (own connections) on a paused campaign, released together by a
barrier: one archives, one activates (each from its own stale copy of the row, as two API requests
would have). Archived is terminal, so whichever order the database applies them in, the campaign
must end archived; before the row lock, 14 of 40 tries ended archived-then-active.
"""

import threading

import pytest
from django.conf import settings
from django.db import connection

from labeling.models import Campaign
from labeling.services.campaigns import campaign_activate, campaign_archive, campaign_create, campaign_pause
from labeling.services.errors import Conflict

TRIES = 40

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL row locks: set DATABASE_URL=postgres://…",
    ),
]


def _run(action, campaign: Campaign, start: threading.Barrier, outcomes: list) -> None:
    try:
        start.wait()
        action(campaign=campaign)
        outcomes.append((action.__name__, "ok"))
    except Conflict:
        outcomes.append((action.__name__, "conflict"))
    except Exception as exc:  # reported by the main thread, never swallowed
        outcomes.append((action.__name__, repr(exc)))
    finally:
        connection.close()


def test_archive_and_activate_at_once_never_leave_an_archived_campaign_active():
    wrong, outcomes = [], []
    for i in range(TRIES):
        campaign = campaign_create(name=f"race-{i}")
        campaign_activate(campaign=campaign)
        campaign_pause(campaign=campaign)
        start = threading.Barrier(2)
        stale = [Campaign.objects.get(pk=campaign.pk) for _ in range(2)]  # both read "paused"
        threads = [threading.Thread(target=_run, args=(action, copy, start, outcomes))
                   for action, copy in zip((campaign_archive, campaign_activate), stale)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        campaign.refresh_from_db()
        if campaign.status != Campaign.Status.ARCHIVED:
            wrong.append((i, campaign.status))
    assert not [o for o in outcomes if o[1] not in ("ok", "conflict")], outcomes
    assert wrong == [], f"{len(wrong)} of {TRIES} tries left the campaign not archived: {wrong[:5]}"
    # The archive always succeeds (any → archived); the activate either ran first or got a Conflict.
    assert {o for o in outcomes if o[0] == "campaign_archive"} == {("campaign_archive", "ok")}
