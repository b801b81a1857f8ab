"""Images and masks read one 2D slice at a time, through a cache of bounded size.

Training on a lab's volumes must not hold them all in memory: :class:`SliceFile` reads one slice
of a NIfTI volume (through nibabel's array proxy, the file kept open so that a ``.nii.gz`` is
decompressed forwards), a TIFF stack (page by page, :class:`TiffPages`) or a zarr store (chunk by
chunk), and :class:`SliceStore` keeps the slices read last up to a byte budget
(:data:`jcas.settings.SLICE_CACHE_MB`) and a few files open. A PNG is one slice, read whole.
"""
from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..limits import check_declared_shape
from ..errors import JCASWarning
from .io import (NIFTI_SUFFIXES, PNG_SUFFIXES, TIFF_SUFFIXES, affine_of_spacing, check_holds_pixels, check_readable,
                 open_zarr, quiet_logs, read_array, reading, spacing_of_affine, tiff_spacing)

#: Files a store keeps open at once; the one used longest ago is closed first.
OPEN_FILES = 8


class SliceFile:
    """One image or mask file, opened for reading a slice at a time.

    Parameters
    ----------
    path : path-like
        A PNG, TIFF, NIfTI file or a zarr store (:func:`jcas.data.io.read_array`'s formats).

    Attributes
    ----------
    shape : tuple of int
        The shape :func:`jcas.data.io.read_array` returns: ``(H, W)``, ``(H, W, C)``, ``(Z, H, W)``
        (a NIfTI volume's slice axis first) or ``(Z, H, W, C)``.
    dtype : numpy.dtype
        Of what :meth:`read` returns (one-bit data as uint8, as :func:`~jcas.data.io.read_array` does).
    affine : numpy.ndarray or None
        ``(4, 4)``, as :func:`jcas.data.io.read_with_affine` returns it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.suffix = check_readable(self.path)
        self._handle = None
        self._array = None
        self.affine = None
        try:
            with reading(self.path, self.suffix):
                self.open()
                shape = tuple(int(n) for n in self._array.shape)
                nifti_volume = self.suffix in NIFTI_SUFFIXES and len(shape) == 3
                self.shape = (shape[2], shape[0], shape[1]) if nifti_volume else shape  # as nifti_to_slices
                check_holds_pixels(self.path, self.shape)
                check_declared_shape(self.shape, str(self.path))  # before the first slice is read
                self.dtype = self.read(0 if len(self.shape) >= 3 else None).dtype
        except BaseException:
            self.close()
            raise

    def open(self) -> None:
        """Open the file (done on creation; again after :meth:`close`), and read its :attr:`affine`."""
        if self._array is not None:
            return
        spacing = None
        if self.suffix in NIFTI_SUFFIXES:
            import nibabel
            from nibabel.fileholders import FileHolder
            from nibabel.openers import ImageOpener

            kind = type(nibabel.load(str(self.path)))  # NIfTI-1 or NIfTI-2, from the header
            self._handle = ImageOpener(str(self.path), "rb")  # gzip-aware, kept open between slices
            holder = FileHolder(filename=str(self.path), fileobj=self._handle)
            volume = kind.from_file_map({"header": holder, "image": holder})
            self._array, self.affine = volume.dataobj, np.asarray(volume.affine)
            return
        if self.suffix in TIFF_SUFFIXES:
            import tifffile

            with quiet_logs("tifffile"):
                self._handle = tifffile.TiffFile(self.path)
                if not len(self._handle.pages):
                    check_holds_pixels(self.path, (0,))
                self._array = TiffPages(self._handle)
                spacing = tiff_spacing(self._handle, self._array.shape)
        elif self.suffix in PNG_SUFFIXES:
            self._array = read_array(self.path)
        else:
            self._array, spacing = open_zarr(self.path)
        self.affine = None if spacing is None else affine_of_spacing(spacing, len(spacing))

    def close(self) -> None:
        """Close the file; :meth:`read` opens it again."""
        if self._handle is not None:
            self._handle.close()
        self._handle = self._array = None

    def read(self, z: int | None) -> np.ndarray:
        """Slice ``z`` along the first axis, or (``None``) the whole file, as a numpy array.

        Returns
        -------
        numpy.ndarray
            ``shape[1:]`` for a slice, ``shape`` for the whole file.
        """
        with reading(self.path, self.suffix):
            self.open()
            data = self._read(z)
        return data.astype(np.uint8) if data.dtype == bool else data

    def _read(self, z: int | None) -> np.ndarray:
        if self.suffix not in NIFTI_SUFFIXES:
            return np.asarray(self._array[()] if z is None else self._array[z])
        data = np.asanyarray(self._array[..., z] if z is not None and len(self.shape) == 3 else self._array)
        return np.moveaxis(data, -1, 0) if z is None and data.ndim == 3 else data


def warn_of_spacing(image: SliceFile, mask: SliceFile, name: str) -> None:
    """Warn (:class:`~jcas.errors.JCASWarning`) when an image and its mask both state a pixel spacing and the
    two differ: the mask may not have been drawn on this image, or one header is wrong. Outputs keep the mask's."""
    if image.affine is None or mask.affine is None:
        return
    axes = len(mask.shape)
    image_spacing, mask_spacing = spacing_of_affine(image.affine, axes), spacing_of_affine(mask.affine, axes)
    if not np.allclose(image_spacing, mask_spacing, rtol=1e-3):
        warnings.warn(JCASWarning(
            f"{name}: the image states a pixel spacing of {_rounded(image_spacing)}, the mask "
            f"{_rounded(mask_spacing)}; check that the mask belongs to this image, or fix the spacing in the wrong "
            "file's header. Outputs keep the mask's spacing."), stacklevel=2)


