"""The arithmetic of rankings, with no database: relations, consensus, τ-b, α and the bootstrap.

A ranking is a list of groups of completion ids, best first; ids in one group are tied
(``[[3], [1, 4], [2]]``). Everything here works on those lists (or on their ``rank_of`` maps),
so the selectors that read labels (``labeling.selectors.agreement`` and friends) stay about
fetching and grouping, and this module can be tested against hand-computed values.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


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
    than two completions, or one ranking ties everything).

    Written out rather than calling ``scipy.stats.kendalltau``: with K ≤ 9 there are at most 36
    pairs, and scipy's ~1 ms of per-call overhead made a 3,000-task report take minutes (one call
    per labeler and task). tests/labeling/test_agreement_math.py checks it equals scipy's τ-b on
    random rankings with ties.
    """
    common = sorted(rank_a.keys() & rank_b.keys())
    score = tied_a = tied_b = 0
    for i, j in combinations(common, 2):
        a, b = relation(rank_a, i, j), relation(rank_b, i, j)
        score += a * b  # +1 concordant, -1 discordant, 0 tied in either
        tied_a += a == 0
        tied_b += b == 0
    pairs = len(common) * (len(common) - 1) // 2
    denominator = (pairs - tied_a) * (pairs - tied_b)
    return score / denominator ** 0.5 if denominator else None


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


# ---------------------------------------------------------------- Krippendorff's α, ordinal, by coincidences

def coincidences(block: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix (V × V) of a labelers × units block (NaN: no value).

    Units with fewer than two values are not pairable and add nothing, as in the definition.
    """
    counts = np.stack([(block == v).sum(axis=0) for v in values], axis=1).astype(float)  # units × V
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2], m[m >= 2]
    if not len(m):
        return np.zeros((len(values), len(values)))
    pairs = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(len(values))
    return (pairs / (m - 1)[:, None, None]).sum(axis=0)


def ordinal_alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Ordinal α of coincidence matrices (shape ``(..., V, V)``): 1 − (n−1)·Σ o·δ² / Σ n_c n_k δ², with
    Krippendorff's ordinal δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)². NaN where undefined."""
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    cum = np.cumsum(n_c, axis=-1)
    between = cum[..., None, :] - (cum - n_c)[..., :, None]  # Σ_{g=c..k} n_g for c ≤ k
    upper = np.triu(np.ones(o.shape[-2:], dtype=bool))
    d = np.where(upper, between, np.swapaxes(between, -1, -2)) - (n_c[..., :, None] + n_c[..., None, :]) / 2
    delta2 = d ** 2
    observed = (o * delta2).sum(axis=(-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * delta2).sum(axis=(-2, -1)) / np.maximum(n - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - observed / expected, np.nan)


def bootstrap_alpha(per_task: np.ndarray, value: float | None, *, n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0, n_items: int = 0) -> Figure:
    """A percentile bootstrap CI over tasks for ordinal α, from the tasks' coincidence matrices
    (``per_task``: T × V × V): a resample's matrix is the count-weighted sum, so each resample costs
    one matrix product instead of a refit. ``value`` is the library's α of all the data."""
    if value is None or len(per_task) < 2:
        return Figure(value, None, None, len(per_task), n_items)
    weights = np.random.default_rng(seed).multinomial(len(per_task), np.full(len(per_task), 1 / len(per_task)),
                                                      size=n_boot)
    stats = ordinal_alpha_from_coincidences(np.tensordot(weights, per_task, axes=1))
    stats = stats[~np.isnan(stats)]
    if len(stats) < n_boot / 2:
        return Figure(value, None, None, len(per_task), n_items)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return Figure(value, float(lo), float(hi), len(per_task), n_items)
