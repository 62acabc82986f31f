"""Queue endpoints for labelers: next task, my assignment, submit, skip.

These are the hot path (the load benchmark drives them), so the views stay minimal: one service
or selector call each, payload dicts built by selectors without extra queries. The Output
serializers below document the responses (OpenAPI) but the views return the selectors' dicts
as they are: DRF's JSON renderer formats them identically, and skipping a nested serializer
pass saves about 1 ms of CPU per labeled item. tests/labeling/test_api_queue.py checks that
each payload renders exactly as its serializer would, so the two cannot drift apart.
"""

import math

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.errors import DetailOutput
from labeling.api.fields import FreeJSONField, StrictBooleanField, StrictCharField, StrictFloatField
from labeling.api.permissions import IsLabeler
from labeling.models import RATING_FLAGS, Assignment, Prompt, Task
from labeling.selectors.assignments import assignment_get_for_labeler, assignment_payload, submission_payload
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_skip, assignment_submit


class MessageOutput(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField()


class AssignmentOutput(serializers.Serializer):
    """The task a labeler works on; ``completions`` are in this assignment's display order."""

    assignment_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Assignment.Status.choices)
    expires_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    task = inline_serializer(
        "AssignmentTask",
        {
            "id": serializers.IntegerField(),
            "kind": serializers.ChoiceField(choices=Task.Kind.choices),
            "campaign": inline_serializer("AssignmentCampaign", {"id": serializers.IntegerField(), "name": serializers.CharField()}),
            "prompt": inline_serializer(
                "AssignmentPrompt",
                {
                    "id": serializers.IntegerField(),
                    "messages": MessageOutput(many=True),
                    "category": serializers.ChoiceField(choices=Prompt.Category.choices),
                },
            ),
            "completions": inline_serializer(
                "AssignmentCompletion", {"id": serializers.IntegerField(), "text": serializers.CharField()}, many=True
            ),
            "guidelines": serializers.CharField(),
            "flags": serializers.ListField(child=serializers.ChoiceField(choices=RATING_FLAGS)),
        },
    )


class RatingInput(serializers.Serializer):
    """Schema only: ratings are validated by ``services.validation`` so every error is a flat message."""

    completion = serializers.IntegerField()
    likert = serializers.IntegerField(min_value=1, max_value=7)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=RATING_FLAGS), required=False)
    note = serializers.CharField(required=False, allow_blank=True)


# Ranking and ratings are taken as raw JSON and checked by the service against the task's
# completions: its messages ("completion 17 is not part of this task") are the documented error
# format, whereas nested DRF fields would answer with index-keyed dicts.
@extend_schema_field(
    {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 1}, "minItems": 1}
)
class RankingField(FreeJSONField):
    pass


@extend_schema_field(RatingInput(many=True))
class RatingsField(FreeJSONField):
    pass


class RatingOutput(serializers.Serializer):
    completion = serializers.IntegerField()
    likert = serializers.IntegerField(min_value=1, max_value=7)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=RATING_FLAGS))
    note = serializers.CharField(allow_blank=True)


class SubmitInput(serializers.Serializer):
    """A demonstration sends ``text``; a ranking sends ``ranking`` (+ optional ``ratings``, ``none_acceptable``).
    Types are strict: ``"yes"`` is not a boolean, ``"5"`` not a number, ``5`` not a text."""

    text = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    ranking = RankingField(required=False, help_text="groups of completion ids, best first; ids in one group are tied")
    ratings = RatingsField(required=False, help_text="optional, at most one per completion")
    none_acceptable = StrictBooleanField(required=False)
    seconds_spent = StrictFloatField(required=False, allow_null=True, min_value=0)


class SubmissionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    assignment_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Task.Kind.choices)
    submitted_at = serializers.DateTimeField()
    seconds_spent = serializers.FloatField(allow_null=True)
    text = serializers.CharField(required=False, help_text="demonstrations only")
    ranking = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()), required=False)
    ratings = RatingOutput(many=True, required=False)
    none_acceptable = serializers.BooleanField(required=False)


class QueueNextInput(serializers.Serializer):
    campaign = serializers.IntegerField(required=False, allow_null=True, help_text="only this campaign")
    kind = serializers.ChoiceField(choices=Task.Kind.choices, required=False, allow_null=True,
                                   help_text="only tasks of this kind (a lease already held is returned whatever its kind)")


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _conflict(description: str):
    return OpenApiResponse(DetailOutput, description=description)


