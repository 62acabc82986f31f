"""Data parallelism for our own training loops (``reward``, ``ppo``) on top of Hugging Face Accelerate.

Run plainly (``python -m training reward ...``) everything here is a single
process and behaves exactly like a loop without Accelerate. Under

    accelerate launch --config_file docker/accelerate/ddp.yaml --num_processes N -m training reward ...

(or ``accelerate launch --multi_gpu --num_processes N``, or ``torchrun``) each
process holds a full copy of the trained models wrapped in DDP and takes its own
contiguous slice of every global batch. ``--batch_size`` stays the GLOBAL batch:
the data order, the optimizer steps and the schedule are those of the
single-process run, so results match it up to floating-point reduction order.

Only DDP-style data parallelism is supported by these loops: checkpoints hold
the full optimizer state written by the main process, which DeepSpeed ZeRO and
FSDP shard. Those configs are for the Trainer-based commands (sft, dpo).

Note for CPU-only machines (tests, CI): ``accelerate launch --cpu --num_processes 2``
starts ONE process in Accelerate 1.15 (its "simple launcher" only spawns several
CPU processes through mpirun). ``accelerate launch --multi_gpu --num_processes 2``
with ``--device cpu`` starts two processes through torchrun that talk over gloo.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

import torch

from training.errors import TrainingInputError
from training.modeling import pick_device, pick_dtype, seed_everything
from training.checkpoints import capture_rng_state, restore_rng_state

if TYPE_CHECKING:
    from accelerate import Accelerator

T = TypeVar("T")

# Distributed types these loops refuse: they shard parameters or optimizer state, while our checkpoints
# hold the main process's full state and sampling calls the plain module.
_UNSUPPORTED = ("DEEPSPEED", "FSDP", "MEGATRON_LM", "XLA")


def launched_world_size() -> int:
    """Processes started by the launcher (torchrun / accelerate launch set WORLD_SIZE), 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def make_accelerator(device_pref: str, command: str, precision: str = "auto") -> "Accelerator":
    """The run's Accelerator: bf16 autocast when ``precision`` resolves to bf16, else plain fp32.

    ``split_batches=True`` tells Accelerate that our batch size is global, so its
    scheduler wrapper steps once per optimizer step (not once per process).
    """
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.state import AcceleratorState

    device = pick_device(device_pref)  # "cuda" without CUDA is an input error, before any process group
    if launched_world_size() <= 1:
        # Accelerate keeps one process-wide state; a second in-process run (tests, notebooks) with another
        # device or precision would otherwise be refused. Never reset it under a launcher: it owns the group.
        AcceleratorState._reset_state(reset_partial_state=True)
    # CUDA only: on a CPU our own autocast (training.optim) decides, knowing the model's width.
    bf16 = device.type == "cuda" and pick_dtype(device, precision) == torch.bfloat16
    accelerator = Accelerator(
        cpu=device.type == "cpu",
        mixed_precision="bf16" if bf16 else "no",
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )
    kind = accelerator.distributed_type.value
    if kind in _UNSUPPORTED:
        raise TrainingInputError(
            f"{command}: {kind} is not supported by this loop; launch it with data parallelism "
            "(docker/accelerate/ddp.yaml or accelerate launch --multi_gpu)"
        )
    return accelerator


class SingleProcess:
    """The few Accelerator methods a train step calls, for calls made without one (unit tests, library use)."""

    num_processes = 1
    process_index = 0
    is_main_process = True

    def backward(self, loss: torch.Tensor) -> None:
        """Plain backward: nothing to synchronise."""
        loss.backward()

    def clip_grad_norm_(self, parameters, max_norm: float):
        """Plain gradient-norm clipping."""
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def no_sync(self, model):
        """Nothing to suspend without DDP."""
        return contextlib.nullcontext()


def check_divisible(value: int, accelerator, name: str, exact: bool = False) -> None:
    """Every process needs at least one example per batch (DDP steps collectively); PPO needs equal shares."""
    world = accelerator.num_processes
    if value < world or (exact and value % world):
        need = f"a multiple of the {world} processes" if exact else f">= the {world} processes"
        raise TrainingInputError(f"config: {name} ({value}) must be {need}: it is split across them")


def shard_slice(n: int, accelerator) -> slice:
    """This process's contiguous part of ``n`` items; sizes differ by at most one, earlier ranks larger."""
    world, rank = accelerator.num_processes, accelerator.process_index
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def shard(items: Sequence[T], accelerator) -> list[T]:
    """This process's contiguous slice of a global batch (see :func:`shard_slice`)."""
    return list(items[shard_slice(len(items), accelerator)])


def reduce_sums(accelerator, values: dict[str, float]) -> dict[str, float]:
    """Sum each value over all processes in one collective (float64, so token counts stay exact)."""
    if accelerator.num_processes == 1:
        return dict(values)
    keys = sorted(values)  # every process must pack the same keys in the same order
    packed = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=accelerator.device)
    summed = accelerator.reduce(packed, reduction="sum").tolist()
    return dict(zip(keys, summed))


def gather_list(accelerator, items: list) -> list:
    """Concatenate every process's list, in process order (pickled: keep tensors on the CPU)."""
    if accelerator.num_processes == 1:
        return items
    from accelerate.utils import gather_object

    return gather_object(items)


def decorrelate_rng(accelerator, seed: int) -> None:
    """Give each process its own random stream after the (identical) model initialisation.

    Otherwise every process would draw the same samples and dropout masks. The
    main process keeps the single-process stream, so a 1-process run is unchanged.
    """
    if accelerator.process_index > 0:
        seed_everything(seed + 1_000_003 * accelerator.process_index)


def capture_rng_states(accelerator) -> dict[str, Any]:
    """RNG state for a checkpoint: the process's own (1 process) or every process's (collective)."""
    own = capture_rng_state()
    if accelerator.num_processes == 1:
        return own
    return {"per_process": gather_list(accelerator, [own])}


def restore_rng_states(accelerator, state: dict[str, Any]) -> None:
    """Restore what :func:`capture_rng_states` saved; each process takes back its own stream."""
    states = state.get("per_process")
    if states is None:
        states = [state]
    if len(states) != accelerator.num_processes and accelerator.is_main_process:
        print(f"note: checkpoint was written by {len(states)} process(es), resuming on "
              f"{accelerator.num_processes}: sampling will not replay exactly", file=sys.stderr)
    restore_rng_state(states[accelerator.process_index % len(states)])
