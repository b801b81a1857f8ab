"""A model's prediction on a whole slice, tile by tile, so that memory stays bounded for large images.

Each tile of ``TILE`` pixels is predicted with ``MARGIN`` pixels of context on every side and
keeps only its inner part. Correction (:mod:`jcas.correction.prediction`) builds its maps from
:func:`tiles`; training's held-out selection needs only the class probabilities
(:func:`tiled_probabilities`).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..device import autocast
from .calibration import tempered
from .model import JCASModel, Prediction

TILE = 512
MARGIN = 64
#: Test-time mirroring (:data:`jcas.settings.MIRROR`): the image flipped along these axes too.
MIRROR_AXES = ((-1,), (-2,), (-2, -1))


def tiles(model: JCASModel, normalised: np.ndarray, tile: int) -> Iterator[tuple[tuple, tuple, torch.Tensor,
                                                                                Prediction]]:
    """Yield ``(inner, outer, batch, prediction)`` for each tile: the region it fills, the region it saw,
    its ``(1, C, h, w)`` input and the model's output.

    Parameters
    ----------
    model : JCASModel
    normalised : numpy.ndarray
        ``(C, H, W)`` from :func:`jcas.data.pairs.normalise`.
    tile : int
        Side of a tile, pixels.
    """
    height, width = normalised.shape[-2:]
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            inner = (slice(y, min(y + tile, height)), slice(x, min(x + tile, width)))
            outer = (slice(max(0, y - MARGIN), min(y + tile + MARGIN, height)),
                     slice(max(0, x - MARGIN), min(x + tile + MARGIN, width)))
            batch = torch.from_numpy(np.ascontiguousarray(normalised[(slice(None),) + outer]))[None].to(model.device)
            with autocast(model.device):
                prediction = model.predict(batch)
            yield inner, outer, batch, prediction


def inner_crop(inner: tuple, outer: tuple) -> tuple:
    """Where a tile's inner region lies inside the region it saw (both from :func:`tiles`)."""
    return tuple(slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer))


def mirrored_probabilities(model: JCASModel, batch: torch.Tensor, prediction: Prediction) -> torch.Tensor:
    """``(B, K, H, W)`` class probabilities averaged over ``batch`` ``(B, C, H, W)`` and its three mirror
    images; ``prediction`` is the model's output for ``batch`` itself."""
    total = prediction.probabilities()
    for dims in MIRROR_AXES:
        with autocast(model.device):
            total = total + model.predict(batch.flip(dims)).probabilities().flip(dims)
    return total / (1 + len(MIRROR_AXES))


@torch.no_grad()
def tiled_probabilities(model: JCASModel, normalised: np.ndarray, tile: int = TILE) -> np.ndarray:
    """One model's class probabilities on a slice at its calibrated temperature (:mod:`jcas.nn.calibration`).

    Parameters
    ----------
    model : JCASModel
    normalised : numpy.ndarray
        ``(C, H, W)`` from :func:`jcas.data.pairs.normalise`.
    tile : int

    Returns
    -------
    numpy.ndarray
        ``(K, H, W)`` float32.
    """
    model.eval()
    probability = np.zeros((model.label_map.num_classes,) + normalised.shape[-2:], dtype=np.float32)
    for inner, outer, _, prediction in tiles(model, normalised, tile):
        crop = (slice(None),) + inner_crop(inner, outer)
        probability[(slice(None),) + inner] = prediction.probabilities()[0][crop].float().cpu().numpy()
    return tempered(probability, float(model.temperature))
