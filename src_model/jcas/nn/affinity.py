"""Pixel-pair affinities: neighbour pairs at offsets, affinity labels and disagreement maps.

An affinity between pixels i and j is ``a_ij = e_i . e_j`` for unit non-negative
embeddings e (:func:`unit_embedding`), in [0, 1]. The label of a pair is 1 when
the (noisy) mask gives both pixels the same class, 0 otherwise; pairs touching an ignore
pixel are masked out. The local pairs of all shifts are held stacked, as one tensor
(:class:`LocalPairs`): the same few operations on them whatever the number of offsets, which is
what a GPU step's time follows. The products behind the affinities are taken one shift at a time
over views of one padded embedding, so no ``(B, S, D, H, W)`` copy of the embedding is made (it
was the largest tensor of a correction tile).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

#: Keeps the norm of an all-zero embedding from dividing by zero.
UNIT_EPS = 1e-9


def unit_embedding(embedding: torch.Tensor) -> torch.Tensor:
    """Make embeddings unit and non-negative along the channel axis.

    Parameters
    ----------
    embedding : torch.Tensor
        ``(B, D, ...)`` raw embedding.

    Returns
    -------
    torch.Tensor
        ``relu(E) / (||relu(E)|| + 1e-9)``, same shape; affinities ``e_i . e_j`` lie in [0, 1].
    """
    positive = torch.relu(embedding.float())
    return positive / (positive.norm(dim=1, keepdim=True) + UNIT_EPS)


def pair_offsets(offsets: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """The (dy, dx) shifts of the local pairs: each offset along rows and along columns."""
    return tuple((d, 0) for d in offsets) + tuple((0, d) for d in offsets)


def reversed_shifts(shifts: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """The same pairs seen from the other pixel: each ``(dy, dx)`` as ``(-dy, -dx)``."""
    return tuple((-dy, -dx) for dy, dx in shifts)


def shifted(tensor: torch.Tensor, shifts: tuple[tuple[int, int], ...], fill: float = 0.0,
            per_channel: bool = False) -> torch.Tensor:
    """``tensor`` moved by each shift at once (one padding and one stack, whatever the number of shifts).

    ``out[..., s, y, x] = tensor[..., y + dy_s, x + dx_s]``, ``fill`` where that falls outside.

    Parameters
    ----------
    tensor : torch.Tensor
        ``(B, C, H, W)``.
    shifts : tuple of (int, int)
        S shifts ``(dy, dx)``.
    fill : float
        The value outside the image (-1 for label tensors: "no neighbour", like ignore).
    per_channel : bool
        Move channel s by shift s only (C must equal S).

    Returns
    -------
    torch.Tensor
        ``(B, S, C, H, W)``, or ``(B, S, H, W)`` with ``per_channel``.
    """
    windows = shifted_views(tensor, shifts, fill)
    if per_channel:
        return torch.stack([window[:, s] for s, window in enumerate(windows)], dim=1)
    return torch.stack(windows, dim=1)


def shifted_views(tensor: torch.Tensor, shifts: tuple[tuple[int, int], ...],
                  fill: float = 0.0) -> list[torch.Tensor]:
    """``tensor`` moved by each shift, as S views of one padded copy (nothing stacked).

    Parameters
    ----------
    tensor : torch.Tensor
        ``(..., H, W)``.
    shifts, fill
        As in :func:`shifted`.

    Returns
    -------
    list of torch.Tensor
        S tensors shaped like ``tensor``: ``out[s][..., y, x] = tensor[..., y + dy_s, x + dx_s]``.
    """
    height, width = tensor.shape[-2:]
    dys, dxs = [dy for dy, _ in shifts], [dx for _, dx in shifts]
    top, left = max(0, -min(dys)), max(0, -min(dxs))
    bottom, right = max(0, max(dys)), max(0, max(dxs))
    padded = F.pad(tensor, (left, right, top, bottom), value=fill)
    return [padded[..., top + dy:top + dy + height, left + dx:left + dx + width] for dy, dx in shifts]


@dataclass
class LocalPairs:
    """Affinities of every pixel with its neighbours at S shifts, stacked along one axis.

    Attributes
    ----------
    affinity : torch.Tensor
        ``(B, S, H, W)``: ``e_i . e_{i + shift_s}``, 0 where the neighbour is outside.
    inside : torch.Tensor
        ``(1, S, H, W)`` float: 1 where the neighbour is inside the image.
    shifts : tuple of (int, int)
        The S shifts ``(dy, dx)``.
    """

    affinity: torch.Tensor
    inside: torch.Tensor
    shifts: tuple[tuple[int, int], ...]

    def both_directions(self) -> LocalPairs:
        """Each pixel's pairs with all its neighbours: these shifts, then their reverses (2S)."""
        back = reversed_shifts(self.shifts)
        return LocalPairs(torch.cat([self.affinity, shifted(self.affinity, back, per_channel=True)], dim=1),
                          torch.cat([self.inside, shifted(self.inside, back, per_channel=True)], dim=1),
                          self.shifts + back)


