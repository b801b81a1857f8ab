"""Correction: corrected masks, disagreement heatmaps and ranked candidate regions.

Images are processed slice by slice and, within a slice, in overlapping tiles, so memory
stays bounded for large images (a 4096 x 4096 slice needs a few hundred MB). The network
pass yields :class:`CorrectionMaps`; choosing the candidate regions from them
(:func:`select_regions`) needs no network, so new thresholds are applied in a moment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple

import numpy as np
import torch

from ..arguments import check_setting, check_thresholds
from ..data.pairs import as_slices, channels_of, check_correct_arguments, check_pair, normalise
from ..evaluation.mask_quality import QualityTally, tally_quality
from ..nn.affinity import global_affinity_disagreement, global_affinity_statistics, local_affinity_disagreement
from ..nn.calibration import tempered
from ..nn.checkpoint import check_channels
from ..nn.crossfit import CrossFittedModel, as_cross_fitted, strip_folds
from ..nn.integrity import check_finite_output
from ..nn.model import JCASModel
from ..nn.tiles import TILE, inner_crop, mirrored_probabilities, tiles
from ..settings import MIN_AREA, MIN_CONFIDENCE, MIN_SCORE, MIRROR
from .boundary import affinity_boundary, boundary_view
from .guard import Withheld, untrusted_classes, untrusted_slice, withhold
from .regions import Region, find_regions, rank, relative_floors



@dataclass
class Correction:
    """What the model proposes for one image or stack.

    Attributes
    ----------
    corrected : numpy.ndarray
        The mask's shape and dtype, in its label values: the drawn mask with the selected
        regions replaced by the model's labels.
    class_disagreement : numpy.ndarray
        float32 in [0, 1], mask's shape: ``1 - p(drawn label)``.
    affinity_disagreement : numpy.ndarray
        float32 in [0, 1], mask's shape: how much each pixel's learned affinities contradict
        those implied by the drawn mask.
    region_map : numpy.ndarray
        int32, mask's shape: 0 outside candidates, else the id of a :class:`Region`.
    regions : list of Region
        Candidates, ranked by expected pixels fixed (:func:`jcas.correction.regions.rank`).
    withheld : list of Withheld
        Candidates the do-no-harm guard kept out (:mod:`jcas.correction.guard`), with the reasons; their
        pixels keep the drawn labels and their ids are not in ``region_map``.
    notes : list of str
        What the guard withheld and why, one line per class or slice, for people.
    judges : list of str
        Per slice: which model judged it ("fold k", "strips", "ensemble", "in-sample", "unseen").
    maps : CorrectionMaps or None
        The maps the regions were selected from: :func:`select_regions` re-selects from them.
    boundary : numpy.ndarray or None
        float32 in [0, 1], mask's shape: the model's boundary probability, the largest ``1 - A_ij``
        over each pixel's 4 nearest neighbours (:mod:`jcas.correction.boundary`, whose
        :func:`~jcas.correction.boundary.boundary_view` compares it with the drawn mask).
    """

    corrected: np.ndarray
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    region_map: np.ndarray
    regions: list[Region] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)
    maps: CorrectionMaps | None = None
    boundary: np.ndarray | None = None


@dataclass
class CorrectionMaps:
    """The model's per-pixel verdict on a mask, before candidate regions are selected from it.

    Attributes
    ----------
    drawn : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)``: the mask as drawn.
    proposed : numpy.ndarray
        The mask's shape and dtype: the model's label at every pixel (ignored pixels keep theirs).
    class_disagreement, affinity_disagreement : numpy.ndarray
        float32 in [0, 1], the mask's shape (see :class:`Correction`).
    confidence : numpy.ndarray
        float32 in [0, 1], the mask's shape: the model's probability of its proposed label.
    untrusted : dict of int to str
        Label values the guard withholds, with the reason (:func:`jcas.correction.guard.untrusted_classes`);
        empty without the guard.
    slice_reasons : list of str or None
        Per slice: why the guard withholds all its regions (:func:`jcas.correction.guard.untrusted_slice`), else None.
    judges : list of str
        Per slice: which model judged it.
    num_classes : int
        Classes the model knows.
    guard : bool
        Whether the do-no-harm guard applies.
    boundary : numpy.ndarray or None
        float32 in [0, 1], the mask's shape: the model's boundary probability (see :class:`Correction`).
    ignore_value : int or None
        The drawn value of unlabelled pixels (:attr:`jcas.data.labels.LabelMap.ignore_value`).
    object_areas : dict of int to float
        The typical object of each label value in the model's training masks (the relative area floor;
        :attr:`jcas.nn.crossfit.CrossFittedModel.object_areas`); values it lacks are measured per slice.
    """

    drawn: np.ndarray
    proposed: np.ndarray
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    confidence: np.ndarray
    untrusted: dict[int, str]
    slice_reasons: list[str | None]
    judges: list[str]
    num_classes: int
    guard: bool = True
    boundary: np.ndarray | None = None
    ignore_value: int | None = None
    object_areas: dict[int, float] = field(default_factory=dict)


@dataclass
class SliceMaps:
    """Per-pixel outputs of one 2D slice.

    Attributes
    ----------
    proposed : numpy.ndarray
        ``(H, W)`` int64 proposed class indices.
    class_disagreement, affinity_disagreement : numpy.ndarray
        ``(H, W)`` float32 heatmaps in [0, 1].
    probability : numpy.ndarray
        ``(K, H, W)`` float32 class probabilities of the judging model(s).
    judge : str
        Which model judged the slice: "fold k", "strips", "ensemble" (a stopped run), "in-sample" or "unseen".
    slice_reason : str or None
        Why the guard withholds every region of this slice (:func:`jcas.correction.guard.untrusted_slice`), else None.
    boundary : numpy.ndarray or None
        ``(H, W)`` float32 in [0, 1]: the judging model(s)' boundary probability
        (:func:`jcas.correction.boundary.affinity_boundary`).
    """

    proposed: np.ndarray
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    probability: np.ndarray
    judge: str = "in-sample"
    slice_reason: str | None = None
    boundary: np.ndarray | None = None


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
    """Correct slice by slice, yielding ``(slices done, slices in all)``; returns a :class:`Correction`.

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
        None: a floor relative to the objects of each slice (:func:`~jcas.correction.regions.relative_floors`).
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
    return _correct_slices(model, image, mask, (min_area, min_score, min_confidence), tile, mirror, guard)


