"""Human evaluation reads: the comparisons labelers made, their statistics, and the leaderboard.

Statistics and their conventions (ties count half; Wilson intervals; Bradley–Terry with a bootstrap over
prompts) live in ``labeling.selectors.evaluation_stats``; this module turns stored rankings into its
arrays and its numbers into JSON-able rows.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from labeling.models import Assignment, Evaluation, ModelVersion, Ranking, Task
from labeling.selectors import evaluation_stats as stats

CONFIDENCE = 0.95
RESAMPLES = 1000
TIES_RULE = ("A tie (both answers in one group) counts as half a win for each side, in win rates and in the "
             "Bradley–Terry fit. Intervals: Wilson score (win rates), percentile bootstrap over prompts (BT).")
# Evaluations whose comparisons count: a failed one may still hold labels, but its tasks were never made.
COUNTED = (Evaluation.Status.LABELING,)


@dataclass(frozen=True)
class Comparison:
    """One labeler's verdict on one blind pair; ``a`` is the lower policy id, ``outcome`` is a's score."""

    evaluation_id: int
    task_id: int
    prompt_id: int
    category: str
    a: int
    b: int
    outcome: float
    identical: bool
    judge: float | None  # the judge's verdict on the same two texts (1, 0.5, 0), if scored


def _outcome(groups: list[list[int]], first: int) -> float:
    """Score of completion ``first`` in a two-completion ranking: 1 above, 0.5 tied, 0 below."""
    if len(groups) == 1:
        return 0.5
    return 1.0 if first in groups[0] else 0.0


def _judge_outcome(scores: dict, first: int, second: int) -> float | None:
    sa, sb = scores.get(str(first)), scores.get(str(second))
    if sa is None or sb is None:
        return None
    return 1.0 if sa > sb else 0.5 if sa == sb else 0.0


def evaluation_comparisons(evaluations: list[Evaluation]) -> list[Comparison]:
    """Every submitted verdict in the evaluations' campaigns (tasks with two policy completions)."""
    by_campaign = {e.campaign_id: e for e in evaluations}
    sides: dict[int, list[tuple[int, int, str]]] = {}
    for task_id, cid, policy_id, text in Task.completions.through.objects.filter(
            task__campaign_id__in=list(by_campaign)).values_list(
            "task_id", "completion_id", "completion__model_version_id", "completion__text"):
        sides.setdefault(task_id, []).append((policy_id, cid, text))
    rankings = Ranking.objects.filter(assignment__campaign_id__in=list(by_campaign),
                                      assignment__status=Assignment.Status.SUBMITTED).values_list(
        "groups", "assignment__task_id", "assignment__campaign_id", "assignment__task__prompt_id",
        "assignment__task__prompt__category")
    out = []
    for groups, task_id, campaign_id, prompt_id, category in rankings.order_by("id"):
        pair = sorted(sides.get(task_id, []), key=lambda s: s[0] or 0)
        if len(pair) != 2 or None in (pair[0][0], pair[1][0]) or pair[0][0] == pair[1][0]:
            continue  # not a policy-vs-policy pair (cannot happen in an evaluation campaign)
        (a, ca, ta), (b, cb, tb) = pair
        evaluation = by_campaign[campaign_id]
        out.append(Comparison(evaluation.pk, task_id, prompt_id, category, a, b, _outcome(groups, ca), ta == tb,
                              _judge_outcome(evaluation.judge_scores or {}, ca, cb)))
    return out


def _pair_row(items: list[Comparison], a: int, b: int) -> dict:
    """Human win rate of ``a`` over ``b`` (ties half) with its interval, and the judge's beside it."""
    n = len(items)
    score = sum(c.outcome for c in items)
    low, high = stats.wilson_interval(score, n, CONFIDENCE)
    row = {"a": a, "b": b, "comparisons": n, "wins_a": sum(c.outcome == 1 for c in items),
           "wins_b": sum(c.outcome == 0 for c in items), "ties": sum(c.outcome == 0.5 for c in items),
           "identical": sum(c.identical for c in items), "win_rate_a": score / n if n else None,
           "low": low if n else None, "high": high if n else None,
           "separated": bool(n) and (low > 0.5 or high < 0.5),
           "more_comparisons_needed": stats.comparisons_to_separate(score, n, CONFIDENCE)}
    judged = [c for c in items if c.judge is not None]
    if judged:
        judge_score = sum(c.judge for c in judged)
        j_low, j_high = stats.wilson_interval(judge_score, len(judged), CONFIDENCE)
        row["judge"] = {"comparisons": len(judged), "win_rate_a": judge_score / len(judged), "low": j_low,
                        "high": j_high,
                        # |human − judge| per verdict: opposite winners count 1, a tie against a winner ½.
                        "disagreement": sum(abs(c.outcome - c.judge) for c in judged) / len(judged)}
    else:
        row["judge"] = None
    return row


def _policy_rows(items: list[Comparison], policy_ids: list[int]) -> list[dict]:
    """Each policy's win rate against all the others pooled (ties half), with a Wilson interval."""
    rows = []
    for pid in policy_ids:
        scores = [c.outcome if c.a == pid else 1 - c.outcome for c in items if pid in (c.a, c.b)]
        n, score = len(scores), sum(scores)
        low, high = stats.wilson_interval(score, n, CONFIDENCE)
        rows.append({"policy": pid, "comparisons": n, "win_rate": score / n if n else None,
                     "low": low if n else None, "high": high if n else None})
    return rows