def local_pairs(unit: torch.Tensor, offsets: tuple[int, ...]) -> LocalPairs:
    """Affinities of each pixel with its neighbours at ``offsets`` along both axes (each pair once).

    Parameters
    ----------
    unit : torch.Tensor
        ``(B, D, H, W)`` unit embeddings.
    offsets : tuple of int
        Distances in pixels.
    """
    shifts = pair_offsets(offsets)
    affinity = torch.stack([(unit * neighbour).sum(dim=1) for neighbour in shifted_views(unit, shifts)], dim=1)
    inside = shifted(unit.new_ones(1, 1, *unit.shape[-2:]), shifts)[:, :, 0]
    return LocalPairs(affinity, inside, shifts)


def pair_labels(labels: torch.Tensor, shifts: tuple[tuple[int, int], ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The affinity labels of each pixel with its neighbour at each shift.

    Parameters
    ----------
    labels : torch.Tensor
        ``(B, H, W)`` int64 class indices, -1 for ignore.
    shifts : tuple of (int, int)
        S shifts, e.g. :attr:`LocalPairs.shifts`.

    Returns
    -------
    same : torch.Tensor
        ``(B, S, H, W)`` float, 1 where both pixels carry the same class.
    valid : torch.Tensor
        ``(B, S, H, W)`` float, 1 where the neighbour is inside and neither pixel is ignored.
    """
    labels = labels.unsqueeze(1)
    neighbour = shifted(labels, shifts, fill=-1)[:, :, 0]
    valid = (labels >= 0) & (neighbour >= 0)
    return (labels == neighbour).float(), valid.float()


def local_affinity_disagreement(pairs: LocalPairs, labels: torch.Tensor) -> torch.Tensor:
    """Mean ``|a_ij - Y'_ij|`` over each pixel's neighbour pairs (both directions).

    Parameters
    ----------
    pairs : LocalPairs
        From :func:`local_pairs`.
    labels : torch.Tensor
        ``(B, H, W)`` drawn class indices, -1 for ignore.

    Returns
    -------
    torch.Tensor
        ``(B, H, W)`` in [0, 1]; 0 where a pixel has no valid pair.
    """
    both = pairs.both_directions()
    same, valid = pair_labels(labels, both.shifts)
    total = ((both.affinity.float() - same).abs() * valid).sum(dim=1)
    return total / valid.sum(dim=1).clamp(min=1)


def global_affinity_statistics(unit: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """Sums needed for the global affinity disagreement, accumulable over tiles.

    Parameters
    ----------
    unit : torch.Tensor
        ``(D, M)`` unit embeddings of M pixels.
    labels : torch.Tensor
        ``(M,)`` class indices, -1 for ignore.

    Returns
    -------
    dict
        ``s`` (D,): sum of all e_j; ``S`` (K, D): sum of e_j per label; ``n`` (K,): count per label;
        ``N`` (): number of labelled pixels.
    """
    known = labels >= 0
    unit, labels = unit[:, known], labels[known]
    one_hot = torch.nn.functional.one_hot(labels, num_classes).float()
    return {"s": unit.sum(dim=1), "S": one_hot.T @ unit.T, "n": one_hot.sum(dim=0),
            "N": torch.tensor(float(labels.numel()), device=unit.device)}


def global_affinity_disagreement(unit: torch.Tensor, labels: torch.Tensor, stats: dict[str, torch.Tensor]) -> torch.Tensor:
    """``D_i = (1/N) sum_j |A_ij - Y'_ij|`` in linear time (method.md).

    With ``A_ij`` in [0, 1] and ``Y'`` binary, ``|A - Y'| = A + Y' - 2 A Y'``, so
    ``D_i = (e_i . s + n_{y_i} - 2 e_i . S_{y_i}) / N``.

    Parameters
    ----------
    unit : torch.Tensor
        ``(D, M)`` unit embeddings of the pixels to score.
    labels : torch.Tensor
        ``(M,)`` their drawn class indices, -1 for ignore (scored 0).
    stats : dict
        From :func:`global_affinity_statistics` over the whole image.

    Returns
    -------
    torch.Tensor
        ``(M,)`` in [0, 1].
    """
    safe = labels.clamp(min=0)
    value = (stats["s"] @ unit + stats["n"][safe] - 2 * (stats["S"][safe] * unit.T).sum(dim=1)) / stats["N"].clamp(min=1)
    return torch.where(labels >= 0, value.clamp(0, 1), torch.zeros_like(value))
