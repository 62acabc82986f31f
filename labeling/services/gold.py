"""Gold tasks: a task whose right answer an admin has written down, to measure labelers against.

Gold answers are set by campaign admins per task (``task_set_gold``; ``PUT /api/v1/tasks/{id}/gold``).
The queue serves gold tasks only at the campaign's ``gold_fraction`` (and, to a labeler still
qualifying, only them: ``labeling.services.qualification``), never twice to one labeler, and
labelers never see ``gold_answer``: the payload of a gold task looks like any other's. A gold task
is a yardstick, not work to finish: it takes ``GOLD_REQUIRED_LABELS`` labels, so it stays open for
every labeler, and campaign progress leaves it out. ``labeling.selectors.quality`` and
``labeling.selectors.agreement`` report how labelers agree with the gold.

Stored shapes of ``Task.gold_answer``: ``{"ranking": [[3], [1, 4], [2]]}`` for a ranking task (a
partition of the task's completion ids, best group first, ties share a group; at least two groups,
so there is a pair to score), ``{"text": "..."}`` for a demonstration task (a reference answer,
kept for reviewers, not scored), or null (not gold).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.models import Task
from labeling.services.dashboards import progress_tasks_changed
from labeling.services.validation import DEMONSTRATION_MAX_CHARS, NUL_MESSAGE, clean_ranking, has_nul


def _clean_gold(task: Task, answer) -> dict:
    if task.kind == Task.Kind.RANKING:
        groups = answer.get("ranking") if isinstance(answer, dict) and set(answer) == {"ranking"} else answer
        allowed = list(task.completions.values_list("id", flat=True))
        try:
            groups = clean_ranking({"ranking": groups}, task_completion_ids=allowed)["ranking"]
        except ValidationError as exc:
            raise ValidationError({"answer": exc.message_dict["ranking"]}) from None
        if len(groups) < 2:
            raise ValidationError({"answer": ["a gold ranking needs at least two groups: an all-tied answer has no "
                                              "pair to score"]})
        return {"ranking": groups}
    text = answer.get("text") if isinstance(answer, dict) and set(answer) == {"text"} else answer
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"answer": ["a demonstration task's gold answer is a non-empty reference text"]})
    if len(text) > DEMONSTRATION_MAX_CHARS:
        raise ValidationError({"answer": [f"at most {DEMONSTRATION_MAX_CHARS} characters"]})
    if has_nul(text):
        raise ValidationError({"answer": [f"the text {NUL_MESSAGE}"]})
    return {"text": text.strip()}


# Enough labels for every labeler (the column is a smallint; the CHECK on slots still holds).
GOLD_REQUIRED_LABELS = 30000


def _slot_fields(task: Task, gold) -> dict:
    """The slot columns of a task becoming gold (open to every labeler) or ordinary again (back to the
    campaign's overlap, never below what it already holds; done if it already has that many labels)."""
    if gold is not None:
        return {"required_labels": GOLD_REQUIRED_LABELS,
                "status": Case(When(status=Task.Status.DONE, then=Value(Task.Status.OPEN)), default=F("status"))}
    overlap = task.campaign.labels_per_task
    return {"required_labels": Greatest(F("submitted_count") + F("active_leases"), Value(overlap)),
            "status": Case(When(status=Task.Status.OPEN, submitted_count__gte=overlap, then=Value(Task.Status.DONE)),
                           default=F("status"))}


def task_set_gold(*, task: Task, answer) -> Task:
    """Make ``task`` a gold task with ``answer`` (or an ordinary one again with ``answer=None``).

    ``answer``: for a ranking task, a partition of its completion ids (``[[3], [1, 4], [2]]``, or
    ``{"ranking": [...]}``), validated like a labeler's ranking and needing at least two groups; for
    a demonstration task, a reference text (or ``{"text": ...}``). Raises ValidationError otherwise.
    Also sets the slots (``GOLD_REQUIRED_LABELS`` for gold, the campaign's overlap again otherwise)
    with expressions on the row itself, so the queue's counters are never overwritten by a stale
    copy. Returns the task with ``gold_answer`` set.
    """
    gold = None if answer is None else _clean_gold(task, answer)
    with transaction.atomic():
        was_gold = Task.objects.select_for_update(no_key=True).filter(pk=task.pk).values_list("gold_answer", flat=True).first() is not None
        changes = _slot_fields(task, gold) if was_gold != (gold is not None) else {}
        if not Task.objects.filter(pk=task.pk).update(gold_answer=gold, updated_at=timezone.now(), **changes):
            raise Task.DoesNotExist(f"task {task.pk} does not exist")
        if changes:  # the task leaves (or rejoins) the progress counts: a change the sweep's window cannot see
            transaction.on_commit(lambda: progress_tasks_changed(task_ids=[task.pk]))
    task.gold_answer = gold
    if changes:
        task.refresh_from_db(fields=["required_labels", "status"])
    return task
