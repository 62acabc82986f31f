"""The arithmetic of rankings, with no database: relations, consensus, τ-b and the bootstrap.

A ranking is a list of groups of completion ids, best first; ids in one group are tied
(``[[3], [1, 4], [2]]``). Everything here works on those lists (or on their ``rank_of`` maps),
so the selectors that read labels (``labeling.selectors.agreement`` and friends) stay about
fetching and grouping, and this module can be tested against hand-computed values.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.stats import kendalltau


def rank_of(groups) -> dict[int, int]:
    """Completion id → group index (0 = best); tied ids share an index."""
    return {cid: i for i, group in enumerate(groups or []) for cid in group}


def relation(rank: dict[int, int], i: int, j: int) -> int:
    """+1 if ``i`` is ranked above ``j``, -1 if below, 0 if they are tied."""
    return (rank[i] < rank[j]) - (rank[i] > rank[j])


def relation_agreement(rank_a: dict[int, int], rank_b: dict[int, int]) -> tuple[int, int]:
    """(agreeing pairs, pairs) between two labelers' rankings of one task.

    Every pair of completions both ranked counts once and agrees when both labelers state the same
    one of three relations: i above j, j above i, or a tie. A tie is an answer like the others, so a
    labeler who ties everything does not agree with one who orders everything.
    """
    common = sorted(rank_a.keys() & rank_b.keys())
    pairs = list(combinations(common, 2))
    agree = sum(relation(rank_a, i, j) == relation(rank_b, i, j) for i, j in pairs)
    return agree, len(pairs)


def kendall_tau_b(rank_a: dict[int, int], rank_b: dict[int, int]) -> float | None:
    """Kendall's τ-b (ties corrected) over the completions both ranked; None when undefined (fewer
    than two completions, or one ranking ties everything)."""
    common = sorted(rank_a.keys() & rank_b.keys())
    if len(common) < 2:
        return None
    x, y = [rank_a[c] for c in common], [rank_b[c] for c in common]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(kendalltau(x, y, variant="b").statistic)


# ---------------------------------------------------------------- consensus (Ranked Pairs)

def pairwise_votes(rankings: list[dict[int, int]]) -> dict[tuple[int, int], int]:
    """(a, b) → how many rankings put ``a`` strictly above ``b`` (rankings lacking either abstain)."""
    votes: dict[tuple[int, int], int] = {}
    for rank in rankings:
        for a, b in combinations(sorted(rank), 2):
            rel = relation(rank, a, b)
            if rel:
                key = (a, b) if rel > 0 else (b, a)
                votes[key] = votes.get(key, 0) + 1
    return votes


def _reaches(edges: dict[int, set[int]], start: int, goal: int) -> bool:
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return False


def ranked_pairs(rankings: list[dict[int, int]]) -> list[list[int]]:
    """Merge several rankings of the same completions into one, by Tideman's Ranked Pairs.

    Why Ranked Pairs rather than Bradley–Terry: one task has only a handful of labelers, and with
    so few votes a Bradley–Terry fit is often separable (a completion nobody ranked below another
    gets an infinite strength) unless a prior is added, whose strength then decides the answer.
    Ranked Pairs needs no fitting, is deterministic, elects the Condorcet winner whenever one exists,
    and is what Open-Assistant uses, so figures stay comparable with theirs.

    Majorities (margin = votes a over b minus votes b over a) are locked in strongest first (ties
    between majorities broken by more winning votes, then by completion id, for determinism),
    skipping any that would close a cycle. The result is layered: each group holds the completions
    nothing locked is above among those left, so two completions share a group only when the
    labelers' majority between them is a tie (margin 0).
    """
    items = sorted({cid for rank in rankings for cid in rank})
    votes = pairwise_votes(rankings)
    majorities = [
        (votes.get((a, b), 0) - votes.get((b, a), 0), votes.get((a, b), 0), a, b)
        for a in items for b in items if a != b and votes.get((a, b), 0) > votes.get((b, a), 0)
    ]
    majorities.sort(key=lambda m: (-m[0], -m[1], m[2], m[3]))
    locked: dict[int, set[int]] = {}
    for _, _, a, b in majorities:
        if not _reaches(locked, b, a):
            locked.setdefault(a, set()).add(b)
    groups, left = [], set(items)
    while left:
        beaten = {b for a in left for b in locked.get(a, ()) if b in left}
        top = sorted(left - beaten)
        groups.append(top)
        left -= set(top)
    return groups


# ---------------------------------------------------------------- confidence intervals

@dataclass(frozen=True)
class Figure:
    """One reported number: its value, a bootstrap CI over tasks and how much data is behind it."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_tasks: int
    n_items: int

    def as_dict(self) -> dict:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "n_tasks": self.n_tasks, "n_items": self.n_items}


EMPTY = Figure(None, None, None, 0, 0)


def bootstrap_ratio(numerators, denominators, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                    n_items: int | None = None) -> Figure:
    """Σnum / Σden with a percentile bootstrap CI that resamples tasks (one entry per task).

    Resampling whole tasks, not pairs, keeps the pairs of one task together: they are not
    independent, and counting them as such would make a figure from 3 tasks look as solid as one
    from 3,000. No CI with fewer than two tasks. ``n_items`` defaults to Σden.
    """
    num, den = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    keep = den > 0
    num, den = num[keep], den[keep]
    n_items = int(den.sum()) if n_items is None else n_items
    if not len(den):
        return Figure(None, None, None, 0, n_items)
    value = float(num.sum() / den.sum())
    if len(den) < 2:
        return Figure(value, None, None, 1, n_items)
    idx = np.random.default_rng(seed).integers(0, len(den), size=(n_boot, len(den)))
    stats = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Figure(value, float(lo), float(hi), len(den), n_items)


def bootstrap_statistic(blocks: list, statistic, *, n_boot: int = 200, level: float = 0.95, seed: int = 0,
                        n_items: int = 0) -> Figure:
    """``statistic(blocks)`` with a percentile bootstrap CI over the blocks (one per task).

    For figures that are not a ratio of per-task sums (Krippendorff's α). Resamples where the
    statistic is undefined (None) are dropped; no CI if fewer than half of them are defined.
    """
    value = statistic(blocks)
    if value is None or len(blocks) < 2:
        return Figure(value, None, None, len(blocks), n_items)
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(blocks), size=len(blocks))
        stat = statistic([blocks[i] for i in idx])
        if stat is not None:
            stats.append(stat)
    if len(stats) < n_boot / 2:
        return Figure(value, None, None, len(blocks), n_items)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Figure(value, float(lo), float(hi), len(blocks), n_items)
