"""A scalar reward head on a causal LM, and the stable ``score`` interface.

The model is a Hugging Face ``AutoModelForSequenceClassification`` with
``num_labels=1`` (for Llama-style models: the LM backbone plus a bias-free
``score`` linear layer). Initialising it from an SFT / causal-LM folder keeps
the backbone weights and draws a fresh head. Saved with ``save_pretrained``,
the folder is self-contained: weights + config + tokenizer + a small
``reward_config.json`` holding the normalisation offset, so any
transformers user can load it, and ``load_reward_model`` restores the offset.

We pool ourselves rather than use the HF class's forward: HF picks "the
rightmost token that is not the pad id", which is wrong when the pad token is
the EOS / end-of-turn token the chat template ends with (common: we fall back
to pad = eos). We read the hidden state at the last attended position instead.

Public interface used by ``training.evaluate`` (keep it stable)::

    rm = load_reward_model(path, device, dtype)
    rewards = rm.score(prompts_messages, completions, batch_size=8)  # list[float]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from training.errors import TrainingInputError
from training.optim import autocast

REWARD_CONFIG = "reward_config.json"
Messages = list[dict]


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over attended tokens only, so left padding does not shift them."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int, side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token-id lists into (input_ids, attention_mask) tensors on the CPU."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, seq in enumerate(seqs):
        sl = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[i, sl] = torch.tensor(list(seq), dtype=torch.long)
        mask[i, sl] = 1
    return ids, mask


def encode_conversation(tokenizer, prompt: Messages, completion: str, max_length: int) -> list[int]:
    """Token ids of ``prompt`` + the assistant ``completion``, rendered with the chat template.

    Over-long conversations keep their LAST ``max_length`` tokens: the reward
    is read at the final token, so the end of the completion must survive;
    the start of a long prompt is what we can best afford to lose.
    """
    messages = list(prompt) + [{"role": "assistant", "content": completion}]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:  # a base model without a template: plain concatenation, still deterministic
        text = "\n".join(m["content"] for m in messages)
        ids = tokenizer(text)["input_ids"]
    return ids[-max_length:]


class RewardModel(nn.Module):
    """A sequence-classification LM (one label) + tokenizer + normalisation offset.

    ``forward`` returns raw scores (what training optimises); ``score`` returns
    ``raw - offset``, the normalised reward consumers see.
    """

    def __init__(self, model, tokenizer, offset: float = 0.0, max_length: int = 1024, compute_dtype=None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.offset = float(offset)
        self.max_length = int(max_length)
        # What ``score`` autocasts to (bf16 on hardware with native bf16); training code autocasts itself.
        self.compute_dtype = compute_dtype if compute_dtype is not None else next(model.parameters()).dtype
        _score_head(model)  # fail at construction, not at the first forward

    @property
    def head(self) -> nn.Module:
        """The scalar ``score`` head (a property: registering it twice would duplicate it in state_dict())."""
        return _score_head(self.model)

    @property
    def device(self) -> torch.device:
        """Where the weights live."""
        return next(self.model.parameters()).device

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last-layer hidden states (B, T, H) of the backbone."""
        out = self.model.base_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids_from_mask(attention_mask),
            use_cache=False,
        )
        return out.last_hidden_state

    def forward(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
                per_token: bool = False, hidden: torch.Tensor | None = None) -> torch.Tensor:
        """Raw scores (B,) read at each row's last attended token (rows must be right-padded).

        ``per_token=True`` returns :meth:`token_values` instead: a DDP-wrapped
        value model synchronises gradients only through ``forward``. ``hidden``
        (B, T, H) applies the head to trunk features computed earlier (a frozen
        trunk's features do not change between updates), skipping the trunk.
        """
        if hidden is not None:
            return self.head(hidden.to(self.head.weight.dtype)).squeeze(-1)
        if per_token:
            return self.token_values(input_ids, attention_mask)
        hidden = self.hidden_states(input_ids, attention_mask)
        last = attention_mask.long().sum(-1) - 1
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.head(pooled).squeeze(-1)

    def token_values(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The head applied at every position (B, T): PPO's per-token value estimates."""
        return self.head(self.hidden_states(input_ids, attention_mask)).squeeze(-1)

    def encode(self, prompts_messages: Sequence[Messages], completions: Sequence[str]) -> list[list[int]]:
        """Token ids for each (prompt, completion) pair, chat-template formatted."""
        if len(prompts_messages) != len(completions):
            raise ValueError(f"{len(prompts_messages)} prompts but {len(completions)} completions")
        return [
            encode_conversation(self.tokenizer, p, c, self.max_length)
            for p, c in zip(prompts_messages, completions)
        ]

    @torch.no_grad()
    def score(
        self, prompts_messages: Sequence[Messages], completions: Sequence[str], batch_size: int = 8
    ) -> list[float]:
        """Normalised rewards, one per completion; ``prompts_messages[i]`` is completion i's prompt.

        Batches are formed over length-sorted inputs (less padding), results
        come back in input order.
        """
        seqs = self.encode(prompts_messages, completions)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = [0.0] * len(seqs)
        was_training = self.training
        self.eval()
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = pad_sequences([seqs[i] for i in chunk], self.tokenizer.pad_token_id)
            with autocast(self.device, self.compute_dtype):
                raw = self(ids.to(self.device), mask.to(self.device)).float().cpu()
            for i, value in zip(chunk, raw.tolist()):
                out[i] = value - self.offset
        self.train(was_training)
        return out

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write a self-contained folder: weights, config, tokenizer, reward_config.json."""
        path = Path(path)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        meta = {"offset": self.offset, "max_length": self.max_length, "format": "prefloop-reward-v1"}
        (path / REWARD_CONFIG).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _score_head(model) -> nn.Module:
    """The scalar head of a HF sequence-classification model (``score`` on decoder LMs)."""
    head = getattr(model, "score", None)
    if not isinstance(head, nn.Linear) or head.out_features != 1:
        raise TrainingInputError(
            f"{type(model).__name__}: expected a one-output `score` linear head (decoder-only LMs)"
        )
    return head


def _load_seqcls(path: Path, device, dtype):
    """AutoModelForSequenceClassification with one label, pad id synced from the tokenizer.

    Loading a causal-LM folder leaves only the ``score`` head uninitialised;
    any other missing weight means the folder does not fit the architecture
    and is reported instead of being silently trained from random.
    """
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    from training.modeling import load_tokenizer

    tokenizer = load_tokenizer(path, padding_side="right")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "score.weight newly initialized" report is expected noise
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(path), num_labels=1, dtype=dtype, output_loading_info=True
        )
    except (OSError, ValueError) as exc:
        raise TrainingInputError(f"{path}: cannot load as a reward model: {exc}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("score."))
    if missing:
        raise TrainingInputError(f"{path}: weights missing for the reward model backbone: {', '.join(missing[:5])}")
    model.config.pad_token_id = tokenizer.pad_token_id  # HF's own forward needs it for batches
    return model.to(device), tokenizer


def init_reward_model(path: str | os.PathLike, device, dtype=None, max_length: int = 1024) -> RewardModel:
    """A reward model whose backbone comes from the causal-LM (e.g. SFT) folder ``path``.

    The ``score`` head is freshly initialised (transformers logs that it is
    newly initialised: expected). A reward-model folder works too and keeps
    its head, so training can continue from an earlier RM.
    """
    device, dtype = _device_dtype(device, dtype)
    model, tokenizer = _load_seqcls(Path(path), device, dtype)
    return RewardModel(model, tokenizer, offset=0.0, max_length=max_length)


def load_reward_model(path: str | os.PathLike, device="cpu", dtype=None, precision: str = "auto") -> RewardModel:
    """Load a trained reward model folder (written by ``python -m training reward``) for scoring.

    ``dtype`` is the weights' dtype (default: the device's inference choice,
    :func:`training.modeling.inference_weights_dtype`); ``score`` autocasts to
    the compute dtype ``precision`` resolves to.
    """
    path = Path(path)
    meta_path = path / REWARD_CONFIG
    if not meta_path.is_file():
        raise TrainingInputError(f"{path}: not a reward model folder (no {REWARD_CONFIG})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        offset, max_length = float(meta["offset"]), int(meta["max_length"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainingInputError(f"{meta_path}: invalid reward config: {exc}") from None
    from training.modeling import inference_weights_dtype, pick_dtype

    device = torch.device(device) if not isinstance(device, torch.device) else device
    compute = pick_dtype(device, precision, path)
    weights = dtype if dtype is not None else inference_weights_dtype(device, compute)
    model, tokenizer = _load_seqcls(path, device, weights)
    rm = RewardModel(model, tokenizer, offset=offset, max_length=max_length, compute_dtype=compute)
    rm.eval()
    return rm


def _device_dtype(device, dtype) -> tuple[torch.device, torch.dtype]:
    """Normalise a device string/object and default the dtype to the device's best."""
    from training.modeling import pick_dtype

    device = torch.device(device) if not isinstance(device, torch.device) else device
    return device, dtype if dtype is not None else pick_dtype(device)
