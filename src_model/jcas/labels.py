"""Mapping between the label values a user drew and class indices 0..K-1."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .errors import JCASInputError

IGNORE_VALUE = 255
IGNORE_INDEX = -1


def check_mask_values(mask: np.ndarray, name: str = "mask") -> None:
    """Raise :class:`JCASInputError` unless ``mask`` holds non-negative integers."""
    mask = np.asarray(mask)
    if mask.dtype.kind == "b":
        return
    if mask.dtype.kind == "f":
        if not np.all(np.isfinite(mask)):
            raise JCASInputError(f"{name} contains NaN or infinite values; a mask must hold integer labels.")
        if np.any(mask != np.round(mask)):
            raise JCASInputError(
                f"{name} holds non-integer values (dtype {mask.dtype}); a mask must hold integer labels. "
                "Did you pass an image or a probability map as the mask?"
            )
    elif mask.dtype.kind not in "iu":
        raise JCASInputError(f"{name} has dtype {mask.dtype}; a mask must hold integer labels.")
    if mask.size and mask.min() < 0:
        raise JCASInputError(f"{name} holds negative values (min {mask.min()}); labels must be 0 or more.")


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
            check_mask_values(mask, name=f"mask {index}")
            found.update(int(v) for v in np.unique(mask))
        found.discard(ignore_value)
        if len(found) < 2:
            raise JCASInputError(
                f"the masks hold a single class ({sorted(found)}); JCAS needs at least two "
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

    def decode(self, indices: np.ndarray, dtype: np.dtype | type = np.int64) -> np.ndarray:
        """Map class indices (0..K-1, -1 for ignore) back to label values of ``dtype``."""
        lookup = np.asarray(self.values + (self.ignore_value,), dtype=np.int64)
        return lookup[np.asarray(indices)].astype(dtype)
