"""Label-preserving augmentation of training crops.

Two kinds of change, each drawn per crop from the crop's own random generator:

- **geometry**: mirror flips and transposes where the masks allow them (:func:`allowed_mirrors`),
  and a small rotation and scaling (labels resampled by nearest neighbour, pixels brought in
  from outside the crop ignored);
- **intensity**: contrast and brightness, gamma, Gaussian noise and blur, on the normalised image.

A mirror is not label-preserving when a class is defined by its side: a left hemisphere mirrored
is a right one. Which mirrors keep every class itself is decided from the masks, not set by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy import ndimage

from ..data.labels import IGNORE_INDEX

#: The mirrors a crop may get: up-down, left-right, and the swap of rows and columns.
MIRRORS = ("flip_rows", "flip_columns", "transpose")
#: A mirror swaps classes when it carries a class onto another one at least this many times more
#: often than chance (the lift) ...
SWAP_LIFT = 1.5
#: ... and more often than onto itself (tissues inside one organ land on each other above chance
#: under any mirror, but each still lands on itself most).
SWAP_SHARE = 1.0

#: Probability of each change per crop, and its range.
ROTATE_SCALE_P, MAX_ROTATION_DEG, MAX_SCALE_CHANGE = 0.3, 15.0, 0.15
CONTRAST_P, CONTRAST_RANGE, BRIGHTNESS_SHIFT = 0.5, (0.75, 1.33), 0.1
GAMMA_P, GAMMA_RANGE = 0.3, (0.7, 1.5)
NOISE_P, MAX_NOISE_SIGMA = 0.2, 0.05
BLUR_P, BLUR_SIGMA = 0.2, (0.5, 1.0)


def _mirrored(mask: np.ndarray, mirror: str) -> np.ndarray:
    """``mask`` ``(H, W)`` under one of :data:`MIRRORS` (a transpose: of its central square)."""
    if mirror == "flip_rows":
        return mask[::-1]
    if mirror == "flip_columns":
        return mask[:, ::-1]
    return _square(mask).T


def _square(mask: np.ndarray) -> np.ndarray:
    """The central square of ``mask`` ``(H, W)`` (what a transpose is compared against)."""
    side = min(mask.shape)
    top, left = (mask.shape[0] - side) // 2, (mask.shape[1] - side) // 2
    return mask[top:top + side, left:left + side]


def allowed_mirrors(masks: Iterable[np.ndarray], classes: int) -> tuple[str, ...]:
    """The mirrors that keep every class itself on these masks.

    For each mirror g, count over all masks how often a pixel of class a lands on class b under g,
    as a lift over chance (``P(b at g(p) | a at p) / P(b)``). The mirror swaps classes when some
    class a lands on another class b at least :data:`SWAP_LIFT` times chance and more often than
    on itself: left and right of a structure under a
    left-right flip, the top and the bottom layer under an up-down flip. Classes that do not
    depend on position (nuclei anywhere on a background) land on everything at about chance, so
    every mirror is allowed for them. A transpose also needs both flips: with them it makes
    quarter turns, which carry the left side onto the top.

    Parameters
    ----------
    masks : iterable of numpy.ndarray
        ``(H, W)`` int class indices (-1 = ignore), e.g. every training slice's noisy labels.
    classes : int
        Number of classes K.

    Returns
    -------
    tuple of str
        The allowed members of :data:`MIRRORS`.
    """
    pairs = {mirror: np.zeros((classes, classes)) for mirror in MIRRORS}
    for mask in masks:
        for mirror in MIRRORS:
            source = _square(mask) if mirror == "transpose" else mask
            target = _mirrored(mask, mirror)
            known = (source >= 0) & (target >= 0)
            pairs[mirror] += np.bincount(source[known] * classes + target[known],
                                         minlength=classes * classes).reshape(classes, classes)
    allowed = []
    for mirror, counts in pairs.items():
        total = counts.sum()
        if total == 0:
            continue
        frequency = counts.sum(axis=1) / total
        with np.errstate(invalid="ignore", divide="ignore"):
            lift = counts / total / np.outer(frequency, counts.sum(axis=0) / total)
        lift = np.nan_to_num(lift)
        off_diagonal = ~np.eye(classes, dtype=bool)
        swaps = off_diagonal & (lift >= SWAP_LIFT) & (lift > SWAP_SHARE * np.diag(lift)[:, None])
        if not swaps.any():
            allowed.append(mirror)
    if not {"flip_rows", "flip_columns"} <= set(allowed) and "transpose" in allowed:
        allowed.remove("transpose")  # with the flips it makes quarter turns, which carry a side onto the top
    return tuple(allowed)


@dataclass(frozen=True)
class Augmenter:
    """Random label-preserving changes of one training crop.

    Parameters
    ----------
    mirrors : tuple of str
        Which of :data:`MIRRORS` may be applied (each with probability 1/2).
    geometry, intensity : bool
        Small rotations and scalings; contrast, gamma, noise and blur.
    """

    mirrors: tuple[str, ...] = ()
    geometry: bool = True
    intensity: bool = True

    def __call__(self, image: np.ndarray, labels: np.ndarray, trusted: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Augment a crop.

        Parameters
        ----------
        image : numpy.ndarray
            ``(C, S, S)`` float32, normalised to about [0, 1].
        labels : numpy.ndarray
            ``(S, S)`` int64 class indices, -1 = ignore.
        trusted : numpy.ndarray
            ``(S, S)`` bool.
        rng : numpy.random.Generator

        Returns
        -------
        The three arrays, changed alike (contiguous copies).
        """
        for mirror in MIRRORS:
            if mirror in self.mirrors and rng.random() < 0.5:
                if mirror == "flip_rows":
                    image, labels, trusted = image[:, ::-1], labels[::-1], trusted[::-1]
                elif mirror == "flip_columns":
                    image, labels, trusted = image[:, :, ::-1], labels[:, ::-1], trusted[:, ::-1]
                else:
                    image, labels, trusted = image.transpose(0, 2, 1), labels.T, trusted.T
        if self.geometry and rng.random() < ROTATE_SCALE_P:
            image, labels, trusted = _rotate_scale(image, labels, trusted, rng)
        if self.intensity:
            image = _change_intensity(image, rng)
        return (np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(labels),
                np.ascontiguousarray(trusted))


