"""Signals of bad labeling (issue 10, item 5), per labeler, each with its evidence and examples.

- ``position_bias``: does the labeler's single best completion sit at some display position more
  often than chance? Display orders are shuffled per assignment (``Assignment.display_order``), so
  for an unbiased labeler the best completion's position is uniform. χ² goodness of fit
  (``scipy.stats.chisquare``) per number of completions K, the statistics and degrees of freedom
  summed over K, p from χ². Rankings with a tied best group are left out (no single position).
  Flagged when p < 0.01 / number of labelers (Bonferroni: one test per labeler).
- ``speed``: the labeler's median ``seconds_spent`` against the campaign's median; flagged below
  ``SPEED_RATIO`` of it.
- ``straight_lining``: the share of their rankings where every rated completion got the same
  Likert score; flagged at ``STRAIGHT_LINE_SHARE`` or more.
- ``low_agreement``: flagged when even the top of the 95 % CI of their τ-b against the others'
  consensus is below ``LOW_TAU`` (clearly below honest labelers), or the top of their gold agreement CI is
  below ``LOW_GOLD``.

No signal is raised from fewer than ``MIN_LABELS`` rankings: a handful of labels is not evidence.
Low agreement is measured against the other labelers of each task, so it presumes honest
labelers are the majority there: where half a task's labelers are careless, an honest one can
look out of step too (the review queue is where a person decides).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from statistics import median

from scipy.stats import chi2, chisquare

from labeling.models import Campaign
from labeling.selectors.agreement import gold_figure, task_agreements, tau_figure
from labeling.selectors.label_records import LabelRecord, label_records

SIGNALS = ("position_bias", "speed", "straight_lining", "low_agreement")
MIN_LABELS = 8
FAMILY_ALPHA = 0.01
SPEED_RATIO = 0.3
STRAIGHT_LINE_SHARE = 0.8
LOW_TAU = 0.3
LOW_GOLD = 0.6
EXAMPLES = 5


def best_position(record: LabelRecord) -> int | None:
    """Display position (0 = shown first) of the labeler's single best completion; None if the best is tied."""
    best = record.groups[0] if record.groups else []
    if len(best) != 1 or best[0] not in record.display_order:
        return None
    return record.display_order.index(best[0])


def position_bias_test(records: list[LabelRecord]) -> dict:
    """χ² test of uniform best-completion display positions: ``{"statistic", "df", "p_value", "n",
    "positions": {K: [count per position]}}`` (statistic and p null without a testable ranking)."""
    by_k: dict[int, Counter] = defaultdict(Counter)
    for record in records:
        position = best_position(record)
        if position is not None:
            by_k[len(record.display_order)][position] += 1
    statistic, df, n = 0.0, 0, 0
    positions = {}
    for k, counts in sorted(by_k.items()):
        observed = [counts.get(i, 0) for i in range(k)]
        positions[k] = observed
        statistic += float(chisquare(observed).statistic)
        df += k - 1
        n += sum(observed)
    if not df:
        return {"statistic": None, "df": 0, "p_value": None, "n": 0, "positions": positions}
    return {"statistic": statistic, "df": df, "p_value": float(chi2.sf(statistic, df)), "n": n,
            "positions": positions}


def _is_straight_line(record: LabelRecord) -> bool:
    return len(record.likert) >= 2 and len(set(record.likert.values())) == 1


def _examples(records: list[LabelRecord], keep, key=None) -> list[int]:
    chosen = [r for r in records if keep(r)]
    if key is not None:
        chosen.sort(key=key)
    return [r.assignment_id for r in chosen[:EXAMPLES]]


