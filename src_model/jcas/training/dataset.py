"""A torch Dataset of random 2D training crops, streamed from arrays or files."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..data.io import read_array
from ..data.labels import IGNORE_INDEX, IGNORE_VALUE, LabelMap
from ..data.pairs import FilePair, as_slices, channels_of, check_pair, normalise
from ..errors import JCASInputError
from ..nn.crossfit import strip_folds

Loader = Callable[[], tuple[np.ndarray, np.ndarray]]
#: Returns a mask of trusted labels: the mask's shape, the label where a person confirmed it, the
#: ignore value (255) elsewhere.
TrustedLoader = Callable[[], np.ndarray]


@dataclass(frozen=True)
class Volume:
    """One image/mask pair (2D or a stack), loaded on demand.

    Attributes
    ----------
    name : str
        For messages.
    load : callable
        Returns ``(image, mask)`` arrays.
    slices : int
        Number of 2D slices.
    channels : int
        1 or 3.
    shape : tuple of int
        ``(H, W)`` of its slices.
    trusted : callable, optional
        Returns the pair's trusted labels (:data:`TrustedLoader`): pixels a person confirmed, which
        train as clean labels. ``None``: no pixel is trusted.
    """

    name: str
    load: Loader
    slices: int
    channels: int
    shape: tuple[int, int]
    trusted: TrustedLoader | None = None

    def slice_labels(self, z: int, label_map: LabelMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slice ``z``: its image, its training labels and which of them are trusted.

        Returns
        -------
        image : numpy.ndarray
            ``(H, W)`` or ``(H, W, C)``.
        labels : numpy.ndarray
            ``(H, W)`` int64 class indices, -1 for ignore: the trusted label where there is one,
            else the drawn one.
        trusted : numpy.ndarray
            ``(H, W)`` bool.
        """
        image, mask = as_slices(*self.load())[z]
        labels = label_map.encode(mask)
        if self.trusted is None:
            return image, labels, np.zeros(labels.shape, dtype=bool)
        confirmed = np.asarray(self.trusted())
        confirmed = label_map.encode(confirmed if confirmed.ndim == 2 else confirmed[z])
        trusted = confirmed >= 0
        return image, np.where(trusted, confirmed, labels), trusted


def volumes_from_arrays(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                        trusted: Sequence[np.ndarray | None] | None = None) -> list[Volume]:
    """Check in-memory pairs (and trusted labels, :data:`TrustedLoader`) and wrap them as volumes."""
    trusted = [None] * len(masks) if trusted is None else list(trusted)
    volumes = []
    for index, (image, mask, confirmed) in enumerate(zip(images, masks, trusted, strict=True)):
        image, mask = np.asarray(image), np.asarray(mask)
        name = f"pair {index}"
        check_pair(image, mask, name=name)
        if confirmed is not None:
            confirmed = np.asarray(confirmed)
            check_trusted(confirmed, mask, name)
        volumes.append(Volume(name, lambda i=image, m=mask: (i, m), len(as_slices(image, mask)),
                              channels_of(image, mask), mask.shape[-2:],
                              None if confirmed is None else (lambda t=confirmed: t)))
    return volumes


def volumes_from_files(pairs: Sequence[FilePair], trusted: dict[str, Path] | None = None) -> list[Volume]:
    """Check file pairs once and wrap them as volumes that read from disk when used.

    ``trusted`` maps a pair's stem to a file of its trusted labels (:data:`TrustedLoader`).
    """
    trusted = trusted or {}
    volumes = []
    for pair in pairs:
        image, mask = read_array(pair.image), read_array(pair.mask)
        name = f"{pair.image.name} / {pair.mask.name}"
        check_pair(image, mask, name=name)
        trusted_loader = None
        if pair.stem in trusted:
            check_trusted(read_array(trusted[pair.stem]), mask, trusted[pair.stem].name)
            trusted_loader = lru_cache(maxsize=1)(lambda p=trusted[pair.stem]: read_array(p))
        loader = lru_cache(maxsize=1)(lambda p=pair: (read_array(p.image), read_array(p.mask)))
        volumes.append(Volume(name, loader, len(as_slices(image, mask)), channels_of(image, mask), mask.shape[-2:],
                              trusted_loader))
    return volumes


def check_trusted(trusted: np.ndarray, mask: np.ndarray, name: str) -> None:
    """Raise :class:`JCASInputError` unless ``trusted`` is a mask of trusted labels for ``mask``: its shape,
    and only the mask's label values or the ignore value (255)."""
    if trusted.shape != mask.shape:
        raise JCASInputError(f"{name}: the trusted labels are {trusted.shape}, the mask is {mask.shape}; give "
                             "trusted labels of the mask's shape (255 where nothing is trusted).")
    if not np.issubdtype(trusted.dtype, np.integer):
        raise JCASInputError(f"{name}: trusted labels must be integers (label values, 255 = untrusted), "
                             f"not {trusted.dtype}.")
    unknown = sorted(set(np.unique(trusted).tolist()) - set(np.unique(mask).tolist()) - {IGNORE_VALUE})
    if unknown:
        raise JCASInputError(f"{name}: the trusted labels hold values {unknown[:10]} that the mask does not; use "
                             f"the mask's label values, and {IGNORE_VALUE} where nothing is trusted.")


