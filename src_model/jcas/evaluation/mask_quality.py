"""How good a drawn mask is, estimated without its truth: the expected Dice of the drawn labels against
labels drawn from the out-of-fold model's class probabilities.

For one class k with drawn indicator ``d_k`` and probability ``p_k`` per pixel, the expected overlap of
the drawn mask with the truth is ``sum(p_k d_k)`` and the expected size of the true class ``sum(p_k)``,
so the estimated Dice is ``2 sum(p_k d_k) / (sum(p_k) + sum(d_k))`` (a ratio of expectations). A model
that is right and certain gives the true Dice exactly; a calibrated one gives its expectation. Classes
are averaged as :func:`jcas.evaluation.metrics.mean_dice` averages them (the background left out).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import mean_over_classes

#: Classes with less than this expected area (pixels) in both the drawn mask and the prediction do not count.
MIN_EXPECTED_PIXELS = 0.5


@dataclass(frozen=True)
class MaskQuality:
    """The estimated quality of one drawn slice.

    Attributes
    ----------
    dice : float
        Estimated Dice of the drawn mask against the truth, mean over the foreground classes; NaN when none.
    class_dice : dict of int to float
        ``{label value: estimated Dice}`` per class present in the drawn mask or the prediction.
    likely_wrong : float
        Expected share of the labelled pixels whose drawn label is wrong, ``mean(1 - p(drawn))``.
    """

    dice: float
    class_dice: dict[int, float]
    likely_wrong: float


def estimate_quality(probability: np.ndarray, labels: np.ndarray, values: list[int]) -> MaskQuality:
    """Estimate the quality of one drawn slice from the model's class probabilities.

    Parameters
    ----------
    probability : numpy.ndarray
        ``(K, H, W)`` class probabilities of the model that judges the slice (out of fold for a training slice).
    labels : numpy.ndarray
        ``(H, W)`` drawn class indices 0..K-1, -1 for unlabelled pixels (not counted).
    values : list of int
        The label value of each class index (``LabelMap.values``).

    Returns
    -------
    MaskQuality
    """
    labelled = labels >= 0
    p = probability[:, labelled].astype(np.float64)  # (K, N)
    drawn = labels[labelled]
    class_dice = {}
    for index, value in enumerate(values):
        is_drawn = drawn == index
        expected, drawn_count = float(p[index].sum()), float(is_drawn.sum())
        if expected < MIN_EXPECTED_PIXELS and drawn_count < MIN_EXPECTED_PIXELS:
            continue
        class_dice[int(value)] = 2 * float(p[index][is_drawn].sum()) / (expected + drawn_count)
    wrong = 1 - np.take_along_axis(p, drawn[None], axis=0)[0] if drawn.size else np.zeros(0)
    return MaskQuality(mean_over_classes(class_dice), class_dice, float(wrong.mean()) if wrong.size else 0.0)
