"""Qualification endpoints (``labeling.services.qualification``):

- ``GET /campaigns/{id}/qualification`` (labeler or staff): the caller's own result, nobody else's.
- ``PUT /campaigns/{id}/qualification-settings`` ``{"gold_tasks": 5, "min_agreement": 0.7}`` (campaign admin).
- ``GET /campaigns/{id}/qualifications`` (campaign admin, researcher): every decided or re-opened labeler.
- ``POST /campaigns/{id}/qualifications/{labeler_id}/reopen`` (campaign admin): a new round.

Documented in docs/api.md.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import CanReadQuality, IsCampaignAdmin, IsLabeler
from labeling.models import Assignment, Campaign, LabelerQualification
from labeling.services.qualification import campaign_set_qualification, qualification_reopen, qualification_status


class MyQualificationOutput(serializers.Serializer):
    required = serializers.BooleanField()
    gold_tasks = serializers.IntegerField(help_text="gold rankings to answer before real tasks")
    min_agreement = serializers.FloatField()
    status = serializers.ChoiceField(choices=["not_required", "pending", "passed", "failed"])
    done = serializers.IntegerField(help_text="gold rankings answered in this round")
    agreement = serializers.FloatField(allow_null=True, help_text="pairwise agreement with the gold, once decided")
    decided_at = serializers.DateTimeField(allow_null=True)


class SettingsInput(serializers.Serializer):
    gold_tasks = serializers.IntegerField(min_value=0, max_value=100)
    min_agreement = serializers.FloatField(min_value=0.0, max_value=1.0)


class SettingsOutput(serializers.Serializer):
    campaign = serializers.IntegerField(source="pk")
    gold_tasks = serializers.IntegerField(source="qualification_gold_tasks")
    min_agreement = serializers.FloatField(source="qualification_min_agreement")


class QualificationOutput(serializers.ModelSerializer):
    labeler = serializers.CharField(source="labeler.username")
    reopened_by = serializers.CharField(source="reopened_by.username", allow_null=True, default=None)

    class Meta:
        model = LabelerQualification
        fields = ["labeler_id", "labeler", "status", "agreement", "gold_pairs", "started_at", "decided_at",
                  "reopened_by", "reopen_count"]


class MyQualificationApi(APIView):
    permission_classes = [IsLabeler]

    @extend_schema(responses={200: MyQualificationOutput}, tags=["quality"])
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return Response(MyQualificationOutput(qualification_status(campaign=campaign, labeler=request.user)).data)


class QualificationSettingsApi(APIView):
    permission_classes = [IsCampaignAdmin]

    @extend_schema(request=SettingsInput, responses={200: SettingsOutput}, tags=["quality"])
    def put(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        data = SettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = campaign_set_qualification(campaign=campaign, **data.validated_data)
        return Response(SettingsOutput(campaign).data)


class QualificationListApi(APIView):
    permission_classes = [CanReadQuality]

    @extend_schema(responses={200: QualificationOutput(many=True)}, tags=["quality"])
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        rows = campaign.qualifications.select_related("labeler", "reopened_by").order_by("labeler__username")
        return Response(QualificationOutput(rows, many=True).data)


class QualificationReopenApi(APIView):
    permission_classes = [IsCampaignAdmin]

    @extend_schema(request=None, responses={200: QualificationOutput}, tags=["quality"])
    def post(self, request, campaign_id: int, labeler_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        get_object_or_404(Assignment.objects.filter(campaign=campaign, labeler_id=labeler_id)[:1])
        state = qualification_reopen(campaign=campaign, labeler_id=labeler_id, by=request.user)
        return Response(QualificationOutput(state).data)


urlpatterns = [
    path("campaigns/<int:campaign_id>/qualification", MyQualificationApi.as_view(), name="my-qualification"),
    path("campaigns/<int:campaign_id>/qualification-settings", QualificationSettingsApi.as_view(),
         name="qualification-settings"),
    path("campaigns/<int:campaign_id>/qualifications", QualificationListApi.as_view(), name="qualification-list"),
    path("campaigns/<int:campaign_id>/qualifications/<int:labeler_id>/reopen", QualificationReopenApi.as_view(),
         name="qualification-reopen"),
]
