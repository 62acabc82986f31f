"""The configuration of ``python -m training ppo`` (every field documented)."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.config import RunConfig
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class PPOConfig(RunConfig):
    """PPO-ptx (InstructGPT): optimise the policy against a reward model, KL-penalised towards the SFT model."""

    prompts: str = field(metadata={"help": "Prompts snapshot folder or .jsonl of {\"prompt\": [messages]} rows."})
    reward_model: str | None = field(
        default=None,
        metadata={"help": "Reward model folder (python -m training reward). Exactly one of this and reward_fn."},
    )
    reward_fn: str | None = field(
        default=None,
        metadata={"help": "Builtin reward instead of a model, for tests/debugging: contains:WORD, count:WORD, length."},
    )
    value_model: str | None = field(
        default=None,
        metadata={"help": "Initial value model (default: the reward model, as InstructGPT; "
                          "with reward_fn: the policy + a fresh head)."},
    )
    batch_size: int = field(default=16, metadata={"help": "Episodes (prompts) sampled per PPO step."})
    mini_batch_size: int = field(default=8, metadata={"help": "Episodes per gradient update inside a PPO step."})
    ppo_epochs: int = field(default=4, metadata={"help": "Passes over each rollout batch."})
    learning_rate: float = field(default=1e-6, metadata={"help": "Policy learning rate (linear decay after warmup)."})
    value_learning_rate: float | None = field(
        default=None, metadata={"help": "Value model learning rate (default: learning_rate)."}
    )
    warmup_steps: int = field(default=0, metadata={"help": "Linear LR warmup steps."})
    max_new_tokens: int = field(default=64, metadata={"help": "Longest response sampled."})
    max_prompt_length: int = field(default=256, metadata={"help": "Prompts keep their last N tokens."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (log-probs use the same)."})
    init_kl_coef: float = field(
        default=0.02, metadata={"help": "beta: per-token KL penalty towards the reference (InstructGPT 0.02)."}
    )
    kl_target: float | None = field(
        default=None,
        metadata={"help": "Adaptive KL controller target in nats per episode (Ziegler et al.); unset = fixed beta."},
    )
    kl_horizon: int = field(default=10000, metadata={"help": "Adaptive KL controller horizon in episodes."})
    gamma: float = field(default=1.0, metadata={"help": "Discount factor for GAE."})
    lam: float = field(default=0.95, metadata={"help": "GAE lambda."})
    cliprange: float = field(default=0.2, metadata={"help": "PPO ratio clip epsilon."})
    cliprange_value: float = field(default=0.2, metadata={"help": "Value clip epsilon (around the rollout values)."})
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss."})
    entropy_coef: float = field(
        default=0.0, metadata={"help": "Weight of the entropy bonus (0: none, as InstructGPT)."}
    )
    whiten_advantages: bool = field(default=True, metadata={"help": "Normalise advantages per rollout batch."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Clip the gradient norm (0 = no clipping)."})
    ptx_data: str | None = field(
        default=None, metadata={"help": "SFT snapshot for the ptx term (gamma x log-likelihood); unset = plain PPO."}
    )
    ptx_coef: float = field(default=1.0, metadata={"help": "gamma: weight of the SFT negative log-likelihood term."})
    ptx_batch_size: int = field(default=4, metadata={"help": "SFT rows per gradient update for the ptx term."})
    freeze_value_trunk: bool = field(
        default=False,
        metadata={"help": "Train only the value head on a frozen trunk: the trunk's features are computed once "
                          "per rollout, so value updates cost almost nothing."},
    )
    eval_steps: int = field(
        default=10,
        metadata={"help": "Score the policy on held-out prompts (the prompts snapshot's valid split) at step 0 "
                          "and every N steps (0 = only at step 0 and the end)."},
    )
    eval_prompts: int = field(default=16, metadata={"help": "Held-out prompts per evaluation (the first N)."})
    samples_logged: int = field(
        default=3, metadata={"help": "Sample texts (prompt, response, reward) logged with each evaluation."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.reward_model is None) == (self.reward_fn is None):
            raise TrainingInputError("config: give exactly one of reward_model and reward_fn")
        positive = ("mini_batch_size", "ppo_epochs", "max_new_tokens", "max_prompt_length", "ptx_batch_size",
                    "kl_horizon", "eval_prompts")
        for name in positive:
            if getattr(self, name) <= 0:
                raise TrainingInputError(f"config: {name} must be > 0, got {getattr(self, name)}")
        if self.eval_steps < 0 or self.samples_logged < 0:
            raise TrainingInputError("config: eval_steps and samples_logged must be >= 0")
        if self.mini_batch_size > self.batch_size:
            raise TrainingInputError("config: mini_batch_size must be <= batch_size")
        if self.temperature <= 0 or self.init_kl_coef < 0 or self.cliprange <= 0 or self.cliprange_value <= 0:
            raise TrainingInputError("config: temperature, cliprange(_value) must be > 0 and init_kl_coef >= 0")
        if self.kl_target is not None and self.kl_target <= 0:
            raise TrainingInputError("config: kl_target must be > 0")
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise TrainingInputError("config: gamma and lam must lie in [0, 1]")
