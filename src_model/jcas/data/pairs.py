"""Image/mask pairs: checks, 2D slicing, folder matching and the checks of the Python API's arguments."""
from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import JCASInputError
from .io import file_stem, is_supported, read_array
from .labels import check_mask

#: The smallest image side training accepts, in pixels. Both networks see the image at 1/8 of
#: its size at their coarsest level (UNet: three 2x poolings; DeepLab: output stride 8), and the
#: auxiliary loss samples the labels there: a smaller image can leave a batch without a single
#: labelled pixel at that level, and the loss becomes NaN.
MIN_TRAINING_SIDE = 8
#: Float images whose values exceed this are normalised in float64: differences of such values
#: overflow float32 (whose largest value is about 3.4e38).
FLOAT32_SAFE = 1e37


def is_rgb(image: np.ndarray, mask: np.ndarray) -> bool:
    """Whether ``image`` carries a trailing colour axis that ``mask`` lacks."""
    return image.ndim == mask.ndim + 1 and image.shape[:-1] == mask.shape and image.shape[-1] in (3, 4)


def check_pair(image: np.ndarray, mask: np.ndarray, name: str = "", values: bool = True) -> None:
    """Raise :class:`JCASInputError` unless ``image`` and ``mask`` form a valid pair.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, C)``, ``(Z, H, W)`` or ``(Z, H, W, C)`` with C in {3, 4}.
    mask : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` integer labels with the image's geometry.
    name : str
        Where the pair came from, for the messages.
    values : bool
        Check the values too (see :func:`jcas.data.labels.check_mask`); without it shapes and dtypes only.
    """
    where = f"{name}: " if name else ""
    image, mask = np.asarray(image), np.asarray(mask)
    check_mask(mask, name=f"{where}mask", values=values)
    if image.size == 0:
        raise JCASInputError(f"{where}image is empty (shape {image.shape}); an image needs at least one pixel.")
    if image.shape != mask.shape and not is_rgb(image, mask):
        raise JCASInputError(
            f"{where}image shape {image.shape} and mask shape {mask.shape} differ; "
            "the mask must have the image's geometry (an RGB image may add a last axis of 3 or 4)."
        )
    if image.dtype.kind not in "biuf":
        raise JCASInputError(f"{where}image has dtype {image.dtype}; expected numbers.")
    if values and image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        raise JCASInputError(f"{where}image contains NaN or infinite pixels; replace them (e.g. with 0) first.")


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

    Notes
    -----
    Float images with values beyond :data:`FLOAT32_SAFE` (e.g. 1e38, or float64 values
    float32 cannot hold) are divided by their largest magnitude in float64 first: the
    result is the same, since the scaling is undone by the percentiles, but nothing
    overflows to infinity or NaN.
    """
    image = np.asarray(image)
    image = image[None] if channels == 1 else np.moveaxis(image[..., :3], -1, 0)
    if image.dtype.kind == "f" and image.size:
        peak = float(np.max(np.abs(image)))
        if np.isfinite(peak) and peak > FLOAT32_SAFE:
            image = np.asarray(image, dtype=np.float64) / peak
    image = np.asarray(image, dtype=np.float32)
    low, high = np.percentile(image, (1.0, 99.0))
    scale = high - low if high > low else 1.0
    return np.clip((image - low) / scale, -1.0, 2.0).astype(np.float32)


@dataclass(frozen=True)
class FilePair:
    """An image file and the mask file with the same stem."""

    stem: str
    image: Path
    mask: Path


def name_key(path: str | os.PathLike) -> str:
    """What files are matched by: the stem in Unicode's composed form (NFC), so that ``café`` typed on one
    system (composed) and on another (decomposed, NFD) is one name, as it looks."""
    return unicodedata.normalize("NFC", file_stem(path))


def match_folders(images_dir: str | os.PathLike, masks_dir: str | os.PathLike) -> list[FilePair]:
    """Pair the files of two folders by stem (:func:`name_key`); a pair's ``stem`` is the mask's own.

    Raises
    ------
    JCASInputError
        A missing or empty folder, one folder given for both, two files with one stem in
        a folder, or files without a partner (listed).
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if images_dir.is_dir() and masks_dir.is_dir() and images_dir.resolve() == masks_dir.resolve():
        raise JCASInputError(
            f"the images folder and the masks folder are the same ({images_dir}); images and masks are matched "
            "by file name, so they must be in two folders. Move the masks into a folder of their own."
        )
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
    return [FilePair(file_stem(masks[key]), images[key], masks[key]) for key in sorted(images)]


