"""The InstructGPT K-way ranking loss for reward models (DESIGN.md §5).

A labeler ranks K completions of one prompt into ordered groups (ties
allowed), e.g. ``[[2], [0, 3], [1]]``: 2 beats everything, 0 and 3 tie, 1 is
worst. Every completion in an earlier group beats every completion in a later
group, so this ranking yields the pairs (2,0) (2,3) (2,1) (0,1) (3,1); the tie
0~3 yields no pair.

InstructGPT (Ouyang et al. 2022, eq. 1) treats all C(K,2) pairs of one ranking
as ONE batch element: each completion is scored once (K forward passes instead
of the K(K-1) a pairwise trainer spends), and the loss is

    loss(ranking) = -1/#pairs * sum_{(w,l)} log sigmoid(r_w - r_l)

Weighting choice: the batch loss is the plain mean of the per-ranking losses
over rankings that have at least one pair. Every ranking therefore weighs the
same whatever its K or tie structure, as in the paper, instead of letting a
K=9 ranking (36 pairs) drown out a K=2 one (1 pair); InstructGPT found that
treating the highly correlated pairs of one ranking as independent samples
overfits. A ranking whose completions all tie carries no signal and is
skipped (it would otherwise divide by zero).

Everything is vectorised: the pairs of a whole batch are index tensors into
the flat vector of scores, built once per batch on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from training.data import ranking_pairs  # the one definition of which pairs a ranking implies

__all__ = ["PairIndex", "build_pair_index", "kway_ranking_loss", "pairwise_accuracy", "ranking_pairs"]

Ranking = Sequence[Sequence[int]]


@dataclass(frozen=True)
class PairIndex:
    """The pairs of a batch of rankings as index tensors into the flat scores.

    ``winner[p]`` / ``loser[p]`` index the flat score vector (all completions
    of the batch, ranking after ranking); ``group[p]`` is the position of the
    ranking pair p comes from among the rankings that have pairs; ``num_groups``
    counts those rankings.
    """

    winner: torch.Tensor
    loser: torch.Tensor
    group: torch.Tensor
    num_groups: int

    @property
    def num_pairs(self) -> int:
        """How many (winner, loser) pairs the batch holds."""
        return int(self.winner.numel())

    def to(self, device: torch.device | str) -> "PairIndex":
        """The same index on another device."""
        return PairIndex(
            self.winner.to(device), self.loser.to(device), self.group.to(device), self.num_groups
        )


def build_pair_index(rankings: Sequence[Ranking], sizes: Sequence[int]) -> PairIndex:
    """Index tensors for the pairs of ``rankings`` whose completion counts are ``sizes``.

    The flat score vector is laid out ranking after ranking, so completion i
    of ranking b sits at ``sum(sizes[:b]) + i``.
    """
    if len(rankings) != len(sizes):
        raise ValueError(f"{len(rankings)} rankings but {len(sizes)} sizes")
    winners, losers, groups = [], [], []
    offset, group = 0, 0
    for ranking, size in zip(rankings, sizes):
        pairs = ranking_pairs(ranking)
        if pairs:
            winners.extend(offset + w for w, _ in pairs)
            losers.extend(offset + l for _, l in pairs)
            groups.extend([group] * len(pairs))
            group += 1
        offset += size
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long)  # noqa: E731
    return PairIndex(as_long(winners), as_long(losers), as_long(groups), group)


def kway_ranking_loss(scores: torch.Tensor, index: PairIndex) -> torch.Tensor:
    """Mean over rankings of each ranking's mean ``-log sigmoid(r_w - r_l)``.

    ``scores`` is the flat 1-D vector of completion scores. Computed in (at
    least) float32 with ``logsigmoid`` so large margins neither overflow nor give log(0).
    """
    if index.num_pairs == 0:
        # No ranking in the batch carries a preference: a zero that still
        # depends on the scores keeps backward() and DDP gradient sync working.
        return scores.sum() * 0.0
    if scores.dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()  # bf16 score differences lose too many digits
    pair_loss = -F.logsigmoid(scores[index.winner] - scores[index.loser])
    per_group = pair_loss.new_zeros(index.num_groups).index_add(0, index.group, pair_loss)
    counts = torch.bincount(index.group, minlength=index.num_groups).to(per_group)
    return (per_group / counts).mean()


def pairwise_accuracy(scores: torch.Tensor, index: PairIndex) -> tuple[float, int]:
    """(fraction of pairs the scores order correctly, number of pairs).

    A pair counts as correct when ``r_w > r_l``; an exact tie counts half, so
    a constant reward model scores 0.5 rather than 0 or 1. Pairs are pooled
    (not averaged per ranking) because this is the figure labelers' agreement
    is usually reported in.
    """
    if index.num_pairs == 0:
        return 0.0, 0
    diff = scores.detach().float()[index.winner] - scores.detach().float()[index.loser]
    correct = (diff > 0).float() + 0.5 * (diff == 0).float()
    return float(correct.mean()), index.num_pairs
