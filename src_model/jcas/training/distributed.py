"""Training across processes with PyTorch's own engine (``torchrun``): one process per GPU, or CPU processes.

``torchrun --nproc_per_node N -m jcas.cli train ...`` starts N processes; :func:`start` joins them
into one process group (NCCL on CUDA, gloo on the CPU). A :class:`~jcas.training.trainer.Trainer`
in such a group gives every rank its share of each batch (the global batch stays the setting's
``batch_size``; crops are dealt out as ``DistributedSampler`` deals them), averages the gradients
over the ranks after every backward pass and gives every rank rank 0's BatchNorm statistics after
every step, so that all ranks hold the same weights throughout. Only rank 0 writes files and prints.

The gradients are averaged here with ``all_reduce`` rather than by wrapping the network in
``DistributedDataParallel``: the same reduction, without DDP's overlap of communication and
backward pass, and the model keeps its own ``predict`` and its plain state dict (checkpoints,
held-out selection, transition matrices) on every rank.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import JCASInputError


def launched() -> bool:
    """Whether ``torchrun`` started this process as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device: str = "auto") -> str:
    """Join the process group torchrun set up; returns the device this rank trains on.

    Parameters
    ----------
    device : {"auto", "cuda", "mps", "cpu"}
        ``"auto"`` and ``"cuda"`` take this rank's GPU (``LOCAL_RANK``) with NCCL where CUDA is
        present; otherwise the ranks run on the CPU with gloo.
    """
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if device == "cuda" and not use_cuda:
        raise JCASInputError("--device cuda: CUDA is not available here; use --device cpu (gloo) or a GPU machine.")
    if device == "mps":
        raise JCASInputError("training across processes runs on CUDA (NCCL) or the CPU (gloo), not on mps.")
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return "cuda" if use_cuda else "cpu"


def stop() -> None:
    """Leave the process group (after every rank is done)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank_and_size() -> tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank_and_size()[0] == 0


def average_gradients(model: torch.nn.Module) -> None:
    """Replace every gradient by its mean over the ranks (no-op in one process)."""
    _, size = rank_and_size()
    if size == 1:
        return
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= size


def share_buffers(model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics), as DDP does before a forward pass."""
    if rank_and_size()[1] == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the ranks, in place (itself in one process)."""
    if rank_and_size()[1] > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
