"""Differentiated affinity reasoning (DAR): rectify class logits with learned affinities.

Two neighbourhoods are offered:

- **global** (the paper's): every position of a G x G grid is a neighbour of every other.
  Computed in linear time, never building the N x N affinity matrix:
  ``A Q = e (e^T Q)``, row sums ``r = e (e^T 1)``, ``(1 - A) Q = 1 (1^T Q) - A Q``.
- **local** (this project's default): each pixel's neighbours are the pixels at a few
  offsets along both axes (see :data:`jcas.settings.DEFAULT_OFFSETS`).

In both, with ``rownorm`` dividing each row by its sum:
``P = Q + 1/2 * (rownorm(A) Q - rownorm(1 - A) Q)``.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .affinity import LocalPairs, shifted, unit_embedding

EPS = 1e-9


def global_dar(logits: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """Global DAR in linear time.

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, K, N)`` class logits Q at N positions.
    unit : torch.Tensor
        ``(B, D, N)`` unit embeddings e.

    Returns
    -------
    torch.Tensor
        ``(B, K, N)`` rectified logits P.
    """
    logits = logits.float()
    count = logits.shape[-1]
    aq = torch.einsum("bdn,bdk->bkn", unit, torch.einsum("bdn,bkn->bdk", unit, logits))
    row_sum = torch.einsum("bdn,bd->bn", unit, unit.sum(dim=-1)).unsqueeze(1)
    eliminate = logits.sum(dim=-1, keepdim=True) - aq
    return logits + 0.5 * (aq / (row_sum + EPS) - eliminate / (count - row_sum + EPS))


def global_dar_image(logits: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """:func:`global_dar` on image-shaped tensors ``(B, K, H, W)`` and ``(B, D, H, W)``."""
    batch, classes, height, width = logits.shape
    rectified = global_dar(logits.flatten(2), unit.flatten(2))
    return rectified.view(batch, classes, height, width)


def grid_dar(logits: torch.Tensor, unit: torch.Tensor, grid: int) -> torch.Tensor:
    """Global DAR on a ``grid x grid`` resampling, upsampled back (the paper's training form).

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, K, H, W)``.
    unit : torch.Tensor
        ``(B, D, H, W)`` unit embeddings.
    grid : int
        Side G of the grid.

    Returns
    -------
    torch.Tensor
        ``(B, K, H, W)`` rectified logits.
    """
    small_logits = F.interpolate(logits.float(), size=(grid, grid), mode="bilinear", align_corners=False)
    small_unit = unit_embedding(F.interpolate(unit, size=(grid, grid), mode="bilinear", align_corners=False))
    rectified = global_dar_image(small_logits, small_unit)
    return F.interpolate(rectified, size=logits.shape[-2:], mode="bilinear", align_corners=False)


def local_dar(logits: torch.Tensor, pairs: LocalPairs) -> torch.Tensor:
    """Local DAR: message passing from each pixel's neighbours at the pairs' shifts, both directions.

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, K, H, W)`` class logits.
    pairs : LocalPairs
        From :func:`jcas.nn.affinity.local_pairs` (each pair once; reverses are derived).

    Returns
    -------
    torch.Tensor
        ``(B, K, H, W)`` rectified logits. Neighbours outside the image do not count.
    """
    logits = logits.float()
    both = pairs.both_directions()
    neighbour = shifted(logits, both.shifts)  # (B, 2S, K, H, W)
    affinity = both.affinity.unsqueeze(2)
    contrast = both.inside.unsqueeze(2) - affinity
    aggregate, eliminate = (affinity * neighbour).sum(dim=1), (contrast * neighbour).sum(dim=1)
    return logits + 0.5 * (aggregate / (affinity.sum(dim=1) + EPS) - eliminate / (contrast.sum(dim=1) + EPS))
