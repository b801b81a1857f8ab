"""Reading and writing image and mask files (PNG, TIFF, NIfTI; OME-Zarr read only), atomically.

Readers return plain numpy arrays; NIfTI readers also return the affine so that
writers can keep the geometry of the input. Writers go through
:func:`jcas.outputs.atomic_write`. Reading one slice at a time is :mod:`jcas.data.stream`'s job.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import JCASInputError
from ..limits import check_declared_shape
from ..outputs import atomic_write

PNG_SUFFIXES = (".png",)
TIFF_SUFFIXES = (".tif", ".tiff")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: Zarr stores are folders: an OME-Zarr image (its full-resolution level) or a plain zarr array.
ZARR_SUFFIXES = (".zarr",)
WRITABLE_SUFFIXES = PNG_SUFFIXES + TIFF_SUFFIXES + NIFTI_SUFFIXES
SUPPORTED_SUFFIXES = WRITABLE_SUFFIXES + ZARR_SUFFIXES
#: The key and value in a TIFF's metadata that mark a label map (NIfTI has its label intent).
LABEL_INTENT = ("intent", "label")
#: The JSON key of the names in a TIFF's ImageDescription and in a NIfTI comment extension.
NAMES_KEY = "class_names"
#: The NIfTI header extension code of the names: 6, "comment" (nibabel's ``extension_codes``).
NIFTI_ECODE = 6


def file_suffix(path: str | os.PathLike) -> str:
    """Return the lower-case suffix of ``path``, with ``.nii.gz`` and ``.ome.zarr`` kept whole."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return ".zarr" if name.endswith(".ome.zarr") else Path(name).suffix


def file_stem(path: str | os.PathLike) -> str:
    """Return the file name without its (possibly double) suffix."""
    name = Path(path).name
    suffix = ".ome.zarr" if name.lower().endswith(".ome.zarr") else file_suffix(path)
    return name[: len(name) - len(suffix)]


def output_suffix(path: str | os.PathLike) -> str:
    """The suffix of an output written for the input ``path``: its own, or ``.tif`` for a zarr store
    (read only here; TIFF keeps its spacing)."""
    suffix = file_suffix(path)
    return ".tif" if suffix in ZARR_SUFFIXES else suffix


def is_supported(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a suffix this package can read (a zarr store is a folder, every other input a file)."""
    suffix = file_suffix(path)
    return suffix in SUPPORTED_SUFFIXES and Path(path).is_dir() == (suffix in ZARR_SUFFIXES)


def read_array(path: str | os.PathLike) -> np.ndarray:
    """Read an image or mask file into an array.

    Parameters
    ----------
    path : path-like
        A PNG, TIFF (2D, RGB or a stack) or NIfTI file, or an OME-Zarr or zarr folder.

    Returns
    -------
    numpy.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(Z, H, W)``. NIfTI volumes are returned with
        their last axis first, ``(Z, H, W)``, so that slices run along axis 0.
        One-bit files (bool) are returned as uint8 0 and 1, so that a 1-bit mask is
        trained on and corrected like an 8-bit one.
    """
    return read_with_affine(path)[0]


def read_with_affine(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a file and its 4 x 4 NIfTI affine: a NIfTI file's own, a diagonal one of a TIFF's pixel
    spacing or an OME-Zarr's scale (:func:`affine_of_spacing`), ``None`` for PNG and for files that state
    no spacing.

    Raises
    ------
    JCASInputError
        A missing file, a folder, an unsupported suffix, and a file that cannot be read
        or holds no pixels (empty, truncated or damaged).
    """
    path = Path(path)
    suffix = check_readable(path)
    with reading(path, suffix):
        data, affine = _read_now(path, suffix)
    check_holds_pixels(path, data.shape)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    return data, affine


def check_readable(path: Path) -> str:
    """``path``'s suffix (:func:`file_suffix`), or :class:`JCASInputError` when it is missing, a folder
    where a file should be (or a file named as a zarr store) or of a type this package cannot read."""
    suffix = file_suffix(path)
    if suffix in ZARR_SUFFIXES:
        if not path.is_dir():
            raise JCASInputError(f"{path}: no such zarr folder. Check the path.")
        return suffix
    if path.is_dir():
        raise JCASInputError(f"{path} is a folder, not a file. Give an image or mask file.")
    if path.exists() and not path.is_file():
        raise JCASInputError(f"{path} is not a regular file (a pipe, socket or device), which could be read "
                             "without end. Give an image or mask file.")
    if not path.is_file():
        raise JCASInputError(f"{path}: no such file. Check the path.")
    if suffix not in SUPPORTED_SUFFIXES:
        raise JCASInputError(
            f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}."
        )
    return suffix


