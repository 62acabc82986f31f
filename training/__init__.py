"""Prefloop training: SFT, reward model, PPO-ptx, DPO, generation and evaluation.

Run ``python -m training --help``. This package talks to the Django half only
through files (snapshots in, model folders + metrics.jsonl + result.json out),
so it never imports Django, ``labeling`` or ``config``. Importing the package
is cheap: heavy dependencies (torch, transformers, trl) load in the submodules
that need them.
"""

from training.errors import TrainingInputError

__all__ = ["TrainingInputError"]