def _correct_slices(model, image, mask, floors, tile, mirror, guard) -> Iterator[tuple[int, int]]:
    label_map = model.label_map
    slices = as_slices(image, mask)
    proposed = mask.copy()
    class_map = np.zeros(mask.shape, dtype=np.float32)
    affinity_map = np.zeros(mask.shape, dtype=np.float32)
    confidence_map = np.zeros(mask.shape, dtype=np.float32)
    boundary_map = np.zeros(mask.shape, dtype=np.float32)
    slice_reasons, judges = [], []
    views = (lambda a, z: a) if mask.ndim == 2 else (lambda a, z: a[z])
    for z, (image_slice, mask_slice) in enumerate(slices):
        maps = predict_slice(model, image_slice, label_map.encode(mask_slice), tile=tile, mirror=mirror)
        judges.append(maps.judge)
        slice_reasons.append(maps.slice_reason)
        views(proposed, z)[...] = proposed_labels(label_map, maps, mask_slice)
        views(class_map, z)[...] = maps.class_disagreement
        views(affinity_map, z)[...] = maps.affinity_disagreement
        views(boundary_map, z)[...] = maps.boundary
        views(confidence_map, z)[...] = maps.probability.max(axis=0)  # the proposed label's probability
        yield z + 1, len(slices)
    untrusted = untrusted_classes(model) if guard else {}
    maps = CorrectionMaps(mask.copy(), proposed, class_map, affinity_map, confidence_map, untrusted,
                          slice_reasons, judges, label_map.num_classes, guard, boundary_map,
                          label_map.ignore_value, model.object_areas)
    min_area, min_score, min_confidence = floors
    return select_regions(maps, min_area=min_area, min_score=min_score, min_confidence=min_confidence)