def match_trusted(trusted_dir: str | os.PathLike, pairs: list[FilePair]) -> dict[str, Path]:
    """``{stem: path}`` of a folder of trusted labels, one file per mask at most, matched by stem.

    Raises
    ------
    JCASInputError
        As :func:`supported_files`, and files whose stem names no mask (listed).
    """
    trusted = supported_files(trusted_dir, "trusted labels")
    stems = {unicodedata.normalize("NFC", pair.stem): pair.stem for pair in pairs}
    lonely = sorted(set(trusted) - set(stems))
    if lonely:
        lines = "\n".join(f"  {trusted[key].name}" for key in lonely)
        raise JCASInputError(f"trusted labels are matched to masks by file name without suffix, and these name "
                             f"no mask:\n{lines}\nRename or remove them.")
    return {stems[key]: path for key, path in trusted.items()}


def supported_files(folder: str | os.PathLike, what: str) -> dict[str, Path]:
    """``{name key: path}`` of the readable, non-hidden files (and zarr stores) of ``folder``
    (:func:`name_key`: the stem, in composed Unicode).

    Raises
    ------
    JCASInputError
        A missing folder, a file given instead of a folder, a folder without supported
        files, and two files with the same stem (``a.png`` and ``a.tif``, or two spellings of
        ``café``: which one is meant cannot be told), listed.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise JCASInputError(f"{what} folder {folder} is a file, not a folder; give the folder that holds the "
                             f"{what} ({folder.parent}), or put the file into a folder of its own.")
    if not folder.is_dir():
        raise JCASInputError(f"{what} folder {folder} does not exist.")
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if is_supported(path) and not path.name.startswith("."):
            found.setdefault(name_key(path), []).append(path)
    if not found:
        raise JCASInputError(f"{what} folder {folder} holds no PNG, TIFF, NIfTI or zarr files.")
    twins = {stem: paths for stem, paths in found.items() if len(paths) > 1}
    if twins:
        lines = "\n".join(f"  {', '.join(p.name for p in paths)}" for paths in twins.values())
        raise JCASInputError(
            f"{what} folder {folder} holds several files with the same name apart from the suffix (or the Unicode "
            f"spelling of an accented letter), so it is unclear which one is meant:\n{lines}\nKeep one of each and "
            "move or rename the others."
        )
    return {stem: paths[0] for stem, paths in found.items()}


def load_pairs(pairs: Sequence[FilePair]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Read and check every pair; returns the image and mask arrays."""
    images, masks = [], []
    for pair in pairs:
        image, mask = read_array(pair.image), read_array(pair.mask)
        check_pair(image, mask, name=f"{pair.image.name} / {pair.mask.name}")
        images.append(image)
        masks.append(mask)
    return images, masks


def check_training_sizes(volumes: Sequence[Any]) -> None:
    """Raise :class:`JCASInputError` when a training image is smaller than :data:`MIN_TRAINING_SIDE` on a side.

    Parameters
    ----------
    volumes : sequence of jcas.training.dataset.Volume
        Anything with a ``name`` and the ``shape`` ``(H, W)`` of its slices.
    """
    small = []
    for volume in volumes:
        height, width = volume.shape
        if min(height, width) < MIN_TRAINING_SIDE:
            small.append(f"  {volume.name} ({height} x {width})")
    if small:
        shown = "\n".join(small[:10]) + ("\n  ..." if len(small) > 10 else "")
        raise JCASInputError(
            f"these images are too small to train on:\n{shown}\nTraining needs images of at least "
            f"{MIN_TRAINING_SIDE} x {MIN_TRAINING_SIDE} pixels. Use larger images, or leave these out."
        )


