"""Prompt import endpoints: upload a .jsonl/.csv file, and follow a large one's background job.

Small files (``settings.PROMPT_IMPORT_SYNC_MAX_BYTES``, 1 MiB by default) are imported in the request
(201 with the report); larger ones are stored and imported by an ``import`` job (202 with the job,
then ``GET /campaigns/{id}/prompts/imports/{job_id}`` until it is final). Campaign admins and staff.
"""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.errors import DetailOutput, PayloadTooLargeError
from labeling.api.permissions import IsCampaignAdmin
from labeling.jobs.import_job import import_job_create
from labeling.models import Campaign, Job
from labeling.selectors.imports import campaign_import_job, import_job_view
from labeling.services.prompt_import import prompts_import

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


class ImportLineOutput(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class ImportInput(serializers.Serializer):
    file = serializers.FileField(help_text=".jsonl or .csv")


class ImportOutput(serializers.Serializer):
    imported = serializers.IntegerField()
    duplicates = ImportLineOutput(many=True, help_text="skipped lines (not errors), the first 200")
    duplicates_count = serializers.IntegerField(help_text="how many lines were skipped as duplicates in all")
    tasks_created = serializers.IntegerField()


class ImportJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    filename = serializers.CharField()
    bytes_total = serializers.IntegerField(allow_null=True)
    bytes_read = serializers.IntegerField()
    lines_read = serializers.IntegerField()
    phase = serializers.CharField(help_text="queued, reading, writing (the set-based insert), done")
    progress = serializers.FloatField(help_text="bytes read / total, 0-1")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    report = ImportOutput(allow_null=True, help_text="once succeeded: what was imported")
    errors = ImportLineOutput(many=True, help_text="a rejected file's bad lines (the first 200); nothing was imported")
    bad_lines = serializers.IntegerField(allow_null=True, help_text="a rejected file's count of bad lines")
    error = serializers.CharField(help_text="why it failed, or empty")


def _campaign_or_404(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign, pk=campaign_id)


class CampaignPromptImportApi(APIView):
    """Upload prompts as .jsonl or .csv (see docs/api.md). Atomic: any bad line → nothing imported."""

    permission_classes = [IsCampaignAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ImportInput},
        responses={
            201: ImportOutput,
            202: OpenApiResponse(ImportJobOutput, description="a large file: imported by a background job"),
            400: OpenApiResponse(
                inline_serializer(
                    "ImportRejected",
                    {"detail": serializers.CharField(), "errors": ImportLineOutput(many=True)},
                ),
                description="bad lines: nothing was imported",
            ),
            413: DetailOutput,
        },
        tags=["campaigns"],
    )
    def post(self, request, campaign_id: int):
        # Refuse an oversized upload before Django spools it to disk.
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.PROMPT_IMPORT_MAX_BYTES + MULTIPART_OVERHEAD:
            raise PayloadTooLargeError(f"the file is larger than the {settings.PROMPT_IMPORT_MAX_BYTES}-byte limit")
        campaign = _campaign_or_404(campaign_id)
        data = ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        file = data.validated_data["file"]
        if file.size > settings.PROMPT_IMPORT_SYNC_MAX_BYTES:
            job = import_job_create(campaign=campaign, file=file, created_by=request.user)
            location = f"/api/v1/campaigns/{campaign.pk}/prompts/imports/{job.pk}"
            return Response(ImportJobOutput(import_job_view(job)).data, status=status.HTTP_202_ACCEPTED,
                            headers={"Location": location})
        result = prompts_import(campaign=campaign, file=file)
        body = {"imported": result.imported, "duplicates": result.duplicates,
                "duplicates_count": result.duplicates_count, "tasks_created": result.tasks_created}
        return Response(ImportOutput(body).data, status=status.HTTP_201_CREATED)


class CampaignImportJobApi(APIView):
    """A background import: progress while it runs, then its report or its bad lines."""

    permission_classes = [IsCampaignAdmin]

    @extend_schema(responses={200: ImportJobOutput, 404: DetailOutput}, tags=["campaigns"])
    def get(self, request, campaign_id: int, job_id: int):
        campaign = _campaign_or_404(campaign_id)
        try:
            job = campaign_import_job(campaign=campaign, job_id=job_id)
        except Job.DoesNotExist:
            raise NotFound("No such import for this campaign.") from None
        return Response(ImportJobOutput(import_job_view(job)).data)