def select_regions(maps: CorrectionMaps, *, min_area: int | None = MIN_AREA, min_score: float = MIN_SCORE,
                   min_confidence: float = MIN_CONFIDENCE) -> Correction:
    """Choose the candidate regions from the model's maps; no network runs (a moment even for a stack).

    Per slice: :func:`~jcas.correction.regions.find_regions` with ``min_area``, ``min_score`` and
    ``min_confidence`` (as in :func:`iter_correct`), then the guard's
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
                              slice_reason, maps.object_areas)
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


@dataclass
class SliceSelection:
    """The regions chosen in one 2D slice, and the slice they make.

    Attributes
    ----------
    corrected : numpy.ndarray
        ``(H, W)``, the mask's dtype: the drawn slice with the kept regions replaced.
    region_map : numpy.ndarray
        ``(H, W)`` int32: 0 outside the kept regions, else a region's id.
    regions, withheld : list
        The kept :class:`~jcas.correction.regions.Region` s (unranked) and the guard's :class:`Withheld` ones.
    notes : list of str
        Why the slice's candidates were withheld, when the guard withheld a whole in-sample slice.
    """

    corrected: np.ndarray
    region_map: np.ndarray
    regions: list[Region]
    withheld: list[Withheld]
    notes: list[str]


def select_slice(drawn: np.ndarray, proposed: np.ndarray, class_disagreement: np.ndarray, confidence: np.ndarray,
                 z: int, first_id: int, floors: tuple[int, float, float], untrusted: dict[int, str] | None,
                 slice_reason: str | None, object_areas: dict[int, float] | None = None) -> SliceSelection:
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
    """
    min_area, min_score, min_confidence = floors
    area_floors = relative_floors(drawn, object_areas) if min_area is None else min_area
    found_map, found = find_regions(drawn, proposed, class_disagreement, z, first_id, area_floors, min_score,
                                    confidence, min_confidence)
    held, notes = [], []
    if untrusted is not None:
        found, held = withhold(found, classes=untrusted, slice_reason=slice_reason)
        if slice_reason and held:
            notes.append(f"slice {z}: {slice_reason}; its {len(held)} candidate regions keep the drawn labels.")
        found_map = np.where(np.isin(found_map, [w.region.index for w in held]), 0, found_map)
    return SliceSelection(np.where(found_map > 0, proposed, drawn), found_map, found, held, notes)


@dataclass
class SliceCorrection:
    """One slice of a correction streamed by :func:`stream_correct`.

    Attributes
    ----------
    z : int
    selection : SliceSelection
        The corrected slice and its regions.
    class_disagreement, affinity_disagreement : numpy.ndarray
        ``(H, W)`` float32 heatmaps.
    judge : str
        Which model judged the slice.
    boundary : numpy.ndarray or None
        ``(H, W)`` float32: the model's boundary probability (:mod:`jcas.correction.boundary`).
    boundaries : numpy.ndarray or None
        ``(H, W)`` uint8: the boundary view of the drawn slice
        (:func:`jcas.correction.boundary.boundary_view`: 1 a boundary the model sees and the mask
        lacks, 2 a drawn boundary the model does not see).
    drawn_quality, corrected_quality : QualityTally or None
        The sums of the estimated quality (:mod:`jcas.evaluation.mask_quality`) of the drawn slice and of
        the corrected one, judged by the same model(s).
    """

    z: int
    selection: SliceSelection
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    judge: str
    boundary: np.ndarray | None = None
    boundaries: np.ndarray | None = None
    drawn_quality: QualityTally | None = None
    corrected_quality: QualityTally | None = None


