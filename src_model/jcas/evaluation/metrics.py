"""Segmentation and noise-detection metrics, in numpy.

Overlap metrics (Dice, IoU) compare label maps in the user's label values. Pixels
whose *truth* is the ignore value are left out. A prediction may be a single array
or a sequence of arrays (pooled over all their pixels; shapes may differ between
images but must match their truth).

Conventions:

- A class absent from both prediction and truth has Dice and IoU NaN; averages skip NaN.
- The background is label 0 when present among the labels, else the lowest label
  (:func:`jcas.data.noise.background_label`).
- :func:`mean_dice`, the headline number, is the mean over the foreground classes
  of their pooled Dice; for two classes it is the Dice of the foreground.

Detection metrics (:func:`auroc`, :func:`average_precision`) score a per-pixel
heatmap against a boolean target, e.g. the true-noise map ``noisy != truth``;
:func:`boundary_f1` scores boundary pixels against boundary pixels with a tolerance in pixels.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from ..data.labels import IGNORE_VALUE
from ..data.noise import background_label
from ..errors import JCASInputError

ArrayOrArrays = np.ndarray | Sequence[np.ndarray]


def _as_pairs(pred: ArrayOrArrays, truth: ArrayOrArrays) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pair up predictions and truths given as two arrays or two equal-length sequences of arrays."""
    if isinstance(pred, np.ndarray) and isinstance(truth, np.ndarray):
        pairs = [(pred, truth)]
    else:
        if isinstance(pred, np.ndarray) or isinstance(truth, np.ndarray) or len(pred) != len(truth):
            raise JCASInputError("Pass one prediction and one truth array, or two sequences of the same length.")
        pairs = [(np.asarray(p), np.asarray(t)) for p, t in zip(pred, truth)]
    for index, (p, t) in enumerate(pairs):
        if p.shape != t.shape:
            raise JCASInputError(f"Prediction {index} has shape {p.shape} but its truth has {t.shape}; they must match.")
    return pairs


def truth_labels(truths: Sequence[np.ndarray], ignore_value: int | None = IGNORE_VALUE) -> list[int]:
    """Sorted union of the label values in ``truths`` (arrays of any shapes), ignore value excluded."""
    values = np.unique(np.concatenate([np.unique(t) for t in truths]))
    return [int(value) for value in values if value != ignore_value]