def _array_list(values: Any, what: str) -> list[np.ndarray]:
    """``values`` as a list of arrays, or :class:`JCASInputError` saying what to pass instead."""
    one = what[:-1]
    if values is None:
        raise JCASInputError(f"{what} is None; give a list of arrays, one per {one} (e.g. [{one}]).")
    if isinstance(values, (str, bytes, os.PathLike)):
        raise JCASInputError(f"{what} is a path ({values!r}); read the files first (jcas.data.io.read_array) and pass "
                             "a list of arrays, or use the jcas train command on folders.")
    if isinstance(values, np.ndarray):
        if values.ndim < 3:
            raise JCASInputError(f"{what} is one {values.ndim}D array; give a list of arrays, one per {one}: "
                                 f"[{one}].")
        values = list(values)  # an array of N images: one item each, as before
    elif isinstance(values, Iterator):
        raise JCASInputError(f"{what} is a generator or iterator; give a list (e.g. list({what})), which "
                             "training reads more than once.")
    elif not isinstance(values, Sequence):
        raise JCASInputError(f"{what} is a {type(values).__name__}; give a list of arrays, one per {one}.")
    return [_as_array(value, f"{what}[{index}]") for index, value in enumerate(values)]


def _as_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a numeric array, or :class:`JCASInputError` naming ``what`` is wrong with it."""
    if value is None:
        raise JCASInputError(f"{what} is None; give an array.")
    if isinstance(value, (str, bytes, os.PathLike)):
        raise JCASInputError(f"{what} is a path ({value!r}); read it first, e.g. with jcas.data.io.read_array.")
    if isinstance(value, Iterator):
        raise JCASInputError(f"{what} is a generator or iterator; give an array (e.g. numpy.stack(list(...))).")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise JCASInputError(
            f"{what} is a ragged list (its items differ in shape) and cannot form one array; pass one image, or "
            "one stack of slices of the same size, at a time."
        ) from error
    if array.dtype == object:
        raise JCASInputError(f"{what} is not an array of numbers (it holds Python objects or items of different "
                             "shapes); pass one image, or one stack of same-sized slices, at a time.")
    return array


def check_training_arrays(images: Any, masks: Any, trusted: Any = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The ``images`` and ``masks`` arguments of :class:`jcas.training.trainer.Trainer` as lists of arrays.

    Parameters
    ----------
    images, masks : list or tuple of array-like
        One image and one mask per pair; a numpy array of three or more dimensions counts
        as a list of its items.
    trusted : list or tuple of (array-like or None), optional
        The ``trusted`` argument: one entry per pair, ``None`` where nothing is trusted.

    Returns
    -------
    images, masks : list of numpy.ndarray

    Raises
    ------
    JCASInputError
        ``None``, a path, a generator, a single 2D array, items that are not numeric
        arrays, or lists of different lengths (``trusted`` too); each with what to pass instead.
    """
    images, masks = _array_list(images, "images"), _array_list(masks, "masks")
    if len(images) != len(masks):
        raise JCASInputError(f"got {len(images)} images but {len(masks)} masks; give one mask per image.")
    if trusted is not None:
        if not isinstance(trusted, (list, tuple)):
            raise JCASInputError(f"trusted is a {type(trusted).__name__}; give a list with one entry per image: "
                                 "the trusted labels, or None where nothing is trusted.")
        if len(trusted) != len(images):
            raise JCASInputError(f"got {len(trusted)} trusted label arrays for {len(images)} images; give one entry "
                                 "per image (None where nothing is trusted).")
        for index, confirmed in enumerate(trusted):
            if confirmed is not None:
                _as_array(confirmed, f"trusted[{index}]")
    return images, masks


def check_correct_arguments(model: Any, image: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check the arguments of :func:`jcas.correction.stream.correct`; returns ``image`` and ``mask`` as arrays.

    Raises
    ------
    JCASInputError
        No model (``None``) or something else than a trained model, and images or masks
        that are ``None``, paths, generators, ragged lists or not numeric.
    """
    if model is None:
        raise JCASInputError("model is None: train one first (trainer = Trainer(...); run trainer.run(); use "
                             "trainer.model) or load one with jcas.load_model(path).")
    if not all(hasattr(model, attribute) for attribute in ("label_map", "in_channels", "config")):
        raise JCASInputError(f"model is a {type(model).__name__}, not a trained JCAS model; pass trainer.model or "
                             "the result of jcas.load_model(path).")
    return _as_array(image, "image"), _as_array(mask, "mask")
