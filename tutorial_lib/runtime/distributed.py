"""Several processes, one run: torchrun's process group (appendix "Past one machine").

``torchrun --nproc_per_node N -m tutorial_lib run ...`` starts N copies of the program and gives each the
environment variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
:func:`world` joins their process group the first time it is asked (gloo for CPU tensors, NCCL for CUDA
tensors); without those variables it says ``(rank 0, 1 process)`` and nothing changes.

Training splits every step's global batch among the ranks (:func:`my_share`); encoding splits the notes.
Only rank 0 (:func:`is_main`) shows progress, validates and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` in ``0 .. size - 1``, and ``local_rank`` on its own machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """This process's :class:`World`; under torchrun, joins the process group on first use."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size > 1 and not dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            backend = "cpu:gloo,cuda:nccl"
        else:
            backend = "gloo"
        dist.init_process_group(backend=backend)
    if not dist.is_initialized():
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def barrier() -> None:
    """Waits until every rank arrives here (does nothing in one process)."""
    if dist.is_initialized():
        dist.barrier()


def my_share(global_batch: torch.Tensor, rank: int, size: int) -> torch.Tensor:
    """Rank ``rank``'s consecutive slice of ``global_batch [B, ...]`` (sizes differ by at most one)."""
    if len(global_batch) < size:
        raise ValueError(f"A global batch of {len(global_batch)} cannot be split among {size} processes: "
                         f"raise batch_size to at least {size}, or start fewer processes (torchrun's nproc_per_node).")
    return torch.tensor_split(global_batch, size)[rank]


def all_sum(value: torch.Tensor) -> torch.Tensor:
    """``value`` summed over the ranks (a copy; the value itself in one process)."""
    value = value.detach().clone()
    if dist.is_initialized():
        dist.all_reduce(value)
    return value


def from_main(value: float, device: torch.device | str = "cpu") -> float:
    """Rank 0's ``value`` on every rank (the others wait for it)."""
    if not dist.is_initialized():
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def leave() -> None:
    """Leaves the process group (at the end of a torchrun program)."""
    if dist.is_initialized():
        dist.destroy_process_group()
