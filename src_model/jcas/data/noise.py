"""Simulated annotation noise for label maps, with the map of pixels it changed.

Three families of noise, following the JCAS and MS-TFAL evaluations (see
``docs/method.md``, "Noise models"):

- per-pixel flips: ``"symmetric"`` (to a uniformly chosen other class) and
  ``"asymmetric"`` (class index ``i`` to ``(i + 1) mod K``);
- per-region distortions of a chosen fraction of the connected regions of the
  foreground classes: ``"ellipse"``, ``"dilate"``, ``"erode"``, ``"affine"``,
  ``"polygon"`` and ``"mixed"`` (a random one of those five per region);
- per-image protocols, applied to every region of a chosen fraction of the images
  (slices) and leaving the others clean: ``"biased"`` (a biased annotator: one
  class drawn too wide or too narrow by the same radius everywhere) and
  ``"mstfal"`` (the synthetic noise of MS-TFAL, Cui et al., MICCAI 2023: each
  foreground class of a noisy image dilated, eroded, affine-jittered or replaced by
  polygons). Their radii are given for a :data:`REFERENCE_SIDE`-pixel image and
  scale with the image.

Regions are the 8-connected components of each non-background class taken
separately (two touching regions of different classes are two regions). The
background is label 0 when present, else the lowest label. Class indices order
the labels of the whole input from low to high.

Distortions scale with the region's *size*, ``2 * area / perimeter`` in pixels
(the radius of a disk, half the width of a ribbon), so that thin structures get
thin errors; see the module constants. Pixels a region no longer covers take the
label of the nearest pixel outside it. Measured on the shared MNI tissue and
cells3d nuclei masks at ``fraction=0.5``, the region kinds change on average
4-14 % (MNI) and 3-6 % (cells3d) of the pixels, single slices up to 36 %; the
ellipse and polygon of a ring-shaped region (cortex) cover what it encloses. At their
default fractions (seeds 0-4), ``"biased"`` changes 8.5 % (MNI) and 10.6 % (cells3d)
of the pixels, ``"mstfal"`` 6.5 % and 6.7 %, its noisy slices 2-60 % each.

``"mstfal"`` follows the MS-TFAL recipe (30 % of the data noisy; per class one of
dilation, erosion, affine jitter and 4-8 point polygons; radii 40-50 px on 512 x 640
label maps) with three differences: pixels a class loses take the nearest other label
(MS-TFAL: background), the affine jitter is the region kind above, about each region's
centroid (MS-TFAL: up to 30 degrees and 20 % of the frame height about the frame's
centre), and images are chosen one by one, not as runs of 3-6 video frames sharing a
noise draw.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import JCASInputError
from ..settings import CONNECTIVITY
from .labels import IGNORE_VALUE

NOISE_KINDS = (
    "mixed", "symmetric", "asymmetric", "ellipse", "dilate", "erode", "affine", "polygon", "biased", "mstfal",
)
PIXEL_KINDS = ("symmetric", "asymmetric")
REGION_KINDS = ("ellipse", "dilate", "erode", "affine", "polygon")
IMAGE_KINDS = ("biased", "mstfal")
#: The fraction used when none is given: every image for the biased annotator, MS-TFAL's 30 % of
#: the images, else DEFAULT_FRACTION (of the pixels or regions).
DEFAULT_FRACTION = 0.5
DEFAULT_FRACTIONS = {"biased": 1.0, "mstfal": 0.3}

#: Connectivity of regions: 8-connected (diagonal neighbours join a region).
REGION_STRUCTURE = np.array(CONNECTIVITY)
#: Dilation and erosion radius: a random integer in 1 .. max(RADIUS_MIN_MAX, RADIUS_SCALE * size).
RADIUS_SCALE = 0.3
RADIUS_MIN_MAX = 2
#: Affine jitter about the centroid: a shift of up to SHIFT_SCALE * size pixels along each axis,
#: a rotation of up to ROTATION_MAX_DEG degrees and a scale change of up to SCALE_MAX_CHANGE,
#: the last two further limited so that neither moves any pixel more than AFFINE_MAX_MOVE * size.
SHIFT_SCALE = 0.2
ROTATION_MAX_DEG = 20.0
SCALE_MAX_CHANGE = 0.15
AFFINE_MAX_MOVE = 0.3
#: Polygon: a random number of vertices in POLYGON_VERTICES (inclusive) at evenly spaced angles
#: (random start, each angle jittered within its sector), each on the region's farthest pixel
#: near that angle, pushed outwards by a factor in POLYGON_RADIAL_JITTER.
POLYGON_VERTICES = (4, 8)
POLYGON_RADIAL_JITTER = (0.95, 1.3)
#: Extra padding, in pixels, of the window in which a region is distorted (see _region_window).
WINDOW_MARGIN = 4
#: The per-image kinds give their radii for an image of REFERENCE_SIDE x REFERENCE_SIDE pixels; an
#: (H, W) image scales them by sqrt(H * W) / REFERENCE_SIDE, rounded, at least 1 px.
REFERENCE_SIDE = 200
#: Biased annotator: the radius, an integer in BIASED_RADIUS (inclusive, at the reference side).
BIASED_RADIUS = (1, 4)
#: MS-TFAL: each foreground class of a noisy image gets one of MSTFAL_KINDS with equal chance,
#: applied to all its regions; dilation and erosion by one radius in MSTFAL_RADIUS (inclusive, at
#: the reference side), MS-TFAL's 40-50 px on its 512 x 640 label maps (sqrt(512 * 640) = 572 px).
#: Affine jitter and polygons are the region kinds above (scaled by each region's size).
MSTFAL_KINDS = ("dilate", "erode", "affine", "polygon")
MSTFAL_RADIUS = (14, 17)
#: The window of a whole slice, for distortions of a whole class.
WHOLE_SLICE = (slice(None), slice(None))


def background_label(values: np.ndarray) -> int:
    """Return the background among label ``values``: 0 when present, else the lowest.

    Parameters
    ----------
    values : numpy.ndarray
        ``(K,)`` label values, K >= 1, ignore value excluded.
    """
    values = np.asarray(values)
    return 0 if np.any(values == 0) else int(values.min())


def simulate_noise(
    mask: np.ndarray,
    kind: str = "mixed",
    fraction: float | None = None,
    seed: int = 0,
    ignore_value: int | None = IGNORE_VALUE,
    biased_class: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt a label map with simulated annotation noise.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` integer label map in the user's label values.
        A stack is corrupted slice by slice. Never modified.
    kind : str
        One of :data:`NOISE_KINDS`.
    fraction : float or None
        In [0, 1]. For ``"symmetric"`` and ``"asymmetric"``, the probability that a
        pixel flips; for the region kinds, the fraction of regions distorted (per
        slice, ``round(fraction * n_regions)``, at least one when ``fraction > 0``);
        for ``"biased"`` and ``"mstfal"``, the fraction of the Z slices that get the
        noise (``fraction * Z`` rounded down or up at random, up with the probability
        of its fractional part, so that a 2D mask is noisy with probability
        ``fraction``). None: :data:`DEFAULT_FRACTIONS`, else :data:`DEFAULT_FRACTION`.
    seed : int
        Non-negative seed. Slice ``z`` draws from its own stream, child ``z`` of
        ``numpy.random.SeedSequence(seed)``; a 2D mask is corrupted like slice 0.
        What the per-image kinds draw once per call (the noisy slices; the biased
        class, radius and sign) comes from ``numpy.random.default_rng(seed)``.
    ignore_value : int or None
        Pixels with this value are never changed and never painted over.
    biased_class : int or None
        ``"biased"`` only: the label value drawn too wide or too narrow. None: a
        foreground label of ``mask`` chosen by the seed.

    Returns
    -------
    noisy : numpy.ndarray
        Same shape and dtype as ``mask``, holding only values present in ``mask``.
    noise_map : numpy.ndarray
        Bool, same shape: True where ``noisy != mask``.

    Raises
    ------
    JCASInputError
        For an unknown kind, a fraction outside [0, 1], a negative seed, a mask that
        is not a 2D or 3D integer array, or a ``biased_class`` that is not a label of
        ``mask`` or comes with another kind.
    """
    mask = _checked_mask(mask)
    if kind not in NOISE_KINDS:
        raise JCASInputError(f"Unknown noise kind {kind!r}; use one of {', '.join(NOISE_KINDS)}.")
    if fraction is None:
        fraction = DEFAULT_FRACTIONS.get(kind, DEFAULT_FRACTION)
    if not 0.0 <= float(fraction) <= 1.0:
        raise JCASInputError(f"Noise fraction {fraction} is outside [0, 1]; pass e.g. 0.5 for half.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise JCASInputError(f"Seed {seed!r} must be a non-negative integer.")

    valid = np.ones(mask.shape, dtype=bool) if ignore_value is None else mask != ignore_value
    labels = np.unique(mask[valid])
    if biased_class is not None and (kind != "biased" or biased_class not in labels):
        raise JCASInputError(
            f"biased_class={biased_class!r} needs kind 'biased' and one of the mask's labels {labels.tolist()}."
        )
    slices = mask[np.newaxis] if mask.ndim == 2 else mask
    valid_slices = valid[np.newaxis] if mask.ndim == 2 else valid
    streams = np.random.SeedSequence(int(seed)).spawn(len(slices))
    if kind in IMAGE_KINDS:
        noisy = _noise_images(slices, valid_slices, labels, kind, float(fraction), int(seed), streams, biased_class)
        noisy = noisy.reshape(mask.shape)
        return noisy, noisy != mask
    noisy = np.empty_like(slices)
    for index, (mask_2d, valid_2d, stream) in enumerate(zip(slices, valid_slices, streams)):
        rng = np.random.default_rng(stream)
        if kind in PIXEL_KINDS:
            noisy[index] = _flip_pixels(mask_2d, valid_2d, labels, kind, float(fraction), rng)
        else:
            noisy[index] = _distort_regions(mask_2d, valid_2d, labels, kind, float(fraction), rng)
    noisy = noisy.reshape(mask.shape)
    return noisy, noisy != mask


def _checked_mask(mask: np.ndarray) -> np.ndarray:
    """``mask`` as an array, or :class:`JCASInputError` unless it is a non-empty 2D or 3D integer array."""
    mask = np.asarray(mask)
    if mask.dtype == bool or not np.issubdtype(mask.dtype, np.integer):
        raise JCASInputError(
            f"The mask must hold integer labels, got dtype {mask.dtype}; convert it, e.g. mask.astype(np.uint8)."
        )
    if mask.ndim not in (2, 3) or mask.size == 0:
        raise JCASInputError(f"The mask must be a non-empty (H, W) or (Z, H, W) array, got shape {mask.shape}.")
    return mask


def _flip_pixels(
    mask: np.ndarray, valid: np.ndarray, labels: np.ndarray, kind: str, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Per-pixel class flips of one ``(H, W)`` slice; ``labels`` are the input's sorted labels."""
    n_classes = len(labels)
    noisy = mask.copy()
    if n_classes < 2:
        return noisy
    flip = (rng.random(mask.shape) < fraction) & valid
    index = np.searchsorted(labels, mask[flip])
    step = rng.integers(1, n_classes, size=index.shape) if kind == "symmetric" else 1
    noisy[flip] = labels[(index + step) % n_classes]
    return noisy


def _distort_regions(
    mask: np.ndarray, valid: np.ndarray, labels: np.ndarray, kind: str, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Distort a random ``fraction`` of the foreground regions of one ``(H, W)`` slice."""
    noisy = mask.copy()
    if len(labels) == 0 or fraction == 0:
        return noisy
    background = background_label(labels)
    regions = _foreground_regions(mask, valid, background)
    if not regions:
        return noisy
    n_chosen = max(1, int(np.floor(fraction * len(regions) + 0.5)))
    for choice in rng.choice(len(regions), size=n_chosen, replace=False):
        region_kind = str(rng.choice(REGION_KINDS)) if kind == "mixed" else kind
        window, region = _region_window(*regions[choice])
        _paint(noisy, mask, valid, window, region, DISTORTIONS[region_kind](region, rng), background)
    return noisy


def _paint(
    noisy: np.ndarray,
    mask: np.ndarray,
    valid: np.ndarray,
    window: tuple[slice, slice],
    region: np.ndarray,
    shape: np.ndarray,
    background: int,
) -> None:
    """Redraw a region of the ``(H, W)`` slice ``mask`` as ``shape``, in ``noisy`` (in place).

    ``region`` and ``shape`` are ``(h, w)`` bool maps of ``window``; ``region`` is non-empty
    and of one label. Pixels the region no longer covers take the label of the nearest
    valid pixel outside it; the valid pixels of ``shape`` take the region's label.
    """
    fill = _nearest_outside_label(mask[window], valid[window], region, background)
    window_noisy = noisy[window]
    window_noisy[region & ~shape] = fill[region & ~shape]
    window_noisy[shape & valid[window]] = mask[window][region][0]


def _foreground_regions(
    mask: np.ndarray, valid: np.ndarray, background: int
) -> list[tuple[np.ndarray, int, tuple[slice, slice]]]:
    """Connected regions of each foreground class, as in :func:`_class_regions`."""
    regions = []
    for value in np.unique(mask[valid]):
        if value != background:
            regions.extend(_class_regions(mask, valid, value))
    return regions


def _class_regions(
    mask: np.ndarray, valid: np.ndarray, value: int
) -> list[tuple[np.ndarray, int, tuple[slice, slice]]]:
    """Connected regions of class ``value`` in an ``(H, W)`` slice, as ``(components, number, bounding box)``.

    ``components`` is the ``(H, W)`` region numbering of the class (shared by its regions),
    the region is ``components == number`` and lies inside the bounding box.
    """
    components, _ = ndimage.label((mask == value) & valid, structure=REGION_STRUCTURE)
    boxes = ndimage.find_objects(components)
    return [(components, number, box) for number, box in enumerate(boxes, start=1)]


def _noise_images(
    slices: np.ndarray,
    valid: np.ndarray,
    labels: np.ndarray,
    kind: str,
    fraction: float,
    seed: int,
    streams: list[np.random.SeedSequence],
    biased_class: int | None,
) -> np.ndarray:
    """A per-image kind on a ``(Z, H, W)`` stack: a random ``fraction`` of its slices get the noise.

    ``valid`` is the ``(Z, H, W)`` map of non-ignored pixels, ``labels`` the stack's sorted
    labels, ``streams`` the per-slice seed sequences (used by ``"mstfal"``).
    """
    noisy = slices.copy()
    rng = np.random.default_rng(seed)
    chosen = _chosen_slices(len(slices), fraction, rng)
    background = background_label(labels) if len(labels) else 0
    foreground = labels[labels != background]
    if kind == "biased":
        if len(foreground) == 0:
            return noisy
        drawn = rng.choice(foreground)  # drawn even when given, so the seed fixes radius and sign alike
        value = drawn if biased_class is None else biased_class
        radius = _image_radius(BIASED_RADIUS, slices.shape[1:], rng)
        grow = bool(rng.random() < 0.5)
        for index in chosen:
            if np.any((slices[index] == value) & valid[index]):
                _resize_class(noisy[index], slices[index], valid[index], value, radius, grow, background)
        return noisy
    for index in chosen:
        _mstfal_slice(noisy[index], slices[index], valid[index], background, np.random.default_rng(streams[index]))
    return noisy


def _chosen_slices(count: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``fraction * count`` of ``count`` slices, rounded down or up at random.

    Rounded up with the probability of the fractional part, so that the expected number
    is exactly ``fraction * count``.
    """
    expected = fraction * count
    number = int(np.floor(expected)) + int(rng.random() < expected - np.floor(expected))
    return np.sort(rng.choice(count, size=number, replace=False))


def _image_radius(bounds: tuple[int, int], shape: tuple[int, ...], rng: np.random.Generator) -> int:
    """A radius drawn in ``bounds`` (inclusive, at :data:`REFERENCE_SIDE`), scaled to an ``(H, W)`` ``shape``."""
    radius = int(rng.integers(bounds[0], bounds[1] + 1))
    return max(1, int(round(radius * np.sqrt(shape[0] * shape[1]) / REFERENCE_SIDE)))


def _resize_class(
    noisy: np.ndarray, mask: np.ndarray, valid: np.ndarray, value: int, radius: int, grow: bool, background: int
) -> None:
    """Dilate (``grow``) or erode every region of class ``value`` by ``radius``, in ``noisy``.

    ``noisy``, ``mask`` and ``valid`` are ``(H, W)``; the class is present in ``mask``.
    """
    region = (mask == value) & valid
    shape = _grow(region, radius) if grow else _shrink(region, radius)
    _paint(noisy, mask, valid, WHOLE_SLICE, region, shape, background)


def _mstfal_slice(
    noisy: np.ndarray, mask: np.ndarray, valid: np.ndarray, background: int, rng: np.random.Generator
) -> None:
    """MS-TFAL noise on one ``(H, W)`` slice, in ``noisy``: one of :data:`MSTFAL_KINDS` per foreground class.

    Classes are redrawn in label order, so a later class paints over an earlier one.
    """
    for value in np.unique(mask[valid]):
        if value == background:
            continue
        kind = str(rng.choice(MSTFAL_KINDS))
        if kind in ("dilate", "erode"):
            radius = _image_radius(MSTFAL_RADIUS, mask.shape, rng)
            _resize_class(noisy, mask, valid, value, radius, kind == "dilate", background)
            continue
        for components, number, box in _class_regions(mask, valid, value):
            window, region = _region_window(components, number, box)
            _paint(noisy, mask, valid, window, region, DISTORTIONS[kind](region, rng), background)


def _region_window(
    components: np.ndarray, number: int, box: tuple[slice, slice]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """A window around one region wide enough for any distortion, and the region inside it.

    The bounding box is padded by its longer side plus :data:`WINDOW_MARGIN` on every
    side (clipped to the slice): no distortion reaches farther from the region.
    """
    pad = max(part.stop - part.start for part in box) + WINDOW_MARGIN
    window = tuple(
        slice(max(part.start - pad, 0), min(part.stop + pad, size)) for part, size in zip(box, components.shape)
    )
    return window, components[window] == number


def _nearest_outside_label(mask: np.ndarray, valid: np.ndarray, region: np.ndarray, background: int) -> np.ndarray:
    """``(h, w)`` map: for each pixel, the label of the nearest valid pixel outside ``region``.

    This is the label a pixel freed by the region takes. ``background`` everywhere when
    no such pixel exists (the region fills the window).
    """
    outside = valid & ~region
    if not outside.any():
        return np.full(mask.shape, background, dtype=mask.dtype)
    nearest = ndimage.distance_transform_edt(~outside, return_distances=False, return_indices=True)
    return mask[tuple(nearest)]


def _region_size(region: np.ndarray) -> float:
    """``2 * area / perimeter`` of ``region`` in pixels: a disk's radius, half a ribbon's width.

    The perimeter counts the region's pixels that have a 4-neighbour outside it.
    """
    perimeter = np.count_nonzero(region & ~ndimage.binary_erosion(region, border_value=0))
    return 2.0 * np.count_nonzero(region) / perimeter


def _random_radius(region: np.ndarray, rng: np.random.Generator) -> int:
    """A random dilation or erosion radius for ``region``, see :data:`RADIUS_SCALE`."""
    largest = max(RADIUS_MIN_MAX, int(round(RADIUS_SCALE * _region_size(region))))
    return int(rng.integers(1, largest + 1))


def _grow(region: np.ndarray, radius: int) -> np.ndarray:
    """``region`` dilated by a disk of ``radius`` pixels (the offsets with dy^2 + dx^2 <= radius^2).

    The pixels within Euclidean distance ``radius`` of the region: the same as a binary
    dilation by the disk, at a cost that does not grow with the radius.
    """
    if not region.any():
        return region.copy()
    return ndimage.distance_transform_edt(~region) <= radius


def _shrink(region: np.ndarray, radius: int) -> np.ndarray:
    """``region`` eroded by a disk of ``radius`` pixels; small regions may vanish.

    The pixels farther than ``radius`` from any pixel outside the region, the outside of
    the array included: the same as a binary erosion by the disk with border value 0.
    """
    padded = np.pad(region, 1, constant_values=False)
    return ndimage.distance_transform_edt(padded)[1:-1, 1:-1] > radius


def _dilate(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grow ``region`` by a random radius (see :data:`RADIUS_SCALE`)."""
    return _grow(region, _random_radius(region, rng))


def _erode(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shrink ``region`` by a random radius; a small region may vanish (a missed object)."""
    return _shrink(region, _random_radius(region, rng))


def _pixel_moments(region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred pixel coordinates ``(n, 2)``, centroid ``(2,)`` and covariance ``(2, 2)`` of ``region``.

    Each pixel counts as a unit square, hence the 1/12 added to the variances.
    """
    coords = np.argwhere(region).astype(float)
    centroid = coords.mean(axis=0)
    centred = coords - centroid
    covariance = centred.T @ centred / len(coords) + np.eye(2) / 12.0
    return centred, centroid, covariance


def _ellipse(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The moment-matched ellipse of ``region``: same centroid and second moments.

    A uniform ellipse with covariance C is ``{x : (x - mu)^T C^-1 (x - mu) <= 4}``.
    Deterministic; ``rng`` is unused and kept for a common signature.
    """
    _, centroid, covariance = _pixel_moments(region)
    offsets = np.stack(np.indices(region.shape), axis=-1) - centroid
    distance = np.einsum("...i,ij,...j->...", offsets, np.linalg.inv(covariance), offsets)
    return distance <= 4.0


def _affine(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``region`` rotated, scaled and shifted about its centroid by a random jitter."""
    centred, centroid, _ = _pixel_moments(region)
    size = _region_size(region)
    # Rotating by t or scaling by 1 + t moves the farthest pixel by about t * reach.
    reach = max(np.hypot(centred[:, 0], centred[:, 1]).max(), 1.0)
    largest_change = AFFINE_MAX_MOVE * size / reach
    angle = rng.uniform(-1.0, 1.0) * min(np.deg2rad(ROTATION_MAX_DEG), largest_change)
    scale = 1.0 + rng.uniform(-1.0, 1.0) * min(SCALE_MAX_CHANGE, largest_change)
    shift = rng.uniform(-1.0, 1.0, size=2) * SHIFT_SCALE * size
    forward = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    # affine_transform maps each output pixel o to the input pixel inverse @ o + offset.
    inverse = np.linalg.inv(forward)
    offset = centroid - inverse @ (centroid + shift)
    warped = ndimage.affine_transform(region.astype(np.float32), inverse, offset=offset, order=1, cval=0.0)
    return warped >= 0.5


def _polygon(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A jittered polygon around ``region`` (see :data:`POLYGON_VERTICES`).

    Vertex ``k`` of ``n`` lies at angle ``start + (k + u_k) * 2 pi / n`` (``u_k`` uniform
    in [-0.25, 0.25]) from the centroid, as far out as the farthest region pixel within a
    quarter sector of that angle, times a factor from :data:`POLYGON_RADIAL_JITTER`.
    Angles with no region pixel near them are skipped; with fewer than three vertices
    left the polygon falls back to :func:`_ellipse`.
    """
    centred, centroid, covariance = _pixel_moments(region)
    n_vertices = int(rng.integers(POLYGON_VERTICES[0], POLYGON_VERTICES[1] + 1))
    sector = 2.0 * np.pi / n_vertices
    vertex_angles = rng.uniform(0.0, 2.0 * np.pi) + (np.arange(n_vertices) + rng.uniform(-0.25, 0.25, n_vertices)) * sector
    stretch = rng.uniform(*POLYGON_RADIAL_JITTER, size=n_vertices)
    pixel_angles = np.arctan2(centred[:, 0], centred[:, 1])
    distances = np.hypot(centred[:, 0], centred[:, 1])
    vertices = []
    for angle, factor in zip(vertex_angles, stretch):
        gap = np.abs(np.angle(np.exp(1j * (pixel_angles - angle))))
        near = gap <= sector / 4.0
        if near.any():
            reach = distances[near].max() * factor
            vertices.append(centroid + reach * np.array([np.sin(angle), np.cos(angle)]))
    if len(vertices) < 3:
        return _ellipse(region, rng)
    return _inside_polygon(region.shape, np.array(vertices))


def _inside_polygon(shape: tuple[int, ...], vertices: np.ndarray) -> np.ndarray:
    """Rasterise a polygon: ``(H, W)`` bool of pixel centres inside ``vertices`` ``(n, 2)`` (even-odd rule)."""
    rows, cols = np.indices(shape, dtype=float)
    inside = np.zeros(shape, dtype=bool)
    for (row_a, col_a), (row_b, col_b) in zip(vertices, np.roll(vertices, -1, axis=0)):
        if row_a == row_b:
            continue
        crosses = (row_a > rows) != (row_b > rows)
        crossing_col = col_a + (rows - row_a) * (col_b - col_a) / (row_b - row_a)
        inside ^= crosses & (cols < crossing_col)
    return inside


#: The region distortions by name; each maps an ``(h, w)`` bool region and a generator to its new shape.
DISTORTIONS = {
    "ellipse": _ellipse,
    "dilate": _dilate,
    "erode": _erode,
    "affine": _affine,
    "polygon": _polygon,
}