@contextmanager
def reading(path: Path, suffix: str):
    """Turn any failure of a library reading ``path`` into :class:`JCASInputError` (a damaged or truncated file)."""
    try:
        yield
    except JCASInputError:
        raise
    except Exception as error:  # unreadable or truncated file
        raise JCASInputError(f"{path}: cannot be read as {suffix} ({error}). Is the file complete?") from error


def check_holds_pixels(path: Path, shape: tuple[int, ...]) -> None:
    """Raise :class:`JCASInputError` unless an array of ``shape`` read from ``path`` is an image (2D or more, not empty)."""
    if len(shape) < 2 or 0 in shape:
        raise JCASInputError(
            f"{path} holds no image (shape {tuple(shape)}): the file is empty, truncated or damaged. "
            "Export it again from the program that made it."
        )


@contextmanager
def quiet_logs(logger: str):
    """Hold back a library's log warnings (tifffile logs its own view of damaged files before failing)."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _read_now(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a file whole, once the shape its header declares is checked (:func:`jcas.limits.check_declared_shape`)."""
    if suffix in PNG_SUFFIXES:
        from PIL import Image

        with Image.open(path) as handle:
            check_declared_shape((handle.height, handle.width), str(path))
            return np.asarray(handle), None
    if suffix in TIFF_SUFFIXES:
        import tifffile

        with quiet_logs("tifffile"), tifffile.TiffFile(path) as tiff:
            if len(tiff.series):
                check_declared_shape(tiff.series[0].shape, str(path))
            data = np.asarray(tiff.asarray())
            spacing = tiff_spacing(tiff, data.shape)
        return data, None if spacing is None else affine_of_spacing(spacing, len(spacing))
    if suffix in ZARR_SUFFIXES:
        array, spacing = open_zarr(path)
        check_declared_shape(array.shape, str(path))
        data = np.asarray(array[()])
        return data, None if spacing is None else affine_of_spacing(spacing, len(spacing))
    import nibabel

    volume = nibabel.load(str(path))
    check_declared_shape(volume.shape, str(path))
    data = np.asanyarray(volume.dataobj)
    return nifti_to_slices(data), np.asarray(volume.affine)


class ZarrImage:
    """The image of a zarr store with its leading axes of one entry (OME-Zarr's time and channel) dropped.

    Attributes
    ----------
    array : zarr.Array
        The stored array, ``(..., [Z,] Y, X)``.
    lead : int
        How many leading axes of one entry are dropped.
    """

    def __init__(self, array, lead: int):
        self.array, self.lead = array, lead
        self.shape = tuple(array.shape[lead:])

    def __getitem__(self, index) -> np.ndarray:
        """``image[index]`` of the dropped-axes view, read from the store (``image[()]``: all of it)."""
        index = index if isinstance(index, tuple) else (index,)
        return np.asarray(self.array[(0,) * self.lead + index])


