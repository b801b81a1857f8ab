"""Class names kept with a mask: in a names file beside it, or in the mask file's own metadata.

:func:`class_names_of` finds a mask's names, the first of

1. the :data:`~jcas.data.labels.CLASS_NAMES_FILE` in the mask's folder (:func:`~jcas.data.labels.read_class_names`);
2. the names in the file's metadata, as :func:`jcas.data.io.write_array` stores them (``class_names=``):

   - TIFF: a :data:`~jcas.data.io.NAMES_KEY` entry of tifffile's JSON ImageDescription, beside the shape, the label
     intent and the Z spacing: ``{"shape": [...], "intent": "label", "class_names": {"0": "background",
     "1": "grey matter"}}``;
   - NIfTI: a header extension of code :data:`~jcas.data.io.NIFTI_ECODE` (6, NIfTI-1's free-text "comment") holding
     the JSON object ``{"class_names": {"0": "background", ...}}``; other tools' comment extensions
     (free text, or JSON without the key) are passed over;
3. none: the label values name themselves.

Names are a nicety: names in a file's metadata that are not a mapping of whole numbers to text are
ignored with a logged warning, and the file loads without them. (A damaged ``classes.json``, which a
person wrote on purpose, is an error instead.) No other tool's metadata is read as class names:
ImageJ's slice labels name slices, not classes.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping

from .io import NAMES_KEY, NIFTI_ECODE, NIFTI_SUFFIXES, TIFF_SUFFIXES, file_suffix, quiet_logs
from .labels import parse_class_names, read_class_names

log = logging.getLogger(__name__)


def class_names_of(path: str | os.PathLike) -> dict[int, str]:
    """The class names of the mask file ``path``: its folder's names file, else its metadata, else none.

    Parameters
    ----------
    path : path-like
        A mask file (or zarr store).

    Returns
    -------
    dict of int to str
        ``{label value: name}``; empty when neither names them.

    Raises
    ------
    JCASInputError
        A damaged names file beside the mask (:func:`~jcas.data.labels.read_class_names`).
    """
    return read_class_names(Path(path).parent) or names_in_file(path)


def names_in_file(path: str | os.PathLike) -> dict[int, str]:
    """The class names stored in a TIFF's or NIfTI file's metadata; empty when there are none, when they
    are damaged (logged) and for every other format. Reads the header only, and never raises."""
    suffix = file_suffix(path)
    try:
        if suffix in NIFTI_SUFFIXES:
            import nibabel

            return nifti_names(nibabel.load(str(path)).header, path)
        if suffix in TIFF_SUFFIXES:
            import tifffile

            with quiet_logs("tifffile"), tifffile.TiffFile(path) as tiff:
                return tiff_names((tiff.shaped_metadata or [{}])[0], path)
    except Exception:  # an unreadable file: reading its pixels says why
        return {}
    return {}


def tiff_names(metadata: Mapping, where: str | os.PathLike = "a TIFF file") -> dict[int, str]:
    """The names in a TIFF's JSON (shaped) metadata, as tifffile decodes it; empty without a valid entry."""
    if not isinstance(metadata, Mapping) or NAMES_KEY not in metadata:
        return {}
    return _checked(metadata[NAMES_KEY], where)


def nifti_names(header, where: str | os.PathLike = "a NIfTI file") -> dict[int, str]:
    """The names in a NIfTI header's first comment extension that holds a :data:`~jcas.data.io.NAMES_KEY`; empty without one."""
    for extension in getattr(header, "extensions", ()):
        if extension.get_code() != NIFTI_ECODE:
            continue
        try:  # the content is padded with NUL bytes to a multiple of 16
            entry = json.loads(bytes(extension.get_content()).rstrip(b"\0").decode("utf-8"))
        except (TypeError, ValueError):  # free text from another tool (UnicodeDecodeError is a ValueError)
            continue
        if isinstance(entry, dict) and NAMES_KEY in entry:
            return _checked(entry[NAMES_KEY], where)
    return {}


def _checked(entry: object, where: str | os.PathLike) -> dict[int, str]:
    """``{label value: name}`` of a stored names entry; empty (and a logged warning) for anything but a
    non-empty mapping of whole numbers to text."""
    try:
        if not isinstance(entry, dict) or not all(isinstance(name, str) for name in entry.values()):
            raise ValueError(f"expected {{\"<label value>\": \"<name>\", ...}}, got {json.dumps(entry)[:80]}")
        return parse_class_names(entry)
    except (TypeError, ValueError) as error:
        log.warning("%s: the class names in its metadata are ignored (%s)", where, error)
        return {}
