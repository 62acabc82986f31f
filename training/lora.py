"""LoRA adapters through ``peft``: cheap fine-tuning of a 135M model on a CPU.

With ``--lora_rank R`` every command trains low-rank adapters on the trunk's
linear layers instead of all weights: no AdamW state for the frozen weights,
and with ``--lora_layers N`` backward stops at the lowest adapted block.
The saved ``model/`` always has the adapters merged in (:func:`merge_adapters`),
so ``generate``, ``evaluate`` and a later ``ppo --model`` load it like any
model folder and the job runner registers it unchanged.

PPO's reference policy is the policy with its adapters switched off
(:class:`AdaptersOff`): the same weights in memory, not a second copy. Adapters
start at zero (peft initialises LoRA's B matrix to 0), so before the first
update the policy computes exactly the reference's logits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from peft import LoraConfig

    from training.config import RunConfig


def trunk(model: nn.Module) -> nn.Module:
    """The transformer trunk of a HF causal-LM / sequence-classification model (or a PeftModel around one)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.base_model


def _block_count(model: nn.Module) -> int:
    """Number of transformer blocks (``config.num_hidden_layers``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return int(base.config.num_hidden_layers)


def target_modules(model: nn.Module, spec: str) -> list[str]:
    """Linear-layer names that get adapters: the trunk's linear layers, or the comma list in ``spec``.

    Only the trunk is searched, so the LM head and a reward model's ``score``
    head never get adapters (the head is trained directly where it is trained).
    """
    found = sorted({name.rsplit(".", 1)[-1] for name, m in trunk(model).named_modules() if isinstance(m, nn.Linear)})
    if spec.strip() == "all-linear":
        return found
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(found))
    if unknown or not wanted:
        from training.errors import TrainingInputError

        raise TrainingInputError(f"config: lora_target_modules {spec!r}: no linear layer named "
                                 f"{', '.join(unknown) or '(empty)'} (the model has: {', '.join(found)})")
    return wanted


def lora_config(model: nn.Module, cfg: "RunConfig") -> "LoraConfig | None":
    """The peft LoraConfig that ``cfg`` asks for on ``model``, or None for a full fine-tune."""
    if not cfg.lora_rank:
        return None
    from peft import LoraConfig

    layers = None
    if cfg.lora_layers:
        total = _block_count(model)
        layers = list(range(max(0, total - cfg.lora_layers), total))
    return LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, bias="none",
                      target_modules=target_modules(model, cfg.lora_target_modules), layers_to_transform=layers,
                      layers_pattern="layers" if layers else None)


def add_adapters(model: nn.Module, cfg: "RunConfig") -> nn.Module:
    """Wrap ``model`` in a peft model with fresh adapters (base weights frozen); unchanged if no LoRA.

    peft injects the adapter layers into ``model`` in place, so code holding
    ``model`` itself (the reward model wrapper) trains the adapters too.
    """
    config = lora_config(model, cfg)
    if config is None:
        return model
    from peft import get_peft_model

    return get_peft_model(model, config)


def has_adapters(model: nn.Module) -> bool:
    """True if LoRA layers are injected anywhere in ``model``."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(m, BaseTunerLayer) for m in model.modules())


def merge_adapters(model: nn.Module) -> nn.Module:
    """Fold every LoRA update into its base weight and remove the adapter layers; return the plain model.

    Works on a PeftModel and on a model peft injected layers into in place.
    Call it only when training is over: the module tree changes.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for name, module in list(base.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(base.get_submodule(parent_name) if parent_name else base, child, module.get_base_layer())
    for attr in ("peft_config", "_hf_peft_config_loaded"):  # left by peft on the base model
        if attr in vars(base):
            delattr(base, attr)
    return base


def make_trainable(rm: nn.Module, cfg: "RunConfig", freeze_trunk: bool = False) -> None:
    """Choose what a reward/value model trains: its head alone, LoRA adapters + head, or everything.

    ``rm`` is a :class:`training.reward_model.RewardModel` (``.model``, ``.head``).
    A frozen trunk wins over adapters. The head always trains (it starts random
    for a reward model; a value model must learn its own baseline). Frozen
    weights get no gradient and no optimizer state.
    """
    if freeze_trunk:
        rm.model.requires_grad_(False)
    elif cfg.lora_rank:
        add_adapters(rm.model, cfg)  # injected in place: rm.model now trains adapters only
    rm.head.requires_grad_(True)


class AdaptersOff(nn.Module):
    """Calls the wrapped peft model with its adapters disabled: the frozen starting model, no second copy.

    Used as PPO's reference policy. Not registered as a submodule owner of the
    weights for the optimizer's sake (it holds nothing trainable of its own).
    """

    def __init__(self, peft_model: nn.Module):
        super().__init__()
        object.__setattr__(self, "peft_model", peft_model)  # not a submodule: no duplicate state_dict entries

    def forward(self, *args, **kwargs):
        """The starting model's forward (adapters off); no gradients."""
        with torch.no_grad(), self.peft_model.disable_adapter():
            return self.peft_model(*args, **kwargs)


def trainable_summary(model: nn.Module) -> dict:
    """Trainable and total parameter counts (for result.json and the log)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_parameters": trainable, "total_parameters": total}