def class_overlap_counts(
    pred: ArrayOrArrays, truth: ArrayOrArrays, labels: Sequence[int], ignore_value: int | None = IGNORE_VALUE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class pixel counts, pooled over all pixels given.

    Parameters
    ----------
    pred, truth : numpy.ndarray or sequence of numpy.ndarray
        Label maps of any (matching) shapes.
    labels : sequence of int
        ``(K,)`` classes to count.
    ignore_value : int or None
        Truth value of pixels to leave out.

    Returns
    -------
    intersection, pred_count, truth_count : numpy.ndarray
        ``(K,)`` int64: pixels labelled the class in both, in ``pred``, in ``truth``.
    """
    labels = np.asarray(labels)
    intersection = np.zeros(len(labels), dtype=np.int64)
    pred_count = np.zeros(len(labels), dtype=np.int64)
    truth_count = np.zeros(len(labels), dtype=np.int64)
    for p, t in _as_pairs(pred, truth):
        if ignore_value is not None:
            keep = t != ignore_value
            p, t = p[keep], t[keep]
        for index, label in enumerate(labels):
            in_pred, in_truth = p == label, t == label
            intersection[index] += np.count_nonzero(in_pred & in_truth)
            pred_count[index] += np.count_nonzero(in_pred)
            truth_count[index] += np.count_nonzero(in_truth)
    return intersection, pred_count, truth_count


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ``numerator / denominator`` with NaN where the denominator is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def _resolve_labels(
    pred: ArrayOrArrays, truth: ArrayOrArrays, labels: Sequence[int] | None, ignore_value: int | None
) -> list[int]:
    """``labels`` as ints, defaulting to :func:`truth_labels` of ``truth``."""
    if labels is None:
        return truth_labels([t for _, t in _as_pairs(pred, truth)], ignore_value)
    return [int(label) for label in labels]


def dice_per_class(
    pred: ArrayOrArrays, truth: ArrayOrArrays, labels: Sequence[int] | None = None, ignore_value: int | None = IGNORE_VALUE
) -> dict[int, float]:
    """Pooled Dice ``2 |P & T| / (|P| + |T|)`` of each class; NaN for a class absent from both.

    Parameters
    ----------
    pred, truth : numpy.ndarray or sequence of numpy.ndarray
        Label maps of any (matching) shapes, pooled over all pixels.
    labels : sequence of int, optional
        Classes to score; default the values in ``truth`` (ignore value excluded).
    ignore_value : int or None
        Truth value of pixels to leave out.

    Returns
    -------
    dict
        ``{label: Dice}``.
    """
    labels = _resolve_labels(pred, truth, labels, ignore_value)
    intersection, pred_count, truth_count = class_overlap_counts(pred, truth, labels, ignore_value)
    return dict(zip(labels, _ratio(2 * intersection, pred_count + truth_count).tolist()))


def iou_per_class(
    pred: ArrayOrArrays, truth: ArrayOrArrays, labels: Sequence[int] | None = None, ignore_value: int | None = IGNORE_VALUE
) -> dict[int, float]:
    """Pooled IoU (Jaccard) ``|P & T| / |P | T|`` of each class; arguments as :func:`dice_per_class`."""
    labels = _resolve_labels(pred, truth, labels, ignore_value)
    intersection, pred_count, truth_count = class_overlap_counts(pred, truth, labels, ignore_value)
    return dict(zip(labels, _ratio(intersection, pred_count + truth_count - intersection).tolist()))


def dice_per_image(
    preds: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    labels: Sequence[int] | None = None,
    ignore_value: int | None = IGNORE_VALUE,
) -> list[dict[int, float]]:
    """:func:`dice_per_class` of each image; ``labels`` default to the union over all truths.

    Every dict has the same keys, with NaN for a class absent from both maps of an image.
    """
    labels = _resolve_labels(preds, truths, labels, ignore_value)
    return [dice_per_class(p, t, labels, ignore_value) for p, t in _as_pairs(preds, truths)]


def mean_over_classes(per_class: dict[int, float], include_background: bool = False) -> float:
    """NaN-skipping mean of per-class scores, leaving out the background unless asked.

    Parameters
    ----------
    per_class : dict
        ``{label: score}`` as from :func:`dice_per_class`.
    include_background : bool
        Count the background class (see the module conventions).

    Returns
    -------
    float
        NaN when no class has a score.
    """
    if not per_class:
        return float("nan")
    background = background_label(np.array(list(per_class)))
    scores = np.array([score for label, score in per_class.items() if include_background or label != background])
    scores = scores[~np.isnan(scores)]
    return float(scores.mean()) if scores.size else float("nan")


def mean_dice(
    pred: ArrayOrArrays,
    truth: ArrayOrArrays,
    labels: Sequence[int] | None = None,
    ignore_value: int | None = IGNORE_VALUE,
    include_background: bool = False,
) -> float:
    """The headline score: mean over classes of the pooled Dice, foreground classes only by default.

    With two classes it is the foreground Dice. Classes absent from both maps are
    skipped; NaN when none is left. Arguments as :func:`dice_per_class`.
    """
    return mean_over_classes(dice_per_class(pred, truth, labels, ignore_value), include_background)


def mean_dice_present(
    preds: ArrayOrArrays,
    truths: ArrayOrArrays,
    labels: Sequence[int] | None = None,
    ignore_value: int | None = IGNORE_VALUE,
    include_background: bool = True,
) -> float:
    """The JCAS-paper mean Dice: average over (image, class) pairs with the class present in that truth.

    Parameters
    ----------
    preds, truths : numpy.ndarray or sequence of numpy.ndarray
        One or several label maps.
    labels : sequence of int, optional
        Classes that may count; default the union over the truths.
    ignore_value : int or None
        Truth value of pixels to leave out.
    include_background : bool
        Count the background class too.

    Returns
    -------
    float
        NaN when no (image, class) pair qualifies.
    """
    labels = _resolve_labels(preds, truths, labels, ignore_value)
    background = background_label(np.array(labels)) if labels else None
    scores = []
    for (_, truth), per_class in zip(_as_pairs(preds, truths), dice_per_image(preds, truths, labels, ignore_value)):
        valid = truth if ignore_value is None else truth[truth != ignore_value]
        present = np.isin(labels, valid)
        scores.extend(
            score
            for (label, score), is_present in zip(per_class.items(), present)
            if is_present and (include_background or label != background)
        )
    return float(np.mean(scores)) if scores else float("nan")


def label_quality_gain(
    cleaned: ArrayOrArrays,
    noisy: ArrayOrArrays,
    truth: ArrayOrArrays,
    labels: Sequence[int] | None = None,
    ignore_value: int | None = IGNORE_VALUE,
) -> float:
    """``mean_dice(cleaned, truth) - mean_dice(noisy, truth)``: positive when cleaning helped."""
    return mean_dice(cleaned, truth, labels, ignore_value) - mean_dice(noisy, truth, labels, ignore_value)


def _scored_targets(
    scores: np.ndarray, targets: np.ndarray, valid: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Flatten and check ``scores`` and bool ``targets``, keeping only ``valid`` pixels."""
    scores, targets = np.asarray(scores), np.asarray(targets)
    if scores.shape != targets.shape:
        raise JCASInputError(f"Scores have shape {scores.shape} but targets {targets.shape}; they must match.")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != scores.shape:
            raise JCASInputError(f"The valid mask has shape {valid.shape} but scores {scores.shape}; they must match.")
        scores, targets = scores[valid], targets[valid]
    scores, targets = scores.ravel().astype(np.float64), targets.ravel().astype(bool)
    if not np.all(np.isfinite(scores)):
        raise JCASInputError("Scores contain NaN or infinite values; replace them (e.g. numpy.nan_to_num) first.")
    return scores, targets


def _tie_groups(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and totals per distinct score, from the highest score down; ``(G,)`` int64 each."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    positives = np.add.reduceat(targets[order].astype(np.int64), starts)
    totals = np.diff(np.r_[starts, len(scores)])
    return positives, totals


def auroc(scores: np.ndarray, targets: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Area under the ROC curve: the probability a positive outscores a negative, ties counting half.

    Parameters
    ----------
    scores : numpy.ndarray
        Any shape, finite; higher means more likely positive.
    targets : numpy.ndarray
        Bool, same shape.
    valid : numpy.ndarray, optional
        Bool, same shape: only these pixels count.

    Returns
    -------
    float
        NaN when the targets are all one value. O(n log n).
    """
    positives, totals = _tie_groups(*_scored_targets(scores, targets, valid))
    negatives = totals - positives
    n_positive, n_negative = positives.sum(), negatives.sum()
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    # Groups run from the highest score down, so the negatives below group g are those after it.
    negatives_below = n_negative - np.cumsum(negatives)
    wins = np.sum(positives * (negatives_below + 0.5 * negatives), dtype=np.float64)
    return float(wins / (float(n_positive) * float(n_negative)))


def average_precision(scores: np.ndarray, targets: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Average precision ``sum_n (R_n - R_(n-1)) P_n`` over the distinct scores as thresholds.

    The same definition as scikit-learn's ``average_precision_score`` (tied scores
    form one threshold). Arguments as :func:`auroc`; NaN when the targets are all
    one value.
    """
    positives, totals = _tie_groups(*_scored_targets(scores, targets, valid))
    n_positive = positives.sum()
    if n_positive == 0 or n_positive == totals.sum():
        return float("nan")
    true_positives = np.cumsum(positives)
    precision = true_positives / np.cumsum(totals)
    return float(np.sum(positives / n_positive * precision))


def precision_recall(flagged: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Precision and recall of a boolean flag map against boolean targets.

    Parameters
    ----------
    flagged, targets : numpy.ndarray
        Bool, same shape.

    Returns
    -------
    precision, recall : float
        NaN precision when nothing is flagged; NaN recall when no target is set.
    """
    flagged, targets = np.asarray(flagged, dtype=bool), np.asarray(targets, dtype=bool)
    if flagged.shape != targets.shape:
        raise JCASInputError(f"Flags have shape {flagged.shape} but targets {targets.shape}; they must match.")
    hits = np.count_nonzero(flagged & targets)
    n_flagged, n_targets = np.count_nonzero(flagged), np.count_nonzero(targets)
    precision = hits / n_flagged if n_flagged else float("nan")
    recall = hits / n_targets if n_targets else float("nan")
    return float(precision), float(recall)


class BoundaryScore(NamedTuple):
    """Boundary precision, recall and F1 with a tolerance (:func:`boundary_f1`).

    Attributes
    ----------
    precision : float
        Share of the candidate pixels within the tolerance of a target pixel; NaN without candidates.
    recall : float
        Share of the target pixels within the tolerance of a candidate pixel; NaN without targets.
    f1 : float
        ``2 P R / (P + R)``; 0 when there are targets but no candidate or no match, NaN without targets.
    candidates, targets : int
        Pixels of each.
    """

    precision: float
    recall: float
    f1: float
    candidates: int
    targets: int


def _within(points: np.ndarray, of: np.ndarray, tolerance: float) -> np.ndarray:
    """``(H, W)`` bool: the pixels of ``points`` at most ``tolerance`` px (Euclidean) from a pixel of ``of``."""
    if not of.any():
        return np.zeros(points.shape, dtype=bool)
    return points & (ndimage.distance_transform_edt(~of) <= tolerance)


def boundary_f1(candidates: np.ndarray, targets: np.ndarray, tolerance: float = 2.0) -> BoundaryScore:
    """Boundary precision, recall and F1 of candidate pixels against target pixels, with a tolerance.

    A candidate pixel is right when a target pixel lies within ``tolerance`` px of it (Euclidean,
    in its own 2D slice); a target pixel is found when a candidate lies within ``tolerance`` px
    of it. Counts are pooled over the slices of a stack.

    Parameters
    ----------
    candidates, targets : numpy.ndarray
        bool, the same shape, ``(H, W)`` or ``(Z, H, W)``: e.g. where a view says the drawn mask
        lacks a boundary, and the true boundary where it differs from the drawn one.
    tolerance : float
        Pixels.

    Returns
    -------
    BoundaryScore
    """
    candidates, targets = np.asarray(candidates, dtype=bool), np.asarray(targets, dtype=bool)
    if candidates.shape != targets.shape:
        raise JCASInputError(f"Candidates have shape {candidates.shape} but targets {targets.shape}; they must match.")
    if candidates.ndim not in (2, 3):
        raise JCASInputError(f"Boundary maps are (H, W) or (Z, H, W); got shape {candidates.shape}.")
    planes = zip(candidates, targets) if candidates.ndim == 3 else [(candidates, targets)]
    right = found = 0
    for candidate_plane, target_plane in planes:
        right += int(np.count_nonzero(_within(candidate_plane, target_plane, tolerance)))
        found += int(np.count_nonzero(_within(target_plane, candidate_plane, tolerance)))
    n_candidates, n_targets = int(np.count_nonzero(candidates)), int(np.count_nonzero(targets))
    precision = right / n_candidates if n_candidates else float("nan")
    recall = found / n_targets if n_targets else float("nan")
    if not n_targets:
        f1 = float("nan")
    elif not n_candidates or precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return BoundaryScore(float(precision), float(recall), float(f1), n_candidates, n_targets)
