"""Agreement between labelers, measured the way the field reports it (issue 10, item 3).

Four figures, each with a 95 % bootstrap CI over tasks and the number of tasks and items behind it
(a figure from 3 overlapping tasks must not look as solid as one from 3,000):

- ``pairwise_agreement`` (InstructGPT's inter-annotator agreement): over every task two labelers
  both ranked and every pair of its completions, the share where both state the same relation:
  i above j, j above i, or tied (``ranking_math.relation_agreement``). Items: labeler-pair ×
  completion-pair comparisons.
- ``kendall_tau_b``: Kendall's τ-b (equal to scipy's, tested) of each labeler's ranking against the
  Ranked Pairs consensus of the *other* labelers of the task (leave-one-out, so a labeler is not compared with
  a consensus they shaped). Mean over (labeler, task); items: those rankings.
- ``alpha_likert`` / ``alpha_preferences``: Krippendorff's α, ordinal, from the ``krippendorff``
  package. Likert: units are (task, completion), values the 1–7 ratings. Preferences: units are
  (task, completion pair), values −1 / 0 / +1 (second better / tie / first better). α is a
  property of a group of labelers, so it is not given per labeler. Items: pairable units.
- ``gold_agreement``: pairs of the gold ranking a labeler ordered the same way
  (``selectors.quality.ranking_agreement``; a tie where gold orders is a miss). Items: gold pairs.

Reported for the campaign, per prompt category, per week (a task belongs to the week its last
label arrived, so all its labels are compared together) and per labeler (the comparisons the
labeler is part of). Rejected labels are left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import combinations

import krippendorff
import numpy as np

from labeling.models import Campaign
from labeling.selectors.label_records import LabelRecord, by_task, label_records, week_of
from labeling.selectors.quality import ranking_agreement
from labeling.selectors.ranking_math import (
    EMPTY, Figure, bootstrap_alpha, bootstrap_ratio, coincidences, kendall_tau_b, rank_of, ranked_pairs, relation,
    relation_agreement,
)

FIGURES = ("pairwise_agreement", "kendall_tau_b", "alpha_likert", "alpha_preferences", "gold_agreement")


@dataclass
class TaskAgreement:
    """What one task contributes to every figure, computed once and then summed per grouping."""

    task_id: int
    category: str
    week: date
    labelers: list[int]
    pairs: list[tuple[int, int, int, int]] = field(default_factory=list)  # (a, b, agreeing, compared)
    taus: list[tuple[int, float]] = field(default_factory=list)  # (labeler, τ-b vs leave-one-out consensus)
    gold: list[tuple[int, int, int]] = field(default_factory=list)  # (labeler, agreeing, gold pairs)
    likert: dict[int, dict] = field(default_factory=dict)  # labeler → {completion: 1..7}
    prefs: dict[int, dict] = field(default_factory=dict)  # labeler → {(i, j): -1 | 0 | 1}


def leave_one_out_taus(records: list[LabelRecord]) -> list[tuple[int, float]]:
    """(labeler, τ-b of their ranking vs the Ranked Pairs consensus of the others) for one task's records."""
    taus = []
    for record in records:
        others = [r.rank for r in records if r is not record]
        if not others:
            continue
        tau = kendall_tau_b(record.rank, rank_of(ranked_pairs(others)))
        if tau is not None:
            taus.append((record.labeler_id, tau))
    return taus


def task_agreement(records: list[LabelRecord]) -> TaskAgreement:
    """One task's contributions; ``records`` are its submitted rankings."""
    last = max(records, key=lambda r: r.submitted_at)
    task = TaskAgreement(task_id=last.task_id, category=last.category, week=week_of(last.submitted_at),
                         labelers=[r.labeler_id for r in records])
    for a, b in combinations(records, 2):
        agree, compared = relation_agreement(a.rank, b.rank)
        task.pairs.append((a.labeler_id, b.labeler_id, agree, compared))
    task.taus = leave_one_out_taus(records)
    for record in records:
        if record.gold:
            task.gold.append((record.labeler_id, *ranking_agreement(record.gold, record.groups)))
        if record.likert:
            task.likert[record.labeler_id] = dict(record.likert)
        items = sorted(record.rank)
        task.prefs[record.labeler_id] = {(i, j): relation(record.rank, i, j) for i, j in combinations(items, 2)}
    return task


def task_agreements(records: list[LabelRecord]) -> list[TaskAgreement]:
    return [task_agreement(group) for group in by_task(records).values()]


# ---------------------------------------------------------------- figures over a set of tasks

def _ratio(tasks, rows_of, *, n_boot: int, seed: int) -> Figure:
    """Σagree/Σtotal over tasks, where ``rows_of(task)`` gives that task's (agree, total) rows."""
    num, den = [], []
    for task in tasks:
        rows = rows_of(task)
        num.append(sum(a for a, _ in rows))
        den.append(sum(t for _, t in rows))
    return bootstrap_ratio(num, den, n_boot=n_boot, seed=seed)


def pairwise_figure(tasks, *, labeler: int | None = None, n_boot: int = 1000, seed: int = 0) -> Figure:
    def rows(task):
        return [(agree, n) for a, b, agree, n in task.pairs if labeler is None or labeler in (a, b)]
    return _ratio(tasks, rows, n_boot=n_boot, seed=seed)


def tau_figure(tasks, *, labeler: int | None = None, n_boot: int = 1000, seed: int = 0) -> Figure:
    def rows(task):
        return [(tau, 1) for who, tau in task.taus if labeler is None or who == labeler]
    return _ratio(tasks, rows, n_boot=n_boot, seed=seed)