def scan_labels(volumes: Sequence[Volume], label_map: LabelMap | None = None) -> tuple[LabelMap, np.ndarray]:
    """Label values of all masks and their class frequencies.

    Parameters
    ----------
    volumes : sequence of Volume
    label_map : LabelMap, optional
        The classes to count in (a model's, when fine-tuning); the masks may not hold other
        values. Default: the values the masks hold.

    Returns
    -------
    label_map : LabelMap
    frequencies : numpy.ndarray
        ``(K,)`` float64, fraction of labelled pixels per class (the noisy prior pi).
    """
    masks = [volume.load()[1] for volume in volumes]
    label_map = label_map or LabelMap.from_masks(masks)
    counts = np.zeros(label_map.num_classes)
    for mask in masks:
        encoded = label_map.encode(mask)
        counts += np.bincount(encoded[encoded >= 0].ravel(), minlength=label_map.num_classes)
    return label_map, counts / counts.sum()


class CropDataset(torch.utils.data.Dataset):
    """Random crops of some 2D slices of some volumes, optionally with random flips.

    One epoch is one pass over the slices' training pixels: ``ceil(pixels / crop**2)`` crops,
    at least ``minimum``. Item ``i`` is a crop of unit ``i mod (number of units)``, drawn
    with a generator seeded by ``(seed, epoch, i)`` so that a run is reproducible.

    Parameters
    ----------
    volumes : sequence of Volume
    label_map : LabelMap
    crop : int
        Side of the square crops; smaller slices are padded (labels with ignore).
    seed : int
    units : sequence of (int, int), optional
        ``(volume index, slice index)`` of the slices to crop from; default all.
    hidden_strip : (int, int), optional
        ``(fold, folds)``: the labels of that strip of every slice (:func:`jcas.nn.crossfit.strip_folds`)
        are ignored and crops are centred outside it, so the strip stays out of sample.
    flips : bool
        Random horizontal and vertical flips (they swap left- or top-defined classes).
    minimum : int
        Fewest crops per epoch.
    """

    def __init__(self, volumes: Sequence[Volume], label_map: LabelMap, crop: int, seed: int,
                 units: Sequence[tuple[int, int]] | None = None, hidden_strip: tuple[int, int] | None = None,
                 flips: bool = False, minimum: int = 1):
        self.volumes = list(volumes)
        self.index = list(units) if units is not None else [
            (v, z) for v, volume in enumerate(self.volumes) for z in range(volume.slices)]
        self.label_map = label_map
        self.crop = crop
        self.seed = seed
        self.hidden_strip = hidden_strip
        self.flips = flips
        self.epoch = 0
        self.channels = max(volume.channels for volume in self.volumes)
        shown = 1.0 if hidden_strip is None else (hidden_strip[1] - 1) / hidden_strip[1]
        pixels = sum(self.volumes[v].shape[0] * self.volumes[v].shape[1] for v, _ in self.index) * shown
        self.length = max(minimum, math.ceil(pixels / crop**2))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return an image crop ``(C, crop, crop)`` float32, labels ``(crop, crop)`` int64 (-1 = ignore) and
        which labels are trusted, ``(crop, crop)`` bool (:meth:`Volume.slice_labels`)."""
        volume_index, z = self.index[item % len(self.index)]
        image, labels, trusted = self.volumes[volume_index].slice_labels(z, self.label_map)
        image = normalise(image, self.channels)
        rng = np.random.default_rng([self.seed, self.epoch, item])
        allowed = None
        if self.hidden_strip is not None:
            fold, folds = self.hidden_strip
            strips = strip_folds(labels.shape, folds)
            labels = np.where(strips == fold, IGNORE_INDEX, labels)
            allowed = strips != fold
        image, labels = pad_to(image, labels, self.crop)
        trusted = np.pad(trusted, [(0, s - t) for s, t in zip(labels.shape, trusted.shape)])
        y, x = self._corner(labels.shape, allowed, rng)
        window = (slice(y, y + self.crop), slice(x, x + self.crop))
        image, labels, trusted = image[(slice(None), *window)], labels[window], trusted[window]
        if self.flips and rng.random() < 0.5:
            image, labels, trusted = image[:, :, ::-1], labels[:, ::-1], trusted[:, ::-1]
        if self.flips and rng.random() < 0.5:
            image, labels, trusted = image[:, ::-1], labels[::-1], trusted[::-1]
        return torch.from_numpy(image.copy()), torch.from_numpy(labels.copy()), torch.from_numpy(trusted.copy())

    def _corner(self, shape: tuple[int, int], allowed: np.ndarray | None, rng) -> tuple[int, int]:
        """Top-left corner of a random crop; with ``allowed`` ``(H, W)``, one whose centre is an allowed pixel."""
        if allowed is None:
            return int(rng.integers(0, shape[0] - self.crop + 1)), int(rng.integers(0, shape[1] - self.crop + 1))
        ys, xs = np.nonzero(allowed)
        pick = rng.integers(len(ys))
        half = self.crop // 2
        y = int(np.clip(ys[pick] - half, 0, shape[0] - self.crop))
        x = int(np.clip(xs[pick] - half, 0, shape[1] - self.crop))
        return y, x


def pad_to(image: np.ndarray, labels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad ``(C, H, W)`` image (reflect) and ``(H, W)`` labels (ignore) to at least ``size`` per side."""
    pad_y, pad_x = max(0, size - labels.shape[0]), max(0, size - labels.shape[1])
    if not pad_y and not pad_x:
        return image, labels
    mode = "reflect" if min(labels.shape) > max(pad_y, pad_x) else "edge"
    image = np.pad(image, ((0, 0), (0, pad_y), (0, pad_x)), mode=mode)
    labels = np.pad(labels, ((0, pad_y), (0, pad_x)), constant_values=IGNORE_INDEX)
    return image, labels
