"""Label quality endpoints: agreement, consensus, labeler signals, the review queue and review decisions.

Reads (campaign admins, researchers, staff: ``CanReadQuality``):

- ``GET /campaigns/{id}/agreement?n_boot=1000`` → ``selectors.agreement.campaign_agreement``, materialised
  (``services.dashboard_reports``): the body adds ``as_of``, ``stale``, ``computing``; 202 while a large
  campaign's first report is being computed
- ``POST /campaigns/{id}/quality/refresh?n_boot=1000`` → recompute agreement and labeler signals now
- ``GET /campaigns/{id}/consensus?limit&offset`` → ``selectors.consensus.campaign_consensus``
- ``GET /campaigns/{id}/labelers`` → ``selectors.signals.campaign_labeler_signals``, materialised as above
- ``GET /campaigns/{id}/labelers/{labeler_id}`` → ``selectors.signals.labeler_quality_page``
- ``GET /campaigns/{id}/review-queue?signal&labeler&max_agreement&include_reviewed&limit&offset``
  → ``selectors.review.review_queue``

Write (campaign admins, staff: ``IsCampaignAdmin``):

- ``POST /labels/{assignment_id}/review`` ``{"decision": "accept"|"reject", "reason", "signal"}``
  → ``services.review.label_review_create`` (201; 409 if already rejected or not submitted)

Documented in docs/api.md. Prompts and completions are returned as JSON strings, never markup.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import CanReadQuality, IsCampaignAdmin
from labeling.models import Assignment, Campaign, LabelReview
from labeling.selectors.consensus import campaign_consensus
from labeling.selectors.review import review_queue
from labeling.selectors.signals import SIGNALS, labeler_quality_page
from labeling.services.dashboard_reports import report_read, report_request_refresh
from labeling.services.review import label_review_create


# ---------------------------------------------------------------- outputs

class FigureOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True, help_text="95 % bootstrap CI over tasks; null under 2 tasks")
    ci_high = serializers.FloatField(allow_null=True)
    n_tasks = serializers.IntegerField()
    n_items = serializers.IntegerField(help_text="comparisons, rankings, units or gold pairs behind the value")


class LabelerFiguresOutput(serializers.Serializer):
    pairwise_agreement = FigureOutput()
    kendall_tau_b = FigureOutput()
    gold_agreement = FigureOutput()


class FiguresOutput(LabelerFiguresOutput):
    alpha_likert = FigureOutput()
    alpha_preferences = FigureOutput()


class CategoryFiguresOutput(FiguresOutput):
    category = serializers.CharField()


class WeekFiguresOutput(FiguresOutput):
    week = serializers.DateField(help_text="Monday of the ISO week in which the task's last label arrived")


class LabelerAgreementRowOutput(LabelerFiguresOutput):
    labeler_id = serializers.IntegerField()
    username = serializers.CharField()
    labels = serializers.IntegerField()


class AsOfOutput(serializers.Serializer):
    as_of = serializers.DateTimeField(allow_null=True, help_text="when the stored report was computed")
    stale = serializers.BooleanField(help_text="labels or reviews arrived since; a worker recomputes it")
    computing = serializers.BooleanField()
    compute_seconds = serializers.FloatField(allow_null=True)


def materialised(name: str, params: dict, output):
    """The stored report ``name`` shaped by ``output``, plus its ``as_of`` state; 202 while none exists yet."""
    payload, meta = report_read(name=name, params=params)
    if payload is None:
        return Response({"detail": f"the {name} report is being computed by a worker; ask again shortly", **meta},
                        status=status.HTTP_202_ACCEPTED)
    return Response({**output(payload).data, **AsOfOutput(meta).data})


class AgreementOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    n_boot = serializers.IntegerField()
    level = serializers.FloatField()
    overall = FiguresOutput()
    by_category = CategoryFiguresOutput(many=True)
    by_week = WeekFiguresOutput(many=True)
    labelers = LabelerAgreementRowOutput(many=True)


class ConsensusOutput(serializers.Serializer):
    task_id = serializers.IntegerField()
    labelers = serializers.IntegerField()
    consensus = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()),
                                      help_text="Ranked Pairs merge, completion id groups best first")
    agreement = serializers.FloatField(allow_null=True)
    pairs = serializers.IntegerField()
    mean_tau_b = serializers.FloatField(allow_null=True)


class ConsensusPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    results = ConsensusOutput(many=True)


class LabelerSignalsOutput(serializers.Serializer):
    labeler_id = serializers.IntegerField()
    username = serializers.CharField(allow_null=True)
    labels = serializers.IntegerField()
    flags = serializers.ListField(child=serializers.CharField(), help_text="the signals raised: " + ", ".join(SIGNALS))
    signals = serializers.DictField(child=serializers.DictField(),
                                    help_text="per signal: its evidence, flagged and example assignment ids")


class LabelersOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    thresholds = serializers.DictField()
    labelers = LabelerSignalsOutput(many=True)


class LabelerPageOutput(LabelerSignalsOutput):
    campaign = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    thresholds = serializers.DictField()
    examples = serializers.DictField(child=serializers.DictField(), help_text="assignment id → the label")


class ReviewQueueOutput(serializers.Serializer):
    count = serializers.IntegerField()
    items = serializers.ListField(child=serializers.DictField(),
                                  help_text="tasks with prompt, completions, consensus, agreement and labels")


class ReviewOutput(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username")

    class Meta:
        model = LabelReview
        fields = ["id", "assignment", "decision", "reason", "signal", "reviewer", "created_at"]


# ---------------------------------------------------------------- inputs

class BootInput(serializers.Serializer):
    n_boot = serializers.IntegerField(required=False, default=1000, min_value=100, max_value=5000)


class PageInput(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)
    offset = serializers.IntegerField(required=False, default=0, min_value=0)


class ReviewQueueInput(PageInput):
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    signal = serializers.ChoiceField(choices=SIGNALS, required=False)
    labeler = serializers.IntegerField(required=False, min_value=1)
    max_agreement = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    include_reviewed = serializers.BooleanField(required=False, default=False)


class ReviewInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=LabelReview.Decision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    signal = serializers.ChoiceField(choices=SIGNALS, required=False, default="")


def _query(serializer_class, request) -> dict:
    data = serializer_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data


# ---------------------------------------------------------------- views

class CampaignAgreementApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(parameters=[BootInput], responses={200: AgreementOutput}, tags=["quality"])
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return materialised("agreement", {"campaign": campaign.pk, "n_boot": _query(BootInput, request)["n_boot"]},
                            AgreementOutput)


class QualityRefreshApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(parameters=[BootInput], request=None, tags=["quality"], responses={200: AsOfOutput,
                                                                                       202: AsOfOutput})
    def post(self, request, campaign_id: int):
        """Recompute the agreement and labeler reports now: 200 when done here (small campaign), 202 when a
        worker does it (the pages show the new ``as_of`` once it is stored)."""
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        params = {"campaign": campaign.pk, "n_boot": _query(BootInput, request)["n_boot"]}
        here = [report_request_refresh(name=name, params=params) for name in ("agreement", "labelers")]
        return Response({"detail": "recomputed" if all(here) else "a worker is recomputing the reports"},
                        status=status.HTTP_200_OK if all(here) else status.HTTP_202_ACCEPTED)


class CampaignConsensusApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(parameters=[PageInput], responses={200: ConsensusPageOutput}, tags=["quality"])
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        page = _query(PageInput, request)
        rows = campaign_consensus(campaign_ids=[campaign.pk])
        body = {"count": len(rows), "results": rows[page["offset"]:page["offset"] + page["limit"]]}
        return Response(ConsensusPageOutput(body).data)


class CampaignLabelersApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(parameters=[BootInput], responses={200: LabelersOutput}, tags=["quality"])
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return materialised("labelers", {"campaign": campaign.pk, "n_boot": _query(BootInput, request)["n_boot"]},
                            LabelersOutput)


class CampaignLabelerApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(parameters=[BootInput], responses={200: LabelerPageOutput}, tags=["quality"],
                   operation_id="campaigns_labeler_page")
    def get(self, request, campaign_id: int, labeler_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        get_object_or_404(Assignment.objects.filter(campaign=campaign, labeler_id=labeler_id)[:1])
        page = labeler_quality_page(campaign=campaign, labeler_id=labeler_id,
                                    n_boot=_query(BootInput, request)["n_boot"])
        return Response(LabelerPageOutput(page).data)


class ReviewQueueApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(parameters=[ReviewQueueInput], responses={200: ReviewQueueOutput}, tags=["quality"])
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        q = _query(ReviewQueueInput, request)
        body = review_queue(campaign=campaign, signal=q.get("signal"), labeler_id=q.get("labeler"),
                            max_agreement=q.get("max_agreement"), include_reviewed=q["include_reviewed"],
                            limit=q["limit"], offset=q["offset"])
        return Response(ReviewQueueOutput(body).data)


class LabelReviewApi(APIView):
    permission_classes = [IsCampaignAdmin]

    @extend_schema(request=ReviewInput, responses={201: ReviewOutput}, tags=["quality"])
    def post(self, request, assignment_id: int):
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = label_review_create(assignment_id=assignment_id, reviewer=request.user, **data.validated_data)
        return Response(ReviewOutput(review).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("campaigns/<int:campaign_id>/agreement", CampaignAgreementApi.as_view(), name="campaign-agreement"),
    path("campaigns/<int:campaign_id>/quality/refresh", QualityRefreshApi.as_view(), name="campaign-quality-refresh"),
    path("campaigns/<int:campaign_id>/consensus", CampaignConsensusApi.as_view(), name="campaign-consensus"),
    path("campaigns/<int:campaign_id>/labelers", CampaignLabelersApi.as_view(), name="campaign-labelers"),
    path("campaigns/<int:campaign_id>/labelers/<int:labeler_id>", CampaignLabelerApi.as_view(),
         name="campaign-labeler"),
    path("campaigns/<int:campaign_id>/review-queue", ReviewQueueApi.as_view(), name="campaign-review-queue"),
    path("labels/<int:assignment_id>/review", LabelReviewApi.as_view(), name="label-review"),
]
