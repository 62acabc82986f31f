"""Consensus rankings (issue 10, item 4): several labelers' rankings of one task merged into one.

The merge is Ranked Pairs (``ranking_math.ranked_pairs``; its docstring says why rather than
Bradley–Terry). Each task also gets an agreement score: the share of (labeler pair × completion
pair) comparisons where the two labelers state the same relation (above, below, tied), the same
unit as the campaign's ``pairwise_agreement``, plus the mean τ-b of each labeler against the
consensus. Rejected labels take no part.
"""
from __future__ import annotations

from itertools import combinations

from labeling.selectors.label_records import LabelRecord, by_task, label_records
from labeling.selectors.ranking_math import kendall_tau_b, rank_of, ranked_pairs, relation_agreement


def records_consensus(records: list[LabelRecord]) -> dict:
    """The consensus of one task's records: ``{"task_id", "labelers", "consensus": groups,
    "agreement": share or None (one labeler), "pairs": comparisons behind it, "mean_tau_b"}``."""
    consensus = ranked_pairs([r.rank for r in records])
    agree = compared = 0
    for a, b in combinations(records, 2):
        n_agree, n = relation_agreement(a.rank, b.rank)
        agree, compared = agree + n_agree, compared + n
    merged = rank_of(consensus)
    taus = [t for t in (kendall_tau_b(r.rank, merged) for r in records) if t is not None]
    return {
        "task_id": records[0].task_id,
        "labelers": len(records),
        "consensus": consensus,
        "agreement": agree / compared if compared else None,
        "pairs": compared,
        "mean_tau_b": sum(taus) / len(taus) if taus else None,
    }


def campaign_consensus(*, campaign_ids: list[int], min_labelers: int = 2, records: list[LabelRecord] | None = None,
                       task_ids: list[int] | None = None) -> list[dict]:
    """``records_consensus`` for every ranking task of ``campaign_ids`` with at least ``min_labelers``
    non-rejected rankings, in task id order. ``records`` (already filtered) may be passed to skip the read."""
    if records is None:
        records = label_records(campaign_ids=campaign_ids, task_ids=task_ids)
    return [records_consensus(group) for group in by_task(records).values() if len(group) >= min_labelers]