def stream_correct(model: JCASModel | CrossFittedModel, image: Callable[[int], np.ndarray],
                   mask: Callable[[int], np.ndarray], slices: int, *, name: str = "", min_area: int | None = MIN_AREA,
                   min_score: float = MIN_SCORE, min_confidence: float = MIN_CONFIDENCE, tile: int = TILE,
                   mirror: bool = MIRROR, guard: bool = True) -> Iterator[SliceCorrection]:
    """Correct a stack one slice at a time, holding one slice's maps only (volumes read from disk).

    The same regions, ids, heatmaps and corrected labels as :func:`correct` (whose ranking of the
    regions the caller makes with :func:`~jcas.correction.regions.rank`, and whose run notes are
    :func:`guard_notes`); no map of the whole stack is kept, so the caller writes each slice away.

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
        selection = select_slice(mask_slice, proposed, maps.class_disagreement, maps.probability.max(axis=0), z,
                                 first_id, (min_area, min_score, min_confidence), untrusted, maps.slice_reason,
                                 model.object_areas)
        first_id += len(selection.regions) + len(selection.withheld)
        yield SliceCorrection(z, selection, maps.class_disagreement, maps.affinity_disagreement, maps.judge,
                              maps.boundary, boundary_view(maps.boundary, mask_slice,
                                                           ignore_value=model.label_map.ignore_value),
                              tally_quality(maps.probability, labels),
                              tally_quality(maps.probability, model.label_map.encode(selection.corrected)))


def proposed_labels(label_map, maps: SliceMaps, drawn: np.ndarray) -> np.ndarray:
    """The model's label at every pixel of a slice ``(H, W)``, in ``drawn``'s values and dtype; ignored pixels keep theirs."""
    return np.where(drawn == label_map.ignore_value, drawn, label_map.decode(maps.proposed, drawn.dtype))


@torch.no_grad()
def predict_slice(model: JCASModel | CrossFittedModel, image: np.ndarray, labels: np.ndarray, tile: int = TILE,
                  mirror: bool = MIRROR) -> SliceMaps:
    """Proposed classes and heatmaps of one slice, from the fold model(s) that may judge it.

    Parameters
    ----------
    model : CrossFittedModel or JCASModel
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)``.
    labels : numpy.ndarray
        ``(H, W)`` drawn class indices, -1 for ignore.
    tile : int
        Tile side; each tile is computed with a margin of context on every side.
    mirror : bool
        Average the class probabilities over the tile and its mirror images.
    """
    model = as_cross_fitted(model)
    normalised = normalise(image, model.in_channels)
    weights, judge, in_sample = _judges(model, image, labels.shape)
    probability, affinity, boundary = 0.0, 0.0, 0.0
    for member, weight in weights.items():
        maps = member_maps(model.members[member], normalised, labels, tile, mirror)
        probability = probability + weight * maps.probability
        affinity = affinity + weight * maps.affinity
        boundary = boundary + weight * maps.boundary
    check_finite_output(probability, "the model's class probabilities")
    check_finite_output(affinity, "the model's affinity disagreement")
    check_finite_output(boundary, "the model's boundary probability")
    drawn = np.clip(labels, 0, None)
    p_drawn = np.take_along_axis(probability, drawn[None], axis=0)[0]
    class_map = np.where(labels >= 0, 1 - p_drawn, 0).clip(0, 1).astype(np.float32)
    predicted = probability.argmax(axis=0)
    return SliceMaps(predicted, class_map, np.clip(affinity, 0, 1).astype(np.float32),
                     probability.astype(np.float32, copy=False), judge,
                     in_sample or untrusted_slice(model, normalised, labels, predicted),
                     np.clip(boundary, 0, 1).astype(np.float32))


def _judges(model: CrossFittedModel, image: np.ndarray, shape: tuple[int, int]):
    """``({member: weight (scalar or (H, W))}, judge, why it is judged in sample or None)`` for one slice."""
    trained = [k for k, done in enumerate(model.trained) if done] or list(range(model.folds))
    ensemble = {k: 1.0 / len(trained) for k in trained}
    kind, fold = model.judges(image)
    if kind in ("unseen", "in-sample"):
        return ensemble, kind, None
    untrained = "training was stopped before the fold model that did not see this slice was trained"
    if kind == "fold":
        return ({fold: 1.0}, f"fold {fold}", None) if model.trained[fold] else (ensemble, "ensemble", untrained)
    if kind == "strips":
        if len(trained) < model.folds:
            return ensemble, "ensemble", untrained
        strips = strip_folds(shape, model.folds)
        return {k: (strips == k).astype(np.float32) for k in range(model.folds)}, "strips", None
    raise ValueError(f"unknown judge {kind!r}")


class MemberMaps(NamedTuple):
    """One model's maps of one slice (:func:`member_maps`).

    Attributes
    ----------
    probability : numpy.ndarray
        ``(K, H, W)`` float32 class probabilities.
    affinity : numpy.ndarray
        ``(H, W)`` float32 affinity disagreement in [0, 1].
    boundary : numpy.ndarray
        ``(H, W)`` float32 boundary probability in [0, 1] (:func:`jcas.correction.boundary.affinity_boundary`).
    """

    probability: np.ndarray
    affinity: np.ndarray
    boundary: np.ndarray


@torch.no_grad()
def member_maps(member: JCASModel, normalised: np.ndarray, labels: np.ndarray, tile: int = TILE,
                mirror: bool = MIRROR) -> MemberMaps:
    """One model's class probabilities ``(K, H, W)`` (at its calibrated temperature, :mod:`jcas.nn.calibration`),
    affinity disagreement and boundary probability ``(H, W)`` on one slice, tile by tile (the boundary from the
    tile's own embeddings, like the disagreement).

    Parameters
    ----------
    member : JCASModel
    normalised : numpy.ndarray
        ``(C, H, W)`` from :func:`jcas.data.pairs.normalise`.
    labels : numpy.ndarray
        ``(H, W)`` drawn class indices, -1 for ignore.
    tile, mirror
        As in :func:`iter_correct`.
    """
    member.eval()
    height, width = labels.shape
    probability = np.zeros((member.label_map.num_classes, height, width), dtype=np.float32)
    affinity_map = np.zeros((height, width), dtype=np.float32)
    boundary_map = np.zeros((height, width), dtype=np.float32)
    labels_t = torch.from_numpy(np.ascontiguousarray(labels))
    global_stats = (_global_statistics(member, normalised, labels_t, tile)
                    if member.config.affinity == "global" else None)
    for inner, outer, batch, prediction in tiles(member, normalised, tile):
        crop = inner_crop(inner, outer)
        tile_labels = labels_t[outer].to(member.device)
        tile_probability = (mirrored_probabilities(member, batch, prediction) if mirror
                            else prediction.probabilities())[0]
        if global_stats is None:
            affinity = local_affinity_disagreement(prediction.pairs, tile_labels[None])[0]
        else:
            unit = prediction.unit[0].flatten(1)
            affinity = global_affinity_disagreement(unit, tile_labels.flatten(), global_stats).view(tile_labels.shape)
        probability[(slice(None),) + inner] = tile_probability[(slice(None),) + crop].float().cpu().numpy()
        affinity_map[inner] = affinity[crop].float().clamp(0, 1).cpu().numpy()
        boundary_map[inner] = affinity_boundary(prediction.unit)[0][crop].cpu().numpy()
    return MemberMaps(tempered(probability, float(member.temperature)), affinity_map, boundary_map)


def _global_statistics(model: JCASModel, normalised: np.ndarray, labels: torch.Tensor, tile: int) -> dict:
    """Sums over the whole slice for the global affinity disagreement (a first pass over the tiles)."""
    total: dict[str, torch.Tensor] = {}
    for inner, outer, _, prediction in tiles(model, normalised, tile):
        crop = inner_crop(inner, outer)
        unit = prediction.unit[0][(slice(None),) + crop].flatten(1)
        stats = global_affinity_statistics(unit, labels[inner].flatten().to(model.device), model.label_map.num_classes)
        total = {k: total.get(k, 0) + v for k, v in stats.items()}
    return total
