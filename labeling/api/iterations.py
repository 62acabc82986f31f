"""Iteration endpoints: start one InstructGPT round, watch its stages, cancel, resume (researchers)."""
from __future__ import annotations

from django.core.validators import MinValueValidator
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.fields import FreeJSONObjectField
from labeling.api.pagination import paginated_schema
from labeling.api.permissions import IsResearcher
from labeling.api.research import STATUS_PARAM, _filters, _paginate
from labeling.models import Campaign, Iteration, ModelVersion
from labeling.selectors.iterations import iteration_detail, iteration_list
from labeling.services import iterations as services

DETAIL = inline_serializer("IterationError", fields={"detail": serializers.CharField()})


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class NameOrIdField(serializers.Field):
    """A registry object chosen by id (integer) or unique name (string)."""

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)) or data == "":
            raise serializers.ValidationError("give an id or a name")
        obj = self.model.objects.filter(**({"pk": data} if isinstance(data, int) else {"name": data})).first()
        if obj is None:
            raise serializers.ValidationError(f"no {self.model._meta.verbose_name} {data!r}")
        return obj

    def to_representation(self, value):
        return {"id": value.pk, "name": value.name}


class CampaignIdField(serializers.IntegerField):
    """A campaign chosen by id: the view gets the Campaign, a missing one is a 400 naming the field."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, **kwargs)  # min_value documents the schema; checked below
        # Validators run on the converted value, a Campaign, which a MinValueValidator cannot compare.
        self.validators = [v for v in self.validators if not isinstance(v, MinValueValidator)]

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        if pk < 1:
            raise serializers.ValidationError("ensure this value is greater than or equal to 1")
        campaign = Campaign.objects.filter(pk=pk).first()
        if campaign is None:
            raise serializers.ValidationError(f"no campaign {pk}")
        return campaign


class IterationInput(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,150}$", required=False,
                                  help_text="Letters, digits, '.', '_' or '-'; also names its snapshots and models.")
    source_campaign_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1,
                                                max_length=50)
    target_campaign_id = CampaignIdField(required=False, allow_null=True,
                                                  help_text="Where the new policy's samples become ranking tasks "
                                                            "(default: the first source campaign).")
    base_model = NameOrIdField(ModelVersion, help_text="The policy the round starts from (id or name).")
    method = serializers.ChoiceField(choices=Iteration.Method.choices, default=Iteration.Method.PPO)
    skip_sft = serializers.BooleanField(default=False, help_text="The base model (an sft or policy model) is this "
                                        "round's SFT model: no SFT stage is trained.")
    valid_fraction = serializers.FloatField(min_value=0.0, max_value=0.9, default=0.1)
    params = FreeJSONObjectField(required=False, default=dict,
                                 help_text='Per-stage params: {"sft": {"max_steps": 20}, "ppo": {...}}.')


class IterationOutput(serializers.ModelSerializer):
    base_model = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    source_campaigns = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Iteration
        fields = ["id", "name", "status", "method", "source_campaigns", "target_campaign", "base_model", "skip_sft",
                  "params", "valid_fraction", "error", "created_by", "created_at", "finished_at"]

    def get_base_model(self, obj) -> dict:
        return {"id": obj.base_model_id, "name": obj.base_model.name}

    def to_representation(self, obj):
        return {**super().to_representation(obj), **iteration_detail(obj)}


def _get(iteration_id: int) -> Iteration:
    iteration = iteration_list().filter(pk=iteration_id).first()
    if iteration is None:
        raise exceptions.NotFound("No such iteration.")
    return iteration


class IterationListCreateApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], parameters=[STATUS_PARAM], operation_id="iterations_list",
                   responses=paginated_schema(IterationOutput, "PaginatedIterationList"))
    def get(self, request):
        return _paginate(self, request, iteration_list(filters=_filters(request, "status")), IterationOutput)

    @extend_schema(tags=["research"], request=IterationInput, responses={201: IterationOutput},
                   operation_id="iterations_create")
    def post(self, request):
        """Start a round: export → SFT → reward → PPO-ptx/DPO → generate → evaluate, each stage a job."""
        data = IterationInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        iteration = services.iteration_create(
            source_campaign_ids=v["source_campaign_ids"], base_model=v["base_model"], method=v["method"],
            target_campaign=v.get("target_campaign_id"), name=v.get("name"), params=v["params"],
            valid_fraction=v["valid_fraction"], skip_sft=v["skip_sft"], created_by=request.user)
        return Response(IterationOutput(_get(iteration.pk)).data, status=status.HTTP_201_CREATED)


class IterationDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], responses={200: IterationOutput, 404: DETAIL}, operation_id="iterations_retrieve")
    def get(self, request, iteration_id: int):
        return Response(IterationOutput(_get(iteration_id)).data)


class IterationCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], request=None, operation_id="iterations_cancel",
                   responses={200: IterationOutput, 403: DETAIL, 404: DETAIL, 409: DETAIL})
    def post(self, request, iteration_id: int):
        """Cancel a running iteration and its live job (its creator or staff)."""
        services.iteration_cancel(iteration=_get(iteration_id), by=request.user)
        return Response(IterationOutput(_get(iteration_id)).data)


class IterationResumeApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], request=None, operation_id="iterations_resume",
                   responses={200: IterationOutput, 403: DETAIL, 404: DETAIL, 409: DETAIL})
    def post(self, request, iteration_id: int):
        """Resume a failed or cancelled iteration from the stage that stopped (its creator or staff)."""
        services.iteration_resume(iteration=_get(iteration_id), by=request.user)
        return Response(IterationOutput(_get(iteration_id)).data)


class IterationTriggerInput(serializers.Serializer):
    every_rankings = serializers.IntegerField(min_value=1, allow_null=True,
                                              help_text="Start the next iteration after this many new rankings "
                                                        "(null: never).")
    method = serializers.ChoiceField(choices=Iteration.Method.choices, default=Iteration.Method.PPO)
    base_model = NameOrIdField(ModelVersion, required=False, allow_null=True,
                               help_text="Used when no earlier iteration produced a policy (default: the "
                                         "campaign's sampling policy).")
    skip_sft = serializers.BooleanField(default=False, help_text="A round that starts from a fine-tuned model (a "
                                        "previous round's policy, an sft model) uses it as its SFT model.")
    params = FreeJSONObjectField(required=False, default=dict)


TRIGGER = inline_serializer("IterationTrigger", fields={"every_rankings": serializers.IntegerField(allow_null=True),
                                                      "template": serializers.DictField()})


def _campaign(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise exceptions.NotFound("No such campaign.")
    return campaign


class CampaignIterationTriggerApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(tags=["research"], operation_id="campaigns_iteration_trigger_get",
                   responses={200: TRIGGER, 404: DETAIL})
    def get(self, request, campaign_id: int):
        """The campaign's automatic iteration trigger."""
        campaign = _campaign(campaign_id)
        return Response({"every_rankings": campaign.iteration_every_rankings, "template": campaign.iteration_template})

    @extend_schema(tags=["research"], request=IterationTriggerInput, operation_id="campaigns_iteration_trigger",
                   responses={200: TRIGGER, 404: DETAIL})
    def put(self, request, campaign_id: int):
        """Set (or turn off) the campaign's automatic iteration trigger."""
        campaign = _campaign(campaign_id)
        data = IterationTriggerInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_iteration_trigger_set(campaign=campaign, **data.validated_data)
        return Response({"every_rankings": campaign.iteration_every_rankings, "template": campaign.iteration_template})
