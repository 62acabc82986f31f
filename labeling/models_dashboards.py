"""Materialised dashboard figures (issue 12, item 4): what the progress, quality and leaderboard pages read
instead of recounting millions of labels per request.

Written only by ``labeling.services.dashboards`` (the progress aggregates, refreshed incrementally by the
beat sweep) and ``labeling.services.dashboard_reports`` (quality reports and the leaderboard, computed by a
worker and stored with ``computed_at``). Every row can be rebuilt from the labels themselves
(``manage.py dashboards_rebuild``): nothing here is a source of truth.
"""
from django.conf import settings
from django.db import models


class ProgressCounters(models.Model):
    """The four progress figures of non-gold tasks, as the progress page shows them."""

    tasks_total = models.BigIntegerField(default=0)
    tasks_done = models.BigIntegerField(default=0)
    labels_required = models.BigIntegerField(default=0)
    labels_submitted = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ProgressTaskBlock(ProgressCounters):
    """Progress counters of the non-gold tasks whose id falls in one block (``id // BLOCK``), per campaign and kind.

    Recounted a whole block at a time from ``Task`` (idempotent: a recount is never a delta), so a block
    that was missed or recounted twice is still exact after its next recount.
    """

    block = models.BigIntegerField()
    campaign = models.ForeignKey("labeling.Campaign", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["block", "campaign", "kind"], name="progress_block_unique")]


class ProgressTotal(ProgressCounters):
    """The sum of a campaign's ``ProgressTaskBlock`` rows per kind, moved by exactly what each block recount
    changed (in the same transaction, under the sweep's lock): the progress page reads two rows, however
    many blocks a campaign's tasks are spread over."""

    campaign = models.ForeignKey("labeling.Campaign", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "kind"], name="progress_total_unique")]


class ProgressHour(models.Model):
    """Submitted labels (any task, rejected ones included, as the per-day chart always counted) per campaign
    and UTC hour of ``Assignment.submitted_at``."""

    campaign = models.ForeignKey("labeling.Campaign", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    labels = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "hour"], name="progress_hour_unique")]


class ProgressLabeler(models.Model):
    """A labeler's latest submitted label in a campaign (for "active labelers, last 24 h")."""

    campaign = models.ForeignKey("labeling.Campaign", on_delete=models.CASCADE, related_name="+")
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_submitted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "labeler"], name="progress_labeler_unique")]
        indexes = [models.Index(fields=["campaign", "last_submitted_at"], name="progress_labeler_recent_idx")]


class DashboardState(models.Model):
    """The progress sweep's bookmark (one row, ``name="progress"``): where the next window starts and where
    the rolling re-verification of older blocks and hours stands."""

    name = models.CharField(max_length=32, unique=True)
    watermark = models.DateTimeField(null=True, blank=True,
                                     help_text="Labels submitted before this (minus the margin) are counted.")
    swept_at = models.DateTimeField(null=True, blank=True, help_text="When the last sweep finished.")
    scrub_block = models.BigIntegerField(default=0)
    scrub_hour = models.IntegerField(default=0)


class DashboardReport(models.Model):
    """A materialised report (a campaign's agreement or labeler signals, the leaderboard) as the API returns it.

    ``fingerprint`` is what the report was computed from (label counts, last review id, ...): a report
    whose fingerprint no longer matches is stale and is recomputed by a worker, while the page shows
    the stored one with its ``computed_at``.
    """

    key = models.CharField(max_length=300, unique=True)
    campaign = models.ForeignKey("labeling.Campaign", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    payload = models.JSONField(default=dict)
    fingerprint = models.JSONField(default=dict)
    computed_at = models.DateTimeField()
    seconds = models.FloatField(default=0.0, help_text="How long the computation took.")
    requested_at = models.DateTimeField(null=True, blank=True,
                                        help_text="Last time a refresh was sent to a worker (null: none pending).")
