"""Choosing the candidate regions from a correction's maps: no network runs, so new floors apply in a moment."""
from __future__ import annotations

import numpy as np

from ..arguments import check_thresholds
from ..settings import MIN_AREA, MIN_CONFIDENCE, MIN_SCORE
from .guard import Withheld, withhold
from .regions import Region, find_regions, rank, relative_floors
from .results import Correction, CorrectionMaps, SliceSelection


def select_regions(maps: CorrectionMaps, *, min_area: int | None = MIN_AREA, min_score: float = MIN_SCORE,
                   min_confidence: float = MIN_CONFIDENCE) -> Correction:
    """Choose the candidate regions from the model's maps; no network runs (a moment even for a stack).

    Per slice: :func:`~jcas.correction.regions.find_regions` with ``min_area``, ``min_score`` and
    ``min_confidence`` (as in :func:`jcas.correction.stream.iter_correct`), then the guard's
    :func:`~jcas.correction.guard.withhold`; the kept regions are ranked
    (:func:`~jcas.correction.regions.rank`).

    Parameters
    ----------
    maps : CorrectionMaps
        ``Correction.maps`` of an earlier correction.
    min_area : int
    min_score : float
    min_confidence : float

    Returns
    -------
    Correction
        With the same ``maps``; the same thresholds give the same regions and ids.

    Raises
    ------
    JCASInputError
        Thresholds out of range.
    """
    check_thresholds(min_area, min_score, min_confidence)
    drawn = maps.drawn
    corrected = drawn.copy()
    region_map = np.zeros(drawn.shape, dtype=np.int32)
    regions: list[Region] = []
    withheld: list[Withheld] = []
    notes = guard_notes(maps.untrusted, maps.num_classes)
    views = (lambda a, z: a) if drawn.ndim == 2 else (lambda a, z: a[z])
    for z, slice_reason in enumerate(maps.slice_reasons):
        chosen = select_slice(views(drawn, z), views(maps.proposed, z), views(maps.class_disagreement, z),
                              views(maps.confidence, z), z, len(regions) + len(withheld) + 1,
                              (min_area, min_score, min_confidence), maps.untrusted if maps.guard else None,
                              slice_reason, maps.object_areas, None if maps.support is None else views(maps.support, z))
        views(corrected, z)[...] = chosen.corrected
        views(region_map, z)[...] = chosen.region_map
        regions.extend(chosen.regions)
        withheld.extend(chosen.withheld)
        notes.extend(chosen.notes)
    return Correction(corrected, maps.class_disagreement, maps.affinity_disagreement, region_map, rank(regions),
                      withheld, notes, list(maps.judges), maps, maps.boundary)


def guard_notes(untrusted: dict[int, str], num_classes: int) -> list[str]:
    """The run's notes on the classes the guard withholds (:func:`jcas.correction.guard.untrusted_classes`)."""
    notes = [f"{reason}; its regions keep the drawn labels." for reason in untrusted.values()]
    if untrusted and len(untrusted) == num_classes:
        notes.insert(0, "no class can be trusted: nothing is proposed for this run.")
    return notes


def select_slice(drawn: np.ndarray, proposed: np.ndarray, class_disagreement: np.ndarray, confidence: np.ndarray,
                 z: int, first_id: int, floors: tuple[int, float, float], untrusted: dict[int, str] | None,
                 slice_reason: str | None, object_areas: dict[int, float] | None = None,
                 support: np.ndarray | None = None) -> SliceSelection:
    """Candidate regions of one slice (:func:`~jcas.correction.regions.find_regions`), then the guard's
    :func:`~jcas.correction.guard.withhold` unless ``untrusted`` is ``None`` (no guard).

    Parameters
    ----------
    drawn, proposed : numpy.ndarray
        ``(H, W)`` label values: the drawn slice and the model's label at every pixel.
    class_disagreement, confidence : numpy.ndarray
        ``(H, W)`` float32 (see :class:`CorrectionMaps`).
    z, first_id : int
        The slice's index, and the id of its first region.
    floors : (int or None, float, float)
        ``min_area`` (None: relative to the objects, :func:`~jcas.correction.regions.relative_floors`),
        ``min_score``, ``min_confidence``.
    untrusted : dict of int to str, optional
    slice_reason : str or None
    object_areas : dict of int to float, optional
        The typical objects the relative floor is a fraction of (:attr:`CorrectionMaps.object_areas`).
    support : numpy.ndarray, optional
        ``(H, W)`` float32 (see :class:`CorrectionMaps`); each region's mean is its support, which the guard checks.
    """
    min_area, min_score, min_confidence = floors
    area_floors = relative_floors(drawn, object_areas) if min_area is None else min_area
    found_map, found = find_regions(drawn, proposed, class_disagreement, z, first_id, area_floors, min_score,
                                    confidence, min_confidence, support)
    held, notes = [], []
    if untrusted is not None:
        found, held = withhold(found, classes=untrusted, slice_reason=slice_reason)
        if slice_reason and held:
            notes.append(f"slice {z}: {slice_reason}; its {len(held)} candidate regions keep the drawn labels.")
        found_map = np.where(np.isin(found_map, [w.region.index for w in held]), 0, found_map)
    return SliceSelection(np.where(found_map > 0, proposed, drawn), found_map, found, held, notes)
