"""Data-parallel training across processes (torchrun), without the DDP wrapper.

The GAN step alternates two networks, freezes D while G learns and takes a second-order
gradient for the penalty; DistributedDataParallel's hooks assume one forward/backward per
module and no `autograd.grad`. So, as StyleGAN2-ADA does, each process runs the plain
modules on its share of the batch and the gradients are averaged by hand before every
optimizer step: the same update as one process with the whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> Distributed:
    """Join the process group torchrun describes in the environment (or run alone)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def average_gradients(module: nn.Module, world_size: int) -> None:
    """All-reduce every gradient of `module` (one flat buffer) and divide by the world size."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def broadcast_state(module: nn.Module, parameters: bool = True) -> None:
    """Copy rank 0's buffers (e.g. batch-norm statistics), and parameters, to every rank."""
    for tensor in [*(module.parameters() if parameters else []), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any (a stop signal must stop all ranks together)."""
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
