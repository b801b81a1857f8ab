"""Training across processes with PyTorch's own engine (``torchrun``): one process per GPU, or CPU processes.

``torchrun --nproc_per_node N -m jcas.cli train ...`` starts N processes; :func:`start` joins them
into one process group (NCCL on CUDA, gloo on the CPU). The fold models of a cross-fitted run are
spread over the ranks (:func:`fold_teams`): with at least as many ranks as fold models, each fold
model is trained by a team of ranks at the same time as the others; with fewer, each rank trains
its share of the fold models alone. Within a team, a :class:`~jcas.training.trainer.Trainer` gives
every rank its share of each batch (the global batch stays the setting's ``batch_size``; crops are
dealt out as ``DistributedSampler`` deals them), averages the gradients over the team after every
backward pass and gives every rank the team leader's BatchNorm statistics after every step, so that
the team holds the same weights throughout. At the end every rank receives every fold model from its
team's leader (:func:`share_fold_models`). Only rank 0 writes files and prints.

The gradients are averaged here with ``all_reduce`` rather than by wrapping the network in
``DistributedDataParallel``: the same reduction, without DDP's overlap of communication and
backward pass, and the model keeps its own ``predict`` and its plain state dict (checkpoints,
held-out selection, transition matrices) on every rank.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Team:
    """The ranks that train one fold model together.

    Attributes
    ----------
    ranks : tuple of int
        Their global ranks; the first leads (its BatchNorm statistics and final weights count).
    group : torch.distributed.ProcessGroup or None
        Their process group; ``None``: the whole world (or no process group at all).
    """

    ranks: tuple[int, ...] = (0,)
    group: object | None = None

    @property
    def size(self) -> int:
        """How many ranks share each batch."""
        return len(self.ranks)

    def includes(self, rank: int) -> bool:
        """Whether ``rank`` trains this team's fold model."""
        return rank in self.ranks


def fold_teams(folds: int) -> list[Team]:
    """Which ranks train which fold model.

    With R ranks and K fold models, fold model k goes to the ranks r with r mod K = k when R >= K
    (the K teams train at the same time), else to rank k mod R alone. In one process the one rank
    trains them all. Every rank must call this, in the same order (it creates the teams' groups).

    Returns
    -------
    list of Team
        One per fold model.
    """
    _, size = rank_and_size()
    if size == 1:
        return [Team() for _ in range(folds)]
    teams = []
    for fold in range(folds):
        ranks = tuple(r for r in range(size) if r % folds == fold) if size >= folds else (fold % size,)
        teams.append(Team(ranks, None if len(ranks) == size else dist.new_group(list(ranks))))
    return teams


def team_rank(team: Team) -> int:
    """This process's place in ``team`` (0 leads); ``team`` must include it."""
    return team.ranks.index(rank_and_size()[0])


def average_gradients(model: torch.nn.Module, team: Team = Team()) -> None:
    """Replace every gradient by its mean over the team's ranks (no-op for a team of one)."""
    if team.size == 1:
        return
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM, group=team.group)
            parameter.grad /= team.size


def share_buffers(model: torch.nn.Module, team: Team = Team()) -> None:
    """Give the team the leader's buffers (BatchNorm running statistics), as DDP does before a forward pass."""
    if team.size == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=team.ranks[0], group=team.group)


def sum_over_ranks(tensor: torch.Tensor, team: Team = Team()) -> torch.Tensor:
    """``tensor`` summed over the team's ranks, in place (itself for a team of one)."""
    if team.size > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=team.group)
    return tensor


def share_fold_models(members: list[torch.nn.Module], records: list[list], teams: list[Team]) -> list[list]:
    """Give every rank every fold model as its team's leader holds it (no-op in one process).

    Parameters
    ----------
    members : list of torch.nn.Module
        The fold models; each rank's copy of fold k is overwritten with the leader's weights and buffers.
    records : list of list
        Per fold model, picklable facts its leader knows (e.g. what held-out selection kept).
    teams : list of Team

    Returns
    -------
    list of list
        ``records`` as the leaders hold them.
    """
    if rank_and_size()[1] == 1:
        return records
    shared = []
    for member, record, team in zip(members, records, teams):
        for tensor in list(member.state_dict().values()):
            dist.broadcast(tensor, src=team.ranks[0])
        payload = [record]
        dist.broadcast_object_list(payload, src=team.ranks[0])
        shared.append(payload[0])
    return shared
