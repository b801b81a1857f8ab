"""The network's verdict on one slice: class probabilities, heatmaps and boundary probability, from the fold
model(s) that may judge it, tile by tile so that memory stays bounded for large images (a 4096 x 4096 slice
needs a few hundred MB)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..data.pairs import normalise
from ..nn.affinity import global_affinity_disagreement, global_affinity_statistics, local_affinity_disagreement
from ..nn.calibration import tempered
from ..nn.crossfit import CrossFittedModel, as_cross_fitted, strip_folds
from ..nn.integrity import check_finite_output
from ..nn.model import JCASModel
from ..nn.tiles import TILE, inner_crop, mirrored_probabilities, tiled_probabilities, tiles
from ..settings import MIRROR
from .boundary import affinity_boundary
from .guard import untrusted_slice


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
    support : numpy.ndarray or None
        ``(H, W)`` float32 in [0, 1]: the share of the check models (:func:`check_predictions`, or each judging
        model where several judge) whose own label is ``proposed``; None for a single model (nothing to check
        against).
    """

    proposed: np.ndarray
    class_disagreement: np.ndarray
    affinity_disagreement: np.ndarray
    probability: np.ndarray
    judge: str = "in-sample"
    slice_reason: str | None = None
    boundary: np.ndarray | None = None
    support: np.ndarray | None = None


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
    own: list[np.ndarray] = []  # each judging member's class indices where several judge: they are the check
    for member, weight in weights.items():
        maps = member_maps(model.members[member], normalised, labels, tile, mirror)
        if len(weights) > 1:
            own.append(maps.probability.argmax(axis=0))
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
    others = own or check_predictions(model, normalised, set(weights), tile)
    support = np.mean([other == predicted for other in others], axis=0, dtype=np.float32) if others else None
    return SliceMaps(predicted, class_map, np.clip(affinity, 0, 1).astype(np.float32),
                     probability.astype(np.float32, copy=False), judge,
                     in_sample or untrusted_slice(model, normalised, labels, predicted, others),
                     np.clip(boundary, 0, 1).astype(np.float32), support)


def check_predictions(model: CrossFittedModel, normalised: np.ndarray, judges: set[int],
                      tile: int) -> list[np.ndarray]:
    """The class indices ``(H, W)`` of the check models of a slice one fold model judged alone: the trained fold
    models that did not judge it (they trained on it). Empty for a single model. One pass of each, without
    mirroring, affinities or boundaries. (Where several models judge a slice, each one's own prediction is the
    check, taken from its judging pass.)"""
    others = {k for k, done in enumerate(model.trained) if done} - judges
    return [tiled_probabilities(model.members[k], normalised, tile).argmax(axis=0) for k in sorted(others)]


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
        As in :func:`jcas.correction.stream.iter_correct`.
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
