"""Research endpoints: dataset snapshots, the model registry and training jobs (researcher or staff).

Thin views: an Input serializer validates the body, a service in ``labeling.services.exports`` or
``labeling.jobs.services`` does the work, an Output serializer shapes the answer. Reads go through
``labeling.selectors.registry``. Documented in docs/api.md, "Research".
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import roles
from labeling.api.fields import FreeJSONObjectField
from labeling.api.pagination import paginated_schema
from labeling.api.permissions import IsResearcher
from labeling.jobs import services as job_services
from labeling.jobs.export_job import export_job_create
from labeling.models import DatasetSnapshot, ModelVersion
from labeling.selectors import registry
from labeling.selectors.users import user_has_role
from labeling.services.exports import export_size, snapshot_create


class CanReadModels(BasePermission):
    """Reading the model registry: researchers, campaign admins (to pick a sampling policy), staff."""

    message = "Only researchers and campaign admins (or staff) can see the model registry."

    def has_permission(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user_has_role(request.user, roles.RESEARCHER, roles.CAMPAIGN_ADMIN)
        return user_has_role(request.user, roles.RESEARCHER)


class ListPagination(LimitOffsetPagination):
    max_limit = 500  # a page is bounded whatever ``limit`` asks: the lists' cost stays flat as they grow


def _paginate(view: APIView, request, queryset, serializer_cls):
    return _paginate_rows(view, request, queryset, lambda page: serializer_cls(page, many=True).data)


def _paginate_rows(view: APIView, request, rows, build):
    """One page of ``rows`` (a queryset of any kind), turned into the response's items by ``build(page)``."""
    paginator = ListPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(build(page))


def _filters(request, *keys: str) -> dict:
    return {k: request.query_params.get(k) for k in keys if request.query_params.get(k)}


def _selector(call):
    try:
        return call()
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "message_dict") else exc.messages)


# ---------------------------------------------------------------- snapshots

class SnapshotOutput(serializers.ModelSerializer):
    campaigns = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DatasetSnapshot
        fields = ["id", "name", "kind", "campaigns", "filters", "split", "rows", "sha256", "path", "created_by",
                  "created_at"]


class SnapshotInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DatasetSnapshot.Kind.choices)
    campaign_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)
    name = serializers.CharField(required=False, max_length=200)
    valid_fraction = serializers.FloatField(required=False, default=0.1, min_value=0.0, max_value=0.99)
    seed = serializers.IntegerField(required=False, default=0)
    quality = FreeJSONObjectField(
        required=False, default=dict,
        help_text='Which labels to export (docs/api.md): {"exclude_rejected": true, "exclude_flagged": false, '
                  '"min_labeler_agreement": 0.6, "rankings": "raw"|"consensus"}.')


DATETIME = serializers.DateTimeField()
KIND_PARAM = OpenApiParameter("kind", OpenApiTypes.STR, description="filter by kind")
STATUS_PARAM = OpenApiParameter("status", OpenApiTypes.STR, description="filter by status")


class SnapshotListCreateApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], parameters=[KIND_PARAM],
                   responses=paginated_schema(SnapshotOutput, "PaginatedSnapshotList"), operation_id="snapshots_list")
    def get(self, request):
        qs = _selector(lambda: registry.snapshot_list(filters=_filters(request, "kind")))
        return _paginate(self, request, qs, SnapshotOutput)

    @extend_schema(tags=["research"], request=SnapshotInput, responses={
        201: SnapshotOutput,
        202: inline_serializer("SnapshotExportQueued", fields={"detail": serializers.CharField(),
                                                              "job": serializers.IntegerField()})},
        operation_id="snapshots_create",
        description="Small exports answer 201 with the snapshot. An export of more than EXPORT_SYNC_MAX_ROWS labels "
                    "runs in a worker: 202 with the export job to watch (GET /jobs/{id}); the snapshot appears when "
                    "it succeeds.")
    def post(self, request):
        data = SnapshotInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if export_size(kind=v["kind"], campaign_ids=v["campaign_ids"]) > settings.EXPORT_SYNC_MAX_ROWS:
            job = export_job_create(campaign_ids=v["campaign_ids"], snapshot_kinds=[v["kind"]], name=v.get("name"),
                                    exact_name="name" in v, valid_fraction=v["valid_fraction"], seed=v["seed"],
                                    quality=v["quality"], created_by=request.user)
            return Response({"detail": f"a large export: it runs in a worker as job {job.pk}", "job": job.pk},
                            status=status.HTTP_202_ACCEPTED)
        snapshot = snapshot_create(created_by=request.user, **v)
        return Response(SnapshotOutput(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], responses=SnapshotOutput, operation_id="snapshots_retrieve")
    def get(self, request, snapshot_id: int):
        snapshot = registry.snapshot_list().filter(pk=snapshot_id).first()
        if snapshot is None:
            raise exceptions.NotFound("No such snapshot.")
        return Response(SnapshotOutput(snapshot).data)


# ---------------------------------------------------------------- models

class ModelVersionOutput(serializers.ModelSerializer):
    iteration = serializers.SerializerMethodField()
    snapshots = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "kind", "parent", "reward_model", "metrics", "job", "iteration", "snapshots",
                  "created_at"]

    def get_iteration(self, obj) -> int | None:
        return obj.job.iteration_id if obj.job_id else None

    def get_snapshots(self, obj) -> list[int]:
        """The snapshots the job that made this model read (its training data)."""
        return sorted(s.pk for s in obj.job.input_snapshots.all()) if obj.job_id else []


def model_list_rows(rows: list[dict]) -> list[dict]:
    """The models list's page from ``registry.model_version_rows``: the dicts ModelVersionOutput builds (one model's
    detail), without an instance per row."""
    snapshots = registry.model_version_snapshot_ids([r["job_id"] for r in rows if r["job_id"]])
    to_text = DATETIME.to_representation
    return [{"id": r["id"], "name": r["name"], "kind": r["kind"], "parent": r["parent_id"],
             "reward_model": r["reward_model_id"], "metrics": r["metrics"], "job": r["job_id"],
             "iteration": r["job__iteration_id"], "snapshots": snapshots.get(r["job_id"], []),
             "created_at": to_text(r["created_at"])} for r in rows]


class ModelVersionInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ModelVersion.Kind.choices)
    artifact_path = serializers.CharField(
        max_length=1000, help_text="A registered name (tiny, smollm2-135m-instruct) or an absolute folder inside the "
                                   "data directory or a configured model root (PREFLOOP_MODEL_ROOTS).")
    parent = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all(), required=False, allow_null=True)


class ModelVersionListCreateApi(APIView):
    permission_classes = [CanReadModels]

    @extend_schema(tags=["research"], parameters=[KIND_PARAM],
                   responses=paginated_schema(ModelVersionOutput, "PaginatedModelVersionList"), operation_id="models_list")
    def get(self, request):
        rows = _selector(lambda: registry.model_version_rows(filters=_filters(request, "kind")))
        return _paginate_rows(self, request, rows, model_list_rows)

    @extend_schema(tags=["research"], request=ModelVersionInput, responses={201: ModelVersionOutput},
                   operation_id="models_register")
    def post(self, request):
        data = ModelVersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = job_services.model_version_create(**data.validated_data)
        return Response(ModelVersionOutput(model).data, status=status.HTTP_201_CREATED)


class ModelVersionDetailApi(APIView):
    permission_classes = [CanReadModels]

    @extend_schema(tags=["research"], responses=ModelVersionOutput, operation_id="models_retrieve")
    def get(self, request, model_id: int):
        model = registry.model_version_list().filter(pk=model_id).first()
        if model is None:
            raise exceptions.NotFound("No such model.")
        return Response(ModelVersionOutput(model).data)
