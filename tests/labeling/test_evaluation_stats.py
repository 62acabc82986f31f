"""Human-evaluation statistics against simulated labelers with a known preference.

The labelers of these simulations hold true Bradley–Terry strengths. They tie with probability
``TIE``; otherwise they prefer a with the probability that makes the expected score (ties half) equal
to σ(θa − θb), so the truth of both the pair win rate and the BT fit is known exactly.
"""
import numpy as np
import pytest

from labeling.selectors.evaluation_stats import (
    Comparisons,
    bradley_terry,
    bt_fit,
    comparisons_to_separate,
    expected_score,
    wilson_interval,
)

TRUE_THETA = np.array([-0.5, 0.0, 0.5])  # policy 2 > 1 > 0, centred
TIE = 0.1
PAIRS = [(0, 1), (0, 2), (1, 2)]


def simulate(rng, prompts: int, labels_per_task: int = 1) -> Comparisons:
    """Every pair of policies on every prompt, judged by ``labels_per_task`` simulated labelers."""
    a, b, outcome, cluster = [], [], [], []
    for prompt in range(prompts):
        for i, j in PAIRS:
            score = expected_score(TRUE_THETA[i], TRUE_THETA[j])
            p_win = (score - TIE / 2) / (1 - TIE)
            for _ in range(labels_per_task):
                tie = rng.random() < TIE
                a.append(i), b.append(j), cluster.append(prompt)
                outcome.append(0.5 if tie else float(rng.random() < p_win))
    return Comparisons(3, np.array(a), np.array(b), np.array(outcome), np.array(cluster))


def pair_score(c: Comparisons, i: int, j: int) -> tuple[float, int]:
    mask = (c.a == i) & (c.b == j)
    return float(c.outcome[mask].sum()), int(mask.sum())


def test_one_campaign_recovers_the_known_preference():
    c = simulate(np.random.default_rng(7), prompts=400)
    for i, j in PAIRS:
        score, n = pair_score(c, i, j)
        low, high = wilson_interval(score, n)
        truth = expected_score(TRUE_THETA[i], TRUE_THETA[j])
        assert low <= truth <= high
        assert high < 0.5  # the better policy (j) wins, and the interval says so
    bt = bradley_terry(c, resamples=400)
    assert list(np.argsort(-bt.strengths)) == [2, 1, 0]
    assert np.all((bt.low <= TRUE_THETA) & (TRUE_THETA <= bt.high))
    assert list(bt.rank_low) == list(bt.rank_high) == [3, 2, 1]  # the ranks are certain at this size


def test_intervals_cover_the_truth_at_their_nominal_rate(capsys):
    """200 simulated campaigns of 300 prompts: 95 % intervals should cover the truth ~95 % of the time.

    (The percentile bootstrap is a little narrow on small campaigns: about 0.92 at 150 prompts.)"""
    pair_hits = bt_hits = total_pairs = total_bt = 0
    for seed in range(200):
        c = simulate(np.random.default_rng(1000 + seed), prompts=300)
        for i, j in PAIRS:
            score, n = pair_score(c, i, j)
            low, high = wilson_interval(score, n)
            pair_hits += low <= expected_score(TRUE_THETA[i], TRUE_THETA[j]) <= high
            total_pairs += 1
        bt = bradley_terry(c, resamples=200, seed=seed)
        bt_hits += int(np.sum((bt.low <= TRUE_THETA) & (TRUE_THETA <= bt.high)))
        total_bt += 3
    pair_cov, bt_cov = pair_hits / total_pairs, bt_hits / total_bt
    with capsys.disabled():
        print(f"\ncoverage of 95% intervals over 200 simulations: pair win rate (Wilson) {pair_cov:.3f} "
              f"({total_pairs} intervals), BT strength (bootstrap) {bt_cov:.3f} ({total_bt} intervals)")
    assert 0.92 <= pair_cov <= 0.99
    assert 0.91 <= bt_cov <= 0.99


def test_ties_pull_strengths_together_and_a_clean_sweep_stays_finite():
    wins = np.array([[0, 5.0], [5.0, 0]])  # 10 ties between two policies
    games = np.array([[0, 10.0], [10.0, 0]])
    assert np.allclose(bt_fit(wins, games), 0.0)
    sweep = bt_fit(np.array([[0, 10.0], [0, 0]]), games)
    assert np.all(np.isfinite(sweep)) and sweep[0] > 2 and abs(sweep.sum()) < 1e-9


def test_comparisons_to_separate():
    assert comparisons_to_separate(70, 100) == 0  # 0.70 of 100: already separated
    assert comparisons_to_separate(50, 100) is None  # a dead heat never separates at this rate
    more = comparisons_to_separate(11, 20)  # 0.55 of 20: overlaps 0.5
    assert more == pytest.approx(1.96 ** 2 * 0.55 * 0.45 / 0.05 ** 2 - 20, abs=1)
    low, _ = wilson_interval(0.55 * (20 + more), 20 + more)
    assert low > 0.5 - 1e-3  # after that many more at the same rate, the interval reaches 0.5
