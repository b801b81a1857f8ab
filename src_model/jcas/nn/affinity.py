"""Pixel-pair affinities: neighbour pairs at offsets, affinity labels and disagreement maps.

An affinity between pixels i and j is ``a_ij = e_i . e_j`` for unit non-negative
embeddings e (:func:`unit_embedding`), in [0, 1]. The label of a pair is 1 when
the (noisy) mask gives both pixels the same class, 0 otherwise; pairs touching an ignore
pixel are masked out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

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


def shift(tensor: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Return ``out[..., y, x] = tensor[..., y + dy, x + dx]``, zero where that falls outside.

    Parameters
    ----------
    tensor : torch.Tensor
        ``(..., H, W)``.
    dy, dx : int
        Offsets along rows and columns.
    """
    height, width = tensor.shape[-2:]
    out = torch.zeros_like(tensor)
    if abs(dy) >= height or abs(dx) >= width:
        return out
    ys, yd = (slice(dy, None), slice(None, height - dy)) if dy >= 0 else (slice(None, dy), slice(-dy, None))
    xs, xd = (slice(dx, None), slice(None, width - dx)) if dx >= 0 else (slice(None, dx), slice(-dx, None))
    out[..., yd, xd] = tensor[..., ys, xs]
    return out


@dataclass
class PairAffinity:
    """Affinities of every pixel with its neighbour at one shift.

    Attributes
    ----------
    affinity : torch.Tensor
        ``(B, 1, H, W)``: ``e_i . e_{i + (dy, dx)}``, 0 where the neighbour is outside.
    valid : torch.Tensor
        ``(1, 1, H, W)`` float: 1 where the neighbour is inside the image.
    dy, dx : int
        The shift.
    """

    affinity: torch.Tensor
    valid: torch.Tensor
    dy: int
    dx: int

    def reversed(self) -> "PairAffinity":
        """The same pairs seen from the other pixel: shift ``(-dy, -dx)``."""
        return PairAffinity(shift(self.affinity, -self.dy, -self.dx), shift(self.valid, -self.dy, -self.dx),
                            -self.dy, -self.dx)


def pair_offsets(offsets: tuple[int, ...]) -> list[tuple[int, int]]:
    """The (dy, dx) shifts of the local pairs: each offset along rows and along columns."""
    return [(d, 0) for d in offsets] + [(0, d) for d in offsets]


def pair_affinities(unit: torch.Tensor, offsets: tuple[int, ...]) -> list[PairAffinity]:
    """Affinities of each pixel with its neighbours at ``offsets`` along both axes (each pair once).

    Parameters
    ----------
    unit : torch.Tensor
        ``(B, D, H, W)`` unit embeddings.
    offsets : tuple of int
        Distances in pixels.
    """
    ones = unit.new_ones(1, 1, *unit.shape[-2:])
    return [PairAffinity((unit * shift(unit, dy, dx)).sum(dim=1, keepdim=True), shift(ones, dy, dx), dy, dx)
            for dy, dx in pair_offsets(offsets)]


def both_directions(pairs: list[PairAffinity]) -> Iterator[PairAffinity]:
    """Each pixel's pairs with all its neighbours: the given shifts and their reverses."""
    for pair in pairs:
        yield pair
        yield pair.reversed()


def neighbour_pair_labels(
    labels: torch.Tensor, offsets: tuple[int, ...]
) -> Iterator[tuple[torch.Tensor, torch.Tensor, int, int]]:
    """Yield the affinity labels of each pixel with its neighbour at each (one-directional) shift.

    Parameters
    ----------
    labels : torch.Tensor
        ``(B, H, W)`` int64 class indices, -1 for ignore.

    Yields
    ------
    same : torch.Tensor
        ``(B, 1, H, W)`` float, 1 where both pixels carry the same class.
    valid : torch.Tensor
        ``(B, 1, H, W)`` float, 1 where the neighbour is inside and neither pixel is ignored.
    dy, dx : int
    """
    known = (labels >= 0).unsqueeze(1)
    labels = labels.unsqueeze(1)
    for dy, dx in pair_offsets(offsets):
        neighbour = shift(labels + 1, dy, dx) - 1  # -1 outside, like ignore
        valid = known & (neighbour >= 0)
        yield (labels == neighbour).float(), valid.float(), dy, dx


def local_affinity_disagreement(pairs: list[PairAffinity], labels: torch.Tensor) -> torch.Tensor:
    """Mean ``|a_ij - Y'_ij|`` over each pixel's neighbour pairs (both directions).

    Parameters
    ----------
    pairs : list of PairAffinity
        From :func:`pair_affinities`.
    labels : torch.Tensor
        ``(B, H, W)`` drawn class indices, -1 for ignore.

    Returns
    -------
    torch.Tensor
        ``(B, H, W)`` in [0, 1]; 0 where a pixel has no valid pair.
    """
    total = torch.zeros(labels.shape, device=labels.device)
    count = torch.zeros_like(total)
    known = labels >= 0
    for pair in both_directions(pairs):
        neighbour = shift(labels + 1, pair.dy, pair.dx) - 1
        valid = (known & (neighbour >= 0)).float()
        same = (labels == neighbour).float()
        total += (pair.affinity[:, 0] - same).abs() * valid
        count += valid
    return total / count.clamp(min=1)


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
