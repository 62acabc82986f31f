"""Campaign lifecycle: create, update, activate, pause, archive, delete.

Status machine: draft → active ⇄ paused; any → archived (terminal, read-only). Only active
campaigns feed the queue; submissions on leases already handed out are accepted in any status
(nothing a labeler did is thrown away).
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import Assignment, Campaign, ModelVersion, Task
from labeling.services.errors import Conflict
from labeling.services.json_input import validate_free_json

EDITABLE_FIELDS = (
    "name", "guidelines", "task_kinds", "completions_per_prompt", "labels_per_task", "gold_fraction",
    "lease_seconds", "priority", "sampling_policy", "generation_settings",
)
MAX_LEASE_SECONDS = 7 * 24 * 3600
Status = Campaign.Status


def _validate(campaign: Campaign) -> None:
    """Field validators + constraints (``full_clean``) plus the rules a model field cannot say."""
    errors: dict[str, list[str]] = {}
    try:
        campaign.full_clean(exclude=["task_kinds", "generation_settings"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    kinds = campaign.task_kinds
    if not isinstance(kinds, list) or not kinds or any(k not in Task.Kind.values for k in kinds):
        errors["task_kinds"] = [f"a non-empty subset of {list(Task.Kind.values)}"]
    elif len(set(kinds)) != len(kinds):
        errors["task_kinds"] = ["a kind is listed twice"]
    if not isinstance(campaign.generation_settings, dict):
        errors["generation_settings"] = ["must be an object"]
    else:
        try:
            validate_free_json(campaign.generation_settings, where="generation_settings")
        except ValidationError as exc:
            errors["generation_settings"] = exc.messages
    if campaign.lease_seconds and campaign.lease_seconds > MAX_LEASE_SECONDS:
        errors["lease_seconds"] = [f"at most {MAX_LEASE_SECONDS} (7 days)"]
    policy = campaign.sampling_policy
    if policy is not None and policy.kind == ModelVersion.Kind.REWARD:
        errors["sampling_policy"] = ["a reward model cannot generate outputs; pick a base, SFT or policy model"]
    if errors:
        raise ValidationError(errors)


def campaign_create(
    *,
    name: str,
    created_by=None,
    guidelines: str = "",
    task_kinds: Sequence[str] = (Task.Kind.DEMONSTRATION, Task.Kind.RANKING),
    completions_per_prompt: int = 4,
    labels_per_task: int = 1,
    gold_fraction: float = 0.0,
    lease_seconds: int = 1800,
    priority: int = 0,
    sampling_policy: ModelVersion | None = None,
    generation_settings: dict | None = None,
) -> Campaign:
    """Create a campaign in ``draft`` status (activate it with :func:`campaign_activate`).

    Validated: unique non-blank name, task_kinds a non-empty subset of demonstration/ranking,
    K (``completions_per_prompt``) 2-9, overlap (``labels_per_task``) 1-20, gold fraction 0-1,
    lease 30 s to 7 days, the sampling policy not a reward model. Raises ``ValidationError``.
    """
    campaign = Campaign(
        name=name, created_by=created_by, guidelines=guidelines, task_kinds=list(task_kinds),
        completions_per_prompt=completions_per_prompt, labels_per_task=labels_per_task,
        gold_fraction=gold_fraction, lease_seconds=lease_seconds, priority=priority,
        sampling_policy=sampling_policy, generation_settings=generation_settings or {},
    )
    _validate(campaign)
    campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, data: dict) -> Campaign:
    """Change editable fields (``EDITABLE_FIELDS``; status has its own services).

    Rules: an archived campaign is read-only (``Conflict``); K cannot change once ranking tasks
    exist; a new ``labels_per_task`` applies to tasks created afterwards; a new ``priority`` is
    also copied onto the campaign's still-open tasks so the queue honours it at once.
    Preconditions: ``campaign`` is a saved instance; ``data`` keys are field names. Returns the updated
    campaign, re-read under a row lock (use it rather than the instance passed in).
    """
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({k: ["this field cannot be changed here"] for k in unknown})
    with transaction.atomic():
        # Re-read under a row lock: a pause/archive committed meanwhile must not be written back over.
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status == Status.ARCHIVED:
            raise Conflict("an archived campaign cannot be edited")
        old_k, old_priority = locked.completions_per_prompt, locked.priority
        for key, value in data.items():
            setattr(locked, key, list(value) if key == "task_kinds" else value)
        if locked.completions_per_prompt != old_k and locked.tasks.filter(kind=Task.Kind.RANKING).exists():
            raise ValidationError({"completions_per_prompt": ["cannot change once ranking tasks exist"]})
        _validate(locked)
        locked.save(update_fields=[*data, "updated_at"])
        if locked.priority != old_priority:
            locked.tasks.filter(status=Task.Status.OPEN).update(priority=locked.priority)
    return locked


def _transition(campaign: Campaign, *, to: str, allowed_from: Sequence[str], refusal: str) -> Campaign:
    """Move ``campaign`` to status ``to`` (a no-op if it is there already), checking the rule on the
    row as it is now, under a row lock: two transitions at once (archive and activate) are applied
    one after the other, and the second sees the first's result (an archived campaign can never be
    made active again). ``refusal`` (formatted with ``status``) is the ``Conflict`` message.
    Returns the locked, re-read campaign; the instance passed in gets its new status too."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != to:
            if locked.status not in allowed_from:
                raise Conflict(refusal.format(status=locked.status))
            locked.status = to
            locked.save(update_fields=["status", "updated_at"])
    campaign.status, campaign.updated_at = locked.status, locked.updated_at
    return locked


def campaign_activate(*, campaign: Campaign) -> Campaign:
    """draft/paused → active (idempotent on an active one); ``Conflict`` if archived."""
    return _transition(campaign, to=Status.ACTIVE, allowed_from=(Status.DRAFT, Status.PAUSED),
                       refusal="an archived campaign cannot be activated")


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """active → paused (idempotent on a paused one): the queue stops serving it; leases already
    handed out can still be submitted. ``Conflict`` from draft or archived."""
    return _transition(campaign, to=Status.PAUSED, allowed_from=(Status.ACTIVE,),
                       refusal="only an active campaign can be paused (this one is {status})")


def campaign_archive(*, campaign: Campaign) -> Campaign:
    """any → archived (terminal, idempotent). Its data stays for exports; nothing more is served."""
    return _transition(campaign, to=Status.ARCHIVED, allowed_from=Status.values, refusal="")


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign and its prompts/tasks. Precondition: no assignment was ever made in it,
    whatever its status (labels are never destroyed): otherwise ``Conflict`` — archive it instead.
    Who may delete is the API's decision (``labeling.api.permissions.CanDeleteCampaign``)."""
    with transaction.atomic():
        # FOR UPDATE conflicts with the KEY SHARE lock a new assignment's foreign key check takes
        # on this row: no lease can be handed out between the count and the delete.
        Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").first()
        count = Assignment.objects.filter(campaign=campaign).count()
        if count:
            raise Conflict(f"campaign has {count} assignments; archive it instead of deleting it")
        campaign.delete()
