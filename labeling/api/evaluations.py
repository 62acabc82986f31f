"""Human evaluation endpoints (researchers): create an evaluation, read its progress and results, export its
comparisons, and the leaderboard of policies by human preference. Labelers never see these: they only get
the evaluation's blind tasks through the ordinary queue."""
from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.iterations import CampaignIdField, NameOrIdField
from labeling.api.permissions import IsResearcher
from labeling.api.research import _paginate
from labeling.models import DatasetSnapshot, Evaluation, ModelVersion
from labeling.api.label_quality import materialised
from labeling.selectors.evaluations import evaluation_list, evaluation_progress, evaluation_results
from labeling.services import evaluations as services

DETAIL = inline_serializer("EvaluationError", fields={"detail": serializers.CharField()})
RESULTS = inline_serializer("EvaluationResults", fields={
    "comparisons": serializers.IntegerField(), "ties_rule": serializers.CharField(),
    "pairs": serializers.ListField(child=serializers.DictField()),
    "bradley_terry": serializers.ListField(child=serializers.DictField()),
    "categories": serializers.DictField()})
LEADERBOARD = inline_serializer("Leaderboard", fields={
    "comparisons": serializers.IntegerField(), "ties_rule": serializers.CharField(),
    "policies": serializers.ListField(child=serializers.DictField())})
NAME_RE = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,150}$"


class _Passthrough:
    """The leaderboard's stored JSON as is (its shape is documented by ``LEADERBOARD``)."""

    def __init__(self, payload: dict):
        self.data = payload


class EvaluationInput(serializers.Serializer):
    name = serializers.RegexField(NAME_RE, help_text="Letters, digits, '.', '_' or '-'.")
    policies = serializers.ListField(child=NameOrIdField(ModelVersion), min_length=2, max_length=10,
                                     help_text="Policies to compare (ids or names), at least two.")
    prompt_campaign_id = CampaignIdField(required=False, allow_null=True,
                                                  help_text="Held-out prompts: every prompt of this campaign, or…")
    prompt_snapshot = NameOrIdField(DatasetSnapshot, required=False, allow_null=True,
                                    help_text="…every row of this prompts snapshot.")
    generation_settings = serializers.JSONField(required=False, default=dict,
                                                help_text='generate params shared by all policies, e.g. '
                                                          '{"temperature": 0.7, "max_new_tokens": 128, "seed": 0}.')
    judge = NameOrIdField(ModelVersion, required=False, allow_null=True,
                          help_text="Optional reward model that scores the same texts (shown beside the humans).")
    labels_per_task = serializers.IntegerField(min_value=1, max_value=20, default=1)


class EvaluationOutput(serializers.ModelSerializer):
    policies = serializers.SerializerMethodField()
    judge = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Evaluation
        fields = ["id", "name", "status", "campaign", "policies", "prompt_campaign", "prompt_snapshot",
                  "generation_settings", "judge", "error", "created_by", "created_at"]

    def get_policies(self, obj) -> list[dict]:
        return [{"id": p.pk, "name": p.name} for p in obj.policies.all()]

    def get_judge(self, obj) -> dict | None:
        return {"id": obj.judge_id, "name": obj.judge.name} if obj.judge_id else None

    def to_representation(self, obj):
        data = super().to_representation(obj)
        if self.context.get("detail"):
            data["progress"] = evaluation_progress(obj)
        return data


class ExportInput(serializers.Serializer):
    name = serializers.RegexField(NAME_RE, required=False)
    valid_fraction = serializers.FloatField(min_value=0.0, max_value=0.9, default=0.1)


def _get(evaluation_id: int) -> Evaluation:
    evaluation = evaluation_list().filter(pk=evaluation_id).first()
    if evaluation is None:
        raise exceptions.NotFound("No such evaluation.")
    return evaluation


class EvaluationListCreateApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["evaluation"], responses=EvaluationOutput(many=True), operation_id="evaluations_list")
    def get(self, request):
        return _paginate(self, request, evaluation_list(), EvaluationOutput)

    @extend_schema(tags=["evaluation"], request=EvaluationInput, responses={201: EvaluationOutput, 400: DETAIL},
                   operation_id="evaluations_create")
    def post(self, request):
        """Check the prompts are held out, then sample every policy once per prompt (one generate job each)."""
        data = EvaluationInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        evaluation = services.evaluation_create(
            name=v["name"], policies=v["policies"], prompt_campaign=v.get("prompt_campaign_id"), prompt_snapshot=v.get("prompt_snapshot"),
            generation_settings=v["generation_settings"], judge=v.get("judge"),
            labels_per_task=v["labels_per_task"], created_by=request.user)
        return Response(EvaluationOutput(_get(evaluation.pk), context={"detail": True}).data,
                        status=status.HTTP_201_CREATED)


class EvaluationDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["evaluation"], responses={200: EvaluationOutput, 404: DETAIL},
                   operation_id="evaluations_retrieve")
    def get(self, request, evaluation_id: int):
        return Response(EvaluationOutput(_get(evaluation_id), context={"detail": True}).data)


class EvaluationResultsApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["evaluation"], responses={200: RESULTS, 404: DETAIL}, operation_id="evaluations_results")
    def get(self, request, evaluation_id: int):
        """Pair win rates with Wilson intervals, the Bradley–Terry ranking with bootstrap intervals, per-category
        rates, the judge's win rate on the same texts and how often it disagrees with the labelers."""
        return Response(evaluation_results(_get(evaluation_id)))


class EvaluationExportApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["evaluation"], request=ExportInput, operation_id="evaluations_export",
                   responses={201: inline_serializer("EvaluationExport", fields={"id": serializers.IntegerField(),
                                                                                 "name": serializers.CharField()}),
                              400: DETAIL, 404: DETAIL})
    def post(self, request, evaluation_id: int):
        """The evaluation's comparisons as a comparisons snapshot, marked ``from_evaluation`` in its manifest."""
        data = ExportInput(data=request.data)
        data.is_valid(raise_exception=True)
        snapshot = services.evaluation_export(evaluation=_get(evaluation_id), created_by=request.user,
                                              **data.validated_data)
        return Response({"id": snapshot.pk, "name": snapshot.name, "rows": snapshot.rows, "filters": snapshot.filters},
                        status=status.HTTP_201_CREATED)


EVALUATION_PARAM = OpenApiParameter("evaluation", OpenApiTypes.INT, many=True,
                                    description="only these evaluations (repeatable; default: all labelling ones)")


class LeaderboardApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["evaluation"], parameters=[EVALUATION_PARAM], responses={200: LEADERBOARD},
                   operation_id="leaderboard")
    def get(self, request):
        """Policies by human preference (one Bradley–Terry fit over the chosen evaluations), with lineage.
        Materialised (its bootstrap is not rerun per request): the body adds ``as_of``/``stale``/``computing``."""
        try:
            ids = [int(x) for x in request.query_params.getlist("evaluation")]
        except ValueError:
            raise exceptions.ValidationError({"evaluation": ["evaluation ids are integers"]}) from None
        return materialised("leaderboard", {"evaluations": sorted(set(ids))}, lambda payload: _Passthrough(payload))


urlpatterns = [
    path("evaluations", EvaluationListCreateApi.as_view(), name="evaluation-list"),
    path("evaluations/<int:evaluation_id>", EvaluationDetailApi.as_view(), name="evaluation-detail"),
    path("evaluations/<int:evaluation_id>/results", EvaluationResultsApi.as_view(), name="evaluation-results"),
    path("evaluations/<int:evaluation_id>/export", EvaluationExportApi.as_view(), name="evaluation-export"),
    path("leaderboard", LeaderboardApi.as_view(), name="leaderboard"),
]
