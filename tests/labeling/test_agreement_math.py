"""The quality statistics against hand-computed values (no database)."""

import math
import random

import krippendorff
import numpy as np
import pytest
from scipy.stats import kendalltau

from labeling.selectors.agreement import ordinal_alpha
from labeling.selectors.label_records import LabelRecord
from labeling.selectors.ranking_math import (
    bootstrap_alpha, bootstrap_ratio, coincidences, kendall_tau_b, ordinal_alpha_from_coincidences, rank_of,
    ranked_pairs, relation_agreement,
)
from labeling.selectors.signals import position_bias_test

A, B, C, D = 1, 2, 3, 4


# --- pairwise agreement with explicit ties -------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    ([[A], [B], [C]], [[A], [B], [C]], (3, 3)),
    ([[A], [B, C]], [[A], [B], [C]], (2, 3)),  # B~C against B>C: a tie is its own answer
    ([[A, B, C]], [[A, B, C]], (3, 3)),  # both tie everything: they agree
    ([[A], [B], [C]], [[C], [B], [A]], (0, 3)),
    ([[A], [B], [D]], [[D], [A], [C]], (0, 1)),  # only completions both ranked: (A, D), reversed
])
def test_relation_agreement(a, b, expected):
    assert relation_agreement(rank_of(a), rank_of(b)) == expected


# --- Kendall tau-b -------------------------------------------------------------------------------

def test_kendall_tau_b_with_a_tie_matches_hand_computation():
    # x = (0, 1, 1), y = (0, 1, 2): 2 concordant, 0 discordant; 1 pair tied in x only.
    # tau_b = (2 - 0) / sqrt((3 - 1) * (3 - 0)) = 2 / sqrt(6)
    assert kendall_tau_b(rank_of([[A], [B, C]]), rank_of([[A], [B], [C]])) == pytest.approx(2 / math.sqrt(6))
    assert kendall_tau_b(rank_of([[A], [B], [C]]), rank_of([[C], [B], [A]])) == pytest.approx(-1.0)
    assert kendall_tau_b(rank_of([[A, B, C]]), rank_of([[A], [B], [C]])) is None  # undefined, not 0


def _random_groups(rng, items):
    order = rng.sample(items, len(items))
    groups, i = [], 0
    while i < len(order):
        size = rng.choice((1, 1, 2, 3))
        groups.append(order[i:i + size])
        i += size
    return groups


def test_kendall_tau_b_equals_scipy_on_random_rankings_with_ties():
    rng = random.Random(0)
    for _ in range(500):
        items = list(range(rng.randint(2, 9)))
        a, b = rank_of(_random_groups(rng, items)), rank_of(_random_groups(rng, items))
        ours = kendall_tau_b(a, b)
        theirs = kendalltau([a[i] for i in items], [b[i] for i in items], variant="b").statistic
        assert (ours is None and math.isnan(theirs)) or ours == pytest.approx(theirs, abs=1e-12)


# --- Ranked Pairs consensus ----------------------------------------------------------------------

def test_ranked_pairs_breaks_a_cycle_at_its_weakest_majority():
    # 3×(A>B>C), 2×(B>C>A), 2×(C>A>B): A>B by 5-2, B>C by 5-2, C>A by 4-3 (a Condorcet cycle).
    # Lock A>B and B>C (margin 3), skip C>A (margin 1, would close the cycle): A > B > C.
    ballots = [[[A], [B], [C]]] * 3 + [[[B], [C], [A]]] * 2 + [[[C], [A], [B]]] * 2
    assert ranked_pairs([rank_of(g) for g in ballots]) == [[A], [B], [C]]


def test_ranked_pairs_ties_only_an_even_majority():
    assert ranked_pairs([rank_of([[A], [B], [C]]), rank_of([[B], [A], [C]])]) == [[A, B], [C]]
    assert ranked_pairs([rank_of([[A], [B, C]])]) == [[A], [B, C]]
    # The Condorcet winner wins even when it is nobody's first choice often.
    ballots = [[[B], [A], [C]], [[C], [A], [B]], [[A], [B], [C]]]
    assert ranked_pairs([rank_of(g) for g in ballots])[0] == [A]


# --- Krippendorff's alpha ------------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, missing
# values. The paper's hand computation gives alpha = 0.743 nominal, 0.849 interval; ordinal 0.815.
NAN = np.nan
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])


