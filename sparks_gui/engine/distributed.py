"""Data-parallel training over processes with ``torch.distributed`` (gloo on CPU, NCCL on GPU).

Each process holds the whole model and the whole (prepared) dataset.  Every global
batch of ``batch_size`` examples is split into contiguous, near-equal slices, one per
process; each process computes the gradient of its slice's loss scaled by
``n_local * world / n_global`` and the gradients are averaged with one all-reduce per
update, so the update equals the single-process update on the global batch (up to
float summation order).  The VAE noise is drawn for the global batch on every rank
from the same seeded generator and sliced, so sampling matches too.

Launch with ``torchrun --nproc_per_node N -m sparks_gui.cli train DATA ... --distributed``
(or ``sparks-gui train ... --distributed`` under ``torchrun``).  Multi-node: run the same
command on every node with ``--nnodes``, ``--node_rank`` and ``--rdzv-endpoint`` (see docs).

We all-reduce gradients by hand instead of wrapping the model in
``DistributedDataParallel``: the model's forward takes a recurrent state and a chunk
at a time (truncated/online modes run several backward passes per batch), and an
explicit flat all-reduce keeps the result exactly the single-process update without
DDP's hook bookkeeping; the communication volume is the same (one flat bucket).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SparksError


@dataclass
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_rows(self, n_global: int) -> np.ndarray:
        """Indices (into the global batch) this process computes."""
        return np.array_split(np.arange(n_global), self.world_size)[self.rank]

    def average_gradients(self, params) -> None:
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n

    def sum_scalar(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        torch.distributed.all_reduce(t)
        return float(t.item())

    def barrier(self) -> None:
        torch.distributed.barrier()


def init_from_env(device: torch.device) -> DistContext:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...)."""
    import torch.distributed as dist

    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise SparksError(
            "--distributed needs the process-group environment that torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR).",
            "Launch with: torchrun --nproc_per_node 2 -m sparks_gui.cli train DATA --distributed ...",
        )
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    return DistContext(rank, world, device)
