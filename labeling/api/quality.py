"""Label quality endpoints (campaign admins and staff): gold answers and labelers' agreement with them.

- ``GET /api/v1/campaigns/{id}/quality``: ``labeling.selectors.quality.labeler_gold_agreement``.
- ``PUT /api/v1/tasks/{id}/gold`` ``{"answer": [[3], [1, 4], [2]] | "reference text" | null}``:
  ``labeling.services.gold.task_set_gold``.

Gold answers are set by admins per task; the queue serves gold tasks at the campaign's
``gold_fraction`` (see ``labeling.services.gold`` and ``labeling.services.qualification``).
Included by ``labeling/api/urls.py``; documented in docs/api.md.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.fields import FreeJSONField
from labeling.api.permissions import IsCampaignAdmin
from labeling.models import Campaign, Task
from labeling.selectors.quality import labeler_gold_agreement
from labeling.services.gold import task_set_gold


class LabelerAgreementOutput(serializers.Serializer):
    labeler_id = serializers.IntegerField()
    username = serializers.CharField()
    gold_labelled = serializers.IntegerField(help_text="gold tasks this labeler submitted (any kind)")
    gold_rankings = serializers.IntegerField(help_text="of which rankings, the scored ones")
    pairs = serializers.IntegerField(help_text="pairs the gold rankings order")
    agreeing_pairs = serializers.IntegerField(help_text="of which the labeler ordered the same way")
    agreement = serializers.FloatField(allow_null=True, help_text="agreeing_pairs / pairs; null without a pair")


class GoldTaskCountsOutput(serializers.Serializer):
    ranking = serializers.IntegerField()
    demonstration = serializers.IntegerField()


class QualityOutput(serializers.Serializer):
    campaign = serializers.IntegerField()
    gold_fraction = serializers.FloatField(help_text="share of next-task requests that are served a gold task first")
    gold_tasks = GoldTaskCountsOutput()
    labelers = LabelerAgreementOutput(many=True, help_text="worst agreement first; unscored labelers last")


class GoldInput(serializers.Serializer):
    answer = FreeJSONField(
        allow_null=True,
        help_text="ranking task: completion id groups, best first ([[3], [1, 4], [2]]); demonstration task: a "
                  "reference text; null: not gold any more",
    )


class GoldOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Task.Kind.choices)
    gold_answer = serializers.JSONField(allow_null=True, help_text='{"ranking": [[...], ...]} or {"text": "..."} or null')


class CampaignQualityApi(APIView):
    permission_classes = [IsCampaignAdmin]

    @extend_schema(responses={200: QualityOutput}, tags=["campaigns"], operation_id="campaigns_quality")
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return Response(QualityOutput(labeler_gold_agreement(campaign=campaign)).data)


class TaskGoldApi(APIView):
    permission_classes = [IsCampaignAdmin]

    @extend_schema(request=GoldInput, responses={200: GoldOutput}, tags=["campaigns"], operation_id="tasks_set_gold")
    def put(self, request, task_id: int):
        task = get_object_or_404(Task, pk=task_id)
        data = GoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = task_set_gold(task=task, answer=data.validated_data["answer"])
        return Response(GoldOutput(task).data)


urlpatterns = [
    path("campaigns/<int:campaign_id>/quality", CampaignQualityApi.as_view(), name="campaign-quality"),
    path("tasks/<int:task_id>/gold", TaskGoldApi.as_view(), name="task-gold"),
]
