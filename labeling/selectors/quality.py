"""Label quality: how each labeler's answers agree with a campaign's gold tasks (``labeling.services.gold``).

Rankings are scored pair by pair: every pair of completions the gold answer orders (ties in the gold
give no pair) counts as agreeing when the labeler put the gold winner in a strictly better group.
A labeler's ``agreement`` is agreeing pairs / gold pairs over all the gold rankings they submitted
(each pair weighs the same, so a K=9 task counts more than a K=2 one). Demonstrations on gold tasks
are counted but not scored: free text has no pairwise truth.
"""

from itertools import combinations

from labeling.models import Assignment, Campaign, Task


def gold_pairs(groups: list[list[int]]) -> list[tuple[int, int]]:
    """The (better, worse) completion pairs a ranking orders, e.g. ``[[3], [1, 4]]`` → (3, 1), (3, 4)."""
    return [(w, l) for hi, lo in combinations(range(len(groups)), 2) for w in groups[hi] for l in groups[lo]]


def ranking_agreement(gold: list[list[int]], answer: list[list[int]]) -> tuple[int, int]:
    """(agreeing pairs, gold pairs): how many pairs of the gold ranking ``answer`` orders the same way.

    A tie in ``answer`` where the gold has an order, or the reverse order, does not agree. Pairs with
    a completion missing from ``answer`` are left out of both counts.
    """
    rank = {cid: i for i, group in enumerate(answer or []) for cid in group}
    agreeing = total = 0
    for w, l in gold_pairs(gold):
        if w in rank and l in rank:
            total += 1
            agreeing += rank[w] < rank[l]
    return agreeing, total


def gold_groups(answer) -> list[list[int]] | None:
    """The groups of a stored gold ranking: ``{"ranking": groups}`` (what task_set_gold writes) or a bare
    list (typed into the Django admin); None if it is neither."""
    groups = answer.get("ranking") if isinstance(answer, dict) else answer
    if isinstance(groups, list) and all(isinstance(g, list) for g in groups):
        return groups
    return None


def labeler_gold_agreement(*, campaign: Campaign) -> dict:
    """Per labeler, how their submitted answers on ``campaign``'s gold tasks agree with the gold.

    Returns ``{"campaign": id, "gold_fraction", "gold_tasks": {"ranking": n, "demonstration": m},
    "labelers": [{"labeler_id", "username", "gold_labelled", "gold_rankings", "pairs", "agreeing_pairs",
    "agreement"}]}``; ``agreement`` is null without a scored pair. Labelers are listed worst agreement
    first (unscored last), then by username. Two queries, whatever the campaign's size.
    """
    gold, kinds = {}, {}
    for task_id, kind, answer in Task.objects.filter(campaign=campaign, gold_answer__isnull=False).values_list(
            "id", "kind", "gold_answer"):
        gold[task_id], kinds[task_id] = answer, kind
    counts = {"ranking": 0, "demonstration": 0}
    for kind in kinds.values():
        counts[kind] += 1
    rows = (
        Assignment.objects.filter(campaign=campaign, status=Assignment.Status.SUBMITTED, task__gold_answer__isnull=False)
        .values_list("labeler_id", "labeler__username", "task_id", "ranking__groups")
        .order_by("labeler_id", "task_id")
    ) if gold else []
    per: dict[int, dict] = {}
    for labeler_id, username, task_id, groups in rows:
        answer = gold.get(task_id)
        if answer is None:  # made gold between the two queries
            continue
        entry = per.setdefault(labeler_id, {
            "labeler_id": labeler_id, "username": username, "gold_labelled": 0, "gold_rankings": 0, "pairs": 0,
            "agreeing_pairs": 0, "agreement": None,
        })
        entry["gold_labelled"] += 1
        expected = gold_groups(answer) if kinds[task_id] == Task.Kind.RANKING else None
        if expected is not None and groups is not None:
            agreeing, total = ranking_agreement(expected, groups)
            entry["gold_rankings"] += 1
            entry["pairs"] += total
            entry["agreeing_pairs"] += agreeing
    for entry in per.values():
        if entry["pairs"]:
            entry["agreement"] = entry["agreeing_pairs"] / entry["pairs"]
    labelers = sorted(per.values(), key=lambda e: (e["agreement"] is None, e["agreement"] or 0.0, e["username"]))
    return {"campaign": campaign.pk, "gold_fraction": campaign.gold_fraction, "gold_tasks": counts,
            "labelers": labelers}
