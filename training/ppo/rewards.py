"""Where PPO's scalar reward comes from: a trained reward model, or a builtin function.

The builtin functions exist for tests and debugging: they let PPO be checked
against a reward whose optimum is known, with no reward model in the loop.

    contains:WORD   1.0 if WORD occurs in the response (case-insensitive), else 0.0
    count:WORD      occurrences of WORD in the response, capped at 5
    length          response length in characters / 100 (longer is better)
"""

from __future__ import annotations

from typing import Callable, Sequence

from training.errors import TrainingInputError

RewardFn = Callable[[Sequence[list[dict]], Sequence[str]], list[float]]
BUILTINS = ("contains:WORD", "count:WORD", "length")


def builtin_reward(spec: str) -> RewardFn:
    """The builtin reward named by ``spec`` (see the module docstring)."""
    name, _, arg = spec.partition(":")
    if name in ("contains", "count") and not arg:
        raise TrainingInputError(f"reward_fn {spec!r}: {name} needs a word, e.g. {name}:paris")
    word = arg.lower()
    if name == "contains":
        return lambda prompts, texts: [float(word in t.lower()) for t in texts]
    if name == "count":
        return lambda prompts, texts: [float(min(t.lower().count(word), 5)) for t in texts]
    if name == "length" and not arg:
        return lambda prompts, texts: [len(t) / 100.0 for t in texts]
    raise TrainingInputError(f"reward_fn {spec!r}: unknown builtin (choose from {', '.join(BUILTINS)})")


def reward_model_fn(path: str, device, precision: str = "auto", batch_size: int = 16) -> RewardFn:
    """Score with the normalised reward model in ``path`` (InstructGPT: the bias makes SFT outputs ~0).

    Frozen, so loaded for inference: bf16 weights on CUDA, fp32 weights under bf16 autocast on a CPU.
    """
    from training.reward_model import load_reward_model

    from training.lowp import store_frozen_in

    rm = load_reward_model(path, device, precision=precision)
    for p in rm.parameters():
        p.requires_grad_(False)
    store_frozen_in(rm.model, rm.compute_dtype)  # bit-identical scores without per-forward casts
    return lambda prompts, texts: rm.score(list(prompts), list(texts), batch_size=batch_size)