def open_zarr(path: str | os.PathLike) -> tuple[ZarrImage, tuple[float, ...] | None]:
    """Open an OME-Zarr image (its full-resolution level) or a plain zarr array for reading.

    Returns
    -------
    image : ZarrImage
        ``(Y, X)`` or ``(Z, Y, X)``; nothing is read yet.
    spacing : tuple of float or None
        The level's ``scale`` per axis of ``image``; ``None`` when it states none (all 1).

    Raises
    ------
    JCASInputError
        A zarr group that is not an OME-Zarr image, and more than one time point or channel.
    """
    try:
        import zarr
    except ImportError as error:
        raise JCASInputError(f"{path}: reading zarr needs the zarr package; install it with "
                             "pip install zarr (version 3 or later).") from error

    node = zarr.open(str(path), mode="r")
    scale = None
    if isinstance(node, zarr.Group):
        attributes = node.attrs.asdict()
        multiscales = attributes.get("multiscales") or attributes.get("ome", {}).get("multiscales")
        if not multiscales:
            raise JCASInputError(f"{path} is a zarr group without OME-Zarr multiscales metadata; give an OME-Zarr "
                                 "image or a zarr array.")
        level = multiscales[0]["datasets"][0]
        array = node[level["path"]]
        scale = next((t["scale"] for t in level.get("coordinateTransformations", []) if t.get("type") == "scale"),
                     None)
    else:
        array = node
    lead = 0
    while array.ndim - lead > 3 and array.shape[lead] == 1:
        lead += 1
    if array.ndim - lead > 3:
        raise JCASInputError(f"{path} has shape {array.shape}: more than one time point or channel. Save one "
                             "grey image or stack, (Z, Y, X) or (Y, X), per zarr store.")
    spacing = None if scale is None else tuple(float(s) for s in scale[lead:])
    return ZarrImage(array, lead), None if spacing is None or all(s == 1.0 for s in spacing) else spacing


def tiff_spacing(tiff, shape: tuple[int, ...]) -> tuple[float, ...] | None:
    """Pixel spacing of a grey 2D image ``(H, W)`` or stack ``(Z, H, W)`` of ``shape`` from its TIFF tags.

    Y and X are the inverse of the YResolution and XResolution tags; Z is the ``spacing`` of
    ImageJ's metadata or of tifffile's own. ``None`` for colour images and where the file states
    no spacing (all 1).
    """
    if 0 in shape or len(shape) not in (2, 3):  # an empty file has no first page
        return None
    page = tiff.pages.first
    if page.photometric == 2:  # RGB
        return None
    y_x = []
    for tag in ("YResolution", "XResolution"):
        numerator, denominator = page.tags[tag].value if tag in page.tags else (1, 1)
        y_x.append(denominator / numerator if numerator else 1.0)
    metadata = tiff.imagej_metadata or (tiff.shaped_metadata or [{}])[0] or {}
    spacing = ([float(metadata.get("spacing", 1.0))] if len(shape) == 3 else []) + y_x
    return None if all(value == 1.0 for value in spacing) else tuple(spacing)


def nifti_to_slices(data: np.ndarray) -> np.ndarray:
    """Move a NIfTI volume's slice axis (the last, for 3D) to the front: (X, Y, Z) -> (Z, X, Y)."""
    return np.moveaxis(data, -1, 0) if data.ndim == 3 else data


def slices_to_nifti(data: np.ndarray) -> np.ndarray:
    """Inverse of :func:`nifti_to_slices`."""
    return np.moveaxis(data, 0, -1) if data.ndim == 3 else data


def spacing_of_affine(affine: np.ndarray | None, ndim: int) -> tuple[float, ...]:
    """Voxel spacing of a NIfTI affine ``(4, 4)`` in the slices-first axis order of the data that
    :func:`read_with_affine` returns (``(Z, X, Y)`` for a volume); all 1 without an affine."""
    if affine is None:
        return (1.0,) * ndim
    spacing = np.linalg.norm(np.asarray(affine, dtype=float)[:3, :3], axis=0)  # X, Y, Z
    if ndim == 3:
        return (float(spacing[2]), float(spacing[0]), float(spacing[1]))
    return tuple(float(s) for s in spacing[:ndim])