def labeler_signals(mine: list[LabelRecord], tasks, *, labeler_id: int, campaign_median: float | None,
                    n_labelers: int, n_boot: int = 1000) -> dict:
    """The four signals for one labeler: ``{signal: {..., "flagged": bool, "examples": [assignment ids]}}``."""
    enough = len(mine) >= MIN_LABELS
    bias = position_bias_test(mine)
    common = Counter(best_position(r) for r in mine if best_position(r) is not None).most_common(1)
    bias |= {"flagged": bool(enough and bias["p_value"] is not None and bias["p_value"] < FAMILY_ALPHA / n_labelers),
             "examples": _examples(mine, lambda r: common and best_position(r) == common[0][0])}

    seconds = [r.seconds_spent for r in mine if r.seconds_spent is not None]
    own = median(seconds) if seconds else None
    ratio = own / campaign_median if own is not None and campaign_median else None
    speed = {"median_seconds": own, "campaign_median_seconds": campaign_median, "ratio": ratio, "n": len(seconds),
             "flagged": bool(len(seconds) >= MIN_LABELS and ratio is not None and ratio < SPEED_RATIO),
             "examples": _examples(mine, lambda r: r.seconds_spent is not None, key=lambda r: r.seconds_spent)}

    rated = [r for r in mine if len(r.likert) >= 2]
    share = sum(map(_is_straight_line, rated)) / len(rated) if rated else None
    straight = {"share": share, "n": len(rated),
                "flagged": bool(len(rated) >= MIN_LABELS and share is not None and share >= STRAIGHT_LINE_SHARE),
                "examples": _examples(mine, _is_straight_line)}

    own_tasks = [t for t in tasks if labeler_id in t.labelers]
    tau = tau_figure(own_tasks, labeler=labeler_id, n_boot=n_boot).as_dict()
    gold = gold_figure(own_tasks, labeler=labeler_id, n_boot=n_boot).as_dict()
    low = bool(enough and ((tau["ci_high"] is not None and tau["ci_high"] < LOW_TAU)
                           or (gold["ci_high"] is not None and gold["ci_high"] < LOW_GOLD)))
    worst = sorted((tau_value, t.task_id) for t in own_tasks for who, tau_value in t.taus if who == labeler_id)
    worst_tasks = {task_id for _, task_id in worst[:EXAMPLES]}
    agreement = {"kendall_tau_b": tau, "gold_agreement": gold, "flagged": low,
                 "examples": _examples(mine, lambda r: r.task_id in worst_tasks)}
    return {"position_bias": bias, "speed": speed, "straight_lining": straight, "low_agreement": agreement}


def campaign_labeler_signals(*, campaign: Campaign, labeler_id: int | None = None, n_boot: int = 1000) -> dict:
    """Every labeler's signals in ``campaign`` (or only ``labeler_id``'s), flagged labelers first.

    Returns ``{"campaign", "median_seconds", "thresholds": {...}, "labelers": [{"labeler_id",
    "username", "labels", "flags": [signal, ...], "signals": {signal: {...}}}]}``.
    """
    records = label_records(campaign_ids=[campaign.pk])
    tasks = task_agreements(records)
    seconds = [r.seconds_spent for r in records if r.seconds_spent is not None]
    campaign_median = median(seconds) if seconds else None
    per: dict[int, list[LabelRecord]] = defaultdict(list)
    for record in records:
        per[record.labeler_id].append(record)
    wanted = [labeler_id] if labeler_id is not None else list(per)
    labelers = []
    for who in wanted:
        mine = per.get(who, [])
        signals = labeler_signals(mine, tasks, labeler_id=who, campaign_median=campaign_median,
                                  n_labelers=max(len(per), 1), n_boot=n_boot)
        labelers.append({"labeler_id": who, "username": mine[0].username if mine else None, "labels": len(mine),
                         "flags": [s for s in SIGNALS if signals[s]["flagged"]], "signals": signals})
    labelers.sort(key=lambda e: (not e["flags"], e["username"] or ""))
    return {"campaign": campaign.pk, "median_seconds": campaign_median, "labelers": labelers,
            "thresholds": {"min_labels": MIN_LABELS, "position_bias_family_alpha": FAMILY_ALPHA,
                           "speed_ratio": SPEED_RATIO, "straight_line_share": STRAIGHT_LINE_SHARE,
                           "low_tau": LOW_TAU, "low_gold": LOW_GOLD}}


def flagged_labeler_ids(*, campaign: Campaign, n_boot: int = 200) -> set[int]:
    """The labelers of ``campaign`` with at least one signal raised."""
    return {e["labeler_id"] for e in campaign_labeler_signals(campaign=campaign, n_boot=n_boot)["labelers"] if e["flags"]}


def labeler_quality_page(*, campaign: Campaign, labeler_id: int, n_boot: int = 1000) -> dict:
    """One labeler's page: their signals with the example labels spelled out, and their agreement figures.

    ``{"campaign", "labeler_id", "username", "labels", "flags", "signals", "examples": {assignment id:
    {"task_id", "ranking", "display_order", "likert", "seconds_spent", "submitted_at"}}}``.
    """
    report = campaign_labeler_signals(campaign=campaign, labeler_id=labeler_id, n_boot=n_boot)
    entry = report["labelers"][0]
    wanted = {aid for signal in entry["signals"].values() for aid in signal["examples"]}
    examples = {
        r.assignment_id: {"task_id": r.task_id, "ranking": r.groups, "display_order": r.display_order,
                          "likert": {str(c): v for c, v in sorted(r.likert.items())},
                          "seconds_spent": r.seconds_spent, "submitted_at": r.submitted_at.isoformat()}
        for r in label_records(campaign_ids=[campaign.pk], labeler_id=labeler_id) if r.assignment_id in wanted
    }
    return {"campaign": campaign.pk, **entry, "median_seconds": report["median_seconds"],
            "thresholds": report["thresholds"], "examples": examples}