def gold_figure(tasks, *, labeler: int | None = None, n_boot: int = 1000, seed: int = 0) -> Figure:
    def rows(task):
        return [(agree, n) for who, agree, n in task.gold if labeler is None or who == labeler]
    return _ratio(tasks, rows, n_boot=n_boot, seed=seed)


def _alpha_blocks(tasks, attribute: str) -> list[np.ndarray]:
    """Per task, a labelers × units array (NaN where a labeler gave no value), rows in one global
    labeler order so blocks can be concatenated; tasks with no unit two labelers share are dropped."""
    labelers = sorted({who for task in tasks for who in getattr(task, attribute)})
    row_of = {who: i for i, who in enumerate(labelers)}
    blocks = []
    for task in tasks:
        values = getattr(task, attribute)
        units = sorted({unit for per in values.values() for unit in per})
        block = np.full((len(labelers), len(units)), np.nan)
        for who, per in values.items():
            for col, unit in enumerate(units):
                if unit in per:
                    block[row_of[who], col] = per[unit]
        pairable = (~np.isnan(block)).sum(axis=0) >= 2
        if pairable.any():
            blocks.append(block[:, pairable])
    return blocks


def ordinal_alpha(blocks: list[np.ndarray]) -> float | None:
    """Krippendorff's ordinal α of the concatenated blocks; None when undefined (one value only)."""
    data = np.concatenate(blocks, axis=1)
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    try:
        return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    except (ValueError, ZeroDivisionError):
        return None


def alpha_figure(tasks, attribute: str, *, n_boot: int = 1000, seed: int = 0) -> Figure:
    """Ordinal α of ``attribute`` ("likert" or "prefs") over ``tasks``: the ``krippendorff`` library's
    value, with a bootstrap CI over tasks from their coincidence matrices (``ranking_math.bootstrap_alpha``)."""
    blocks = _alpha_blocks(tasks, attribute)
    if not blocks:
        return EMPTY
    data = np.concatenate(blocks, axis=1)
    values = np.unique(data[~np.isnan(data)])
    per_task = np.stack([coincidences(block, values) for block in blocks])
    return bootstrap_alpha(per_task, ordinal_alpha(blocks), n_boot=n_boot, seed=seed,
                           n_items=sum(b.shape[1] for b in blocks))


def figures(tasks: list[TaskAgreement], *, n_boot: int = 1000, seed: int = 0) -> dict:
    """All five figures over ``tasks``."""
    return {
        "pairwise_agreement": pairwise_figure(tasks, n_boot=n_boot, seed=seed).as_dict(),
        "kendall_tau_b": tau_figure(tasks, n_boot=n_boot, seed=seed).as_dict(),
        "alpha_likert": alpha_figure(tasks, "likert", n_boot=n_boot, seed=seed).as_dict(),
        "alpha_preferences": alpha_figure(tasks, "prefs", n_boot=n_boot, seed=seed).as_dict(),
        "gold_agreement": gold_figure(tasks, n_boot=n_boot, seed=seed).as_dict(),
    }


def labeler_figures(tasks: list[TaskAgreement], labeler: int, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """The per-labeler figures (α is a group property: not given per labeler)."""
    mine = [task for task in tasks if labeler in task.labelers]
    return {
        "pairwise_agreement": pairwise_figure(mine, labeler=labeler, n_boot=n_boot, seed=seed).as_dict(),
        "kendall_tau_b": tau_figure(mine, labeler=labeler, n_boot=n_boot, seed=seed).as_dict(),
        "gold_agreement": gold_figure(mine, labeler=labeler, n_boot=n_boot, seed=seed).as_dict(),
    }


def campaign_agreement(*, campaign: Campaign, n_boot: int = 1000, seed: int = 0) -> dict:
    """The campaign's agreement report: overall, per category, per week and per labeler.

    Returns ``{"campaign", "n_boot", "level": 0.95, "overall": {figure: {...}}, "by_category":
    [{"category", figures...}], "by_week": [{"week": "YYYY-MM-DD" (Monday), figures...}],
    "labelers": [{"labeler_id", "username", "labels", pairwise_agreement, kendall_tau_b,
    gold_agreement}]}``; every figure is ``{"value", "ci_low", "ci_high", "n_tasks", "n_items"}``
    (null value without data, null CI from fewer than two tasks).
    """
    records = label_records(campaign_ids=[campaign.pk])
    tasks = task_agreements(records)
    categories = sorted({t.category for t in tasks})
    weeks = sorted({t.week for t in tasks})
    names: dict[int, str] = {}
    labels: dict[int, int] = {}
    for record in records:
        names[record.labeler_id] = record.username
        labels[record.labeler_id] = labels.get(record.labeler_id, 0) + 1
    return {
        "campaign": campaign.pk,
        "n_boot": n_boot,
        "level": 0.95,
        "overall": figures(tasks, n_boot=n_boot, seed=seed),
        "by_category": [{"category": c, **figures([t for t in tasks if t.category == c], n_boot=n_boot, seed=seed)}
                        for c in categories],
        "by_week": [{"week": w.isoformat(), **figures([t for t in tasks if t.week == w], n_boot=n_boot, seed=seed)}
                    for w in weeks],
        "labelers": [{"labeler_id": who, "username": names[who], "labels": labels[who],
                      **labeler_figures(tasks, who, n_boot=n_boot, seed=seed)}
                     for who in sorted(names, key=lambda w: names[w])],
    }
