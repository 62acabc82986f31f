"""Win rates and accuracies with honest bookkeeping: explicit ties, identical outputs, a confidence interval.

Outcomes are per pair: 1 (the candidate wins), 0 (it loses) or 0.5 (a tie:
equal scores, including every pair of identical texts). Pairs are grouped by
prompt (win rate: several samples per prompt) or by ranking (accuracy: the
C(K,2) pairs of one ranking), and the interval is a percentile bootstrap over
those groups: pairs that share a prompt are not independent, and outcomes of
0.5 are not binomial, so a Wilson interval over pairs would be too narrow.
numpy does the resampling; scipy's ``bootstrap`` does not resample clusters.
"""

from __future__ import annotations

from typing import Sequence

TIE_RULE = "ties (equal scores, including identical texts) count half a win for each side"
CI_METHOD = "95% percentile bootstrap over prompts (clusters), {n} resamples, seed {seed}"
CI_METHOD_RANKINGS = "95% percentile bootstrap over rankings (clusters), {n} resamples, seed {seed}"


def outcome(candidate: float, baseline: float) -> float:
    """1, 0.5 or 0: did the candidate's score beat the baseline's?"""
    return 1.0 if candidate > baseline else 0.5 if candidate == baseline else 0.0


def bootstrap_ci(groups: Sequence[Sequence[float]], resamples: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of sum(outcomes) / count, resampling whole groups with replacement."""
    import numpy as np

    groups = [g for g in groups if len(g)]
    if not groups:
        return float("nan"), float("nan")
    sums = np.array([sum(g) for g in groups], dtype=float)
    counts = np.array([len(g) for g in groups], dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(groups), size=(resamples, len(groups)))
    stats = sums[picks].sum(1) / counts[picks].sum(1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def win_rate_summary(groups: Sequence[Sequence[tuple[str, str, float, float]]], seed: int = 0,
                     resamples: int = 2000) -> dict:
    """Figures of B against A from per-prompt lists of (text_a, text_b, reward_a, reward_b).

    Identical texts are a tie whatever the scores say (batch padding can move a
    score in the last bit), and are counted separately in ``identical``.
    """
    outcomes: list[list[float]] = []
    wins_a = wins_b = ties = identical = 0
    for pairs in groups:
        row = []
        for text_a, text_b, reward_a, reward_b in pairs:
            same = text_a.strip() == text_b.strip()
            result = 0.5 if same else outcome(reward_b, reward_a)
            identical += same
            wins_b += result == 1.0
            wins_a += result == 0.0
            ties += result == 0.5
            row.append(result)
        outcomes.append(row)
    n = wins_a + wins_b + ties
    low, high = bootstrap_ci(outcomes, resamples, seed)
    return {"win_rate_b_over_a": (wins_b + 0.5 * ties) / n if n else float("nan"), "tie_rule": TIE_RULE,
            "ci_low": low, "ci_high": high, "ci_method": CI_METHOD.format(n=resamples, seed=seed),
            "wins_a": wins_a, "wins_b": wins_b, "ties": ties, "identical": identical, "n_pairs": n}


def accuracy_summary(groups: Sequence[Sequence[tuple[float, float]]], seed: int = 0, resamples: int = 2000) -> dict:
    """Pairwise accuracy from per-ranking lists of (winner_score, loser_score); equal scores count half."""
    outcomes = [[outcome(w, l) for w, l in pairs] for pairs in groups]
    flat = [o for row in outcomes for o in row]
    low, high = bootstrap_ci(outcomes, resamples, seed)
    return {"accuracy": sum(flat) / len(flat) if flat else float("nan"), "ci_low": low, "ci_high": high,
            "ci_method": CI_METHOD_RANKINGS.format(n=resamples, seed=seed), "n_pairs": len(flat),
            "ties": sum(1 for o in flat if o == 0.5), "tie_rule": TIE_RULE}
