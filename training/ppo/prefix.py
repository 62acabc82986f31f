"""Run the frozen lower blocks of a LoRA policy once per rollout, not once per forward.

With ``--lora_rank R --lora_layers N`` only the top N transformer blocks carry
adapters. Everything below them is frozen and adapter-free, so for the
rollout's token sequences its output is the same in every forward PPO makes:
the policy's old log-probs, the reference's (adapters off: the lower blocks
are identical), and every minibatch update of every PPO epoch. We record the
input of the first adapted block once (:meth:`FrozenPrefix.capture`, during
the old-log-prob forward) and replay it (:meth:`FrozenPrefix.replay`): those
forwards run only the top N blocks. Gradients are unchanged: nothing below
block L-N has a trainable parameter.

How: for the duration of a replayed forward the trunk's ``layers`` list is
cut to the top N blocks and a forward pre-hook hands the first of them the
recorded hidden states instead of the token embeddings. The embedding lookup,
causal mask and rotary tables are still computed (cheap); position ids and
the attention mask are the caller's, exactly as in a full forward.
Single process only: under DDP rollouts are gathered across processes with
different widths, so the loop runs full forwards there.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from training.lora import trunk


class FrozenPrefix:
    """Capture / replay the input of the first adapted block of ``policy`` (a peft model)."""

    def __init__(self, policy: nn.Module, adapted_blocks: int):
        self.decoder = trunk(policy)
        total = len(self.decoder.layers)
        if not 0 < adapted_blocks < total:
            raise ValueError(f"adapted_blocks must be in 1..{total - 1}, got {adapted_blocks}")
        self.first = total - adapted_blocks

    @property
    def block(self) -> nn.Module:
        """The first adapted block (whose input is recorded)."""
        return self.decoder.layers[self.first]

    @contextlib.contextmanager
    def capture(self, into: list) -> Iterator[None]:
        """Append the hidden states entering the first adapted block of every forward run inside."""

        def hook(module, args):
            into.append(args[0].detach())

        handle = self.block.register_forward_pre_hook(hook)
        try:
            yield
        finally:
            handle.remove()

    @contextlib.contextmanager
    def replay(self, hidden: torch.Tensor) -> Iterator[None]:
        """Forwards run inside start at the first adapted block from ``hidden`` (B, T, H)."""
        layers = self.decoder.layers

        def hook(module, args):
            if args[0].shape[:2] != hidden.shape[:2]:
                raise RuntimeError(f"replayed hidden states {tuple(hidden.shape)} do not fit input "
                                   f"{tuple(args[0].shape)}")
            return (hidden,) + tuple(args[1:])

        handle = self.block.register_forward_pre_hook(hook)
        self.decoder.layers = nn.ModuleList(list(layers)[self.first:])
        try:
            yield
        finally:
            self.decoder.layers = layers
            handle.remove()
