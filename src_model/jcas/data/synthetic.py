"""Synthetic problems with a known answer, for tests and benchmarks."""
from __future__ import annotations

import numpy as np


def split_discs(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright discs on a dark background, split by a thin dark line: left half class 1, right half class 2.

    The two classes share their intensity and differ only by their position relative to the
    line, as the left and right hemispheres of a brain do. A model must see the line to tell
    them apart, and random mirror flips make the task unlearnable.

    Parameters
    ----------
    count, size : int
        Number of images and their side in pixels.
    seed : int
        Seed of the disc positions, radii and noise.

    Returns
    -------
    images : numpy.ndarray
        ``(count, size, size)`` uint8.
    masks : numpy.ndarray
        ``(count, size, size)`` uint8 in {0, 1, 2}.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images, masks = [], []
    for _ in range(count):
        cy, cx = rng.integers(size // 3, 2 * size // 3, 2)
        radius = rng.integers(size // 6, size // 4)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2
        image = rng.normal(40, 6, (size, size))
        image[disc] = rng.normal(180, 6, disc.sum())
        image[disc & (np.abs(xx - cx + 0.5) < 1)] = 40
        masks.append(np.where(disc, np.where(xx < cx, 1, 2), 0).astype(np.uint8))
        images.append(image.clip(0, 255).astype(np.uint8))
    return np.stack(images), np.stack(masks)
