"""``python -m training COMMAND ...`` — the one entry point the job runner launches.

Each command lives in its own module exposing ``main(argv) -> int`` and is
imported only when chosen, so a heavy or missing module never breaks the others.
A :class:`~training.errors.TrainingInputError` is printed as ``error: ...`` on
stderr with exit status 2 (no traceback): the job runner shows it to the user.
An interrupt (Ctrl-C or SIGTERM from a cancelled job) exits 130; checkpoints
and outputs are written atomically, so nothing half-written is left behind.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from training.errors import TrainingInputError

COMMANDS: dict[str, tuple[str, str]] = {
    "sft": ("training.sft:main", "supervised fine-tuning on demonstrations (assistant tokens only)"),
    "reward": ("training.reward:main", "train a reward model on ranked comparisons"),
    "ppo": ("training.ppo.loop:main", "PPO-ptx against a reward model"),
    "dpo": ("training.dpo:main", "direct preference optimisation on ranked comparisons"),
    "generate": ("training.generate:main", "sample K completions per prompt"),
    "evaluate": ("training.evaluate:main", "reward-model accuracy or policy win-rate"),
    "score": ("training.score:main", "reward-model scores for given texts (a human evaluation's judge)"),
    "prepare-model": ("training.prepare:main", "build a registered base model into the model cache"),
    "schema": ("training.jobkinds:main", "describe every command's inputs and parameters as JSON (for launchers)"),
}


def usage() -> str:
    """Top-level help text listing every command."""
    width = max(map(len, COMMANDS))
    lines = ["usage: python -m training COMMAND [options]   (COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {desc}" for name, (_, desc) in COMMANDS.items()]
    return "\n".join(lines)


def load_command(name: str):
    """Import the module behind ``name`` and return its ``main``."""
    target, _ = COMMANDS[name]
    module_name, func = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):  # the command itself is missing, not a dependency
            raise TrainingInputError(f"command {name!r} is not available in this installation ({exc})") from None
        raise
    return getattr(module, func)


def _raise_interrupt(signum, frame):
    """SIGTERM (job cancelled) → KeyboardInterrupt, so finally-blocks and atomic writers clean up."""
    raise KeyboardInterrupt(f"signal {signum}")


def _output_dir(argv: list[str]) -> str | None:
    """The --output_dir / --output-dir value in ``argv``, if given as a flag."""
    for i, arg in enumerate(argv):
        for flag in ("--output_dir", "--output-dir"):
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


def _checkpoint_note(argv: list[str]) -> str:
    """Say truthfully whether a complete checkpoint exists to --resume from."""
    from pathlib import Path

    from training.checkpoints import latest_trainer_checkpoint, list_checkpoints

    out = _output_dir(argv)
    if out is None:
        return "no checkpoint folder known for this command"
    folder = Path(out) / "checkpoints"
    found = list_checkpoints(folder)[-1:] or [p for p in [latest_trainer_checkpoint(folder)] if p is not None]
    if not found:
        return f"no complete checkpoint in {folder} (a rerun starts from step 0)"
    return f"last complete checkpoint kept: {found[0]} (rerun with --resume to continue)"


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command; return its exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return int(load_command(name)(rest) or 0)
    except TrainingInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: no final model written; {_checkpoint_note(rest)}", file=sys.stderr)
        return 130
