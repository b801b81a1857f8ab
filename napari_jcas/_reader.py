"""Reader: an images/ + masks/ pair of folders, or a single TIFF or NIfTI file.

Every layer keeps where it came from in ``metadata["jcas_source"]`` (path, slice files,
NIfTI affine), so that the writer can save cleaned labels in the input's format and
geometry.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from jcas.data.io import (NIFTI_SUFFIXES, TIFF_SUFFIXES, file_stem, file_suffix, is_label_file, read_with_affine,
                         spacing_of_affine)
from jcas.data.class_names import class_names_of

from ._settings import CLASS_COLUMN, SOURCE_KEY

#: Words that mark a mask: a word of the file name, or the folder name, starts with one of them.
MASK_WORDS = ("mask", "label", "seg", "annotation", "truth", "gt")

LayerData = tuple[np.ndarray, dict, str]


def get_reader(path: str | os.PathLike | list) -> Callable[[str | list], list[LayerData]] | None:
    """Return a reader for ``path``, or ``None`` when this plugin cannot read it.

    Parameters
    ----------
    path : path-like or list of one path
        A folder holding ``images/`` and ``masks/`` sub-folders, or a TIFF or NIfTI file.
    """
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    if path.is_dir():
        return read_folder_pair if _has_pair_folders(path) else None
    if file_suffix(path) in TIFF_SUFFIXES + NIFTI_SUFFIXES:
        return read_file
    return None


def _has_pair_folders(path: Path) -> bool:
    return (path / "images").is_dir() and (path / "masks").is_dir()


def _single(path: str | os.PathLike | list) -> Path:
    return Path(path[0] if isinstance(path, (list, tuple)) else path)


def read_file(path: str | os.PathLike | list, mask: bool | None = None) -> list[LayerData]:
    """Read one TIFF or NIfTI file (or any file :func:`jcas.data.io.read_with_affine` reads) as an Image layer, or
    as a Labels layer for masks; ``mask`` says which when the caller knows (the Dataset dock's masks folder).

    A file is a mask when it holds integers and a word of its name, or its folder's name,
    starts with one of :data:`MASK_WORDS` (``brain_mask.nii.gz``, ``labelsTr/001.nii.gz``), or
    when the file says it is a label map (:func:`jcas.data.io.is_label_file`: the plugin's exports
    and ``jcas correct``'s masks say so, whatever their names). A mask's class names become the
    layer's features (:func:`class_features`).
    """
    path = _single(path)
    data, affine = read_with_affine(path)
    is_mask = mask if mask is not None else data.dtype.kind in "iub" and (_names_a_mask(path) or is_label_file(path))
    attributes = {
        "name": file_stem(path),
        "scale": spacing_of_affine(affine, data.ndim),
        "metadata": {SOURCE_KEY: _source(path, affine)},
        **(class_features(path) if is_mask else {}),
    }
    return [(data, attributes, "labels" if is_mask else "image")]


def class_features(path: Path) -> dict:
    """``{"features": ...}`` for a Labels layer of the mask file ``path`` when its classes have names (its
    folder's ``classes.json``, else the file's metadata: :func:`jcas.data.class_names.class_names_of`):
    napari shows the name of the class under the pointer, and the Review dock names the changes."""
    names = class_names_of(path)
    return {"features": features_of_names(names)} if names else {}


def features_of_names(names: dict[int, str]) -> dict[str, list]:
    """A Labels layer's features table that names the class of each label value (napari's "index" column)."""
    values = sorted(names)
    return {"index": values, CLASS_COLUMN: [names[value] for value in values]}


def class_names(layer) -> dict[int, str]:
    """``{label value: name}`` from a Labels layer's features (the inverse of :func:`features_of_names`);
    empty when the layer names no classes."""
    return names_of_features(getattr(layer, "features", None))


def names_of_features(features) -> dict[int, str]:
    """``{label value: name}`` from a features table (a DataFrame or a dict of columns, as in a layer's
    state); empty without the "index" and :data:`~napari_jcas._settings.CLASS_COLUMN` columns."""
    if features is None or "index" not in features or CLASS_COLUMN not in features:
        return {}
    return {int(value): str(name) for value, name in zip(features["index"], features[CLASS_COLUMN])}


def _names_a_mask(path: Path) -> bool:
    words = re.split(r"[^a-z0-9]+", file_stem(path).lower()) + [path.parent.name.lower()]
    return any(word.startswith(MASK_WORDS) for word in words)


def read_folder_pair(path: str | os.PathLike | list) -> list[LayerData]:
    """Read ``<path>/images`` and ``<path>/masks`` as Image and Labels layers.

    Files are paired by name (without suffix). When every file is a 2D slice of one
    size, each folder becomes one ``(N, H, W)`` series; otherwise each pair becomes its
    own image and mask layer. Class names (:func:`class_features`) come from ``masks/classes.json``,
    else from each mask file's metadata (a series: its first file's).
    """
    from jcas.data.pairs import match_folders

    folder = _single(path)
    pairs = match_folders(folder / "images", folder / "masks")
    images = [read_with_affine(pair.image) for pair in pairs]
    masks = [read_with_affine(pair.mask) for pair in pairs]
    shapes = {array.shape for array, _ in masks}
    if len(pairs) > 1 and len(shapes) == 1 and masks[0][0].ndim == 2:
        return _series_layers(folder, pairs, images, masks)
    layers = []
    for pair, (image, image_affine), (mask, mask_affine) in zip(pairs, images, masks):
        layers.append((image, _attributes(pair.stem, pair.image, image_affine, image.ndim), "image"))
        layers.append((mask, {**_attributes(f"{pair.stem} mask", pair.mask, mask_affine, mask.ndim),
                              **class_features(pair.mask)}, "labels"))
    return layers


def _series_layers(folder, pairs, images, masks) -> list[LayerData]:
    image_stack = np.stack([array for array, _ in images])
    mask_stack = np.stack([array for array, _ in masks])
    image_source = {"path": str(folder / "images"), "files": [p.image.name for p in pairs], "affine": None}
    mask_source = {"path": str(folder / "masks"), "files": [p.mask.name for p in pairs], "affine": None}
    return [
        (image_stack, {"name": f"{folder.name} images", "metadata": {SOURCE_KEY: image_source}}, "image"),
        (mask_stack, {"name": f"{folder.name} masks", "metadata": {SOURCE_KEY: mask_source},
                      **class_features(pairs[0].mask)}, "labels"),
    ]


def _attributes(name: str, path: Path, affine: np.ndarray | None, ndim: int) -> dict:
    return {"name": name, "scale": spacing_of_affine(affine, ndim), "metadata": {SOURCE_KEY: _source(path, affine)}}


def _source(path: Path, affine: np.ndarray | None) -> dict:
    return {"path": str(path), "files": None, "affine": None if affine is None else np.asarray(affine).tolist()}

