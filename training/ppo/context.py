"""Everything one PPO run holds: config, accelerator, the four models, tokenizer, data, optimizer.

Under ``accelerate launch`` (DDP) the trained models (policy and value) are
prepared by the accelerator: each process holds a full copy whose gradients
are averaged over processes. Training forwards must go through the prepared
wrappers (``policy_train`` / ``value_train``): DDP synchronises gradients only
for forwards it sees. Sampling, scoring and checkpoints use the plain modules
(``policy`` / ``value``): ``generate`` is not a DDP method, and no-grad forwards
need no synchronisation. The frozen reference and reward model are only moved
to the device, never prepared: they have no gradients to synchronise.

With ``--lora_rank`` the policy is a peft model whose base weights are frozen
and the reference is the same model with its adapters switched off
(:class:`training.lora.AdaptersOff`), so there are three models in memory, not four.
With ``--freeze_value_trunk`` the value model trains its head only, on trunk
features computed once per rollout (``training.ppo.rollout``).
"""

from __future__ import annotations

import torch

from training.data import load_snapshot
from training.dist import check_divisible, make_accelerator
from training.errors import TrainingInputError
from training.lora import AdaptersOff, add_adapters, make_trainable
from training.lowp import store_frozen_in
from training.modeling import load_causal_lm, load_tokenizer, pick_dtype, resolve_model, seed_everything
from training.modeling import sync_pad_token
from training.optim import warmup_schedule
from training.ppo.advantages import KLController
from training.ppo.config import PPOConfig
from training.ppo.prefix import FrozenPrefix
from training.ppo.ptx import DemoPrefix, encode_demos
from training.ppo.rewards import builtin_reward, reward_model_fn
from training.reward_model import init_reward_model


class Context:
    """Everything a PPO step needs: config, accelerator, models, tokenizer, data, optimizer."""

    def __init__(self, cfg: PPOConfig):
        self.cfg = cfg
        self.prompts_snap = load_snapshot(cfg.prompts, "prompts")  # validate every row first
        self.ptx_snap = load_snapshot(cfg.ptx_data, "sft") if cfg.ptx_data else None
        builtin = builtin_reward(cfg.reward_fn) if cfg.reward_fn else None  # bad spec fails early
        self.accelerator = make_accelerator(cfg.device, "ppo", cfg.precision)
        with self.accelerator.main_process_first():  # a registered model is prepared once, not raced
            self.model_path = resolve_model(cfg.model)
        _check_batches(cfg, self.accelerator)
        self.device = self.accelerator.device
        self.dtype = pick_dtype(self.device, cfg.precision, self.model_path)
        seed_everything(cfg.seed)  # the same on every process: identical initial models
        self.tokenizer = load_tokenizer(self.model_path, padding_side="left")
        # With LoRA the reference is the policy with adapters off: one copy of the weights, not two.
        self.policy = add_adapters(self._causal_lm(trainable=not cfg.lora_rank), cfg)
        self.ref = AdaptersOff(self.policy) if cfg.lora_rank else self._causal_lm(trainable=False)
        value_path = cfg.value_model or cfg.reward_model or self.model_path
        self.value = init_reward_model(value_path, self.device, torch.float32, max_length=cfg.max_length)
        make_trainable(self.value, cfg, freeze_trunk=cfg.freeze_value_trunk)
        self.value.eval()
        # Frozen weights in bf16 (training.lowp): bit-identical forwards, no per-forward casts. The policy's
        # are put back in fp32 from the model folder before its adapters are merged and saved.
        self.policy_lowp = store_frozen_in(self.policy, self.dtype)
        if not cfg.lora_rank:
            store_frozen_in(self.ref, self.dtype)
        store_frozen_in(self.value.model, self.dtype)
        _check_same_vocab(self.tokenizer, self.value.tokenizer, value_path)
        self.reward_fn = builtin or reward_model_fn(cfg.reward_model, self.device, cfg.precision)
        self.demos = encode_demos(self.tokenizer, self.ptx_snap.train, cfg.max_length) if self.ptx_snap else []
        value_lr = cfg.value_learning_rate if cfg.value_learning_rate is not None else cfg.learning_rate
        optimizer = torch.optim.AdamW(
            [{"params": _trainable(self.policy), "lr": cfg.learning_rate},
             {"params": _trainable(self.value), "lr": value_lr}],
            betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0,
        )
        scheduler = warmup_schedule(optimizer, cfg.warmup_steps, cfg.max_steps)
        self.policy_train, self.value_train, self.optimizer, self.scheduler = self.accelerator.prepare(
            self.policy, self.value, optimizer, scheduler
        )
        self.kl_ctl = KLController(cfg.init_kl_coef, cfg.kl_target, cfg.kl_horizon)
        self.prefix = _frozen_prefix(self.policy, cfg, self.accelerator.num_processes)
        self.demo_prefix = DemoPrefix(self.prefix, self.policy, self.device, self.dtype) \
            if self.prefix is not None and self.demos else None

    def _causal_lm(self, trainable: bool):
        """The policy (trainable) or the frozen reference, both from ``--model`` in float32."""
        model = load_causal_lm(self.model_path, self.device, torch.float32)
        sync_pad_token(model, self.tokenizer)
        model.eval()
        model.requires_grad_(trainable)
        return model

    @property
    def trained_parameters(self) -> list[torch.nn.Parameter]:
        """Policy and value parameters (what gradient clipping looks at)."""
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def inputs(self) -> dict[str, str]:
        """sha256 of every input file, for result.json lineage."""
        files = dict(self.prompts_snap.files)
        if self.ptx_snap:
            files.update(self.ptx_snap.files)
        return files


def _frozen_prefix(policy, cfg: PPOConfig, processes: int) -> FrozenPrefix | None:
    """Replay the frozen lower blocks when adapters sit on the top blocks only (single process)."""
    blocks = policy.get_base_model().config.num_hidden_layers if cfg.lora_rank else 0
    if not cfg.lora_rank or not 0 < cfg.lora_layers < blocks or processes > 1:
        return None
    return FrozenPrefix(policy, cfg.lora_layers)


def _trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Parameters that train (frozen base weights under LoRA or a frozen trunk get no optimizer state)."""
    return [p for p in model.parameters() if p.requires_grad]


def _check_batches(cfg: PPOConfig, accelerator) -> None:
    """Episodes are split evenly (the rollout is gathered by tensor collectives); ptx rows at least one each."""
    check_divisible(cfg.batch_size, accelerator, "batch_size", exact=True)
    check_divisible(cfg.mini_batch_size, accelerator, "mini_batch_size", exact=True)
    if cfg.ptx_data:
        check_divisible(cfg.ptx_batch_size, accelerator, "ptx_batch_size")


def _check_same_vocab(policy_tok, value_tok, value_path) -> None:
    """The value model reads the policy's token ids directly, so the vocabularies must agree."""
    if policy_tok.get_vocab() != value_tok.get_vocab():
        raise TrainingInputError(
            f"{value_path}: value model tokenizer differs from the policy's; "
            "train the reward model from the same SFT model or pass --value_model"
        )
