"""Image/mask pairs: checks, 2D slicing, folder matching and the training dataset."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import JCASInputError
from .io import file_stem, is_supported, read_array
from .labels import check_mask_values


def is_rgb(image: np.ndarray, mask: np.ndarray) -> bool:
    """Whether ``image`` carries a trailing colour axis that ``mask`` lacks."""
    return image.ndim == mask.ndim + 1 and image.shape[:-1] == mask.shape and image.shape[-1] in (3, 4)


def check_pair(image: np.ndarray, mask: np.ndarray, name: str = "") -> None:
    """Raise :class:`JCASInputError` unless ``image`` and ``mask`` form a valid pair.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, C)``, ``(Z, H, W)`` or ``(Z, H, W, C)`` with C in {3, 4}.
    mask : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` integer labels with the image's geometry.
    name : str
        Where the pair came from, for the messages.
    """
    where = f"{name}: " if name else ""
    image, mask = np.asarray(image), np.asarray(mask)
    if mask.ndim not in (2, 3):
        raise JCASInputError(f"{where}mask has shape {mask.shape}; expected (H, W) or (Z, H, W).")
    if image.shape != mask.shape and not is_rgb(image, mask):
        raise JCASInputError(
            f"{where}image shape {image.shape} and mask shape {mask.shape} differ; "
            "the mask must have the image's geometry (an RGB image may add a last axis of 3 or 4)."
        )
    if image.dtype.kind not in "biuf":
        raise JCASInputError(f"{where}image has dtype {image.dtype}; expected numbers.")
    if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        raise JCASInputError(f"{where}image contains NaN or infinite pixels; replace them (e.g. with 0) first.")
    check_mask_values(mask, name=f"{where}mask")


def as_slices(image: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a pair into 2D slices along the first axis.

    Returns
    -------
    list of (image, mask)
        Images ``(H, W)`` or ``(H, W, C)``, masks ``(H, W)``; one entry for a 2D pair.
    """
    image, mask = np.asarray(image), np.asarray(mask)
    if mask.ndim == 2:
        return [(image, mask)]
    return [(image[z], mask[z]) for z in range(mask.shape[0])]


def channels_of(image: np.ndarray, mask: np.ndarray) -> int:
    """Number of image channels: 3 for RGB (alpha dropped), else 1."""
    return 3 if is_rgb(image, mask) else 1


def normalise(image: np.ndarray, channels: int) -> np.ndarray:
    """Scale an image to about [0, 1] by its 1st and 99th percentiles.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)``.
    channels : int
        1 or 3; RGB images keep their first three channels.

    Returns
    -------
    numpy.ndarray
        float32 ``(channels, H, W)``.
    """
    image = np.asarray(image, dtype=np.float32)
    image = image[None] if channels == 1 else np.moveaxis(image[..., :3], -1, 0)
    low, high = np.percentile(image, (1.0, 99.0))
    scale = high - low if high > low else 1.0
    return np.clip((image - low) / scale, -1.0, 2.0).astype(np.float32)


@dataclass(frozen=True)
class FilePair:
    """An image file and the mask file with the same stem."""

    stem: str
    image: Path
    mask: Path


def match_folders(images_dir: str | os.PathLike, masks_dir: str | os.PathLike) -> list[FilePair]:
    """Pair the files of two folders by stem.

    Raises
    ------
    JCASInputError
        A missing or empty folder, or files without a partner (listed).
    """
    images = supported_files(images_dir, "images")
    masks = supported_files(masks_dir, "masks")
    lonely_images = sorted(set(images) - set(masks))
    lonely_masks = sorted(set(masks) - set(images))
    if lonely_images or lonely_masks:
        lines = [f"  image without mask: {images[s].name}" for s in lonely_images]
        lines += [f"  mask without image: {masks[s].name}" for s in lonely_masks]
        raise JCASInputError(
            "images and masks are matched by file name without suffix, and these have no partner:\n"
            + "\n".join(lines)
            + "\nRename or remove them."
        )
    return [FilePair(stem, images[stem], masks[stem]) for stem in sorted(images)]


def supported_files(folder: str | os.PathLike, what: str) -> dict[str, Path]:
    """``{stem: path}`` of the readable, non-hidden files of ``folder``; errors for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise JCASInputError(f"{what} folder {folder} does not exist.")
    files = {file_stem(p): p for p in sorted(folder.iterdir())
             if p.is_file() and is_supported(p) and not p.name.startswith(".")}
    if not files:
        raise JCASInputError(f"{what} folder {folder} holds no PNG, TIFF or NIfTI files.")
    return files


def load_pairs(pairs: Sequence[FilePair]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Read and check every pair; returns the image and mask arrays."""
    images, masks = [], []
    for pair in pairs:
        image, mask = read_array(pair.image), read_array(pair.mask)
        check_pair(image, mask, name=f"{pair.image.name} / {pair.mask.name}")
        images.append(image)
        masks.append(mask)
    return images, masks
