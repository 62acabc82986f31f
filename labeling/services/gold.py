"""Gold tasks: a task whose right answer an admin has written down, to measure labelers against.

Gold answers are set by campaign admins per task (``task_set_gold``; ``PUT /api/v1/tasks/{id}/gold``),
and a gold task is served like any other task: the queue does not prefer it, and labelers never see
``gold_answer``, so they cannot tell it is gold. ``Campaign.gold_fraction`` is not acted on yet:
making a share of new ranking tasks gold, and serving them preferentially, would need the queue.
``labeling.selectors.quality.labeler_gold_agreement`` reports how each labeler's rankings agree.

Stored shapes of ``Task.gold_answer``: ``{"ranking": [[3], [1, 4], [2]]}`` for a ranking task (a
partition of the task's completion ids, best group first, ties share a group; at least two groups,
so there is a pair to score), ``{"text": "..."}`` for a demonstration task (a reference answer,
kept for reviewers, not scored), or null (not gold).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.models import Task
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


def task_set_gold(*, task: Task, answer) -> Task:
    """Make ``task`` a gold task with ``answer`` (or an ordinary one again with ``answer=None``).

    ``answer``: for a ranking task, a partition of its completion ids (``[[3], [1, 4], [2]]``, or
    ``{"ranking": [...]}``), validated like a labeler's ranking and needing at least two groups; for
    a demonstration task, a reference text (or ``{"text": ...}``). Raises ValidationError otherwise.
    Writes only ``gold_answer`` (an UPDATE of that column), so the queue's counters on the same row
    are never overwritten by a stale copy. Returns the task with ``gold_answer`` set.
    """
    gold = None if answer is None else _clean_gold(task, answer)
    with transaction.atomic():
        if not Task.objects.filter(pk=task.pk).update(gold_answer=gold, updated_at=timezone.now()):
            raise Task.DoesNotExist(f"task {task.pk} does not exist")
    task.gold_answer = gold
    return task
