"""Job endpoints: the kinds (read from the training CLI), run-time estimates, create / list / read / cancel.

Thin views: an Input serializer shapes the body, ``labeling.jobs.services`` validates and acts,
an Output serializer answers. Documented in docs/api.md, "Jobs".
"""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.fields import FreeJSONObjectField
from labeling.api.pagination import paginated_schema
from labeling.api.permissions import IsResearcher
from labeling.api.research import KIND_PARAM, STATUS_PARAM, _filters, _paginate_rows, _selector
from labeling.jobs import services as job_services
from labeling.jobs.estimate import job_estimate
from labeling.jobs.inputs import resolve_inputs
from labeling.jobs.kinds import job_kind_specs, validate_params
from labeling.models import Job
from labeling.selectors import registry

DETAIL = inline_serializer("JobError", fields={"detail": serializers.CharField()})
DATETIME = serializers.DateTimeField()


class JobListOutput(serializers.ModelSerializer):
    input_snapshots = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    input_models = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration_s = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "params", "inputs", "input_snapshots", "input_models", "progress",
                  "attempts", "cancel_requested", "error", "created_by", "created_at", "started_at", "finished_at",
                  "heartbeat_at", "duration_s", "iteration", "stage"]

    def get_duration_s(self, obj) -> float | None:
        """Seconds from start to finish (so far, while it runs); null until it starts."""
        return _duration_s(obj.started_at, obj.finished_at, timezone.now())


def _duration_s(started_at, finished_at, now) -> float | None:
    return None if started_at is None else round(((finished_at or now) - started_at).total_seconds(), 1)


def job_list_rows(rows: list[dict]) -> list[dict]:
    """The jobs list's page from ``registry.job_rows``: the dicts JobListOutput builds."""
    snapshots, models = registry.job_input_ids([r["id"] for r in rows])
    at, now = DATETIME.to_representation, timezone.now()
    return [{
        "id": r["id"], "kind": r["kind"], "status": r["status"], "params": r["params"], "inputs": r["inputs"],
        "input_snapshots": snapshots.get(r["id"], []), "input_models": models.get(r["id"], []),
        "progress": r["progress"], "attempts": r["attempts"], "cancel_requested": r["cancel_requested"],
        "error": r["error"], "created_by": r["created_by__username"], "created_at": at(r["created_at"]),
        "started_at": at(r["started_at"]), "finished_at": at(r["finished_at"]), "heartbeat_at": at(r["heartbeat_at"]),
        "duration_s": _duration_s(r["started_at"], r["finished_at"], now),
        "iteration": r["iteration_id"], "stage": r["stage"],
    } for r in rows]


class JobDetailOutput(JobListOutput):
    model_versions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta(JobListOutput.Meta):
        fields = JobListOutput.Meta.fields + ["output_dir", "metrics", "result", "log_tail", "model_versions"]


class JobInput(serializers.Serializer):
    kind = serializers.CharField(max_length=32)
    inputs = FreeJSONObjectField(
        help_text='Named inputs (the training CLI\'s field names) → snapshot/model id or name, e.g. '
                  '{"model": 3, "reward_model": "rm-june", "prompts": 7, "ptx_data": 2}. See GET /job-kinds.')
    params = FreeJSONObjectField(required=False, default=dict,
                                 help_text='Parameters of the kind (GET /job-kinds), e.g. {"max_steps": 20}.')


def _idempotency_key(request) -> str:
    return (request.headers.get("Idempotency-Key") or "").strip()


class JobKindsApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], operation_id="job_kinds", responses=inline_serializer(
        "JobKinds", fields={"kinds": serializers.ListField(child=serializers.DictField())}))
    def get(self, request):
        """Every job kind's inputs and parameters, read from the training CLI's config dataclasses."""
        return Response({"kinds": job_kind_specs()})


class JobEstimateApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], operation_id="jobs_estimate", request=JobInput, responses={
        200: inline_serializer("JobEstimate", fields={
            "seconds": serializers.FloatField(allow_null=True), "steps": serializers.IntegerField(allow_null=True),
            "examples": serializers.IntegerField(allow_null=True), "tokens": serializers.IntegerField(allow_null=True),
            "model_params": serializers.IntegerField(allow_null=True), "basis": serializers.CharField(),
            "warning": serializers.CharField(allow_null=True)})})
    def post(self, request):
        """How long the job would take, roughly, before starting it."""
        data = JobInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        params = validate_params(v["kind"], v["params"])
        inputs = resolve_inputs(v["kind"], v["inputs"])
        return Response(job_estimate(kind=v["kind"], inputs=inputs, params=params))


class JobListCreateApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], parameters=[KIND_PARAM, STATUS_PARAM], operation_id="jobs_list",
                   responses=paginated_schema(JobListOutput, "PaginatedJobList"))
    def get(self, request):
        rows = _selector(lambda: registry.job_rows(filters=_filters(request, "kind", "status")))
        return _paginate_rows(self, request, rows, job_list_rows)

    @extend_schema(
        tags=["research"], request=JobInput, operation_id="jobs_create",
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="A client-chosen key: a retry with the same key returns the "
                                                 "first job (200) instead of creating another.")],
        responses={201: JobDetailOutput, 200: JobDetailOutput, 503: DETAIL})
    def post(self, request):
        data = JobInput(data=request.data)
        data.is_valid(raise_exception=True)
        job, created = job_services.job_create(created_by=request.user, idempotency_key=_idempotency_key(request),
                                               **data.validated_data)
        job = registry.job_get(job_id=job.pk)
        body = JobDetailOutput(job).data
        if created and job.status == Job.Status.QUEUED and job.dispatched_at is None:
            return Response({"detail": f"job {job.pk} is recorded but the task broker is unreachable: it will be "
                                       f"dispatched automatically when the broker is back", "job_id": job.pk,
                             "job": body}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class JobDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], responses={200: JobDetailOutput, 404: DETAIL}, operation_id="jobs_retrieve")
    def get(self, request, job_id: int):
        try:
            job = registry.job_get(job_id=job_id)
        except Job.DoesNotExist:
            raise exceptions.NotFound("No such job.")
        return Response(JobDetailOutput(job).data)


class JobCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], request=None, operation_id="jobs_cancel",
                   responses={200: JobDetailOutput, 403: DETAIL, 404: DETAIL, 409: DETAIL})
    def post(self, request, job_id: int):
        """Cancel a queued or running job: its creator or staff only."""
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            raise exceptions.NotFound("No such job.")
        job_services.job_cancel(job=job, by=request.user)
        return Response(JobDetailOutput(registry.job_get(job_id=job_id)).data)