def _validated(serializer_class, data, fast) -> dict:
    """``serializer_class``'s validated data for ``data``.

    Why the ``fast`` shortcut: a DRF serializer deep-copies its declared fields on every
    instantiation, a noticeable share of the queue endpoints' CPU. ``fast(data)`` accepts only
    bodies whose every known field already has the exact type the serializer would produce and
    returns what the serializer would return for them (unknown keys are ignored, as DRF does);
    it answers ``None`` for anything else, which then goes through the serializer, so every 400
    keeps DRF's messages.
    """
    if type(data) is dict and (clean := fast(data)) is not None:
        return clean
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _is_int(value) -> bool:
    return type(value) is int  # not bool, not "3": those take the serializer's path


def _fast_next(data: dict) -> dict | None:
    out = {}
    if "campaign" in data:
        if not (data["campaign"] is None or _is_int(data["campaign"])):
            return None
        out["campaign"] = data["campaign"]
    if "kind" in data:
        if not (data["kind"] is None or (type(data["kind"]) is str and data["kind"] in Task.Kind.values)):
            return None
        out["kind"] = data["kind"]
    return out


def _fast_submit(data: dict) -> dict | None:
    if "text" in data:  # CharField has more rules (NUL, surrogates): leave demonstrations to DRF
        return None
    out = {k: data[k] for k in ("ranking", "ratings") if k in data}
    if any(v is None for v in out.values()):  # JSONField refuses null with its own message
        return None
    if "none_acceptable" in data:
        if type(data["none_acceptable"]) is not bool:
            return None
        out["none_acceptable"] = data["none_acceptable"]
    if "seconds_spent" in data:
        seconds = data["seconds_spent"]
        if seconds is not None:
            if type(seconds) is int:
                ok = 0 <= seconds < 2**53  # float() of a huge int: the serializer's overflow message
            else:
                ok = type(seconds) is float and math.isfinite(seconds) and seconds >= 0
            if not ok:
                return None
            seconds = float(seconds)
        out["seconds_spent"] = seconds
    return out


class QueueNextApi(APIView):
    """Lease the next task (or get back the one already held in that campaign); 204 when none is left."""

    permission_classes = [IsLabeler]

    @extend_schema(request=QueueNextInput, responses={200: AssignmentOutput, 204: None}, tags=["queue"])
    def post(self, request):
        data = _validated(QueueNextInput, request.data, _fast_next)
        assignment = assignment_next(labeler=request.user, campaign_id=data.get("campaign"), kind=data.get("kind"))
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(assignment_payload(assignment=assignment))


class AssignmentDetailApi(APIView):
    """One of my assignments, in the same shape as ``next`` (404 for someone else's)."""

    permission_classes = [IsLabeler]

    @extend_schema(responses={200: AssignmentOutput}, tags=["queue"])
    def get(self, request, assignment_id: int):
        assignment = assignment_get_for_labeler(assignment_id=assignment_id, labeler=request.user)
        return Response(assignment_payload(assignment=assignment))


class AssignmentSubmitApi(APIView):
    """Submit my answer. 201 the first time, 200 for an identical retry, 409 for a different body
    or a lease whose slot was retaken, 400 for an invalid body."""

    permission_classes = [IsLabeler]

    @extend_schema(
        request=SubmitInput,
        responses={201: SubmissionOutput, 200: SubmissionOutput, 409: _conflict("already submitted differently, skipped, or the slot was retaken")},
        tags=["queue"],
    )
    def post(self, request, assignment_id: int):
        body = dict(_validated(SubmitInput, request.data, _fast_submit))
        seconds = body.pop("seconds_spent", None)
        result = assignment_submit(assignment_id=assignment_id, labeler=request.user, data=body, seconds_spent=seconds)
        payload = submission_payload(assignment=result.assignment, record=result.record)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(payload, status=code)


class AssignmentSkipApi(APIView):
    """Give a task back with a reason; it is never offered to me again. 409 if already submitted."""

    permission_classes = [IsLabeler]

    @extend_schema(
        request=SkipInput,
        responses={
            200: inline_serializer("SkipOutput", {"id": serializers.IntegerField(), "status": serializers.CharField()}),
            409: _conflict("already submitted"),
        },
        tags=["queue"],
    )
    def post(self, request, assignment_id: int):
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = assignment_skip(
            assignment_id=assignment_id, labeler=request.user, reason=data.validated_data.get("reason", "")
        )
        return Response({"id": assignment.pk, "status": assignment.status})
