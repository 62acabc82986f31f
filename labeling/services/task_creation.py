"""Task creation: one demonstration task per prompt, and ranking tasks over 2-9 completions.

A task copies ``labels_per_task`` and ``priority`` from its campaign when it is created; later
campaign edits change new tasks (and, for priority, the still-open ones: see campaigns.campaign_update).
"""

from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import Campaign, Completion, ModelVersion, Prompt, Task
from labeling.services.validation import NUL_MESSAGE, has_nul

MIN_RANKED, MAX_RANKED = 2, 9

TaskCompletion = Task.completions.through


def _new_task(campaign: Campaign, prompt: Prompt, kind: str, *, priority=None, required_labels=None) -> Task:
    return Task(
        campaign=campaign,
        prompt=prompt,
        kind=kind,
        required_labels=required_labels or campaign.labels_per_task,
        priority=campaign.priority if priority is None else priority,
    )


def _link_completions(pairs: Sequence[tuple[Task, Sequence[Completion]]]) -> None:
    TaskCompletion.objects.bulk_create(
        [TaskCompletion(task_id=task.pk, completion_id=c.pk) for task, completions in pairs for c in completions],
        batch_size=2000,
    )


def tasks_create_for_prompts(
    *, campaign: Campaign, prompts: Sequence[Prompt], completions_by_prompt: Mapping[int, Sequence[Completion]]
) -> list[Task]:
    """Bulk-create the campaign's tasks for freshly created prompts.

    One demonstration task per prompt if the campaign does demonstrations; one ranking task per
    prompt with at least 2 completions if it does rankings. Preconditions: the prompts belong to
    ``campaign`` and have no tasks yet; ``completions_by_prompt`` maps prompt id → its completions.
    """
    kinds = set(campaign.task_kinds)
    planned: list[tuple[Task, Sequence[Completion]]] = []
    for prompt in prompts:
        if Task.Kind.DEMONSTRATION in kinds:
            planned.append((_new_task(campaign, prompt, Task.Kind.DEMONSTRATION), ()))
        completions = completions_by_prompt.get(prompt.pk, ())
        if Task.Kind.RANKING in kinds and len(completions) >= MIN_RANKED:
            planned.append((_new_task(campaign, prompt, Task.Kind.RANKING), completions[:MAX_RANKED]))
    with transaction.atomic():
        tasks = Task.objects.bulk_create([t for t, _ in planned], batch_size=1000)
        _link_completions([(t, cs) for t, (_, cs) in zip(tasks, planned) if cs])
    return tasks


def _check_rankable(campaign: Campaign, prompt: Prompt, completions: Sequence[Completion]) -> None:
    errors = []
    if campaign.status == Campaign.Status.ARCHIVED:
        errors.append("the campaign is archived")
    if Task.Kind.RANKING not in campaign.task_kinds:
        errors.append("the campaign does not do ranking tasks")
    if not MIN_RANKED <= len(completions) <= MAX_RANKED:
        errors.append(f"a ranking task needs {MIN_RANKED} to {MAX_RANKED} completions, got {len(completions)}")
    if len({c.pk for c in completions}) != len(completions):
        errors.append("the same completion is listed twice")
    if any(c.prompt_id != prompt.pk for c in completions):
        errors.append("every completion must belong to the prompt")
    if errors:
        raise ValidationError({"completions": errors})


def task_create_ranking(
    *, prompt: Prompt, completions: Sequence[Completion], priority: int | None = None, required_labels: int | None = None
) -> Task:
    """Create one ranking task over ``completions`` of ``prompt`` (e.g. when a new policy's outputs
    come back). Preconditions: 2-9 distinct saved completions of this prompt; the prompt's campaign
    does rankings and is not archived. ``priority``/``required_labels`` default to the campaign's.
    """
    campaign = prompt.campaign
    _check_rankable(campaign, prompt, completions)
    with transaction.atomic():
        task = _new_task(campaign, prompt, Task.Kind.RANKING, priority=priority, required_labels=required_labels)
        task.save()
        _link_completions([(task, completions)])
    return task


