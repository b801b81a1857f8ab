"""Mapping between the label values a user drew and class indices 0..K-1, and the names of the classes."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy import ndimage

from ..errors import JCASInputError
from ..limits import MAX_CLASSES
from ..settings import CONNECTIVITY

#: 8-connectivity in 2D (:data:`jcas.settings.CONNECTIVITY`): what makes pixels one object.
STRUCTURE = np.array(CONNECTIVITY)
IGNORE_VALUE = 255
IGNORE_INDEX = -1
#: The largest label value: label values are counted in int64.
MAX_LABEL_VALUE = 2**63 - 1


def is_colour(mask: np.ndarray) -> bool:
    """Whether a 3D array looks like one colour picture ``(H, W, 3 or 4)`` rather than a stack of slices.

    A last axis of 3 or 4 entries that is shorter than both others: a stack of slices
    3 or 4 pixels wide is not something anyone draws.
    """
    shape = np.shape(mask)
    return len(shape) == 3 and shape[-1] in (3, 4) and min(shape[:2]) > shape[-1]


def check_mask(mask: np.ndarray, name: str = "mask", values: bool = True) -> None:
    """Raise :class:`JCASInputError` unless ``mask`` is a label image: ``(H, W)`` or ``(Z, H, W)``
    non-negative integers (or bool), at least one pixel.

    This is the one mask check of the package: training, correction, noise simulation and
    label scanning all go through it. An RGB or RGBA mask is refused rather than read as
    a stack of slices 3 or 4 pixels wide; a label image has a single channel.

    Parameters
    ----------
    mask : numpy.ndarray
    name : str
        Where the mask came from, for the messages.
    values : bool
        Check the values too (NaN, fractions, negatives); without it only the shape and dtype
        are looked at, so a stand-in without memory (``numpy.broadcast_to``) of a file's header will do.
    """
    mask = np.asarray(mask)
    if is_colour(mask):
        raise JCASInputError(
            f"{name} is a colour (RGB/RGBA) picture of shape {mask.shape}, not a label image. Save it as a "
            "single-channel label image, one integer label per pixel (for example an 8-bit greyscale or "
            "indexed PNG, or a TIFF written from the label array)."
        )
    if mask.ndim not in (2, 3):
        raise JCASInputError(f"{name} has shape {mask.shape}; expected (H, W) or (Z, H, W).")
    if mask.size == 0:
        raise JCASInputError(f"{name} is empty (shape {mask.shape}); a mask needs at least one pixel.")
    if mask.dtype.kind not in "biuf":
        raise JCASInputError(f"{name} has dtype {mask.dtype}; a mask must hold integer labels.")
    if mask.dtype.kind == "b" or not values:
        return
    if mask.dtype.kind == "f":
        if not np.all(np.isfinite(mask)):
            raise JCASInputError(f"{name} contains NaN or infinite values; a mask must hold integer labels.")
        if np.any(mask != np.round(mask)):
            raise JCASInputError(
                f"{name} holds non-integer values (dtype {mask.dtype}); a mask must hold integer labels. "
                "Did you pass an image or a probability map as the mask?"
            )
    if mask.size and mask.min() < 0:
        raise JCASInputError(f"{name} holds negative values (min {mask.min()}); labels must be 0 or more.")
    if mask.dtype.kind in "uf" and mask.size and mask.max() >= float(MAX_LABEL_VALUE) + 1:
        raise JCASInputError(f"{name} holds the label value {mask.max()}, more than the largest label value "
                             f"{MAX_LABEL_VALUE}; renumber the labels (for example 0, 1, 2, ...).")


@dataclass(frozen=True)
class LabelMap:
    """The user's label values and their class indices.

    Parameters
    ----------
    values : tuple of int
        Sorted label values, one per class; class ``k`` is ``values[k]``.
    ignore_value : int
        Value that marks unlabelled pixels; never a class.
    """

    values: tuple[int, ...]
    ignore_value: int = IGNORE_VALUE

    @classmethod
    def from_masks(cls, masks: Iterable[np.ndarray], ignore_value: int = IGNORE_VALUE) -> "LabelMap":
        """Collect the label values of ``masks``; at least two classes are needed."""
        found: set[int] = set()
        for index, mask in enumerate(masks):
            check_mask(mask, name=f"mask {index}")
            found.update(int(v) for v in np.unique(mask))
        return cls.from_values(found, ignore_value)

    @classmethod
    def from_values(cls, values: Iterable[int], ignore_value: int = IGNORE_VALUE) -> "LabelMap":
        """The label map of the label values the masks hold (the ignore value dropped); at least two classes."""
        found = {int(value) for value in values}
        found.discard(ignore_value)
        MAX_CLASSES.check(len(found), "the masks", verb="hold",
                          why=" Each different label value is a class: is it an instance mask, one value per object? "
                              "Give a mask of classes (for example background 0, cell 1).")
        if len(found) < 2:
            held = (f"no class: every pixel is {ignore_value} (unlabelled)" if not found
                    else f"a single class ({sorted(found)[0]})")
            raise JCASInputError(
                f"the masks hold {held}; JCAS needs at least two classes "
                "(for example background 0 and an object 1). Pick the right mask layer or files."
            )
        return cls(tuple(sorted(found)), ignore_value)

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return len(self.values)

    def encode(self, mask: np.ndarray) -> np.ndarray:
        """Map label values to class indices.

        Parameters
        ----------
        mask : numpy.ndarray
            Integer array of any shape in the user's label values.

        Returns
        -------
        numpy.ndarray
            int64 array of the same shape: 0..K-1, and -1 for ignore pixels.
        """
        mask = np.asarray(mask).astype(np.int64)
        values = np.asarray(self.values, dtype=np.int64)
        indices = np.searchsorted(values, mask)
        known = (indices < len(values)) & (values[np.minimum(indices, len(values) - 1)] == mask)
        ignore = mask == self.ignore_value
        unknown = ~known & ~ignore
        if unknown.any():
            strange = sorted(int(v) for v in np.unique(mask[unknown]))[:10]
            raise JCASInputError(
                f"the mask holds label values {strange} that the model was not trained on "
                f"(it knows {list(self.values)}); train a model on masks with these labels."
            )
        return np.where(ignore, IGNORE_INDEX, indices)

    def check_dtype(self, dtype: np.dtype | type, name: str = "the mask") -> None:
        """Raise :class:`JCASInputError` unless ``dtype`` holds every label value of this map.

        A corrected mask keeps the input mask's dtype (so that the file it is saved to has
        the input's format). A mask whose dtype cannot hold the labels the model proposes
        (a uint8 mask with a model trained on {0, 300, 1000}) is therefore refused rather
        than written with wrapped-around values or in a dtype other than the user's; the
        message says which dtype would do.
        """
        dtype = np.dtype(dtype)
        low, high = min(self.values), max(self.values)
        if dtype.kind == "b":
            fits = low >= 0 and high <= 1
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            fits = info.min <= low and high <= info.max
        elif dtype.kind == "f":
            exact = 2 ** (np.finfo(dtype).nmant + 1)  # integers up to this are exact
            fits = -exact <= low and high <= exact
        else:
            fits = False
        if not fits:
            wide = np.min_scalar_type(high)  # labels are never negative (check_mask)
            raise JCASInputError(
                f"{name} is {dtype}, which cannot hold the label values the model proposes "
                f"({list(self.values)}); the corrected mask would be wrong. Save the mask as {np.dtype(wide)} "
                "(or wider) and correct it again."
            )

    def decode(self, indices: np.ndarray, dtype: np.dtype | type = np.int64) -> np.ndarray:
        """Map class indices (0..K-1, -1 for ignore) back to label values of ``dtype``.

        Raises
        ------
        JCASInputError
            When ``dtype`` cannot hold the label values (see :meth:`check_dtype`).
        """
        self.check_dtype(dtype)
        lookup = np.asarray(self.values + (self.ignore_value,), dtype=np.int64)
        return lookup[np.asarray(indices)].astype(dtype)


#: The file beside the masks that names their classes.
CLASS_NAMES_FILE = "classes.json"


def read_class_names(folder: str | os.PathLike) -> dict[int, str]:
    """The class names of the masks in ``folder``, from its :data:`CLASS_NAMES_FILE` if there is one.

    The file maps label values to names, ``{"0": "background", "1": "grey matter"}``, or holds
    nnU-Net's ``dataset.json`` form, ``{"labels": {"background": 0, "grey matter": 1}}``.

    Parameters
    ----------
    folder : path-like
        The folder of the mask files.

    Returns
    -------
    dict of int to str
        Empty when the folder has no such file.

    Raises
    ------
    JCASInputError
        A file that is not JSON, or does not map integer label values to names.
    """
    path = Path(folder) / CLASS_NAMES_FILE
    if not path.is_file():
        return {}
    fix = (f'{path}: expected {{"<label value>": "<name>", ...}} or nnU-Net\'s {{"labels": {{"<name>": '
           f'<label value>, ...}}}}; fix the file or remove it')
    try:
        return parse_class_names(json.loads(path.read_text()))
    except RecursionError as error:  # JSON nested deeper than Python can decode
        raise JCASInputError(f"{fix} (it is nested too deeply to be read).") from error
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise JCASInputError(f"{fix} ({error}).") from error


def parse_class_names(entries: object) -> dict[int, str]:
    """``{label value: name}`` of decoded JSON in either form of :func:`read_class_names`.

    Parameters
    ----------
    entries : object
        ``{"0": "background", "1": "grey matter"}`` or ``{"labels": {"background": 0, "grey matter": 1}}``.

    Returns
    -------
    dict of int to str

    Raises
    ------
    ValueError, TypeError
        Anything else: not a mapping, empty, or keys (values in nnU-Net's form) that are not whole numbers.
    """
    if isinstance(entries, dict) and isinstance(entries.get("labels"), dict):
        entries = {value: name for name, value in entries["labels"].items()}
    if not isinstance(entries, dict) or not entries:
        raise ValueError("no names")
    return {int(value): str(name) for value, name in entries.items()}


def class_change(old: int, new: int, names: dict[int, str]) -> str:
    """``"grey matter → white matter"`` (or ``"1 → 2"`` for values without a name) for a correction."""
    return f"{names.get(int(old), old)} → {names.get(int(new), new)}"


def typical_areas(masks: Iterable[np.ndarray]) -> dict[int, int]:
    """The typical object of each label value over some slices: half of the value's pixels lie in
    8-connected components at least this large (an area-weighted median, so specks do not pull it down).

    Parameters
    ----------
    masks : iterable of numpy.ndarray
        ``(H, W)`` label values, e.g. every training slice's drawn mask.

    Returns
    -------
    dict of int to int
        ``{label value: pixels}`` for every value the slices hold.
    """
    components_of: dict[int, list[np.ndarray]] = {}
    for mask in masks:
        for value in np.unique(mask).tolist():
            components, count = ndimage.label(mask == value, structure=STRUCTURE)
            components_of.setdefault(int(value), []).append(np.bincount(components.ravel(), minlength=count + 1)[1:])
    typical = {}
    for value, parts in components_of.items():
        areas = np.sort(np.concatenate(parts))
        cumulative = np.cumsum(areas)
        typical[value] = int(areas[np.searchsorted(cumulative, cumulative[-1] / 2)])
    return typical
