"""The task payload a labeler sees (docs/api.md, ``POST /queue/next``)."""

from django.db.models import Prefetch

from labeling.models import RATING_FLAGS, Assignment, Completion, Demonstration, Ranking, Task


def assignment_get_for_labeler(*, assignment_id: int, labeler) -> Assignment:
    """The labeler's own assignment with everything the payload needs (3 queries).
    Raises ``Assignment.DoesNotExist`` for a missing id or someone else's."""
    return (
        Assignment.objects.select_related("task__prompt", "task__campaign")
        .prefetch_related(Prefetch("task__completions", queryset=Completion.objects.only("id", "text", "prompt_id")))
        .get(pk=assignment_id, labeler=labeler)
    )


def assignment_payload(*, assignment: Assignment) -> dict:
    """The documented shape, completions in this assignment's stored display order.

    Precondition: ``task``, ``task.prompt``, ``task.campaign`` and the task's completions are
    loaded (``assignment_next`` and ``assignment_get_for_labeler`` do it), so this runs no query.
    """
    task = assignment.task
    campaign = task.campaign
    texts = {c.pk: c.text for c in task.completions.all()}
    return {
        "assignment_id": assignment.pk,
        "status": assignment.status,
        "expires_at": assignment.expires_at,
        "started_at": assignment.created_at,
        "task": {
            "id": task.pk,
            "kind": task.kind,
            "campaign": {"id": campaign.pk, "name": campaign.name},
            "prompt": {"id": task.prompt.pk, "messages": task.prompt.messages, "category": task.prompt.category},
            "completions": [{"id": cid, "text": texts[cid]} for cid in assignment.display_order if cid in texts],
            "guidelines": campaign.guidelines,
            "flags": list(RATING_FLAGS),
        },
    }


def submission_payload(*, assignment: Assignment, record: Demonstration | Ranking) -> dict:
    """``{id, assignment_id, kind, submitted_at, seconds_spent, ...stored body}`` for a submit response.

    Precondition: for a ranking, ``record.rating_list`` is set (the submit service does it).
    """
    base = {
        "id": record.pk,
        "assignment_id": assignment.pk,
        "kind": assignment.task.kind,
        "submitted_at": assignment.submitted_at,
        "seconds_spent": assignment.seconds_spent,
    }
    if assignment.task.kind == Task.Kind.DEMONSTRATION:
        return {**base, "text": record.text}
    ratings = [
        {"completion": r.completion_id, "likert": r.likert, "flags": r.flags, "note": r.note} for r in record.rating_list
    ]
    return {**base, "ranking": record.groups, "ratings": ratings, "none_acceptable": record.none_acceptable}
