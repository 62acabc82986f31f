"""Campaign endpoints: CRUD, lifecycle, progress, prompt list (prompt import: ``labeling.api.imports``).

Read: any role. Write: campaign admins and staff (CampaignReadAnyRoleWriteAdmin / IsCampaignAdmin).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.errors import DetailOutput
from labeling.api.fields import FreeJSONObjectField
from labeling.api.pagination import paginated_response, paginated_schema
from labeling.api.permissions import CampaignReadAnyRoleWriteAdmin, CanDeleteCampaign, HasAnyRole, IsCampaignAdmin
from labeling.models import Campaign, ModelVersion, Prompt, Task
from labeling.selectors.campaigns import campaign_list, campaign_progress, campaign_prompts
from labeling.services.dashboards import progress_is_current, progress_refresh
from labeling.services import campaigns as campaign_services


class CampaignOutput(serializers.ModelSerializer):
    task_kinds = serializers.ListField(child=serializers.ChoiceField(choices=Task.Kind.choices))
    generation_settings = serializers.DictField()

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "guidelines", "status", "task_kinds", "completions_per_prompt", "labels_per_task",
            "gold_fraction", "lease_seconds", "priority", "sampling_policy", "generation_settings",
            "created_at", "updated_at",
        ]


class CampaignInput(serializers.Serializer):
    """Types only: ranges and cross-field rules are checked by ``services.campaigns`` (one place)."""

    name = serializers.CharField(max_length=200)
    guidelines = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    task_kinds = serializers.ListField(child=serializers.ChoiceField(choices=Task.Kind.choices), required=False)
    completions_per_prompt = serializers.IntegerField(required=False, help_text="K, 2-9")
    labels_per_task = serializers.IntegerField(required=False, help_text="overlap, 1-20 (applies to new tasks)")
    gold_fraction = serializers.FloatField(required=False, help_text="0-1")
    lease_seconds = serializers.IntegerField(required=False, help_text="30 s to 7 days")
    priority = serializers.IntegerField(required=False, help_text="higher is served first")
    sampling_policy = serializers.PrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(), required=False, allow_null=True
    )
    generation_settings = FreeJSONObjectField(required=False, help_text="sampling settings, e.g. {\"temperature\": 0.7}")


def _campaign_or_404(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign, pk=campaign_id)


class CampaignListCreateApi(APIView):
    permission_classes = [CampaignReadAnyRoleWriteAdmin]

    @extend_schema(
        parameters=[OpenApiParameter("status", enum=Campaign.Status.values, required=False)],
        responses={200: paginated_schema(CampaignOutput, "PaginatedCampaignList")},
        operation_id="campaigns_list",
        tags=["campaigns"],
    )
    def get(self, request):
        qs = campaign_list(filters=request.query_params)
        return paginated_response(serializer_class=CampaignOutput, queryset=qs, request=request, view=self)

    @extend_schema(request=CampaignInput, responses={201: CampaignOutput}, tags=["campaigns"])
    def post(self, request):
        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = campaign_services.campaign_create(created_by=request.user, **data.validated_data)
        return Response(CampaignOutput(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    permission_classes = [CampaignReadAnyRoleWriteAdmin, CanDeleteCampaign]

    @extend_schema(responses={200: CampaignOutput}, tags=["campaigns"])
    def get(self, request, campaign_id: int):
        return Response(CampaignOutput(_campaign_or_404(campaign_id)).data)

    @extend_schema(request=CampaignInput(partial=True), responses={200: CampaignOutput}, tags=["campaigns"])
    def patch(self, request, campaign_id: int):
        campaign = _campaign_or_404(campaign_id)
        data = CampaignInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        campaign = campaign_services.campaign_update(campaign=campaign, data=dict(data.validated_data))
        return Response(CampaignOutput(campaign).data)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(DetailOutput, description="only its creator or staff may delete it"),
            409: OpenApiResponse(DetailOutput, description="it ever had assignments: archive it"),
        },
        tags=["campaigns"],
    )
    def delete(self, request, campaign_id: int):
        campaign = _campaign_or_404(campaign_id)
        self.check_object_permissions(request, campaign)
        campaign_services.campaign_delete(campaign=campaign)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _status_view(service, doc: str):
    class StatusApi(APIView):
        __doc__ = doc
        permission_classes = [IsCampaignAdmin]

        @extend_schema(request=None, responses={200: CampaignOutput, 409: DetailOutput}, tags=["campaigns"])
        def post(self, request, campaign_id: int):
            return Response(CampaignOutput(service(campaign=_campaign_or_404(campaign_id))).data)

    StatusApi.__name__ = StatusApi.__qualname__ = f"Campaign{service.__name__.split('_')[-1].title()}Api"
    return StatusApi


CampaignActivateApi = _status_view(campaign_services.campaign_activate, "draft/paused → active.")
CampaignPauseApi = _status_view(campaign_services.campaign_pause, "active → paused.")
CampaignArchiveApi = _status_view(campaign_services.campaign_archive, "any → archived (read-only, terminal).")


class KindProgressOutput(serializers.Serializer):
    tasks_total = serializers.IntegerField()
    tasks_done = serializers.IntegerField()
    labels_required = serializers.IntegerField()
    labels_submitted = serializers.IntegerField()


class ProgressOutput(KindProgressOutput):
    active_leases = serializers.IntegerField()
    active_labelers_24h = serializers.IntegerField()
    labels_per_day = inline_serializer(
        "LabelsPerDay", {"date": serializers.DateField(), "count": serializers.IntegerField()}, many=True
    )
    by_kind = serializers.DictField(
        child=KindProgressOutput(), help_text='keyed by task kind: {"demonstration": {...}, "ranking": {...}}'
    )
    as_of = serializers.DateTimeField(allow_null=True, help_text="when the counts were last swept (active_leases is live)")


class CampaignProgressApi(APIView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: ProgressOutput}, tags=["campaigns"])
    def get(self, request, campaign_id: int):
        campaign = _campaign_or_404(campaign_id)
        if not progress_is_current():
            progress_refresh()  # beat is behind (or absent): one incremental sweep, then read
        return Response(ProgressOutput(campaign_progress(campaign=campaign)).data)


class PromptOutput(serializers.ModelSerializer):
    messages = serializers.ListField(child=serializers.DictField())
    metadata = serializers.DictField()
    completions_count = serializers.IntegerField()

    class Meta:
        model = Prompt
        fields = ["id", "messages", "author_id", "source_id", "category", "content_hash", "metadata",
                  "completions_count", "created_at"]


class CampaignPromptListApi(APIView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: paginated_schema(PromptOutput, "PaginatedPromptList")}, tags=["campaigns"])
    def get(self, request, campaign_id: int):
        qs = campaign_prompts(campaign=_campaign_or_404(campaign_id))
        return paginated_response(serializer_class=PromptOutput, queryset=qs, request=request, view=self)