def task_create_demonstration(*, prompt: Prompt, priority: int | None = None) -> Task:
    """Create the prompt's demonstration task. Precondition: it has none yet (one per prompt)."""
    if Task.objects.filter(prompt=prompt, kind=Task.Kind.DEMONSTRATION).exists():
        raise ValidationError({"prompt": ["this prompt already has a demonstration task"]})
    task = _new_task(prompt.campaign, prompt, Task.Kind.DEMONSTRATION, priority=priority)
    task.save()
    return task


def ranking_tasks_create_from_outputs(
    *,
    campaign: Campaign,
    outputs: Mapping[int, Sequence[str]],
    model_version: ModelVersion | None = None,
    generation_settings: dict | None = None,
    priority: int | None = None,
) -> list[Task]:
    """Bulk path for a policy's sampled outputs: ``outputs`` maps prompt id → 2-9 texts.

    Creates the completions (tagged with ``model_version``) and one ranking task per prompt, in one
    transaction. Preconditions: every prompt id belongs to ``campaign``; the campaign does rankings.
    """
    prompts = Prompt.objects.in_bulk(list(outputs))
    bad = sorted(set(outputs) - {pid for pid, p in prompts.items() if p.campaign_id == campaign.pk})
    if bad:
        raise ValidationError({"outputs": [f"prompt {pid} is not in campaign {campaign.pk}" for pid in bad[:20]]})
    for pid, texts in outputs.items():
        if not MIN_RANKED <= len(texts) <= MAX_RANKED or any(not t or not t.strip() for t in texts):
            raise ValidationError({"outputs": [f"prompt {pid}: need 2 to 9 non-empty texts"]})
        if has_nul(texts):
            raise ValidationError({"outputs": [f"prompt {pid}: a text {NUL_MESSAGE}"]})
    if Task.Kind.RANKING not in campaign.task_kinds or campaign.status == Campaign.Status.ARCHIVED:
        raise ValidationError({"campaign": ["the campaign must do rankings and not be archived"]})
    with transaction.atomic():
        completions = Completion.objects.bulk_create(
            [
                Completion(prompt_id=pid, text=t, model_version=model_version, generation_settings=generation_settings or {})
                for pid, texts in outputs.items()
                for t in texts
            ],
            batch_size=1000,
        )
        by_prompt: dict[int, list[Completion]] = {}
        for c in completions:
            by_prompt.setdefault(c.prompt_id, []).append(c)
        planned = [
            (_new_task(campaign, prompts[pid], Task.Kind.RANKING, priority=priority), cs) for pid, cs in by_prompt.items()
        ]
        tasks = Task.objects.bulk_create([t for t, _ in planned], batch_size=1000)
        _link_completions([(t, cs) for t, (_, cs) in zip(tasks, planned)])
    return tasks


def tasks_interleave_kinds(*, campaign: Campaign) -> int:
    """Re-prioritise ``campaign``'s open tasks so that the queue alternates kinds: a ranking, a
    demonstration, a ranking, … (each kind keeps its own oldest-first order). Returns the number
    of tasks whose priority changed.

    Why: tasks are created kind by kind (every prompt's demonstration task on import, ranking tasks
    when a model's outputs arrive), so with equal priorities a labeler writes every demonstration
    before seeing a single ranking. Priorities go down from the campaign's own, never above it, so
    other campaigns keep their place. A later change of the campaign's priority sets every open
    task back to that one priority (``campaigns.campaign_update``).
    """
    kinds = (Task.Kind.RANKING, Task.Kind.DEMONSTRATION)  # within a pair, the ranking first
    with transaction.atomic():
        open_tasks = list(campaign.tasks.select_for_update().filter(status=Task.Status.OPEN).order_by("id")
                          .only("id", "kind", "priority"))
        changed = []
        for offset, kind in enumerate(kinds):
            for i, task in enumerate(t for t in open_tasks if t.kind == kind):
                priority = campaign.priority - (len(kinds) * i + offset)
                if task.priority != priority:
                    task.priority = priority
                    changed.append(task)
        Task.objects.bulk_update(changed, ["priority"], batch_size=1000)
    return len(changed)
