"""Realistic annotation errors: label maps made the way real work makes them, with the map of pixels they changed.

Beside the simulated kinds of :mod:`jcas.data.noise`, five kinds that each redo a real way
of making masks, starting from the clean mask (and, where the way needs it, the images):

- ``"threshold"``: an automatic recipe on the image. Gaussian blur, multi-Otsu thresholds
  (K - 1 thresholds for the K classes, ordered by their mean intensity), fill the holes of
  the foreground, drop specks. Where the classes are not separable by intensity (a class's
  pixels mostly fall outside its own intensity band, e.g. left and right grey matter), each
  foreground class is thresholded on its own inside its clean region grown by a margin, as a
  user thresholds one structure inside a drawn region of interest.
- ``"sparse"``: sparse slice annotation of an ordered stack. Every n-th slice is drawn (the
  clean mask); every other slice takes the mask of the nearest drawn slice.
- ``"interpolated"``: the same drawn slices, the slices between them filled by shape-based
  interpolation: per class, the signed distance maps of the two drawn slices around a slice
  are interpolated linearly and each pixel takes the class it lies deepest inside (a class
  drawn on one of the two slices only shrinks and vanishes halfway).
- ``"misregistered"``: an atlas label map registered with a small error. The clean mask is
  warped by a random smooth transform (a global affine of a few pixels, degrees and percent
  plus a smooth low-frequency displacement field), one transform per volume, resampled by
  nearest neighbour.
- ``"pseudo"``: pseudo-labels, the masks a model predicts (``predict(image) -> mask``); a
  model trained on another set gives domain-shifted pseudo-labels, the "real-world" noise of
  JCAS's evaluation. The caller trains the model; this module only applies it.

:func:`realistic_noise` makes them all. A ``(Z, H, W)`` input is one volume (ordered slices)
unless ``stack=False`` says its slices are independent images; the recipes that run once per
volume (threshold histogram, registration) then run once per image. None of these kinds can
be drawn from the mask alone, so the ``jcas simulate-noise`` command (:data:`jcas.data.noise.NOISE_KINDS`)
does not offer them.

Measured on the shared sets at the default strengths (seeds 0-2), the pixels changed:
mni_tissue threshold 8.9 %, sparse 6.3 %, interpolated 5.5 %, misregistered 5.4 %;
cells3d_nuclei threshold 2.0 %, sparse 3.8 %, interpolated 2.9 %, misregistered 6.2 %
(``benchmarks/suite.md``, "Realistic noise", has every set).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

from ..errors import JCASInputError
from .labels import IGNORE_VALUE
from .noise import REFERENCE_SIDE, REGION_STRUCTURE, _checked_mask, _grow, background_label

REALISTIC_KINDS = ("threshold", "sparse", "interpolated", "misregistered", "pseudo")
#: The kinds that read the images, and the kinds that need an ordered stack.
IMAGE_READING_KINDS = ("threshold", "pseudo")
STACK_KINDS = ("sparse", "interpolated")
#: The strength used when none is given: the blur sigma in pixels (threshold), the step between
#: drawn slices (sparse, interpolated), the size of the misregistration (see MISREGISTRATION_*).
DEFAULT_STRENGTHS = {"threshold": 1.0, "sparse": 5, "interpolated": 5, "misregistered": 2.0}

#: Threshold recipe: HISTOGRAM_BINS bins between the lowest and highest blurred value for Otsu;
#: specks (8-connected pieces of one class) under SPECK_AREA pixels dropped; in the per-class
#: recipe, the clean region grown by CLASS_MARGIN pixels. SPECK_AREA is for a REFERENCE_SIDE^2
#: image and scales with the image's area, CLASS_MARGIN with its side (at least 1 px).
HISTOGRAM_BINS = 256
SPECK_AREA = 16
CLASS_MARGIN = 4
#: Misregistration of strength s: a rotation of up to s degrees and a scale change of up to s %
#: about the image centre, a shift of up to s px along each axis, plus a displacement field of up
#: to MISREGISTRATION_FIELD_SHARE * s px along each axis, smooth on a FIELD_GRID x FIELD_GRID grid
#: of random control points (cubic). Pixel sizes are for a REFERENCE_SIDE image and scale with it.
MISREGISTRATION_FIELD_SHARE = 0.5
FIELD_GRID = 4


def realistic_noise(
    mask: np.ndarray,
    kind: str,
    images: np.ndarray | None = None,
    strength: float | None = None,
    seed: int = 0,
    stack: bool = True,
    predict: Callable[[np.ndarray], np.ndarray] | None = None,
    ignore_value: int | None = IGNORE_VALUE,
) -> tuple[np.ndarray, np.ndarray]:
    """Redo a clean label map the way a real annotation workflow makes it.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` integer clean label map in the user's label values.
        Never modified.
    kind : str
        One of :data:`REALISTIC_KINDS` (see the module's description).
    images : numpy.ndarray or None
        The images of ``mask``, ``mask.shape`` or ``mask.shape + (C,)`` (C = 3 or 4 colour
        channels; the threshold recipe reads their mean). Required by ``"threshold"`` and
        ``"pseudo"``, checked whenever given, read by no other kind.
    strength : float or None
        ``"threshold"``: the Gaussian blur sigma in pixels (>= 0); ``"sparse"`` and
        ``"interpolated"``: the step n >= 1 between drawn slices (a whole number; 1 draws every
        slice); ``"misregistered"``: the size s >= 0 of the registration error (see
        :data:`MISREGISTRATION_FIELD_SHARE`); ``"pseudo"``: none. None:
        :data:`DEFAULT_STRENGTHS`.
    seed : int
        Non-negative seed. Volume ``v`` (see ``stack``) draws from its own stream, child ``v``
        of ``numpy.random.SeedSequence(seed)``: the offset of the first drawn slice (a random
        one of the first n), the misregistration. ``"threshold"`` and ``"pseudo"`` draw nothing.
    stack : bool
        For a ``(Z, H, W)`` mask: True when its slices are one volume in order (one threshold
        histogram, one registration, slice annotation applies); False when they are Z
        independent images (each its own histogram and registration; ``"sparse"`` and
        ``"interpolated"`` do not apply). A 2D mask is one image.
    predict : callable or None
        ``"pseudo"`` only (and required there): ``predict(image) -> labels``, called once per
        slice with its ``(H, W)`` or ``(H, W, C)`` image, returning ``(H, W)`` integer labels
        among the mask's values, e.g. the argmax of a model trained on another set.
    ignore_value : int or None
        Pixels with this value are never changed; where a recipe copies or warps them into
        other pixels, those take the nearest valid label.

    Returns
    -------
    noisy : numpy.ndarray
        Same shape and dtype as ``mask``, holding only values present in ``mask``.
    noise_map : numpy.ndarray
        Bool, same shape: True where ``noisy != mask``.

    Raises
    ------
    JCASInputError
        For an unknown kind, a strength out of range, a negative seed, a mask that is not a
        2D or 3D integer array, images missing where the kind needs them or of another
        shape, ``predict`` missing for ``"pseudo"`` or given to another kind, a prediction
        of the wrong shape or with labels the mask lacks, and slice annotation of anything
        but an ordered ``(Z, H, W)`` stack.
    """
    mask = _checked_mask(mask)
    if kind not in REALISTIC_KINDS:
        raise JCASInputError(f"Unknown realistic noise kind {kind!r}; use one of {', '.join(REALISTIC_KINDS)}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise JCASInputError(f"Seed {seed!r} must be a non-negative integer.")
    if kind in STACK_KINDS and (mask.ndim != 3 or not stack):
        raise JCASInputError(
            f"'{kind}' annotation needs the slices of one volume in order, a (Z, H, W) mask with stack=True; "
            f"got shape {mask.shape} with stack={stack}. Independent 2D images have no slices between drawn ones."
        )
    if (predict is not None) != (kind == "pseudo"):
        raise JCASInputError("Pass predict= for kind 'pseudo', and only for it: predict(image) -> (H, W) labels.")
    strength = _checked_strength(kind, strength)
    slices = mask[np.newaxis] if mask.ndim == 2 else mask
    valid = np.ones(slices.shape, dtype=bool) if ignore_value is None else slices != ignore_value
    labels = np.unique(slices[valid])
    filled = _filled(slices, valid, labels)
    if kind in IMAGE_READING_KINDS or images is not None:
        image_slices = _checked_images(images, mask)

    if kind == "pseudo":
        noisy = np.stack([_predicted(predict, image, slices.shape[1:], labels, mask.dtype) for image in image_slices])
    elif kind in STACK_KINDS:
        rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(1)[0])
        noisy = _slice_annotation(filled, labels, int(strength), kind == "interpolated", rng)
    else:
        volumes = [slice(None)] if stack else [slice(z, z + 1) for z in range(len(slices))]
        streams = np.random.SeedSequence(int(seed)).spawn(len(volumes))
        noisy = np.empty_like(slices)
        for volume, stream in zip(volumes, streams):
            if kind == "threshold":
                noisy[volume] = _threshold_recipe(_grey(image_slices[volume]), filled[volume], valid[volume], labels,
                                                  strength)
            else:
                noisy[volume] = _misregistered(filled[volume], strength, np.random.default_rng(stream))
    noisy = np.where(valid, noisy, slices).reshape(mask.shape)
    return noisy, noisy != mask


def _checked_strength(kind: str, strength: float | None) -> float | None:
    """The kind's strength (its default when None), or :class:`JCASInputError` when out of range."""
    if kind == "pseudo":
        if strength is not None:
            raise JCASInputError("Kind 'pseudo' has no strength: the model's own errors are the noise.")
        return None
    given = DEFAULT_STRENGTHS[kind] if strength is None else strength
    try:
        value = float(given)
    except (TypeError, ValueError):
        value = float("nan")
    if kind in STACK_KINDS:
        if not np.isfinite(value) or value != int(value) or value < 1:
            raise JCASInputError(f"The step between drawn slices must be a whole number >= 1, got {given!r}.")
        return int(value)
    if not (np.isfinite(value) and value >= 0):
        raise JCASInputError(f"The strength of '{kind}' must be a number >= 0, got {given!r}.")
    return value


def _checked_images(images: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """``images`` as ``(Z, H, W)`` or ``(Z, H, W, C)`` slices matching ``mask``, or :class:`JCASInputError`."""
    if images is None:
        raise JCASInputError("This kind reads the images: pass images= of the mask's shape (plus colour channels).")
    images = np.asarray(images)
    shape_ok = images.shape == mask.shape or (images.shape[:-1] == mask.shape and images.shape[-1] in (3, 4))
    if not shape_ok or not np.issubdtype(images.dtype, np.number) or images.dtype == bool:
        raise JCASInputError(
            f"The images must be numeric of shape {mask.shape} or {mask.shape} + (3,) colour channels, "
            f"got {images.dtype} {images.shape}."
        )
    return images[np.newaxis] if mask.ndim == 2 else images


def _filled(slices: np.ndarray, valid: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(Z, H, W)`` labels with every ignored pixel given the label of the nearest valid pixel of its slice.

    A slice with no valid pixel takes the background (:func:`jcas.data.noise.background_label`).
    """
    filled = slices.copy()
    for z in np.flatnonzero(~valid.all(axis=(1, 2))):
        if valid[z].any():
            nearest = ndimage.distance_transform_edt(~valid[z], return_distances=False, return_indices=True)
            filled[z] = slices[z][tuple(nearest)]
        else:
            filled[z] = background_label(labels) if len(labels) else 0
    return filled


def _scaled(value: float, shape: tuple[int, ...], power: int = 1) -> float:
    """``value`` given for a :data:`REFERENCE_SIDE` image, scaled to an ``(H, W)`` ``shape``.

    ``power`` 1 scales a length with the image's side, 2 an area with its area.
    """
    return value * (np.sqrt(shape[0] * shape[1]) / REFERENCE_SIDE) ** power


# --- threshold ---------------------------------------------------------------------------------------------


def _grey(images: np.ndarray) -> np.ndarray:
    """``(Z, H, W)`` float64 intensities of ``(Z, H, W)`` or ``(Z, H, W, C)`` images (the channels' mean)."""
    images = np.asarray(images, dtype=np.float64)
    return images.mean(axis=-1) if images.ndim == 4 else images


def multi_otsu(values: np.ndarray, classes: int, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Multi-Otsu thresholds: the ``classes - 1`` cuts that maximise the between-class variance.

    Exact over a histogram of ``bins`` equal bins between the lowest and the highest value,
    by dynamic programming over the bins (the objective, the sum over classes of
    weight * mean^2, adds up over consecutive bin ranges).

    Parameters
    ----------
    values : numpy.ndarray
        Intensities, any shape, at least one.
    classes : int
        The number of classes, >= 1.
    bins : int
        Histogram bins.

    Returns
    -------
    numpy.ndarray
        ``(classes - 1,)`` increasing thresholds (bin edges); ``np.digitize(v, thresholds)``
        is the class of ``v``. All ``+inf`` (one class) when the values are constant.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = values.min(), values.max()
    if classes < 2:
        return np.empty(0)
    if high == low:
        return np.full(classes - 1, np.inf)
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight = np.concatenate([[0.0], np.cumsum(counts)])
    moment = np.concatenate([[0.0], np.cumsum(counts * centres)])
    # score[a, b]: weight * mean^2 of the bin range [a, b), -inf where a >= b (no empty ranges)
    range_weight = weight[None, :] - weight[:, None]
    range_moment = moment[None, :] - moment[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(range_weight > 0, range_moment**2 / range_weight, 0.0)
    score[np.tril_indices(bins + 1)] = -np.inf
    best = score[0]  # best[b]: the best score of one class on bins [0, b)
    starts = []
    for _ in range(classes - 1):
        candidates = best[:, None] + score
        starts.append(np.argmax(candidates, axis=0))
        best = candidates.max(axis=0)
    cuts, end = [], bins
    for start in reversed(starts):
        end = int(start[end])
        cuts.append(end)
    return edges[np.array(cuts[::-1])]


def _threshold_recipe(
    grey: np.ndarray, mask: np.ndarray, valid: np.ndarray, labels: np.ndarray, sigma: float
) -> np.ndarray:
    """The threshold recipe on one volume: ``(Z, H, W)`` labels of the ``(Z, H, W)`` intensities ``grey``.

    ``mask`` is the clean volume (ignored pixels filled), ``labels`` the input's labels. One
    histogram for the whole volume; blur, hole filling and speck removal slice by slice.
    """
    blurred = np.stack([ndimage.gaussian_filter(image, sigma) for image in grey]) if sigma > 0 else grey
    classes = np.unique(mask[valid])
    if len(classes) < 2:
        return mask.copy()
    background = background_label(labels)
    by_intensity = classes[np.argsort([blurred[(mask == value) & valid].mean() for value in classes])]
    bands = np.digitize(blurred, multi_otsu(blurred[valid], len(classes)))
    own_band = [_majority(bands[(mask == value) & valid]) == rank for rank, value in enumerate(by_intensity)]
    if all(own_band):
        drawn = by_intensity[bands].astype(mask.dtype)
    else:
        drawn = _threshold_per_class(blurred, mask, valid, classes, background)
    for z in range(len(drawn)):
        _fill_holes(drawn[z], background)
        _drop_specks(drawn[z], max(1, int(round(_scaled(SPECK_AREA, drawn.shape[1:], power=2)))))
    return drawn


def _majority(values: np.ndarray) -> int:
    """The most frequent of non-negative integer ``values`` (the lowest on a tie)."""
    return int(np.argmax(np.bincount(values.ravel())))


def _threshold_per_class(
    blurred: np.ndarray, mask: np.ndarray, valid: np.ndarray, classes: np.ndarray, background: int
) -> np.ndarray:
    """Threshold each foreground class inside its clean region grown by :data:`CLASS_MARGIN`.

    Inside the grown region (per slice), multi-Otsu with as many classes as the region holds;
    the class keeps the intensity band where most of its clean pixels fall. Classes are drawn
    in label order on a background volume, so a later class paints over an earlier one.
    """
    margin = max(1, int(round(_scaled(CLASS_MARGIN, mask.shape[1:]))))
    drawn = np.full(mask.shape, background, dtype=mask.dtype)
    for value in classes[classes != background]:
        region = np.stack([_grow(slice_mask == value, margin) for slice_mask in mask]) & valid
        present = len(np.unique(mask[region]))
        bands = np.digitize(blurred, multi_otsu(blurred[region], present))
        band = _majority(bands[(mask == value) & valid])
        drawn[region & (bands == band)] = value
    return drawn


def _fill_holes(labels: np.ndarray, background: int) -> None:
    """Fill the holes of the foreground of an ``(H, W)`` label map in place, each with the nearest foreground label."""
    foreground = labels != background
    holes = ndimage.binary_fill_holes(foreground) & ~foreground
    if holes.any():
        nearest = ndimage.distance_transform_edt(~foreground, return_distances=False, return_indices=True)
        labels[holes] = labels[tuple(nearest)][holes]


def _drop_specks(labels: np.ndarray, min_area: int) -> None:
    """Give the 8-connected pieces of one class under ``min_area`` pixels the nearest other piece's label, in place.

    ``labels`` is ``(H, W)``; nothing changes when every piece is that small.
    """
    small = np.zeros(labels.shape, dtype=bool)
    for value in np.unique(labels):
        pieces, _ = ndimage.label(labels == value, structure=REGION_STRUCTURE)
        small |= (np.bincount(pieces.ravel())[pieces] < min_area) & (pieces > 0)
    if small.any() and not small.all():
        nearest = ndimage.distance_transform_edt(small, return_distances=False, return_indices=True)
        labels[small] = labels[tuple(nearest)][small]


# --- slice annotation --------------------------------------------------------------------------------------


def drawn_slices(count: int, step: int, rng: np.random.Generator) -> np.ndarray:
    """The drawn slices of a ``count``-slice stack: every ``step``-th from a random one of the first ``step``.

    The offset is drawn below ``min(step, count)``, so that at least one slice is drawn.
    """
    offset = int(rng.integers(min(step, count)))
    return np.arange(offset, count, step)


def _slice_annotation(
    mask: np.ndarray, labels: np.ndarray, step: int, interpolate: bool, rng: np.random.Generator
) -> np.ndarray:
    """Sparse annotation of a ``(Z, H, W)`` volume: drawn slices kept, the others propagated or interpolated.

    A slice between two drawn slices copies the nearer one (the earlier on a tie) or, when
    ``interpolate``, takes the shape-based interpolation of the two (:func:`_blend`); a slice
    before the first or after the last drawn slice copies it.
    """
    drawn = drawn_slices(len(mask), step, rng)
    noisy = np.empty_like(mask)
    distances = {} if not interpolate else {z: _signed_distances(mask[z], labels) for z in drawn}
    for z in range(len(mask)):
        after = np.searchsorted(drawn, z)
        if after < len(drawn) and drawn[after] == z:
            noisy[z] = mask[z]
        elif after == 0 or after == len(drawn):
            noisy[z] = mask[drawn[min(after, len(drawn) - 1)]]
        else:
            before_z, after_z = drawn[after - 1], drawn[after]
            if interpolate:
                t = (z - before_z) / (after_z - before_z)
                noisy[z] = labels[np.argmin(_blend(distances[before_z], distances[after_z], t), axis=0)]
            else:
                noisy[z] = mask[before_z if z - before_z <= after_z - z else after_z]
    return noisy


def _signed_distances(mask: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` signed distance of each of the K ``labels`` in an ``(H, W)`` map: < 0 inside, > 0 outside.

    Inside, minus the distance to the nearest pixel of another label or outside the array;
    NaN everywhere for a label absent from the map.
    """
    distances = np.full((len(labels),) + mask.shape, np.nan)
    for index, value in enumerate(labels):
        inside = mask == value
        if inside.any():
            depth = ndimage.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
            distances[index] = (ndimage.distance_transform_edt(~inside) if not inside.all() else 0.0) - depth
    return distances


def _blend(first: np.ndarray, second: np.ndarray, t: float) -> np.ndarray:
    """Signed distances ``(K, H, W)`` a fraction ``0 < t < 1`` of the way from ``first`` to ``second``.

    A label absent from one side (NaN there) takes, on that side, its greatest depth on the
    other side everywhere, so that it shrinks linearly towards its deepest pixel and vanishes
    halfway; a label absent from both is infinitely far.
    """
    def depth(distances: np.ndarray) -> np.ndarray:
        deepest = np.min(np.where(np.isnan(distances), np.inf, distances), axis=(1, 2), keepdims=True)
        return np.where(np.isinf(deepest), np.inf, -deepest)

    first_side = np.where(np.isnan(first), depth(second), first)
    second_side = np.where(np.isnan(second), depth(first), second)
    return (1.0 - t) * first_side + t * second_side


# --- misregistration ---------------------------------------------------------------------------------------


def misregistration(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A random smooth transform of an ``(H, W)`` image: where each output pixel reads its label.

    A rotation of up to ``strength`` degrees and a scale change of up to ``strength`` % about
    the image centre, a shift of up to ``strength`` px along each axis, and a displacement
    field of up to :data:`MISREGISTRATION_FIELD_SHARE` * ``strength`` px along each axis,
    cubic between :data:`FIELD_GRID` x :data:`FIELD_GRID` random control values (pixel
    sizes for a :data:`REFERENCE_SIDE` image, scaled to ``shape``).

    Returns
    -------
    numpy.ndarray
        ``(2, H, W)`` float source coordinates (row, column) of every pixel.
    """
    pixels = _scaled(strength, shape)
    angle = np.deg2rad(rng.uniform(-strength, strength))
    zoom = 1.0 + rng.uniform(-strength, strength) / 100.0
    shift = rng.uniform(-pixels, pixels, size=2)
    amplitude = MISREGISTRATION_FIELD_SHARE * pixels
    control = rng.uniform(-amplitude, amplitude, size=(2, FIELD_GRID, FIELD_GRID))
    zoom_factors = (shape[0] / FIELD_GRID, shape[1] / FIELD_GRID)
    # cubic splines overshoot their control values a little: clipped to keep the bound
    field = np.clip([ndimage.zoom(grid, zoom_factors, order=3, mode="nearest", grid_mode=True) for grid in control],
                    -amplitude, amplitude)
    centre = (np.array(shape, dtype=float) - 1.0) / 2.0
    linear = zoom * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    offsets = np.indices(shape, dtype=float) - centre[:, None, None]
    return np.einsum("ij,jhw->ihw", linear, offsets) + (centre + shift)[:, None, None] + field


def _misregistered(mask: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A ``(Z, H, W)`` volume's labels warped by one :func:`misregistration` (nearest neighbour, edges extended)."""
    coordinates = misregistration(mask.shape[1:], strength, rng)
    return np.stack([ndimage.map_coordinates(slice_mask, coordinates, order=0, mode="nearest") for slice_mask in mask])


# --- pseudo-labels -----------------------------------------------------------------------------------------


def _predicted(
    predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, shape: tuple[int, ...], labels: np.ndarray,
    dtype: np.dtype,
) -> np.ndarray:
    """``predict(image)`` as ``(H, W)`` labels of ``dtype``, or :class:`JCASInputError` unless among ``labels``."""
    predicted = np.asarray(predict(image))
    if predicted.shape != shape or not np.issubdtype(predicted.dtype, np.integer):
        raise JCASInputError(
            f"predict(image) must return {shape} integer labels, got {predicted.dtype} {predicted.shape}."
        )
    unknown = np.setdiff1d(np.unique(predicted), labels)
    if len(unknown):
        raise JCASInputError(
            f"predict(image) returned labels {unknown.tolist()} that the mask lacks ({labels.tolist()}); "
            "map the model's classes to the mask's label values."
        )
    return predicted.astype(dtype)
