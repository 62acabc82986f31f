"""How fast a run is on this machine: CPU threads, compute precision and peak memory.

* Threads: every command's config has ``threads`` (0 = :func:`default_threads`),
  applied with ``torch.set_num_threads`` right after the config is parsed, before
  any model is loaded. On a shared 2-core box, 2 OpenMP threads fighting other
  processes made a forward pass ~3x slower than 1 thread, so the count must be
  settable per job.
* Precision: ``precision=auto`` computes in bf16 where the hardware multiplies
  bf16 natively (CUDA with bf16 support; a CPU with AMX-bf16 or AVX512-bf16,
  for models at least 512 wide), else fp32. Weights that are trained stay fp32 either way (bf16 AdamW updates
  underflow); bf16 is autocast around the forward passes. Measured on SmolLM2-135M
  on this Xeon (AMX): a forward pass 2.4x faster, logits within 0.002 nats/token
  (KL) of fp32. Without native bf16 a CPU emulates it and is slower, hence ``auto``.
* Peak memory: CUDA ``max_memory_allocated``, or on a CPU the process's peak
  resident set size (``VmHWM``), which :func:`reset_peak_memory` restarts per stage.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import TrainingInputError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16")


def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads share a core's arithmetic units)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return max(1, allowed)
    cores, physical = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            cores.add((physical, value.strip()))
    return max(1, min(allowed, len(cores) or allowed))


def default_threads() -> int:
    """$OMP_NUM_THREADS when set (the standard way a job runner or container says it), else min(4, physical cores).

    More than 4 buy little for one small model and hurt neighbours; on an
    oversubscribed machine even 2 can be many times slower than 1 (OpenMP
    threads spin waiting for each other), which is why the variable is honoured.
    """
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return min(4, physical_cores())


def apply_threads(threads: int) -> int:
    """Set torch's intra-op thread count (0 = :func:`default_threads`); return the count used."""
    import torch

    if threads < 0:
        raise TrainingInputError(f"config: threads must be >= 0 (0 = automatic), got {threads}")
    n = threads or default_threads()
    torch.set_num_threads(n)
    return n


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when /proc/cpuinfo lists AMX-bf16 or AVX512-bf16 (bf16 matmuls run in hardware)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "amx_bf16" in flags or "avx512_bf16" in flags


# Below this width a CPU spends its time in per-op overhead, not matmuls, and bf16 autocast's casts cost more
# than they save: measured on the test model (hidden 192) PPO steps took 1.6 s in bf16 vs 1.2 s in fp32.
CPU_BF16_MIN_HIDDEN = 512


def compute_dtype(device: "torch.device", precision: str = "auto", model_path=None) -> "torch.dtype":
    """The dtype forward passes are autocast to: bf16 or float32 (see the module docstring).

    On a CPU, ``auto`` also needs the model (``model_path``'s config.json) to be
    at least ``CPU_BF16_MIN_HIDDEN`` wide; without a path it stays fp32.
    """
    import torch

    if precision not in PRECISIONS:
        raise TrainingInputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return torch.float32
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = cpu_has_native_bf16() and model_width(model_path) >= CPU_BF16_MIN_HIDDEN
    if precision == "bf16" and device.type == "cuda" and not supported:
        raise TrainingInputError("precision bf16 requested but this GPU does not support bf16")
    # bf16 on a CPU without native support is allowed when asked for explicitly (slow, but correct).
    return torch.bfloat16 if precision == "bf16" or supported else torch.float32


def model_width(model_path) -> int:
    """hidden_size from a model folder's config.json (0 if unknown)."""
    import json

    if model_path is None:
        return 0
    try:
        return int(json.loads((Path(model_path) / "config.json").read_text()).get("hidden_size", 0))
    except (OSError, ValueError, TypeError):
        return 0


def reset_peak_memory(device) -> None:
    """Restart the peak-memory counter, so the next reading covers one stage only."""
    import torch

    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # Linux: writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # the counter then covers the whole process: still an upper bound


def peak_memory_bytes(device) -> int | None:
    """Peak CUDA memory allocated on ``device``, or on a CPU the peak resident set size (None if unknown)."""
    import torch

    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated(device))
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def memory_kind(device) -> str:
    """What :func:`peak_memory_bytes` measures on ``device``."""
    return "cuda_max_allocated" if getattr(device, "type", str(device)) == "cuda" else "cpu_peak_rss"
