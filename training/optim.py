"""Optimizer, learning-rate schedule and precision helpers shared by the reward and PPO trainers."""

from __future__ import annotations

import contextlib
from typing import Iterable

import torch


def make_optimizer(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters (frozen ones are skipped)."""
    trainable = [p for p in params if p.requires_grad]
    return torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95), eps=1e-8)


def warmup_schedule(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, decay: bool = True
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup to the peak LR, then linear decay to 0 at ``total_steps`` (or constant)."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        if not decay:
            return 1.0
        remaining = total_steps - step
        return max(remaining, 0) / max(total_steps - warmup_steps, 1)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def trainable_dtype(device: torch.device) -> torch.dtype:
    """Weights we train stay float32 (AdamW updates underflow in bf16); autocast does the bf16."""
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    """Autocast to the run's compute dtype when it is bf16/fp16 (CUDA or CPU); a no-op for fp32."""
    if dtype in (torch.bfloat16, torch.float16) and device.type in ("cuda", "cpu"):
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()
