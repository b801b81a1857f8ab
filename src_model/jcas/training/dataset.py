"""A torch Dataset of random 2D training crops, streamed slice by slice from arrays or files."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..data.labels import IGNORE_INDEX, LabelMap, check_mask
from ..data.pairs import FilePair, channels_of, check_pair, normalise
from ..data.stream import SliceFile, SliceStore, warn_of_spacing
from ..errors import JCASInputError
from ..nn.crossfit import strip_folds
from ..settings import SLICE_CACHE_MB
from .augment import Augmenter

#: Returns slice ``z`` of a volume's image, ``(H, W)`` or ``(H, W, C)``, or of its mask, ``(H, W)``.
SliceReader = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Volume:
    """One image/mask pair (2D or a stack), read a slice at a time.

    Attributes
    ----------
    name : str
        For messages.
    image, mask : callable
        :data:`SliceReader` of the image and of the mask.
    slices : int
        Number of 2D slices.
    channels : int
        1 or 3.
    shape : tuple of int
        ``(H, W)`` of its slices.
    trusted : callable, optional
        :data:`SliceReader` of the pair's trusted labels: the mask's label where a person confirmed
        it, the ignore value (255) elsewhere; those pixels train as clean labels. ``None``: no
        pixel is trusted.
    """

    name: str
    image: SliceReader
    mask: SliceReader
    slices: int
    channels: int
    shape: tuple[int, int]
    trusted: SliceReader | None = None

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
        image, labels = self.image(z), label_map.encode(self.mask(z))
        if self.trusted is None:
            return image, labels, np.zeros(labels.shape, dtype=bool)
        confirmed = label_map.encode(self.trusted(z))
        trusted = confirmed >= 0
        return image, np.where(trusted, confirmed, labels), trusted


def _array_slices(array: np.ndarray, stack: bool) -> SliceReader:
    """:data:`SliceReader` of an in-memory array: slice ``z`` of a stack, the whole array otherwise."""
    return (lambda z: array[z]) if stack else (lambda z: array)


def volumes_from_arrays(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                        trusted: Sequence[np.ndarray | None] | None = None) -> list[Volume]:
    """Check in-memory pairs (and trusted labels, see :class:`Volume`) and wrap them as volumes."""
    trusted = [None] * len(masks) if trusted is None else list(trusted)
    volumes = []
    for index, (image, mask, confirmed) in enumerate(zip(images, masks, trusted, strict=True)):
        image, mask = np.asarray(image), np.asarray(mask)
        name = f"pair {index}"
        check_pair(image, mask, name=name)
        if confirmed is not None:
            confirmed = np.asarray(confirmed)
            check_trusted(confirmed, mask, name)
        stack = mask.ndim == 3
        volumes.append(Volume(name, _array_slices(image, stack), _array_slices(mask, stack),
                              mask.shape[0] if stack else 1, channels_of(image, mask), mask.shape[-2:],
                              None if confirmed is None else _array_slices(confirmed, stack)))
    return volumes


def volumes_from_files(pairs: Sequence[FilePair], trusted: dict[str, Path] | None = None,
                       store: SliceStore | None = None) -> list[Volume]:
    """Check file pairs and wrap them as volumes that read slices from disk when used.

    Each pair is checked from its files' headers, then slice by slice (values, NaN, label
    dtype), so that no file is ever held whole in memory.

    Parameters
    ----------
    pairs : sequence of FilePair
    trusted : dict, optional
        A pair's stem to a file of its trusted labels (see :class:`Volume`).
    store : SliceStore, optional
        Reads and caches the slices; default one of :data:`jcas.settings.SLICE_CACHE_MB`.
    """
    trusted = trusted or {}
    store = store or SliceStore(SLICE_CACHE_MB * 2**20)
    volumes = []
    for pair in pairs:
        image, mask = store.file(pair.image), store.file(pair.mask)
        name = f"{pair.image.name} / {pair.mask.name}"
        check_pair(_header(image), _header(mask), name=name, values=False)
        warn_of_spacing(image, mask, name)
        stack = len(mask.shape) == 3
        slices = mask.shape[0] if stack else 1
        trusted_reader = None
        if pair.stem in trusted:
            confirmed = store.file(trusted[pair.stem])
            check_trusted(_header(confirmed), _header(mask), trusted[pair.stem].name)  # values: scan_labels
            trusted_reader = _file_slices(store, confirmed.path, stack)
        volume = Volume(name, _file_slices(store, image.path, stack), _file_slices(store, mask.path, stack), slices,
                        channels_of(_header(image), _header(mask)), mask.shape[-2:], trusted_reader)
        for z in range(slices):
            where = f"{name}, slice {z + 1} of {slices}" if stack else name
            check_pair(volume.image(z), volume.mask(z), name=where)
        volumes.append(volume)
    return volumes


def _header(opened: SliceFile) -> np.ndarray:
    """A stand-in of a file's array with its shape and dtype and no memory, for the checks that look
    at shape and dtype only."""
    return np.broadcast_to(np.zeros((), dtype=opened.dtype), opened.shape)


def _file_slices(store: SliceStore, path: Path, stack: bool) -> SliceReader:
    """:data:`SliceReader` of a file through ``store``: slice ``z`` of a stack, the whole file otherwise."""
    return lambda z: store.read(path, z if stack else None)


def check_trusted_shape(trusted: tuple[int, ...], mask: tuple[int, ...], name: str) -> None:
    """Raise :class:`JCASInputError` unless trusted labels of shape ``trusted`` fit a mask of shape ``mask``."""
    if tuple(trusted) != tuple(mask):
        raise JCASInputError(f"{name}: the trusted labels are {tuple(trusted)}, the mask is {tuple(mask)}; give "
                             "trusted labels of the mask's shape (255 where nothing is trusted).")


def check_trusted(trusted: np.ndarray, mask: np.ndarray, name: str) -> None:
    """Raise :class:`JCASInputError` unless ``trusted`` can be trusted labels for ``mask``: its shape, integers.

    Their values are checked against the training's classes, the same for arrays and files, by
    :func:`scan_labels`.
    """
    check_trusted_shape(trusted.shape, mask.shape, name)
    if not np.issubdtype(trusted.dtype, np.integer):
        raise JCASInputError(f"{name}: trusted labels must be integers (label values, 255 = untrusted), "
                             f"not {trusted.dtype}.")


def check_trusted_values(volume: Volume, label_map: LabelMap) -> None:
    """Raise :class:`JCASInputError` when ``volume``'s trusted labels hold a value that is no class of
    ``label_map`` nor its ignore value; reads them a slice at a time."""
    unknown: set[int] = set()
    for z in range(volume.slices):
        unknown.update(set(np.unique(volume.trusted(z)).tolist()) - set(label_map.values) - {label_map.ignore_value})
    if unknown:
        raise JCASInputError(f"{volume.name}: the trusted labels hold values {sorted(unknown)[:10]} that are none of "
                             f"the training's classes {list(label_map.values)}; use those label values, and "
                             f"{label_map.ignore_value} where nothing is trusted.")


def scan_labels(volumes: Sequence[Volume], label_map: LabelMap | None = None) -> tuple[LabelMap, np.ndarray]:
    """Label values of all masks and their class frequencies; checks the trusted labels' values.

    A trusted label may be any class of the training, whether or not its own mask holds it (a
    reviewer accepts a proposal of a class the annotator never drew in that image): a value that
    some mask holds, or, when fine-tuning, a class of the model.

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
    counts: dict[int, int] = {}
    for volume in volumes:  # one slice at a time
        for z in range(volume.slices):
            mask = volume.mask(z)
            check_mask(mask, name=f"{volume.name}, slice {z + 1}" if volume.slices > 1 else volume.name)
            for value, count in zip(*np.unique(mask, return_counts=True)):
                counts[int(value)] = counts.get(int(value), 0) + int(count)
    label_map = label_map or LabelMap.from_values(counts)
    label_map.encode(np.asarray(sorted(counts), dtype=np.int64))  # values the label map does not know raise
    for volume in volumes:
        if volume.trusted is not None:
            check_trusted_values(volume, label_map)
    frequencies = np.asarray([counts.get(value, 0) for value in label_map.values], dtype=np.float64)
    return label_map, frequencies / frequencies.sum()


class CropDataset(torch.utils.data.Dataset):
    """Random crops of some 2D slices of some volumes, optionally augmented.

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
    augment : Augmenter, optional
        Label-preserving changes of every crop (:mod:`jcas.training.augment`); default none.
    minimum : int
        Fewest crops per epoch.
    """

    def __init__(self, volumes: Sequence[Volume], label_map: LabelMap, crop: int, seed: int,
                 units: Sequence[tuple[int, int]] | None = None, hidden_strip: tuple[int, int] | None = None,
                 augment: Augmenter | None = None, minimum: int = 1):
        self.volumes = list(volumes)
        self.index = list(units) if units is not None else [
            (v, z) for v, volume in enumerate(self.volumes) for z in range(volume.slices)]
        self.label_map = label_map
        self.crop = crop
        self.seed = seed
        self.hidden_strip = hidden_strip
        self.augment = augment
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
        if self.augment is not None:
            image, labels, trusted = self.augment(image, labels, trusted, rng)
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
