"""From a sequence-level score to per-token advantages.

InstructGPT / Ziegler et al. (2019): the environment pays the reward model's
score once, at the last response token, and every token pays a KL penalty
``-beta * (log pi(a_t|s_t) - log pi_ref(a_t|s_t))`` that keeps the policy
near the SFT model (the k1 estimator: its expectation under pi is KL(pi||ref)).
Advantages come from GAE over these per-token rewards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from training.ppo.stats import whiten


def kl_penalized_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards (B, T) and per-token KL estimates (B, T).

    ``mask`` marks the response tokens (1 up to and including EOS, then 0); it
    must be right-padded, so the score lands at index ``mask.sum(1) - 1``.
    """
    mask = mask.to(logprobs.dtype)
    kl = (logprobs - ref_logprobs) * mask
    rewards = -beta * kl
    last = (mask.sum(1).long() - 1).clamp(min=0)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last] += scores.to(rewards.dtype)
    return rewards, kl


def k3_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || ref) (Schulman, "Approximating KL divergence", 2020), (B, T).

    With ``r = pi_ref / pi`` on tokens sampled from pi: ``k3 = (r - 1) - log r``.
    Unbiased like k1 = ``-log r``, but never negative (``x - 1 >= log x``), so a
    logged KL below 0 (k1's sampling noise) cannot mislead anyone.
    """
    log_ratio = (ref_logprobs - logprobs).float()
    return (torch.expm1(log_ratio) - log_ratio).clamp(min=0) * mask.to(log_ratio.dtype)


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) → (advantages, returns).

    ``delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)``,
    ``A_t = delta_t + gamma * lam * A_{t+1}``. Values and rewards after the
    response ends are zeroed first, so the episode bootstraps from 0 after
    its last token and padding contributes nothing.
    """
    mask = mask.to(values.dtype)
    values, rewards = values * mask, rewards * mask
    steps = rewards.shape[1]
    running = torch.zeros_like(rewards[:, 0])
    reversed_adv = []
    for t in reversed(range(steps)):
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        reversed_adv.append(running)
    advantages = torch.stack(reversed_adv[::-1], dim=1) * mask
    return advantages, advantages + values


def whiten_advantages(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero-mean, unit-variance advantages over the batch's response tokens."""
    return whiten(advantages, mask, shift_mean=True)


@dataclass
class KLController:
    """The KL coefficient beta, fixed or adaptive (Ziegler et al. 2019, §2.2).

    Adaptive: ``e = clip(KL / target - 1, -0.2, 0.2)``,
    ``beta <- beta * (1 + e * n_episodes / horizon)``, so beta grows when the
    policy drifts further than ``target`` nats from the reference and shrinks
    when it stays closer. ``target=None`` keeps beta fixed (InstructGPT's 0.02).
    """

    value: float = 0.02
    target: float | None = None
    horizon: int = 10000

    def update(self, current_kl: float, n_episodes: int) -> None:
        """Adjust beta after a rollout batch of ``n_episodes`` with mean KL ``current_kl``."""
        if self.target is None or not math.isfinite(current_kl):
            return
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_episodes / self.horizon

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume the controller."""
        return {"value": self.value, "target": self.target, "horizon": self.horizon}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`."""
        self.value, self.target, self.horizon = state["value"], state["target"], state["horizon"]
