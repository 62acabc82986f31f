"""Run configuration: dataclasses that document every field, parsed from flags or a file.

Every trainer has a config dataclass that subclasses :class:`RunConfig`. Values
come from command-line flags (``--learning_rate 1e-4`` or ``--learning-rate``),
from ``--config run.yaml`` / ``run.json``, or both; a flag overrides the file.
``python -m training sft --help`` prints each field's ``help`` metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from training.errors import TrainingInputError

C = TypeVar("C")

# Shared by every command's config (training ones here, generate/evaluate in their modules).
THREADS_HELP = ("CPU threads for torch (0 = $OMP_NUM_THREADS if set, else min(4, physical cores)). "
                "On a busy machine fewer can be faster.")
PRECISION_HELP = ("Compute precision of forward passes: auto = bf16 where the hardware has native bf16 "
                  "(CUDA, or a CPU with AMX/AVX512-bf16), else fp32. Trained weights stay fp32.")


@dataclass(kw_only=True)
class RunConfig:
    """Fields shared by every training command."""

    model: str = field(
        metadata={"help": "Model: a local Hugging Face folder or a registered name (tiny, smollm2-135m-instruct)."}
    )
    output_dir: str = field(metadata={"help": "Folder for the trained model, metrics.jsonl, result.json, checkpoints."})
    seed: int = field(default=0, metadata={"help": "Random seed for data order, initialisation and sampling."})
    resume: bool = field(
        default=False, metadata={"help": "Continue from the last complete checkpoint in <output_dir>/checkpoints."}
    )
    max_steps: int = field(default=100, metadata={"help": "Number of optimizer steps."})
    learning_rate: float = field(default=1e-5, metadata={"help": "Peak learning rate (linear decay after warmup)."})
    batch_size: int = field(default=8, metadata={"help": "Examples per optimizer step."})
    logging_steps: int = field(default=10, metadata={"help": "Append a metrics.jsonl row every N steps."})
    save_steps: int = field(default=100, metadata={"help": "Write a resumable checkpoint every N steps (0 = never)."})
    device: Literal["auto", "cpu", "cuda"] = field(
        default="auto", metadata={"help": "auto picks CUDA when available (bf16 if supported), else CPU fp32."}
    )
    max_length: int = field(default=1024, metadata={"help": "Maximum tokens per training sequence."})
    threads: int = field(default=0, metadata={"help": THREADS_HELP})
    precision: Literal["auto", "fp32", "bf16"] = field(default="auto", metadata={"help": PRECISION_HELP})
    lora_rank: int = field(
        default=0,
        metadata={"help": "Train LoRA adapters of this rank instead of every weight (0 = full fine-tune). "
                          "The saved model has the adapters merged in, so it loads like any model."},
    )
    lora_alpha: float = field(default=32.0, metadata={"help": "LoRA scaling numerator (update scale = alpha / rank)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA input (0 keeps PPO's "
                                                                "sampling and training forwards identical)."})
    lora_target_modules: str = field(
        default="all-linear",
        metadata={"help": "Comma-separated linear layer names that get adapters (all-linear = every linear "
                          "layer of the transformer trunk, not the output head)."},
    )
    lora_layers: int = field(
        default=0,
        metadata={"help": "Adapters only on the last N transformer blocks (0 = all): backward then stops "
                          "at block N from the top, which is much cheaper on a CPU."},
    )

    def __post_init__(self) -> None:
        _check_field_types(self)
        for name in ("threads", "lora_rank", "lora_layers"):
            if getattr(self, name) < 0:
                raise TrainingInputError(f"config: {name} must be >= 0, got {getattr(self, name)}")
        if self.lora_rank and (self.lora_alpha <= 0 or not 0 <= self.lora_dropout < 1):
            raise TrainingInputError("config: lora_alpha must be > 0 and lora_dropout in [0, 1)")
        for name in ("max_steps", "batch_size", "logging_steps", "max_length"):
            if getattr(self, name) <= 0:
                raise TrainingInputError(f"config: {name} must be > 0, got {getattr(self, name)}")
        if self.save_steps < 0:
            raise TrainingInputError(f"config: save_steps must be >= 0, got {self.save_steps}")
        if self.learning_rate < 0:
            raise TrainingInputError(f"config: learning_rate must be >= 0, got {self.learning_rate}")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-serialisable dict (for result.json)."""
        return dataclasses.asdict(self)


def _check_field_types(obj: Any) -> None:
    """Coerce or reject values of simple-typed fields.

    Values from a config file bypass argparse's ``type=`` conversion, so a YAML
    ``max_steps: "10"`` or ``seed: 1.5`` must be caught here, not deep in training.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        want, value = hints[f.name], getattr(obj, f.name)
        if want is bool:
            if not isinstance(value, bool):
                raise TrainingInputError(f"config: {f.name} must be true/false, got {value!r}")
        elif want is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TrainingInputError(f"config: {f.name} must be an integer, got {value!r}")
        elif want is float:
            try:
                setattr(obj, f.name, float(value))
            except (TypeError, ValueError):
                raise TrainingInputError(f"config: {f.name} must be a number, got {value!r}") from None
        elif typing.get_origin(want) is Literal and value not in typing.get_args(want):
            raise TrainingInputError(f"config: {f.name} must be one of {typing.get_args(want)}, got {value!r}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML config file into a dict; raise TrainingInputError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise TrainingInputError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise different types; both mean "bad file"
        raise TrainingInputError(f"{path}: cannot parse config: {exc}") from None
    if not isinstance(data, dict):
        raise TrainingInputError(f"{path}: config must be a mapping of field names to values")
    return data


def _apply_file_values(parser: argparse.ArgumentParser, values: dict[str, Any], cls: type, path: str) -> None:
    """Make file values the parser defaults so that explicit flags still win."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TrainingInputError(f"{path}: unknown config key(s): {', '.join(unknown)}")
    for action in parser._actions:  # argparse has no public API for this
        if action.dest in values:
            value = values[action.dest]
            if isinstance(value, str) and callable(action.type):
                # argparse would convert a string default itself, but its error would not name the file
                try:
                    action.type(value)
                except (TypeError, ValueError):
                    raise TrainingInputError(f"{path}: {action.dest}: invalid value {value!r}") from None
            action.default = value
            action.required = False


def parse_config(cls: type[C], argv: list[str] | None, prog: str | None = None) -> C:
    """Parse ``argv`` (flags and an optional ``--config FILE``) into an instance of ``cls``.

    Unknown flags and missing required fields exit with argparse's usage message
    (status 2); bad values in the file raise TrainingInputError.
    """
    from transformers import HfArgumentParser

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    parser = HfArgumentParser(cls, prog=prog, description=(cls.__doc__ or "").strip())
    parser.add_argument("--config", help="JSON or YAML file with field values; flags override it.")
    if known.config:
        _apply_file_values(parser, load_config_file(known.config), cls, known.config)
    *objs, remaining = parser.parse_args_into_dataclasses(
        args=argv, return_remaining_strings=True, look_for_args_file=False
    )
    if remaining:
        parser.error(f"unrecognized arguments: {' '.join(remaining)}")
    cfg = objs[0]
    if hasattr(cfg, "threads"):
        from training.runtime import apply_threads

        # Every command parses its config first, so this runs before any model is loaded.
        apply_threads(cfg.threads)
    return cfg
