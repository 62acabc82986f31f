"""The "ptx" term of PPO-ptx: gamma x the policy's log-likelihood of SFT demonstrations.

InstructGPT mixed pretraining gradients into PPO to limit regressions on
public NLP tasks. We use demonstrations from an SFT snapshot (the data we
have), scored on the final assistant turn only, as in SFT.
"""

from __future__ import annotations

import contextlib

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


def ptx_loss(policy, demos: list[tuple[list[int], list[int]]], pad_id: int, device, dtype,
             frozen: "DemoPrefix | None" = None) -> torch.Tensor:
    """Mean negative log-likelihood of the demonstration tokens (the term to ADD, times gamma).

    ``policy`` may be DDP-wrapped (then its gradients are synchronised); a
    batch without any target token gives 0, not NaN. The LM head runs only at
    the positions that predict a target token (the demonstrations' answers are
    a small part of each sequence, and the head is a sixth of SmolLM2's
    FLOPs per position). ``frozen`` replays the frozen lower blocks' cached output.
    """
    ids, mask = pad_sequences([d[0] for d in demos], pad_id)
    labels, _ = pad_sequences([d[1] for d in demos], IGNORE)
    ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
    targets = labels[:, 1:]  # token t predicts token t+1
    keep = (targets != IGNORE).any(0).nonzero().squeeze(1)
    if keep.numel() == 0:
        keep = torch.zeros(1, dtype=torch.long, device=device)
    replay = frozen.replay(demos, ids.shape[1]) if frozen is not None else contextlib.nullcontext()
    with replay, autocast(device, dtype):
        logits = policy(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                        use_cache=False, logits_to_keep=keep).logits
    total = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets[:, keep].reshape(-1),
                            ignore_index=IGNORE, reduction="sum")
    return total / max(ptx_targets(demos), 1)


class DemoPrefix:
    """The frozen lower blocks' output for each demonstration, computed once per run, replayed after.

    Demonstrations never change during PPO and nothing below the adapted
    blocks trains (``training.ppo.prefix``), so each demonstration's
    hidden states at the first adapted block are the same at every update.
    Each is computed on its own, unpadded (right padding changes nothing at
    the real positions), and kept while the cache is under ``budget_bytes``;
    beyond that, demonstrations are recomputed per use as before.
    """

    def __init__(self, prefix, policy, device, dtype, budget_bytes: int = 256 * 2**20):
        self.prefix, self.policy, self.device, self.dtype = prefix, policy, device, dtype
        self.budget, self.used = budget_bytes, 0
        self.cache: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def _hidden(self, demo: tuple[list[int], list[int]]) -> torch.Tensor:
        key = id(demo)  # the demos live in the run's Context for the whole run
        if key in self.cache:
            return self.cache[key]
        ids = torch.tensor([demo[0]], device=self.device)
        captured: list = []
        with self.prefix.capture(captured), autocast(self.device, self.dtype):
            self.policy(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False, logits_to_keep=1)
        hidden = captured[0][0]
        size = hidden.numel() * hidden.element_size()
        if self.used + size <= self.budget:
            self.cache[key], self.used = hidden, self.used + size
        return hidden

    def replay(self, demos: list[tuple[list[int], list[int]]], length: int):
        """A context in which the policy's forward starts from the demos' cached hidden states (right-padded)."""
        rows = [self._hidden(d) for d in demos]
        batch = rows[0].new_zeros(len(rows), length, rows[0].shape[-1])
        for i, row in enumerate(rows):
            batch[i, : row.shape[0]] = row
        return self.prefix.replay(batch)
