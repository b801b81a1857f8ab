"""Candidate corrections: connected regions where the corrected mask differs from the drawn one."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from scipy import ndimage

from ..data.labels import STRUCTURE, typical_areas
from ..settings import MIN_AREA_FRACTION, MIN_AREA_LOWEST



@dataclass(frozen=True)
class Region:
    """One candidate correction.

    Attributes
    ----------
    index : int
        Id of the region in :attr:`Correction.region_map` (1-based).
    slice : int
        Slice along the first axis (0 for a 2D image).
    bbox : tuple of int
        ``(y0, x0, y1, x1)`` half-open box within the slice.
    area : int
        Pixels.
    old_label, new_label : int
        Drawn and proposed label values.
    score : float
        Mean disagreement over the region, in [0, 1]; higher = more likely a real error.
    confidence : float
        Mean probability of the proposed label over the region, in [0, 1] (NaN when not given).
    support : float or None
        Share of the region's pixels where the check models (the fold models that trained on the slice)
        propose the same label themselves, averaged over them, in [0, 1]; None when there are none
        (:attr:`jcas.correction.prediction.SliceMaps.support`).
    """

    index: int
    slice: int
    bbox: tuple[int, int, int, int]
    area: int
    old_label: int
    new_label: int
    score: float
    confidence: float = float("nan")
    support: float | None = None

    @property
    def expected_pixels_fixed(self) -> float:
        """``area x score``: the sum over the region of ``1 - p(drawn label)``.

        How many of the region's drawn pixels the model expects to be wrong, so how many
        accepting the proposal is expected to fix.
        """
        return self.area * self.score

    def to_row(self) -> dict:
        """A flat dictionary for CSV files."""
        row = asdict(self)
        row["y0"], row["x0"], row["y1"], row["x1"] = row.pop("bbox")
        return row


REGION_FIELDS = ("index", "slice", "y0", "x0", "y1", "x1", "area", "old_label", "new_label", "score", "confidence",
                 "support")


def relative_floors(drawn: np.ndarray, object_areas: Mapping[int, float] | None = None,
                    fraction: float = MIN_AREA_FRACTION, lowest: int = MIN_AREA_LOWEST) -> dict[int, int]:
    """Area floors relative to the objects: ``fraction`` of each label value's typical object, at least
    ``lowest`` pixels. For :func:`find_regions`.

    Parameters
    ----------
    drawn : numpy.ndarray
        ``(H, W)`` label values of the slice the floors are for.
    object_areas : mapping of int to float, optional
        The typical object of each label value over the masks a model trained on
        (:func:`jcas.data.labels.typical_areas`, kept in the model); values it lacks are measured on ``drawn`` alone.
    fraction : float
    lowest : int

    Returns
    -------
    dict of int to int
        ``{label value: pixels}`` for every value of ``drawn``.
    """
    sizes = object_sizes(drawn, object_areas)
    return {value: max(lowest, int(round(fraction * area))) for value, area in sizes.items()}


def object_sizes(drawn: np.ndarray, object_areas: Mapping[int, float] | None = None) -> dict[int, float]:
    """The typical object of every label value of one slice: from ``object_areas`` (the model's training masks),
    else measured on the slice alone (:func:`jcas.data.labels.typical_areas`).

    Parameters
    ----------
    drawn : numpy.ndarray
        ``(H, W)`` label values.
    object_areas : mapping of int to float, optional

    Returns
    -------
    dict of int to float
        ``{label value: pixels}`` for every value of ``drawn``.
    """
    known = dict(object_areas or {})
    present = np.unique(drawn).tolist()
    here = typical_areas([drawn]) if set(present) - set(known) else {}
    return {int(value): float(known.get(value, here.get(value))) for value in present}


def find_regions(
    drawn: np.ndarray, proposed: np.ndarray, score_map: np.ndarray, slice_index: int, first_index: int,
    min_area: int | Mapping[int, int] = 1, min_score: float = 0.0, confidence_map: np.ndarray | None = None,
    min_confidence: float = 0.0, support_map: np.ndarray | None = None,
) -> tuple[np.ndarray, list[Region]]:
    """Label the connected regions of one slice where ``proposed`` differs from ``drawn``.

    A region has one old and one new label; 8-connected. Regions smaller than their area floor,
    with a mean score below ``min_score`` or a mean confidence below ``min_confidence`` are left
    out (and get no id).

    Parameters
    ----------
    drawn, proposed : numpy.ndarray
        ``(H, W)`` label values.
    min_area : int or mapping of int to int
        The area floor in pixels, or a floor per label value (:func:`relative_floors`): a region
        from label a to label b then needs the smaller of the two floors (of a alone where the
        slice holds no b), so that a region is judged against the smaller of the objects it touches.
    score_map : numpy.ndarray
        ``(H, W)`` float disagreement; a region's score is its mean.
    confidence_map : numpy.ndarray, optional
        ``(H, W)`` float probability of the proposed label; a region's confidence is its mean.
    support_map : numpy.ndarray, optional
        ``(H, W)`` float share of the check models that propose the same label; a region's support is its mean.
    slice_index : int
        Stored in each region.
    first_index : int
        Id of the first region found.

    Returns
    -------
    region_map : numpy.ndarray
        ``(H, W)`` int32, 0 outside regions, else the region's id.
    regions : list of Region
        In id order.
    """
    region_map = np.zeros(drawn.shape, dtype=np.int32)
    regions: list[Region] = []
    changed = drawn != proposed
    if not changed.any():
        return region_map, regions
    where = np.flatnonzero(changed)  # the sums below run over the changed pixels only
    scores_at = score_map.ravel()[where]
    confidences_at = None if confidence_map is None else confidence_map.ravel()[where]
    supports_at = None if support_map is None else support_map.ravel()[where]
    for old, new in label_pairs(drawn.ravel()[where], proposed.ravel()[where]):
        floor = min_area if isinstance(min_area, (int, np.integer)) else min(
            min_area[value] for value in (old, new) if value in min_area)
        components, count = ndimage.label(changed & (drawn == old) & (proposed == new), structure=STRUCTURE)
        boxes = ndimage.find_objects(components)
        at = components.ravel()[where]
        areas = np.bincount(at, minlength=count + 1)
        sums = np.bincount(at, weights=scores_at, minlength=count + 1)
        confidences = (np.full(count + 1, np.nan) if confidences_at is None else
                       np.bincount(at, weights=confidences_at, minlength=count + 1) / np.maximum(areas, 1))
        supports = (None if supports_at is None else
                    np.bincount(at, weights=supports_at, minlength=count + 1) / np.maximum(areas, 1))
        for label in range(1, count + 1):
            score, confidence = float(sums[label] / areas[label]), float(confidences[label])
            if areas[label] < floor or score < min_score or confidence < min_confidence:
                continue
            index = first_index + len(regions)
            box = boxes[label - 1]
            inside = components[box] == label
            region_map[box][inside] = index
            regions.append(Region(index, slice_index, (box[0].start, box[1].start, box[0].stop, box[1].stop),
                                  int(areas[label]), int(old), int(new), score, confidence,
                                  _support(supports, label)))
    return region_map, regions


def _support(supports: np.ndarray | None, label: int) -> float | None:
    """A region's mean support, None where the slice has no check model (no map, or NaN there)."""
    if supports is None or not np.isfinite(supports[label]):
        return None
    return float(supports[label])


def label_pairs(old: np.ndarray, new: np.ndarray) -> list[tuple[int, int]]:
    """The distinct ``(old, new)`` label pairs of two label arrays ``(N,)``, sorted by old then new label.

    One integer code per pair, counted with ``bincount`` when the labels are small (a sort of
    ``np.unique(..., axis=1)`` took most of the region finding's time on a 2048 x 2048 slice).
    Float labels (a float mask of whole numbers, which training accepts) count as their integers.
    """
    if not old.size:
        return []
    old, new = old.astype(np.int64), new.astype(np.int64)
    values = int(max(old.max(), new.max())) + 1
    code = old * values + new
    present = np.flatnonzero(np.bincount(code)) if values <= 2048 else np.unique(code)
    return [(int(c // values), int(c % values)) for c in present]


def rank(regions: list[Region]) -> list[Region]:
    """Order candidates for review: most expected pixels fixed first (:attr:`Region.expected_pixels_fixed`).

    A review costs the annotator about the same per region, whatever its size, while what it
    gains is the pixels it fixes. Ranking by the mean score alone puts many small, confident
    regions first and a large error, whose mean is diluted by its right-looking interior, far
    down the queue; ``area x score`` weighs both and is easy to explain: the region's expected
    number of wrong drawn pixels. Ties keep id order (slice, then the order they were found in),
    so the queue is the same on every run.

    Parameters
    ----------
    regions : list of Region

    Returns
    -------
    list of Region
        The same regions, ranked.
    """
    return sorted(regions, key=lambda r: (-r.expected_pixels_fixed, r.index))
