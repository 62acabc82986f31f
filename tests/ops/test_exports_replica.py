"""Exports read from a replica when one is configured (issue 12, item 7), and only exports do.

No real replica runs here: the ``replica`` alias of the test settings is a second connection to the
same PostgreSQL database (``TEST: MIRROR``), enough to see which connection each statement takes.
The test is transactional so that the second connection sees the committed data, as a replica would.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from labeling.models import DatasetSnapshot
from labeling.services.exports import snapshot_create

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.skipif("replica" not in connections.settings, reason="the replica alias is set up on PostgreSQL only"),
]


def test_export_reads_go_to_the_replica_and_the_snapshot_row_to_the_primary(labeled, data_dir, settings):
    settings.EXPORT_READ_DATABASE = "replica"
    with CaptureQueriesContext(connections["replica"]) as replica, \
            CaptureQueriesContext(connections["default"]) as primary:
        snap = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], name="from-replica")
    on_replica = [q["sql"] for q in replica.captured_queries if q["sql"] != "BEGIN"]
    on_primary = [q["sql"] for q in primary.captured_queries]
    # One consistent read-only snapshot on the replica: the isolation is set before anything is read.
    assert on_replica[0].startswith("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    assert any("string_agg" in sql and "labeling_ranking" in sql for sql in on_replica), "rows not read on the replica"
    assert any("DISTINCT" in sql for sql in on_replica), "the split's authors not read on the replica"
    assert any("labeling_labelreview" in sql for sql in on_replica)  # the quality filter and figures too
    assert not any("string_agg" in sql or "DISTINCT" in sql for sql in on_primary), "export rows read on the primary"
    assert not any(sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for sql in on_replica)
    assert any(sql.startswith('INSERT INTO "labeling_datasetsnapshot"') for sql in on_primary)
    assert DatasetSnapshot.objects.using("default").get(name="from-replica").rows == 12
    manifest = json.loads((Path(snap.path) / "manifest.json").read_text())
    assert manifest["rows"] == 12 and manifest["quality"]["rankings_read"] == 12


def test_without_a_replica_exports_read_the_primary_and_nothing_else_is_routed(labeled, data_dir):
    from labeling.models import Campaign

    with CaptureQueriesContext(connections["replica"]) as replica:
        snap = snapshot_create(kind="sft", campaign_ids=[labeled.campaign.pk], name="from-primary")
        Campaign.objects.get(pk=labeled.campaign.pk)
    assert snap.rows == 12 and replica.captured_queries == []
