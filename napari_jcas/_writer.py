"""Writer: cleaned labels in the input's format and geometry, with the review log beside them.

The format follows the file name's suffix (TIFF, NIfTI, PNG). Shape, dtype and label
values are written as they are; NIfTI files get the source file's affine when the layer
came from the plugin's reader, else one built from the layer's scale. A layer read from a
folder of 2D slices is written back as a folder of slices with the same file names when
the target has no suffix. A TIFF or NIfTI file also keeps the class names of the layer's
features in its metadata (:func:`jcas.data.io.write_array`), which the reader turns into
features again. Files are written atomically and never replace an existing file unless
``overwrite`` is given; the npe2 writer never overwrites (the Review dock's Export asks first).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jcas.data.io import (NIFTI_SUFFIXES, TIFF_SUFFIXES, affine_of_spacing, file_suffix, is_supported, write_array,
                         write_bytes_atomic)
from jcas.errors import JCASInputError
from jcas.review import Review, log_path

from ._reader import names_of_features
from ._settings import REVIEW_KEY, SOURCE_KEY


def write_labels(path: str, data: np.ndarray, attributes: dict) -> list[str]:
    """npe2 writer for one Labels layer; refuses to replace existing files.

    Parameters
    ----------
    path : str
        Target file (``.tif``, ``.tiff``, ``.nii``, ``.nii.gz``, ``.png``).
    data : numpy.ndarray
        The layer's labels.
    attributes : dict
        The layer's state (``metadata``, ``scale``, ``features``, ...).

    Returns
    -------
    list of str
        The files written: the labels, then the review log when the layer has one.
    """
    return export_labels(path, data, attributes, overwrite=False)


def export_labels(path: str | os.PathLike, data: np.ndarray, attributes: dict, *,
                  overwrite: bool = False) -> list[str]:
    """Write labels (and their review log) in the input's format and geometry.

    Parameters
    ----------
    path : path-like
        Target file, or a folder for a layer read from a folder of slices.
    data : numpy.ndarray
        The labels.
    attributes : dict
        Layer state: ``metadata`` (source and review, see module docstring), ``scale`` and,
        optionally, ``features`` (the class names, :func:`napari_jcas._reader.features_of_names`).
    overwrite : bool
        Replace existing files; without it existing files raise ``JCASInputError``
        before anything is written.

    Returns
    -------
    list of str
        Paths written.
    """
    path = Path(path)
    data = np.asarray(data)
    metadata = attributes.get("metadata") or {}
    source = metadata.get(SOURCE_KEY) or {}
    review: Review | None = metadata.get(REVIEW_KEY)
    as_slices = bool(source.get("files")) and not is_supported(path)
    targets = _slice_paths(path, source, data) if as_slices else [path]
    if review is not None:
        targets.append(log_path(path))
    existing = [str(target) for target in targets if target.exists()]
    if existing and not overwrite:
        raise JCASInputError(f"refusing to overwrite {', '.join(existing)}; choose another name or confirm.")
    if as_slices:
        for target, plane in zip(targets, data):
            write_array(target, plane, labels=True, overwrite=overwrite)
    else:
        keeps_spacing = file_suffix(path) in NIFTI_SUFFIXES + TIFF_SUFFIXES
        affine = _affine(source, attributes.get("scale"), data.ndim) if keeps_spacing else None
        names = names_of_features(attributes.get("features"))
        write_array(path, data, affine=affine, labels=True, class_names=names, overwrite=overwrite)
    if review is not None:
        write_bytes_atomic(targets[-1], review.log_csv().encode(), overwrite=overwrite)
        review.mark_exported(path)  # the Review dock says so, and no longer counts these decisions as unsaved
    return [str(target) for target in targets]


def _slice_paths(folder: Path, source: dict, data: np.ndarray) -> list[Path]:
    files = source["files"]
    if data.ndim != 3 or data.shape[0] != len(files):
        raise JCASInputError(
            f"the layer has shape {data.shape} but came from {len(files)} slice files; "
            "save it to a single .tif or .nii.gz file instead."
        )
    return [folder / name for name in files]


def _affine(source: dict, scale, ndim: int) -> np.ndarray:
    """The source NIfTI affine, or a diagonal one from the layer's (slices-first) scale."""
    if source.get("affine") is not None:
        return np.asarray(source["affine"], dtype=float)
    return affine_of_spacing(scale, ndim)
