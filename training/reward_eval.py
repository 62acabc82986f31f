"""Scoring whole datasets with a reward model: held-out accuracy and the normalisation offset.

Used by ``training.reward`` during and after training. With an Accelerator of
several processes, each process scores a contiguous slice of the rows and the
scores are gathered, so every process ends up with the same figures (and the
work is split instead of repeated).
"""

from __future__ import annotations

import random

import torch

from training.dist import gather_list, shard_slice
from training.optim import autocast
from training.reward_loss import build_pair_index, kway_ranking_loss, pairwise_accuracy
from training.reward_model import RewardModel, pad_sequences

# One tokenized comparison row: the token ids of each (prompt + completion i).
TokRow = list[list[int]]


def tokenize_rows(rm: RewardModel, rows: list[dict]) -> list[TokRow]:
    """Token ids of every (prompt, completion) of every row, chat-template formatted."""
    return [rm.encode([row["prompt"]] * len(row["completions"]), row["completions"]) for row in rows]


@torch.no_grad()
def raw_scores(rm: RewardModel, toks: list[TokRow], device, dtype, batch_size: int) -> list[torch.Tensor]:
    """Raw scores per row (no grad, on the CPU), batching length-sorted completions across rows."""
    flat = [(r, c, seq) for r, row in enumerate(toks) for c, seq in enumerate(row)]
    flat.sort(key=lambda item: len(item[2]))
    out = [torch.zeros(len(row)) for row in toks]
    was_training = rm.training
    rm.eval()
    for start in range(0, len(flat), batch_size):
        chunk = flat[start : start + batch_size]
        ids, mask = pad_sequences([seq for _, _, seq in chunk], rm.tokenizer.pad_token_id)
        with autocast(device, dtype):
            scores = rm(ids.to(device), mask.to(device)).float().cpu()
        for (r, c, _), value in zip(chunk, scores):
            out[r][c] = value
    rm.train(was_training)
    return out


def all_raw_scores(rm: RewardModel, toks: list[TokRow], device, dtype, batch_size: int,
                   accelerator=None) -> list[torch.Tensor]:
    """:func:`raw_scores` of every row, split across the accelerator's processes (a collective call)."""
    if accelerator is None or accelerator.num_processes == 1:
        return raw_scores(rm, toks, device, dtype, batch_size)
    mine = raw_scores(rm, toks[shard_slice(len(toks), accelerator)], device, dtype, batch_size)
    return gather_list(accelerator, mine)  # slices are contiguous, so process order is row order


def evaluate(rm: RewardModel, toks: list[TokRow], rows: list[dict], device, dtype, batch_size: int,
             accelerator=None) -> dict:
    """Held-out K-way loss and pooled pairwise accuracy."""
    per_row = all_raw_scores(rm, toks, device, dtype, batch_size, accelerator)
    index = build_pair_index([r["ranking"] for r in rows], [len(s) for s in per_row])
    scores = torch.cat(per_row) if per_row else torch.zeros(0)
    acc, n_pairs = pairwise_accuracy(scores, index)
    return {
        "pairwise_accuracy": acc,
        "loss": float(kway_ranking_loss(scores, index)),
        "pairs": n_pairs,
        "rankings": len(rows),
        "completions_scored": int(scores.numel()),
    }


def normalization_rows(toks: list[TokRow], max_rows: int, seed: int) -> list[TokRow]:
    """Up to ``max_rows`` rankings for the bias, sampled across the whole file with ``seed`` (the same on every
    process). The first rows would over-weight the oldest rankings, which an earlier policy wrote."""
    if len(toks) <= max_rows:
        return list(toks)
    picked = sorted(random.Random(seed).sample(range(len(toks)), max_rows))
    return [toks[i] for i in picked]


def normalization_offset(rm: RewardModel, toks: list[TokRow], device, dtype, batch_size: int,
                         accelerator=None) -> float:
    """Mean raw score over the given completions: subtracting it gives them mean reward 0."""
    scores = torch.cat(all_raw_scores(rm, toks, device, dtype, batch_size, accelerator))
    return float(scores.mean())
