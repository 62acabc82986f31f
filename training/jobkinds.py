"""What each training command takes, for tools that launch it: ``python -m training schema``.

The config dataclasses (``training/*.py``) are the one definition of a command's parameters: their
fields, types, defaults and help. This module adds only what a dataclass cannot say:

- which fields are *inputs* (a snapshot folder or a model folder, and of which kinds) rather than
  parameters, so a launcher picks them by name and never lets a user type a path;
- which fields the launcher itself sets (output locations, ``resume``, ``config``);
- *suggested* values for a first run that finishes in minutes on a CPU (the CLI's defaults are
  sized for a real run on a GPU);
- which parameters are "basic" (shown first) rather than "advanced";
- the registered model names (``tiny``, ``smollm2-135m-instruct``) a model may be instead of a folder.

``python -m training schema`` prints all of it as JSON; the web dashboard builds its job form and
validates job params from that output, never from a copy.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

POLICY_MODELS = ["base", "sft", "policy"]


@dataclass(frozen=True)
class InputField:
    """A config field that names a snapshot or a model folder."""

    type: Literal["snapshot", "model"]
    kinds: tuple[str, ...]
    label: str
    required: bool = True


@dataclass(frozen=True)
class KindDef:
    """One command as a launcher sees it."""

    title: str
    config: str  # "module:Class" of the config dataclass
    inputs: dict[str, InputField]
    launcher_sets: tuple[str, ...] = ("output_dir", "resume")
    hidden: tuple[str, ...] = ()  # debugging-only fields a dashboard should not offer
    basic: tuple[str, ...] = ()
    suggested: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    internal: bool = False  # started by the platform itself (a human evaluation's judge), not from a job form


_TRAIN_SUGGESTED = {"max_steps": 20, "logging_steps": 1, "save_steps": 10, "max_length": 256, "batch_size": 4}

KINDS: dict[str, KindDef] = {
    "sft": KindDef(
        title="SFT",
        config="training.sft:SFTRunConfig",
        inputs={
            "model": InputField("model", tuple(POLICY_MODELS), "Start from model"),
            "data": InputField("snapshot", ("sft",), "Demonstrations (sft snapshot)"),
        },
        basic=("max_steps", "batch_size", "learning_rate", "max_length"),
        suggested=dict(_TRAIN_SUGGESTED),
    ),
    "reward": KindDef(
        title="Reward model",
        config="training.reward:RewardConfig",
        inputs={
            "model": InputField("model", tuple(POLICY_MODELS), "Start from model (usually the SFT model)"),
            "data": InputField("snapshot", ("comparisons",), "Rankings (comparisons snapshot)"),
            "valid_data": InputField("snapshot", ("comparisons",), "Held-out rankings (default: the snapshot's "
                                     "own valid split)", required=False),
        },
        basic=("max_steps", "batch_size", "learning_rate", "max_length"),
        suggested=dict(_TRAIN_SUGGESTED),
    ),
    "ppo": KindDef(
        title="PPO-ptx",
        config="training.ppo.config:PPOConfig",
        inputs={
            "model": InputField("model", tuple(POLICY_MODELS), "Policy to optimise (usually the SFT model)"),
            "reward_model": InputField("model", ("reward",), "Reward model"),
            "prompts": InputField("snapshot", ("prompts",), "Prompts (prompts snapshot)"),
            "ptx_data": InputField("snapshot", ("sft",), "Pretraining-mix data for the ptx term (sft snapshot; "
                                   "none = plain PPO)", required=False),
            "value_model": InputField("model", ("reward",), "Initial value model (default: the reward model)",
                                      required=False),
        },
        hidden=("reward_fn",),
        basic=("max_steps", "batch_size", "mini_batch_size", "learning_rate", "max_new_tokens", "init_kl_coef",
               "ptx_coef"),
        suggested={"max_steps": 8, "batch_size": 8, "mini_batch_size": 4, "ppo_epochs": 2, "max_new_tokens": 32,
                   "max_prompt_length": 128, "max_length": 256, "logging_steps": 1, "save_steps": 4,
                   "learning_rate": 1e-5},
    ),
    "dpo": KindDef(
        title="DPO",
        config="training.dpo:DPORunConfig",
        inputs={
            "model": InputField("model", tuple(POLICY_MODELS), "Policy to optimise (usually the SFT model)"),
            "data": InputField("snapshot", ("comparisons",), "Rankings (comparisons snapshot)"),
        },
        basic=("max_steps", "batch_size", "learning_rate", "beta", "max_length"),
        suggested=dict(_TRAIN_SUGGESTED),
    ),
    "generate": KindDef(
        title="Generate",
        config="training.generate:GenerateConfig",
        inputs={
            "model": InputField("model", tuple(POLICY_MODELS), "Policy that samples"),
            "prompts": InputField("snapshot", ("prompts",), "Prompts (prompts snapshot)"),
        },
        launcher_sets=("output",),
        basic=("k", "max_new_tokens", "temperature", "top_p"),
        suggested={"k": 4, "max_new_tokens": 64, "temperature": 0.8, "top_p": 0.95},
    ),
    "evaluate": KindDef(
        title="Evaluate",
        config="training.evaluate:EvaluateConfig",
        inputs={
            "reward_model": InputField("model", ("reward",), "Judge (reward model)"),
            "comparisons": InputField("snapshot", ("comparisons",), "Rankings to score (reward-model accuracy)",
                                      required=False),
            "prompts": InputField("snapshot", ("prompts",), "Prompts (policy win rate)", required=False),
            "policy_a": InputField("model", tuple(POLICY_MODELS), "Baseline policy A (win rate)", required=False),
            "policy_b": InputField("model", tuple(POLICY_MODELS), "Candidate policy B (win rate)", required=False),
        },
        launcher_sets=("output",),
        basic=("split", "max_new_tokens", "temperature"),
        suggested={"max_new_tokens": 48},
        notes="Give rankings (the reward model's pairwise accuracy on them) OR prompts with policies A and B "
              "(the win rate of B over A, judged by the reward model).",
    ),
    "score": KindDef(
        title="Score texts",
        config="training.score:ScoreConfig",
        inputs={"reward_model": InputField("model", ("reward",), "Judge (reward model)")},
        launcher_sets=("input", "output", "output_dir"),
        notes="Started by a human evaluation, which writes the texts to score (--input).",
        internal=True,
    ),
}


def _json_type(hint) -> tuple[str, list | None, bool]:
    """(schema type, choices, nullable) of a config field's type hint."""
    nullable = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else str
        origin = typing.get_origin(hint)
    if origin is Literal:
        return "choice", list(typing.get_args(hint)), nullable
    named = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return named.get(hint, "string"), None, nullable


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def config_class(kind: str) -> type:
    """The config dataclass of a command (imported lazily: some modules pull in torch)."""
    module, name = KINDS[kind].config.split(":")
    return getattr(importlib.import_module(module), name)


