"""The review queue (issue 10, item 6): tasks whose labels an admin should look at, labels side by side.

A task is in the queue when it has a label not yet decided on (``include_reviewed`` shows fully
decided ones too; a card always shows every label of the task, decided ones with their decision) and matches every filter given: one of its labels is by a labeler raised for ``signal``,
or is ``labeler_id``'s, and its per-task agreement (``selectors.consensus``) is at most
``max_agreement``. Lowest agreement first, so the most contested tasks come up first. Prompts and
completions are untrusted text: the API returns them as JSON strings, never as markup.
"""
from __future__ import annotations

from labeling.models import Campaign, LabelReview, Task
from labeling.selectors.consensus import records_consensus
from labeling.selectors.label_records import by_task, label_records
from labeling.selectors.signals import campaign_labeler_signals


def latest_reviews(assignment_ids: list[int]) -> dict[int, dict]:
    """assignment id → its latest decision ``{"decision", "reason", "signal", "reviewer", "at"}``."""
    latest: dict[int, dict] = {}
    rows = (LabelReview.objects.filter(assignment_id__in=assignment_ids).order_by("created_at", "id")
            .values_list("assignment_id", "decision", "reason", "signal", "reviewer__username", "created_at"))
    for assignment_id, decision, reason, signal, reviewer, at in rows:
        latest[assignment_id] = {"decision": decision, "reason": reason, "signal": signal, "reviewer": reviewer,
                                 "at": at.isoformat()}
    return latest


def _task_texts(task_ids: list[int]) -> dict[int, dict]:
    tasks = Task.objects.filter(pk__in=task_ids).select_related("prompt").prefetch_related("completions")
    return {t.pk: {"prompt": t.prompt.messages, "category": t.prompt.category,
                   "completions": {c.pk: c.text for c in t.completions.all()}} for t in tasks}


def review_queue(*, campaign: Campaign, signal: str | None = None, labeler_id: int | None = None,
                 max_agreement: float | None = None, include_reviewed: bool = False, limit: int = 20,
                 offset: int = 0) -> dict:
    """``{"count", "items": [{"task_id", "prompt", "category", "completions": [{"id", "text"}],
    "consensus", "agreement", "labels": [{"assignment_id", "labeler_id", "username", "ranking",
    "likert", "seconds_spent", "labeler_flags", "review"}]}]}`` for the filters (see the module)."""
    records = label_records(campaign_ids=[campaign.pk], include_rejected=True)
    flags = {e["labeler_id"]: e["flags"]
             for e in campaign_labeler_signals(campaign=campaign, n_boot=200)["labelers"]}
    reviews = latest_reviews([r.assignment_id for r in records])
    chosen = []
    for records_of_task in by_task(records).values():
        if not include_reviewed and all(r.assignment_id in reviews for r in records_of_task):
            continue
        if signal and not any(signal in flags.get(r.labeler_id, ()) for r in records_of_task):
            continue
        if labeler_id is not None and not any(r.labeler_id == labeler_id for r in records_of_task):
            continue
        # Consensus and agreement leave rejected labels out; the card still shows them, decided.
        kept = [r for r in records_of_task if (reviews.get(r.assignment_id) or {}).get("decision") != "reject"]
        summary = records_consensus(kept) if kept else {"task_id": records_of_task[0].task_id, "consensus": [],
                                                         "agreement": None}
        if max_agreement is not None and (summary["agreement"] is None or summary["agreement"] > max_agreement):
            continue
        chosen.append((summary, records_of_task))
    chosen.sort(key=lambda item: (item[0]["agreement"] if item[0]["agreement"] is not None else 2.0,
                                  item[0]["task_id"]))
    page = chosen[offset:offset + limit]
    texts = _task_texts([summary["task_id"] for summary, _ in page])
    items = []
    for summary, records_of_task in page:
        text = texts[summary["task_id"]]
        items.append({
            "task_id": summary["task_id"], "prompt": text["prompt"], "category": text["category"],
            "completions": [{"id": cid, "text": body} for cid, body in sorted(text["completions"].items())],
            "consensus": summary["consensus"], "agreement": summary["agreement"],
            "labels": [{"assignment_id": r.assignment_id, "labeler_id": r.labeler_id, "username": r.username,
                        "ranking": r.groups, "likert": {str(c): v for c, v in sorted(r.likert.items())},
                        "seconds_spent": r.seconds_spent, "labeler_flags": flags.get(r.labeler_id, []),
                        "review": reviews.get(r.assignment_id)} for r in records_of_task],
        })
    return {"count": len(chosen), "items": items}
