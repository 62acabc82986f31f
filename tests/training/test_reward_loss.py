"""The K-way ranking loss against a brute-force pairwise computation."""

import math
import random

import pytest
import torch

from training.reward_loss import (
    build_pair_index,
    kway_ranking_loss,
    pairwise_accuracy,
    ranking_pairs,
)


def brute_force_loss(scores, rankings, sizes):
    """Python loops over every winner/loser pair of every ranking: the paper's eq. 1."""
    per_ranking, offset = [], 0
    for ranking, size in zip(rankings, sizes):
        terms = []
        for g, better in enumerate(ranking):
            for worse in ranking[g + 1 :]:
                for w in better:
                    for l in worse:
                        diff = scores[offset + w] - scores[offset + l]
                        terms.append(-torch.log(torch.sigmoid(diff)))
        if terms:
            per_ranking.append(sum(terms) / len(terms))
        offset += size
    return sum(per_ranking) / len(per_ranking)


def random_ranking(rng, k):
    """A random ordered partition of range(k) into groups (ties likely)."""
    items = list(range(k))
    rng.shuffle(items)
    groups, i = [], 0
    while i < k:
        n = rng.randint(1, min(3, k - i))
        groups.append(items[i : i + n])
        i += n
    return groups


def test_ranking_pairs_with_ties():
    assert sorted(ranking_pairs([[2], [0, 3], [1]])) == sorted(
        [(2, 0), (2, 3), (2, 1), (0, 1), (3, 1)]
    )
    assert ranking_pairs([[0, 1, 2]]) == []
    assert len(ranking_pairs([[i] for i in range(9)])) == 36


def test_loss_and_gradient_match_brute_force():
    rng = random.Random(0)
    sizes = [4, 2, 9, 3, 5]
    rankings = [random_ranking(rng, k) for k in sizes]
    rankings[3] = [[0, 1, 2]]  # an all-tie ranking contributes nothing
    rankings[0] = [[2], [0, 3], [1]]
    base = torch.randn(sum(sizes), dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    ours_scores = base.clone().requires_grad_(True)
    ours = kway_ranking_loss(ours_scores, build_pair_index(rankings, sizes))
    ours.backward()

    ref_scores = base.clone().requires_grad_(True)
    ref = brute_force_loss(ref_scores, rankings, sizes)
    ref.backward()

    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    torch.testing.assert_close(ours_scores.grad, ref_scores.grad, rtol=1e-9, atol=1e-12)
    # The tied ranking's completions get exactly no gradient.
    assert torch.all(ours_scores.grad[15:18] == 0)


def test_rankings_weigh_equally_not_pairs():
    # A K=2 ranking the model gets wrong and a K=9 ranking it gets right: the
    # per-ranking mean makes the one wrong pair count half the batch.
    sizes = [2, 9]
    rankings = [[[0], [1]], [[i] for i in range(9)]]
    scores = torch.tensor([0.0, 1.0] + [float(9 - i) * 100 for i in range(9)])
    loss = kway_ranking_loss(scores, build_pair_index(rankings, sizes))
    expected = (math.log1p(math.e) + 0.0) / 2  # -log sigmoid(-1) = log(1 + e)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_loss_is_numerically_stable():
    index = build_pair_index([[[0], [1]], [[1], [0]]], [2, 2])
    scores = torch.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    loss = kway_ranking_loss(scores, index)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(1e4, rel=1e-3)
    assert torch.all(torch.isfinite(scores.grad))


def test_no_pairs_gives_differentiable_zero():
    scores = torch.randn(3, requires_grad=True)
    loss = kway_ranking_loss(scores, build_pair_index([[[0, 1, 2]]], [3]))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(scores.grad == 0)


def test_pairwise_accuracy_counts_ties_half():
    index = build_pair_index([[[0], [1], [2]]], [3])  # pairs (0,1) (0,2) (1,2)
    acc, n = pairwise_accuracy(torch.tensor([3.0, 1.0, 1.0]), index)
    assert n == 3 and acc == pytest.approx((1 + 1 + 0.5) / 3)
    acc, _ = pairwise_accuracy(torch.tensor([0.0, 1.0, 2.0]), index)
    assert acc == 0.0
