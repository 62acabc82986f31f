"""The "ptx" term of PPO-ptx: gamma x the policy's log-likelihood of SFT demonstrations.

InstructGPT mixed pretraining gradients into PPO to limit regressions on
public NLP tasks. We use demonstrations from an SFT snapshot (the data we
have), scored on the final assistant turn only, as in SFT.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.optim import autocast
from training.reward_model import pad_sequences, position_ids_from_mask

IGNORE = -100


def encode_demo(tokenizer, messages: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) of one demonstration; labels are IGNORE outside the last assistant turn.

    The prompt part is the template rendered up to the generation prompt; if
    the full rendering does not start with it (an unusual template), the whole
    conversation is trained on rather than guessing a boundary.
    """
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    prefix = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    n_prompt = len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) if full.startswith(prefix) else 0
    labels = [IGNORE] * n_prompt + ids[n_prompt:]
    # Keep the end: the demonstration is what the term is about.
    return ids[-max_length:], labels[-max_length:]


def encode_demos(tokenizer, rows: list[dict], max_length: int) -> list[tuple[list[int], list[int]]]:
    """Encode every SFT row once, up front."""
    return [encode_demo(tokenizer, row["messages"], max_length) for row in rows]


def ptx_targets(demos: list[tuple[list[int], list[int]]]) -> int:
    """How many tokens :func:`ptx_loss` averages over (labels after the shift, IGNORE excluded)."""
    return sum(sum(1 for label in labels[1:] if label != IGNORE) for _, labels in demos)


def ptx_loss(policy, demos: list[tuple[list[int], list[int]]], pad_id: int, device, dtype) -> torch.Tensor:
    """Mean negative log-likelihood of the demonstration tokens (the term to ADD, times gamma).

    ``policy`` may be DDP-wrapped (then its gradients are synchronised); a
    batch without any target token gives 0, not NaN.
    """
    ids, mask = pad_sequences([d[0] for d in demos], pad_id)
    labels, _ = pad_sequences([d[1] for d in demos], IGNORE)
    ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
    with autocast(device, dtype):
        logits = policy(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                        use_cache=False).logits
    # Token t predicts token t+1.
    total = F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=IGNORE,
        reduction="sum",
    )
    return total / max(ptx_targets(demos), 1)