def _rotate_scale(image: np.ndarray, labels: np.ndarray, trusted: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate by up to :data:`MAX_ROTATION_DEG` and scale by up to :data:`MAX_SCALE_CHANGE` about the centre;
    image bilinear (mirrored at the edges), labels nearest (ignored where they come from outside)."""
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    scale = rng.uniform(1 - MAX_SCALE_CHANGE, 1 + MAX_SCALE_CHANGE)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    matrix = np.array([[cos, -sin], [sin, cos]])
    centre = (np.asarray(labels.shape) - 1) / 2
    offset = centre - matrix @ centre
    image = np.stack([ndimage.affine_transform(channel, matrix, offset, order=1, mode="mirror")
                      for channel in image])
    labels = ndimage.affine_transform(labels, matrix, offset, order=0, mode="constant", cval=IGNORE_INDEX)
    trusted = ndimage.affine_transform(trusted.astype(np.uint8), matrix, offset, order=0, mode="constant") > 0
    return image, labels, trusted


def _change_intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contrast and brightness, gamma, noise and blur, each with its probability; ``(C, S, S)`` in and out."""
    image = image.astype(np.float32, copy=True)
    if rng.random() < CONTRAST_P:
        mean = image.mean()
        image = (image - mean) * rng.uniform(*CONTRAST_RANGE) + mean + rng.uniform(-BRIGHTNESS_SHIFT, BRIGHTNESS_SHIFT)
    if rng.random() < GAMMA_P:
        low, high = float(image.min()), float(image.max())
        if high > low:
            image = ((image - low) / (high - low)) ** rng.uniform(*GAMMA_RANGE) * (high - low) + low
    if rng.random() < NOISE_P:
        image = image + rng.normal(0, rng.uniform(0, MAX_NOISE_SIGMA), image.shape).astype(np.float32)
    if rng.random() < BLUR_P:
        sigma = rng.uniform(*BLUR_SIGMA)
        image = np.stack([ndimage.gaussian_filter(channel, sigma) for channel in image])
    return image
