"""Correcting an image or a stack slice by slice.

:func:`stream_correct` makes each slice's correction and yields it at once, holding one slice's maps
only (a volume read from disk is never whole in memory). :func:`iter_correct` and :func:`correct`
collate the same slices into one :class:`~jcas.correction.results.Correction` of an image or stack in
memory, so the command line, the plugin and the Python entry share one assembly.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..arguments import check_setting, check_thresholds
from ..data.pairs import as_slices, channels_of, check_correct_arguments, check_pair
from ..evaluation.mask_quality import tally_quality
from ..nn.checkpoint import check_channels
from ..nn.crossfit import CrossFittedModel, as_cross_fitted
from ..nn.model import JCASModel
from ..nn.tiles import TILE
from ..settings import MIN_AREA, MIN_CONFIDENCE, MIN_SCORE, MIRROR
from .boundary import boundary_view
from .guard import untrusted_classes
from .prediction import predict_slice, proposed_labels
from .regions import rank
from .results import Correction, CorrectionMaps, SliceCorrection
from .selection import guard_notes, select_slice


def correct(model: JCASModel | CrossFittedModel, image: np.ndarray, mask: np.ndarray, **options) -> Correction:
    """Correct ``mask`` for ``image``; see :func:`iter_correct` for the arguments."""
    generator = iter_correct(model, image, mask, **options)
    while True:
        try:
            next(generator)
        except StopIteration as done:
            return done.value


def iter_correct(
    model: JCASModel | CrossFittedModel,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    min_area: int | None = MIN_AREA,
    min_score: float = MIN_SCORE,
    min_confidence: float = MIN_CONFIDENCE,
    tile: int = TILE,
    mirror: bool = MIRROR,
    guard: bool = True,
) -> Iterator[tuple[int, int]]:
    """Correct slice by slice, yielding ``(slices done, slices in all)``; returns a
    :class:`~jcas.correction.results.Correction`.

    Slices the model was trained on are judged by the fold model that did not see them
    (:mod:`jcas.nn.crossfit`); other slices by all fold models together.

    Parameters
    ----------
    model : CrossFittedModel or JCASModel
        A JCASModel alone is used as an in-sample model.
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, C)``, ``(Z, H, W)`` or ``(Z, H, W, C)``.
    mask : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)``, the drawn labels in the values the model knows.
    min_area : int or None
        Candidate regions smaller than this many pixels keep the drawn labels (1 = none is too small);
        None: a floor relative to the objects (:func:`~jcas.correction.regions.relative_floors`).
    min_score : float
        Candidate regions whose mean disagreement is below this keep the drawn labels
        (0 with ``min_area=1`` and ``min_confidence=0`` = replace every pixel where the model's
        argmax differs).
    min_confidence : float
        Candidate regions whose mean probability of the proposed label is below this keep the
        drawn labels.
    tile : int
        Side of the tiles a large slice is cut into.
    mirror : bool
        Average the class probabilities over the image and its three mirror images
        (four forward passes per tile instead of one).
    guard : bool
        Withhold proposals the model cannot be trusted with (:mod:`jcas.correction.guard`); off only
        for comparisons.

    Raises
    ------
    JCASInputError
        At the call, before anything runs: a bad pair, other channels or label values than
        the model knows, or thresholds out of range.
    """
    check_thresholds(min_area, min_score, min_confidence)
    check_setting("tile", tile)
    image, mask = check_correct_arguments(model, image, mask)
    model = as_cross_fitted(model)
    check_pair(image, mask)
    check_channels(model, channels_of(image, mask))
    model.label_map.encode(mask)  # unknown label values fail here, not halfway through
    model.label_map.check_dtype(mask.dtype)
    slices = as_slices(image, mask)
    streamed = stream_correct(model, lambda z: slices[z][0], lambda z: slices[z][1], len(slices),
                              min_area=min_area, min_score=min_score, min_confidence=min_confidence, tile=tile,
                              mirror=mirror, guard=guard, assess=False)
    return _collate(model, mask, streamed, guard)


def _collate(model: CrossFittedModel, mask: np.ndarray, streamed: Iterator[SliceCorrection],
             guard: bool) -> Iterator[tuple[int, int]]:
    """Put the streamed slices of ``mask`` ``(H, W)`` or ``(Z, H, W)`` together, yielding progress; returns the
    :class:`~jcas.correction.results.Correction` that :func:`~jcas.correction.selection.select_regions` makes
    from its maps with the same floors."""
    label_map = model.label_map
    proposed, corrected = mask.copy(), mask.copy()
    region_map = np.zeros(mask.shape, dtype=np.int32)
    class_map, affinity_map, confidence_map, boundary_map = (np.zeros(mask.shape, dtype=np.float32)
                                                             for _ in range(4))
    support_map = None
    regions, withheld, notes, slice_reasons, judges = [], [], [], [], []
    views = (lambda a, z: a) if mask.ndim == 2 else (lambda a, z: a[z])
    slices = 1 if mask.ndim == 2 else mask.shape[0]
    for part in streamed:
        for whole, piece in ((proposed, part.proposed), (corrected, part.selection.corrected),
                             (region_map, part.selection.region_map), (class_map, part.class_disagreement),
                             (affinity_map, part.affinity_disagreement), (confidence_map, part.confidence),
                             (boundary_map, part.boundary)):
            views(whole, part.z)[...] = piece
        if part.support is not None:
            support_map = np.full(mask.shape, np.nan, dtype=np.float32) if support_map is None else support_map
            views(support_map, part.z)[...] = part.support
        regions += part.selection.regions
        withheld += part.selection.withheld
        notes += part.selection.notes
        slice_reasons.append(part.slice_reason)
        judges.append(part.judge)
        yield part.z + 1, slices
    untrusted = untrusted_classes(model) if guard else {}
    maps = CorrectionMaps(mask.copy(), proposed, class_map, affinity_map, confidence_map, untrusted, slice_reasons,
                          judges, label_map.num_classes, guard, boundary_map, label_map.ignore_value,
                          model.object_areas, support_map)
    return Correction(corrected, class_map, affinity_map, region_map, rank(regions), withheld,
                      guard_notes(untrusted, label_map.num_classes) + notes, list(judges), maps, boundary_map)


def stream_correct(model: JCASModel | CrossFittedModel, image: Callable[[int], np.ndarray],
                   mask: Callable[[int], np.ndarray], slices: int, *, name: str = "", min_area: int | None = MIN_AREA,
                   min_score: float = MIN_SCORE, min_confidence: float = MIN_CONFIDENCE, tile: int = TILE,
                   mirror: bool = MIRROR, guard: bool = True, assess: bool = True) -> Iterator[SliceCorrection]:
    """Correct a stack one slice at a time, holding one slice's maps only (volumes read from disk).

    The same regions, ids, heatmaps and corrected labels as :func:`correct` (whose ranking of the
    regions the caller makes with :func:`~jcas.correction.regions.rank`, and whose run notes are
    :func:`~jcas.correction.selection.guard_notes`); no map of the whole stack is kept, so the caller
    writes each slice away.

    Parameters
    ----------
    model : CrossFittedModel or JCASModel
    image, mask : callable
        Return slice ``z`` of the image, ``(H, W)`` or ``(H, W, C)``, and of the drawn mask, ``(H, W)``
        (e.g. :class:`jcas.training.dataset.Volume`'s readers).
    slices : int
    name : str
        The pair, for the messages of the checks every slice goes through.
    min_area, min_score, min_confidence, tile, mirror, guard
        As for :func:`iter_correct`.
    assess : bool
        Also make each slice's boundary view and the estimated quality of its drawn and corrected labels
        (:class:`~jcas.correction.results.SliceCorrection`'s ``boundaries``, ``drawn_quality`` and
        ``corrected_quality``), for writing them away; the collation in memory does without them.

    Raises
    ------
    JCASInputError
        Thresholds out of range at the call; a slice that is not a valid pair, or holds label values
        the model does not know, when it is reached.
    """
    check_thresholds(min_area, min_score, min_confidence)
    check_setting("tile", tile)
    model = as_cross_fitted(model)
    untrusted = untrusted_classes(model) if guard else None
    first_id = 1
    for z in range(slices):
        image_slice, mask_slice = image(z), mask(z)
        check_pair(image_slice, mask_slice, name=f"{name}, slice {z + 1} of {slices}" if slices > 1 else name)
        labels = model.label_map.encode(mask_slice)
        maps = predict_slice(model, image_slice, labels, tile=tile, mirror=mirror)
        proposed = proposed_labels(model.label_map, maps, mask_slice)
        confidence = maps.probability.max(axis=0)  # the proposed label's probability
        selection = select_slice(mask_slice, proposed, maps.class_disagreement, confidence, z, first_id,
                                 (min_area, min_score, min_confidence), untrusted, maps.slice_reason,
                                 model.object_areas, maps.support)
        first_id += len(selection.regions) + len(selection.withheld)
        part = SliceCorrection(z, selection, maps.class_disagreement, maps.affinity_disagreement, maps.judge,
                               proposed, confidence, maps.slice_reason, maps.boundary, maps.support)
        if assess:
            part.boundaries = boundary_view(maps.boundary, mask_slice, ignore_value=model.label_map.ignore_value)
            part.drawn_quality = tally_quality(maps.probability, labels)
            part.corrected_quality = tally_quality(maps.probability, model.label_map.encode(selection.corrected))
        yield part