def affine_of_spacing(spacing: Sequence[float] | None, ndim: int) -> np.ndarray:
    """A diagonal NIfTI affine ``(4, 4)`` for slices-first data of ``ndim`` axes with this spacing
    (inverse of :func:`spacing_of_affine` for axis-aligned affines); unit spacing when ``None``."""
    spacing = [1.0] * ndim if spacing is None else [float(s) for s in spacing]
    nifti_order = spacing[1:] + spacing[:1] if ndim == 3 else spacing + [1.0]  # the slice axis moves last
    return np.diag(nifti_order + [1.0])


def write_array(
    path: str | os.PathLike,
    data: np.ndarray,
    *,
    affine: np.ndarray | None = None,
    labels: bool = False,
    class_names: Mapping[int, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``data`` to ``path`` atomically, in the format its suffix names.

    The file is written to a temporary name in the same folder and renamed into
    place (:func:`jcas.outputs.atomic_write`), so a failure never leaves a
    half-written file behind; the file gets the permissions the umask gives.

    Parameters
    ----------
    path : path-like
        Target file (.png, .tif, .tiff, .nii, .nii.gz).
    data : numpy.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(Z, H, W)`` array.
    affine : numpy.ndarray, optional
        4 x 4 NIfTI affine; identity when missing. A grey TIFF keeps its spacing
        (:func:`spacing_of_affine`) in its resolution tags and, for a stack, the Z spacing in
        its metadata; PNG ignores it.
    labels : bool
        Mark the file as a label map (NIfTI's label intent; ``"intent": "label"`` in a TIFF's
        metadata), so that :func:`is_label_file` and the napari reader take it for a mask
        whatever its name. PNG cannot say so.
    class_names : mapping of int to str, optional
        ``{label value: name}`` to store in a TIFF's or NIfTI file's metadata, where
        :func:`jcas.data.class_names.class_names_of` reads them back (the format is described
        there); PNG ignores them.
    overwrite : bool
        Replace an existing file. Without it an existing file raises
        :class:`~jcas.errors.JCASInputError`.
    """
    path = Path(path)
    suffix = file_suffix(path)
    if suffix not in WRITABLE_SUFFIXES:
        raise JCASInputError(f"{path}: cannot write {suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}.")
    data = np.asarray(data)
    names = dict(class_names or {})
    return atomic_write(path, lambda temporary: _write_now(temporary, data, suffix, affine, labels, names),
                        overwrite=overwrite)


def is_label_file(path: str | os.PathLike) -> bool:
    """Whether a TIFF or NIfTI file says it holds a label map (as :func:`write_array` marks one with
    ``labels=True``; NIfTI files from other tools that set the label intent count too). Reads the header only."""
    path = Path(path)
    suffix = file_suffix(path)
    try:
        if suffix in NIFTI_SUFFIXES:
            import nibabel

            return nibabel.load(str(path)).header.get_intent()[0] == "label"
        if suffix in TIFF_SUFFIXES:
            import tifffile

            with quiet_logs("tifffile"), tifffile.TiffFile(path) as tiff:
                return (tiff.shaped_metadata or [{}])[0].get(LABEL_INTENT[0]) == LABEL_INTENT[1]
    except Exception:  # unreadable: read_with_affine says why
        return False
    return False


def names_entry(names: Mapping[int, str]) -> dict[str, str]:
    """The JSON form of ``names``, ``{"0": "background", "1": "grey matter"}``, in label order."""
    return {str(int(value)): str(names[value]) for value in sorted(names)}


def nifti_extension(names: Mapping[int, str]):
    """A NIfTI header extension (:data:`NIFTI_ECODE`) that holds ``names`` as ``{"class_names": {...}}``."""
    from nibabel.nifti1 import Nifti1Extension

    return Nifti1Extension(NIFTI_ECODE, json.dumps({NAMES_KEY: names_entry(names)}).encode("ascii"))


def _write_now(path: Path, data: np.ndarray, suffix: str, affine: np.ndarray | None, labels: bool,
               names: dict[int, str]) -> None:
    if suffix in PNG_SUFFIXES:
        from PIL import Image

        if data.ndim not in (2, 3) or data.dtype not in (np.uint8, np.uint16):
            raise JCASInputError(
                f"PNG holds 2D uint8 or uint16 data, got {data.dtype} {data.shape}; write a .tif instead."
            )
        Image.fromarray(data).save(path, format="PNG")
    elif suffix in TIFF_SUFFIXES:
        import tifffile

        colour = data.ndim == 3 and data.shape[-1] in (3, 4) and data.dtype == np.uint8
        geometry, metadata = {}, dict([LABEL_INTENT]) if labels else {}
        if affine is not None and not colour:
            spacing = spacing_of_affine(affine, data.ndim)
            geometry = {"resolution": (1 / spacing[-1], 1 / spacing[-2])}
            if data.ndim == 3:
                metadata["spacing"] = spacing[0]
        if names:
            metadata[NAMES_KEY] = names_entry(names)
        tifffile.imwrite(path, data, compression="zlib", photometric="rgb" if colour else "minisblack",
                         metadata=metadata, **geometry)
    else:
        import nibabel

        volume = nibabel.Nifti1Image(slices_to_nifti(data), np.eye(4) if affine is None else affine)
        if labels:
            volume.header.set_intent("label")
        if names:
            volume.header.extensions.append(nifti_extension(names))
        nibabel.save(volume, str(path))


class StackWriter:
    """A grey TIFF stack ``(Z, H, W)`` written one slice at a time, compressed as :func:`write_array` writes.

    tifffile takes the pages of one series from an iterator; a thread runs it while :meth:`write`
    hands the slices over, so that only a slice or two are in memory. Use it as a context manager:
    leaving the block with an exception stops the thread and leaves an incomplete file, for the
    caller's staging (:class:`jcas.outputs.OutputSet`) to discard.

    Parameters
    ----------
    path : path-like
        The file to write (in a staging folder: the file is not written atomically).
    shape : tuple of int
        ``(Z, H, W)``.
    dtype : numpy.dtype
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int, int], dtype):
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self._pages: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name=f"write {self.path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import tifffile

        def pages():
            for _ in range(self.shape[0]):
                page = self._pages.get()
                if page is None:  # stopped
                    raise InterruptedError("stopped")
                yield page

        try:
            tifffile.imwrite(self.path, pages(), shape=self.shape, dtype=self.dtype, compression="zlib",
                             photometric="minisblack", metadata={})
        except BaseException as error:  # handed to the writing thread by write() and close()
            self._error = error

    def write(self, page: np.ndarray) -> None:
        """Hand over the next slice ``(H, W)``; waits while two are queued."""
        page = np.asarray(page, dtype=self.dtype)
        if page.shape != self.shape[1:]:
            raise ValueError(f"a slice of {self.path.name} is {page.shape}, not {self.shape[1:]}")
        while True:
            self._raise()
            try:
                self._pages.put(page, timeout=0.1)
                self._written += 1
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive() and self._written < self.shape[0]:
            raise RuntimeError(f"the writer of {self.path} stopped after {self._written} slices")

    def __enter__(self) -> "StackWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            if self._thread.is_alive():
                self._pages.put(None)
            self._thread.join()
            return
        if self._written != self.shape[0]:
            self._pages.put(None)
            self._thread.join()
            raise RuntimeError(f"{self.path}: {self._written} of {self.shape[0]} slices were written")
        self._thread.join()
        if self._error is not None:
            raise self._error


def write_bytes_atomic(path: str | os.PathLike, payload: bytes, *, overwrite: bool = True) -> Path:
    """Write raw bytes atomically (used for CSV, JSON and checkpoints); see :func:`jcas.outputs.atomic_write`."""
    return atomic_write(path, lambda temporary: temporary.write_bytes(payload), overwrite=overwrite)