def _rounded(spacing: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(value, 6) for value in spacing)


class TiffPages:
    """A TIFF's first series, indexed by slice: ``pages[z]`` reads page ``z`` alone when every page is one
    slice (a stack as ImageJ, tifffile and most tools write it); other layouts are read whole once."""

    def __init__(self, tiff):
        self.tiff = tiff
        series = tiff.series[0]
        self.shape = tuple(series.shape)
        self.paged = len(self.shape) >= 3 and len(series) == self.shape[0]
        self._whole = None

    def __getitem__(self, index) -> np.ndarray:
        """``pages[z]``: slice ``z``; ``pages[()]``: all of it."""
        if index != () and self.paged:
            return np.asarray(self.tiff.asarray(key=index, series=0))
        if self._whole is None:
            self._whole = np.asarray(self.tiff.asarray())
        return self._whole[index]


class SliceStore:
    """Slices of several files, read on demand and cached up to a byte budget.

    The slices read last are kept (least recently used out first) while their bytes stay under
    ``max_bytes``; at most :data:`OPEN_FILES` files are open at a time. Safe to share between
    threads.

    Parameters
    ----------
    max_bytes : int
        The cache's budget; a slice larger than all of it is read and handed out, not kept.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.cached_bytes = 0
        self._slices: OrderedDict[tuple[Path, int | None], np.ndarray] = OrderedDict()
        self._files: OrderedDict[Path, SliceFile] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0

    def file(self, path: str | os.PathLike) -> SliceFile:
        """The open :class:`SliceFile` of ``path``, opening it (and closing the oldest) when needed."""
        path = Path(path)
        with self._lock:
            return self._file(path)

    def _file(self, path: Path) -> SliceFile:
        if path in self._files:
            self._files.move_to_end(path)
            opened = self._files[path]
        else:
            opened = SliceFile(path)
            self._files[path] = opened
        while len(self._files) > OPEN_FILES:
            _, oldest = self._files.popitem(last=False)
            oldest.close()
        return opened

    def read(self, path: str | os.PathLike, z: int | None) -> np.ndarray:
        """Slice ``z`` of ``path`` (``None``: the whole 2D file), from the cache when it holds it.

        The array is shared with the cache: do not write into it.
        """
        key = (Path(path), z)
        with self._lock:
            if key in self._slices:
                self._slices.move_to_end(key)
                return self._slices[key]
            data = self._file(key[0]).read(z)
            self.reads += 1
            data.flags.writeable = False
            if data.nbytes <= self.max_bytes:
                self._slices[key] = data
                self.cached_bytes += data.nbytes
                while self.cached_bytes > self.max_bytes:
                    _, evicted = self._slices.popitem(last=False)
                    self.cached_bytes -= evicted.nbytes
            return data

    def close(self) -> None:
        """Close every open file and empty the cache."""
        with self._lock:
            for opened in self._files.values():
                opened.close()
            self._files.clear()
            self._slices.clear()
            self.cached_bytes = 0