def test_ordinal_alpha_reproduces_the_published_example_from_task_blocks():
    # Split the units into "tasks" as the selector does: concatenating the blocks gives the same alpha.
    data = KRIPPENDORFF_2011
    pairable = (~np.isnan(data)).sum(axis=0) >= 2  # unit 12 has one value: no pair, no information
    blocks = [data[:, :5], data[:, 5:9], data[:, 9:][:, pairable[9:]]]
    assert ordinal_alpha(blocks) == pytest.approx(0.815, abs=5e-4)
    assert krippendorff.alpha(reliability_data=data, level_of_measurement="nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff.alpha(reliability_data=data, level_of_measurement="interval") == pytest.approx(0.849, abs=5e-4)


def test_coincidence_alpha_equals_the_library_and_its_bootstrap_covers_it():
    rng = np.random.default_rng(4)
    for _ in range(20):
        data = rng.integers(1, 8, size=(4, 30)).astype(float)
        data[rng.random(data.shape) < 0.3] = np.nan
        values = np.unique(data[~np.isnan(data)])
        library = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
        assert ordinal_alpha_from_coincidences(coincidences(data, values)) == pytest.approx(library, abs=1e-9)
    data = KRIPPENDORFF_2011
    blocks = [data[:, i:i + 3] for i in range(0, 12, 3)]
    per_task = np.stack([coincidences(b, np.arange(1, 6)) for b in blocks])
    assert ordinal_alpha_from_coincidences(per_task.sum(axis=0)) == pytest.approx(0.815, abs=5e-4)
    fig = bootstrap_alpha(per_task, 0.815, n_boot=500)
    assert fig.ci_low <= 0.815 <= fig.ci_high and fig.n_tasks == 4


def test_ordinal_alpha_perfect_and_undefined():
    assert ordinal_alpha([np.array([[1, 2, 3], [1, 2, 3]], dtype=float)]) == pytest.approx(1.0)
    assert ordinal_alpha([np.array([[4, 4], [4, 4]], dtype=float)]) is None  # one value: alpha undefined


# --- bootstrap -----------------------------------------------------------------------------------

def test_bootstrap_ci_covers_the_truth_about_as_often_as_it_claims():
    """100 simulated campaigns of 40 tasks (6 comparisons each, true agreement 0.7, a task effect):
    the 95 % CI over tasks must cover 0.7 in most of them, and the CI from 3 tasks is much wider."""
    rng = np.random.default_rng(1)
    covered = 0
    for rep in range(100):
        p_task = np.clip(rng.normal(0.7, 0.1, size=40), 0, 1)  # tasks differ: pairs in a task are correlated
        agree = rng.binomial(6, p_task)
        fig = bootstrap_ratio(agree, np.full(40, 6), n_boot=400, seed=rep)
        covered += fig.ci_low <= 0.7 <= fig.ci_high
    assert covered >= 88, covered
    small = bootstrap_ratio([4, 5, 3], [6, 6, 6], n_boot=400)
    large = bootstrap_ratio(rng.binomial(6, 0.7, size=3000), np.full(3000, 6), n_boot=400)
    assert (small.n_tasks, small.n_items, large.n_tasks) == (3, 18, 3000)
    assert small.ci_high - small.ci_low > 5 * (large.ci_high - large.ci_low)
    assert bootstrap_ratio([1], [2]).ci_low is None  # one task: a value, no interval


# --- position bias -------------------------------------------------------------------------------

def _record(best_position: int, k: int = 4, i: int = 0) -> LabelRecord:
    shown = [10 + j for j in range(k)]
    best = shown[best_position]
    return LabelRecord(assignment_id=i, task_id=i, labeler_id=1, username="x", category="other", submitted_at=None,
                       groups=[[best], [c for c in shown if c != best]], display_order=shown, seconds_spent=None,
                       gold=None)


def test_position_bias_statistic_by_hand():
    assert position_bias_test([_record(p % 4) for p in range(40)])["statistic"] == pytest.approx(0.0)
    test = position_bias_test([_record(0) for _ in range(40)])
    # expected 10 per position: (30² + 10² + 10² + 10²) / 10 = 120 on 3 degrees of freedom
    assert (test["statistic"], test["df"], test["n"]) == (pytest.approx(120.0), 3, 40)
    assert test["p_value"] < 1e-20


def test_position_bias_flags_a_planted_bias_and_not_its_absence():
    rng = random.Random(3)
    biased = [_record(0 if rng.random() < 0.6 else rng.randrange(4), i=i) for i in range(100)]
    fair = [_record(rng.randrange(4), i=i) for i in range(100)]
    assert position_bias_test(biased)["p_value"] < 1e-6
    assert position_bias_test(fair)["p_value"] > 0.05
    tied_best = _record(0)
    tied_best.groups = [[10, 11], [12, 13]]
    assert position_bias_test([tied_best])["n"] == 0  # a tied best has no single position
