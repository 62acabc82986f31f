"""The PPO objective pieces (Schulman et al. 2017) over masked response tokens.

All means are token-level means over the minibatch's response tokens, so a
long response weighs more than a short one (as in TRL's PPOTrainer and most
RLHF PPO code); the masks keep the padding after EOS out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from training.ppo.stats import masked_mean


@dataclass
class PolicyLossOut:
    """The clipped surrogate loss and its diagnostics."""

    loss: torch.Tensor
    clip_fraction: float
    approx_kl: float


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float = 0.2,
) -> PolicyLossOut:
    """``mean(max(-A * ratio, -A * clip(ratio, 1-eps, 1+eps)))`` over response tokens.

    ``approx_kl`` is the k3 estimator ``(ratio - 1) - log ratio`` of
    KL(old || new), >= 0 and low-variance: a diagnostic for too-large steps.
    """
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped > unclipped).float(), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
    return PolicyLossOut(loss, float(clip_fraction), float(approx_kl))


@dataclass
class ValueLossOut:
    """The clipped value loss and how often the clip was the binding term."""

    loss: torch.Tensor
    clip_fraction: float


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float = 0.2,
) -> ValueLossOut:
    """``0.5 * mean(max((V - R)^2, (V_clip - R)^2))`` with ``V_clip`` within eps of the old value.

    Clipping the value update the way the policy's is clipped keeps the value
    head from jumping on one noisy batch (as in OpenAI baselines' PPO2).
    """
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    err_unclipped = (values - returns) ** 2
    err_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(err_unclipped, err_clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((err_clipped > err_unclipped).float(), mask)
    return ValueLossOut(loss, float(clip_fraction))


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) under ``logits`` (..., V), in float32 so bf16 logits stay accurate."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return torch.gather(logp, -1, tokens.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution given by ``logits`` (..., V), per position."""
    logits = logits.float()
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)
