"""Label quality's records: reviews of submitted labels and labelers' qualification per campaign.

Written only by ``labeling.services.review`` and ``labeling.services.qualification``; split out of
``labeling.models`` (which re-exports both) to keep that module a readable size.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q

from labeling.models import Assignment, Campaign, TimeStamped


class LabelReview(TimeStamped):
    """An admin's decision on one submitted label (accept or reject), with who made it and why.

    Decisions are never edited: each one is a new row, so the history is kept. A label is rejected
    at most once (``labeling.services.review``): rejecting gives its task slot back to the queue,
    and a rejected label is left out of agreement figures and, by default, of exports.
    """

    class Decision(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.TextField(blank=True)
    signal = models.CharField(max_length=32, blank=True, help_text="The quality signal that led to the review, if any.")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="label_reviews")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment"], condition=Q(decision="reject"), name="label_rejected_once"),
        ]
        indexes = [models.Index(fields=["assignment", "-created_at"], name="label_review_latest_idx")]

    def __str__(self):
        return f"{self.decision} of assignment #{self.assignment_id}"


class LabelerQualification(TimeStamped):
    """A labeler's qualification in a campaign that requires one (``Campaign.qualification_gold_tasks``).

    No row means "pending since the beginning". The verdict is reached from the first N gold
    rankings submitted at or after ``started_at`` (``labeling.services.qualification``); an admin's
    re-open moves ``started_at`` to now, so the next N gold tasks (never ones seen before) decide.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        PASSED = "passed"
        FAILED = "failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="qualifications")
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="qualifications")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(null=True, blank=True, help_text="Gold labels from here count (null: all).")
    agreement = models.FloatField(null=True, blank=True)
    gold_pairs = models.PositiveIntegerField(default=0)
    decided_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="qualifications_reopened")
    reopen_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "labeler"], name="qualification_once_per_labeler")]
