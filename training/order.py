"""Deterministic data order: which rows a step uses is a pure function of (seed, step).

A resumed run therefore needs no data-loader state to continue exactly where
an uninterrupted run would be.
"""

from __future__ import annotations

import torch

_cache: dict[tuple[int, int, int], torch.Tensor] = {}


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The row order of one epoch (its own generator: independent of the global RNG)."""
    key = (seed, epoch, n)
    if key not in _cache:
        if len(_cache) > 8:  # only the current (and maybe next) epoch is ever needed
            _cache.clear()
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        _cache[key] = torch.randperm(n, generator=gen)
    return _cache[key]


def batch_rows(step: int, n_rows: int, batch_size: int, seed: int) -> list[int]:
    """Row indices of batch number ``step`` (0-based), walking epoch after epoch.

    Each epoch visits every row once in its own seeded permutation; a batch
    may straddle two epochs.
    """
    if n_rows <= 0:
        raise ValueError("no rows to draw batches from")
    out = []
    for pos in range(step * batch_size, (step + 1) * batch_size):
        epoch, i = divmod(pos, n_rows)
        out.append(int(epoch_permutation(seed, epoch, n_rows)[i]))
    return out