def kind_schema(kind: str) -> dict:
    """The JSON-able description of one command: inputs, parameters, suggested values, notes."""
    spec = KINDS[kind]
    cls = config_class(kind)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    inputs = []
    for name, inp in spec.inputs.items():
        help_text = fields[name].metadata.get("help", "")
        inputs.append({"name": name, "label": inp.label, "type": inp.type, "kinds": list(inp.kinds),
                       "required": inp.required, "help": help_text})
    params = []
    skip = set(spec.inputs) | set(spec.launcher_sets) | set(spec.hidden)
    for name, f in fields.items():
        if name in skip:
            continue
        json_type, choices, nullable = _json_type(hints[name])
        default = _default(f)
        params.append({
            "name": name, "type": json_type, "choices": choices, "nullable": nullable, "default": default,
            "required": f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,  # type: ignore[misc]
            "suggested": spec.suggested.get(name, default), "help": f.metadata.get("help", ""),
            "group": "basic" if name in spec.basic else "advanced",
        })
    params.sort(key=lambda p: (p["group"] != "basic", spec.basic.index(p["name"]) if p["name"] in spec.basic else 0))
    description = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    return {"kind": kind, "title": spec.title, "description": description, "inputs": inputs, "params": params,
            "launcher_sets": list(spec.launcher_sets), "notes": spec.notes, "internal": spec.internal}


def schema() -> dict:
    """Every launchable command's description (``python -m training schema``)."""
    from training.modeling import REGISTERED_MODELS

    return {"version": 1, "registered_models": list(REGISTERED_MODELS), "kinds": [kind_schema(k) for k in KINDS]}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: print the schema as JSON on stdout."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training schema", description=__doc__.splitlines()[0])
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    args = parser.parse_args(argv)
    print(json.dumps(schema(), indent=args.indent, sort_keys=False))
    return 0
