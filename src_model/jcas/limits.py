"""The most an input may declare, checked before any work starts.

A few bytes of header (a zarr store's shape, a NIfTI or TIFF header, a model file's zip directory)
or one number on the command line (``--folds``) must never make a run allocate without bound. Every
declared size is checked against a :class:`Limit` first; each limit has a default that fits a
workstation and an environment variable that raises it for a run that really needs more::

    JCAS_MAX_SLICE_PIXELS=1000000000 jcas correct ...
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

from .errors import JCASInputError


@dataclass(frozen=True)
class Limit:
    """The most of something a run accepts, raised by an environment variable.

    Attributes
    ----------
    variable : str
        The environment variable that sets it (a whole number of at least 1).
    default : int
        The limit when the variable is not set.
    unit : str
        What is counted, for messages (e.g. ``"slices"``).
    """

    variable: str
    default: int
    unit: str

    @property
    def value(self) -> int:
        """The limit now: the environment variable's value, else :attr:`default`.

        Raises
        ------
        JCASInputError
            When the variable is set to anything but a whole number of at least 1.
        """
        text = os.environ.get(self.variable)
        if text is None or not text.strip():
            return self.default
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise JCASInputError(f"the environment variable {self.variable} is {text!r}; set it to a whole number "
                                 f"of at least 1 (the most {self.unit} to accept), or unset it for the default "
                                 f"{self.default}.")
        return value

    def how_to_raise(self, amount: int) -> str:
        """The sentence that says how to allow ``amount``."""
        return f"If that is right, raise the limit: set the environment variable {self.variable}={amount}."

    def check(self, amount: int, where: str, verb: str = "declares", why: str = "") -> None:
        """Raise :class:`JCASInputError` when ``amount`` is over the limit.

        The message reads ``"<where> <verb> <amount> <unit>, more than the limit of <limit>.<why> <how to raise>"``.
        """
        if amount > self.value:
            raise JCASInputError(f"{where} {verb} {amount} {self.unit}, more than the limit of {self.value}.{why} "
                                 f"{self.how_to_raise(amount)}")


#: Fold models of one training (``--folds``): each is a whole network, trained one after another.
MAX_FOLDS = Limit("JCAS_MAX_FOLDS", 16, "fold models")
#: Slices of one image or mask file (the first axis of a stack).
MAX_SLICES = Limit("JCAS_MAX_SLICES", 100_000, "slices")
#: Pixels of one 2D slice (16384 x 16384); a slice is read, normalised and judged whole.
MAX_SLICE_PIXELS = Limit("JCAS_MAX_SLICE_PIXELS", 2**28, "pixels per slice")
#: Pixels of one file, all slices together; a corrected mask is held whole in memory.
MAX_FILE_PIXELS = Limit("JCAS_MAX_FILE_PIXELS", 2**32, "pixels in all")
#: Classes of one training (different label values in the masks) or of a model file; the class
#: probabilities of a slice take this many floats per pixel.
MAX_CLASSES = Limit("JCAS_MAX_CLASSES", 1000, "classes")
#: MiB of a model file, and of what its zip archive unpacks to (torch stores weights uncompressed); a
#: standard UNet fold model takes 2 MiB, a DeepLab one 30 MiB.
MAX_MODEL_MB = Limit("JCAS_MAX_MODEL_MB", 1024, "MiB")

#: Every limit, for the README and ``jcas --help``.
LIMITS = (MAX_FOLDS, MAX_SLICES, MAX_SLICE_PIXELS, MAX_FILE_PIXELS, MAX_CLASSES, MAX_MODEL_MB)


def check_declared_shape(shape: Sequence[int], where: str) -> None:
    """Raise :class:`JCASInputError` when an image of ``shape`` is more than a run may read.

    Parameters
    ----------
    shape : sequence of int
        As declared by a file's header: ``(H, W)``, ``(H, W, C)``, ``(Z, H, W)`` or ``(Z, H, W, C)``; a
        last axis of 3 or 4 entries counts as colour channels.
    where : str
        The file, for the message.
    """
    shape = tuple(int(n) for n in shape)
    spatial = shape[:-1] if len(shape) >= 3 and shape[-1] in (3, 4) else shape
    declared = f"{where} (shape {shape})"
    if len(spatial) >= 3:
        MAX_SLICES.check(math.prod(spatial[:-2]), declared)
    MAX_SLICE_PIXELS.check(math.prod(spatial[-2:]), declared)
    MAX_FILE_PIXELS.check(math.prod(spatial), declared)
