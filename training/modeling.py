"""Model resolution, loading, device/dtype choice and seeding.

``resolve_model`` turns ``--model`` into a local folder: a registered name
(``tiny``, ``smollm2-135m-instruct``) is prepared once into the model cache
(``$PREFLOOP_MODEL_CACHE`` or ``~/.cache/prefloop/models``); anything else must
be a Hugging Face folder with a config and a tokenizer, or a finished run
folder whose ``model/`` is one. No hub access is ever
attempted (the platform runs offline), so ``HF_HUB_OFFLINE`` is forced on.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import TrainingInputError

if TYPE_CHECKING:  # keep `import training.modeling` cheap for the CLI's --help
    import torch

# Offline by design: a typo in --model must fail fast, not try to reach the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REGISTERED_MODELS = ("tiny", "smollm2-135m-instruct")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def default_cache_dir() -> Path:
    """Return the model cache folder: $PREFLOOP_MODEL_CACHE or ~/.cache/prefloop/models."""
    env = os.environ.get("PREFLOOP_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "prefloop" / "models"


def check_model_dir(path: Path) -> Path:
    """Raise TrainingInputError unless ``path`` is a folder with config.json and a tokenizer."""
    if not path.is_dir():
        raise TrainingInputError(
            f"{path}: model is neither a folder nor a registered name ({', '.join(REGISTERED_MODELS)})"
        )
    if not (path / "config.json").is_file():
        raise TrainingInputError(f"{path}: model folder has no config.json")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise TrainingInputError(f"{path}: model folder has no tokenizer ({' / '.join(TOKENIZER_FILES)})")
    return path


def resolve_model(name_or_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Return a local model folder for a registered name or a path, preparing it on first use."""
    name = str(name_or_path)
    if name in REGISTERED_MODELS and not Path(name).exists():
        from training.prepare import prepare_model  # lazy: pulls in tokenizers/gguf

        return prepare_model(name, Path(cache_dir) if cache_dir else default_cache_dir())
    path = Path(name).expanduser()
    if not (path / "config.json").exists() and (path / "model" / "config.json").exists():
        path = path / "model"  # a finished run folder (--output_dir of sft/dpo/ppo): use its model
    return check_model_dir(path)


def pick_device(pref: str = "auto") -> "torch.device":
    """Choose the device: 'auto' → CUDA when available else CPU; 'cuda' without CUDA is an input error."""
    import torch

    if pref not in ("auto", "cpu", "cuda"):
        raise TrainingInputError(f"device must be auto, cpu or cuda, got {pref!r}")
    if pref == "cuda" and not torch.cuda.is_available():
        raise TrainingInputError("device cuda requested but CUDA is not available on this machine")
    if pref == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def pick_dtype(device: "torch.device", precision: str = "auto", model_path=None) -> "torch.dtype":
    """The compute dtype for ``precision`` on ``device`` (see :func:`training.runtime.compute_dtype`)."""
    from training.runtime import compute_dtype

    return compute_dtype(device, precision, model_path)


def inference_weights_dtype(device: "torch.device", compute: "torch.dtype") -> "torch.dtype":
    """dtype to load a model in for inference only (generate, evaluate, frozen scorers).

    On CUDA, bf16 weights halve memory and run at full speed. On a CPU, bf16
    weights make the non-matmul ops slow (measured: a SmolLM2 forward 2.5 s with
    bf16 weights vs 1.8 s with fp32 weights under bf16 autocast), so CPU
    weights stay fp32 and :func:`training.optim.autocast` does the bf16.
    """
    import torch

    return compute if device.type == "cuda" else torch.float32


def load_inference_lm(path: str | os.PathLike, device: "torch.device", compute: "torch.dtype"):
    """A causal LM that only samples: frozen, in eval mode, its matmul weights stored in ``compute``.

    See :mod:`training.lowp`: under bf16 autocast a frozen fp32 weight is cast
    again by every forward; storing the linear layers and the LM head in bf16
    gives bit-identical outputs about 1.4x faster when sampling on a CPU.
    """
    from training.lowp import store_frozen_in

    model = load_causal_lm(path, device, inference_weights_dtype(device, compute)).eval()
    model.requires_grad_(False)
    store_frozen_in(model, compute)
    return model


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (if installed) and torch (CPU and all CUDA devices)."""
    import torch

    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # numpy is optional for us; torch seeding is what matters
        pass
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def load_tokenizer(path: str | os.PathLike, padding_side: str = "right"):
    """Load a tokenizer; give it a pad token (eos) if it has none.

    Training collators pad on the right; generation needs ``padding_side='left'``
    so that every prompt in a batch ends at the same position.
    """
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise TrainingInputError(f"{path}: cannot load tokenizer: {exc}") from None
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise TrainingInputError(f"{path}: tokenizer has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def load_causal_lm(path: str | os.PathLike, device: "torch.device", dtype: "torch.dtype"):
    """Load an AutoModelForCausalLM from a local folder onto ``device`` in ``dtype``."""
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
    except (OSError, ValueError) as exc:
        raise TrainingInputError(f"{path}: cannot load model: {exc}") from None
    return model.to(device)


def sync_pad_token(model, tokenizer) -> None:
    """Mirror the tokenizer's pad/eos ids onto the model and generation configs."""
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        if model.generation_config.eos_token_id is None:
            model.generation_config.eos_token_id = tokenizer.eos_token_id