def _bradley_terry(items: list[Comparison], policy_ids: list[int], resamples: int) -> list[dict]:
    """Policies ranked by BT strength, with bootstrap intervals of strength and rank."""
    if not items:
        return []
    index = {pid: i for i, pid in enumerate(policy_ids)}
    clusters: dict[tuple[int, int], int] = {}
    cluster = [clusters.setdefault((c.evaluation_id, c.prompt_id), len(clusters)) for c in items]
    data = stats.Comparisons(len(policy_ids), np.array([index[c.a] for c in items]),
                             np.array([index[c.b] for c in items]), np.array([c.outcome for c in items]),
                             np.array(cluster))
    fit = stats.bradley_terry(data, resamples=resamples, confidence=CONFIDENCE)
    order = np.argsort(-fit.strengths, kind="stable")
    return [{"policy": policy_ids[i], "rank": rank, "strength": float(fit.strengths[i]),
             "low": float(fit.low[i]), "high": float(fit.high[i]),
             "rank_low": int(fit.rank_low[i]), "rank_high": int(fit.rank_high[i])}
            for rank, i in enumerate(order, start=1)]


def comparison_summary(items: list[Comparison], policy_ids: list[int], *, resamples: int = RESAMPLES) -> dict:
    """Pairs, per-policy win rates, the BT ranking and the same per prompt category."""
    pairs = [_pair_row([c for c in items if (c.a, c.b) == (a, b)], a, b)
             for a, b in itertools.combinations(sorted(policy_ids), 2)]
    categories = {}
    for category in sorted({c.category for c in items}):
        subset = [c for c in items if c.category == category]
        categories[category] = {
            "comparisons": len(subset), "policies": _policy_rows(subset, policy_ids),
            "pairs": [_pair_row([c for c in subset if (c.a, c.b) == (a, b)], a, b)
                      for a, b in itertools.combinations(sorted(policy_ids), 2)]}
    judged = [c for c in items if c.judge is not None]
    return {
        "comparisons": len(items), "identical": sum(c.identical for c in items), "ties_rule": TIES_RULE,
        "confidence": CONFIDENCE, "pairs": pairs, "policies": _policy_rows(items, policy_ids),
        "bradley_terry": _bradley_terry(items, sorted(policy_ids), resamples), "categories": categories,
        "judge_disagreement": (sum(abs(c.outcome - c.judge) for c in judged) / len(judged)) if judged else None,
    }


def evaluation_list() -> QuerySet[Evaluation]:
    """Evaluations, newest first."""
    return Evaluation.objects.select_related("campaign", "judge", "created_by", "prompt_campaign",
                                             "prompt_snapshot").prefetch_related("policies", "jobs").order_by("-id")


def evaluation_progress(evaluation: Evaluation) -> dict:
    """Tasks and labels so far, and the state of its jobs."""
    tasks = Task.objects.filter(campaign_id=evaluation.campaign_id)
    return {"tasks": tasks.count(), "tasks_done": tasks.filter(status=Task.Status.DONE).count(),
            "labels": Ranking.objects.filter(assignment__campaign_id=evaluation.campaign_id,
                                             assignment__status=Assignment.Status.SUBMITTED).count(),
            "jobs": [{"id": j.pk, "kind": j.kind, "status": j.status, "policy": (j.inputs.get("model") or {}).get("id")}
                     for j in evaluation.jobs.order_by("id")]}


def evaluation_results(evaluation: Evaluation, *, resamples: int = RESAMPLES) -> dict:
    """Everything the results page shows for one evaluation."""
    policies = list(evaluation.policies.order_by("id"))
    summary = comparison_summary(evaluation_comparisons([evaluation]), [p.pk for p in policies], resamples=resamples)
    return {"evaluation": evaluation.pk, "status": evaluation.status,
            "policy_names": {p.pk: p.name for p in policies}, **summary}


def _lineage(model: ModelVersion) -> dict:
    job = model.job
    return {"kind": model.kind, "parent": {"id": model.parent_id, "name": model.parent.name} if model.parent else None,
            "reward_model": {"id": model.reward_model_id, "name": model.reward_model.name} if model.reward_model else None,
            "job": job.pk if job else None,
            "iteration": {"id": job.iteration_id, "name": job.iteration.name} if job and job.iteration else None,
            "snapshots": [{"id": s.pk, "name": s.name, "kind": s.kind} for s in job.input_snapshots.all()] if job else []}


def leaderboard(*, evaluation_ids: list[int] | None = None, resamples: int = RESAMPLES) -> dict:
    """Policies ranked by human preference over all labelling (or the given) evaluations, pooled into one
    Bradley–Terry fit, each with its lineage, pooled win rate and per-category win rates."""
    evaluations = Evaluation.objects.filter(status__in=COUNTED)
    if evaluation_ids:
        evaluations = evaluations.filter(pk__in=evaluation_ids)
    evaluations = list(evaluations)
    items = evaluation_comparisons(evaluations)
    policy_ids = sorted({p for c in items for p in (c.a, c.b)})
    summary = comparison_summary(items, policy_ids, resamples=resamples)
    models = ModelVersion.objects.select_related("parent", "reward_model", "job__iteration").prefetch_related(
        "job__input_snapshots").in_bulk(policy_ids)
    pooled = {row["policy"]: row for row in summary["policies"]}
    by_category = {cat: {row["policy"]: row for row in block["policies"]} for cat, block in summary["categories"].items()}
    rows = []
    for bt in summary["bradley_terry"]:
        pid = bt["policy"]
        rows.append({**bt, "name": models[pid].name, "lineage": _lineage(models[pid]),
                     "win_rate": pooled[pid], "categories": {cat: rows_[pid] for cat, rows_ in by_category.items()
                                                             if rows_[pid]["comparisons"]}})
    return {"evaluations": [e.pk for e in evaluations], "comparisons": summary["comparisons"],
            "ties_rule": TIES_RULE, "confidence": CONFIDENCE, "policies": rows, "pairs": summary["pairs"],
            "judge_disagreement": summary["judge_disagreement"]}
