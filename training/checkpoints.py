"""Resumable checkpoints: ``<output_dir>/checkpoints/step-NNNNNNNN`` (ours) and HF Trainer's ``checkpoint-N``.

A checkpoint folder is written under a temporary name and renamed into place
(:func:`training.runio.atomic_directory`), and older ones are pruned only after
the new one is complete, so an interrupted run always leaves a good checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

from training.runio import atomic_directory, utc_now, write_json_atomic

CHECKPOINT_PREFIX = "step-"


def capture_rng_state() -> dict[str, Any]:
    """Snapshot Python, NumPy and torch RNGs so a resumed run draws the same numbers."""
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    with contextlib.suppress(ImportError):
        import numpy as np

        state["numpy"] = np.random.get_state()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore RNG states captured by :func:`capture_rng_state`."""
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        with contextlib.suppress(ImportError):
            import numpy as np

            np.random.set_state(state["numpy"])


def save_checkpoint(ckpt_dir: str | os.PathLike, step: int, model, optimizer=None, scheduler=None,
                    rng_state: dict | None = None, extra: dict | None = None, keep: int = 1) -> Path:
    """Write ``ckpt_dir/step-NNNNNNNN`` atomically, then prune to the newest ``keep`` checkpoints.

    ``model`` may be a module or a dict of modules (policy, value head, ...).
    Older checkpoints are deleted only after the new one is complete, so there
    is always at least one good checkpoint on disk.
    """
    import torch

    ckpt_dir = Path(ckpt_dir)
    final = ckpt_dir / f"{CHECKPOINT_PREFIX}{int(step):08d}"
    modules = model if isinstance(model, dict) else {"model": model}
    with atomic_directory(final) as tmp:
        torch.save({k: m.state_dict() for k, m in modules.items()}, tmp / "model.pt")
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if scheduler is not None:
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_state if rng_state is not None else capture_rng_state(), tmp / "rng.pt")
        write_json_atomic(tmp / "state.json", {"step": int(step), "saved_at": utc_now(), "extra": extra or {}})
    for old in list_checkpoints(ckpt_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckpt_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints (state.json present, not temp folders), oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir()
             if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and p.name[len(CHECKPOINT_PREFIX):].isdigit()
             and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def load_latest_checkpoint(ckpt_dir: str | os.PathLike, map_location="cpu") -> dict[str, Any] | None:
    """Load the newest complete checkpoint, or None if there is none.

    Returns ``{step, path, model (dict of state_dicts), optimizer, scheduler, rng_state, extra}``.
    """
    import torch

    found = list_checkpoints(ckpt_dir)
    if not found:
        return None
    path = found[-1]
    state = json.loads((path / "state.json").read_text())

    def maybe(name: str, weights_only: bool = True):
        file = path / name
        return torch.load(file, map_location=map_location, weights_only=weights_only) if file.exists() else None

    return {
        "step": state["step"], "path": path, "extra": state.get("extra", {}),
        "model": maybe("model.pt"), "optimizer": maybe("optimizer.pt"), "scheduler": maybe("scheduler.pt"),
        # RNG states hold Python tuples and NumPy arrays; the file is our own, so full unpickling is safe.
        "rng_state": maybe("rng.pt", weights_only=False),
    }


def latest_trainer_checkpoint(ckpt_dir: str | os.PathLike) -> Path | None:
    """Newest complete HF Trainer ``checkpoint-N`` folder (trainer_state.json is written last).

    HF Trainer does not save atomically; a crash mid-save leaves a folder
    without trainer_state.json, which is skipped here (and removed).
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    steps = []
    for p in ckpt_dir.glob("checkpoint-*"):
        if not p.name.split("-", 1)[1].isdigit():
            continue
        if (p / "trainer_state.json").is_file():
            steps.append((int(p.name.split("-", 1)[1]), p))
        else:
            shutil.rmtree(p, ignore_errors=True)
    return max(steps)[1] if steps else None
