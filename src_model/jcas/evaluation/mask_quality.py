"""How good a drawn mask is, estimated without its truth: the Dice of the drawn labels against the labels the
out-of-fold model predicts.

The model that judges a slice never saw its drawn mask (:mod:`jcas.nn.crossfit`), so where its prediction and
the drawn mask differ the drawn label is suspect; the estimate is the Dice of the drawn mask against that
prediction (argmax), per class, averaged as :func:`jcas.evaluation.metrics.mean_dice` averages them (the
background left out). A model that is right gives the true Dice exactly. An earlier form took the expectation
under the class probabilities (``2 sum(p_k d_k) / (sum(p_k) + sum(d_k))``): it counted the model's doubt along
every boundary as expected error, so it fell far below the truth (mean absolute error 0.10 on cells3d_nuclei
and 0.16 on mni_tissue under mixed noise, seed 0, against 0.04 and 0.06 for the prediction's Dice) and ranked
the slices worse (Spearman 0.53-0.84 against 0.67-0.95 on the tuning sets, seeds 0-2; recipe.md, "Ranking the
masks by their estimated quality"). The share of pixels likely wrong stays an expectation, ``mean(1 - p(drawn))``.

The sums of one slice are a :class:`QualityTally`; tallies add up, so a stack's or a data set's
estimate is the ratio of its summed counts, as its true Dice would be.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import mean_over_classes

#: Classes with less than this area (pixels) in both the drawn mask and the prediction do not count.
MIN_EXPECTED_PIXELS = 0.5


@dataclass(frozen=True)
class MaskQuality:
    """The estimated quality of a drawn mask (one slice, a stack or a data set).

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


@dataclass(frozen=True)
class QualityTally:
    """The sums behind an estimated Dice; ``a + b`` is the tally of both masks together.

    Attributes
    ----------
    overlap : numpy.ndarray
        ``(K,)`` float64: per class, the pixels where the drawn label and the prediction are both that class.
    expected : numpy.ndarray
        ``(K,)`` float64: per class, the predicted area (the estimate of the true one).
    drawn : numpy.ndarray
        ``(K,)`` float64: per class, the drawn area ``sum(d_k)``.
    wrong : float
        ``sum(1 - p(drawn))`` over the labelled pixels.
    labelled : int
        Labelled pixels counted.
    """

    overlap: np.ndarray
    expected: np.ndarray
    drawn: np.ndarray
    wrong: float
    labelled: int

    @classmethod
    def empty(cls, num_classes: int) -> QualityTally:
        """The tally of no pixels, to add slices to."""
        return cls(np.zeros(num_classes), np.zeros(num_classes), np.zeros(num_classes), 0.0, 0)

    def __add__(self, other: QualityTally) -> QualityTally:
        return QualityTally(self.overlap + other.overlap, self.expected + other.expected, self.drawn + other.drawn,
                            self.wrong + other.wrong, self.labelled + other.labelled)

    def quality(self, values: list[int]) -> MaskQuality:
        """The estimate these sums give.

        Parameters
        ----------
        values : list of int
            The label value of each class index (``LabelMap.values``), ``K`` of them.

        Returns
        -------
        MaskQuality
        """
        class_dice = {int(value): 2 * float(self.overlap[k]) / float(self.expected[k] + self.drawn[k])
                      for k, value in enumerate(values)
                      if self.expected[k] >= MIN_EXPECTED_PIXELS or self.drawn[k] >= MIN_EXPECTED_PIXELS}
        return MaskQuality(mean_over_classes(class_dice), class_dice,
                           self.wrong / self.labelled if self.labelled else 0.0)


def tally_quality(probability: np.ndarray, labels: np.ndarray) -> QualityTally:
    """The sums of one slice's estimate.

    Parameters
    ----------
    probability : numpy.ndarray
        ``(K, H, W)`` class probabilities of the model that judges the slice (out of fold for a training slice).
    labels : numpy.ndarray
        ``(H, W)`` class indices 0..K-1 of the mask to judge, -1 for unlabelled pixels (not counted).

    Returns
    -------
    QualityTally
    """
    classes = len(probability)
    labelled = labels >= 0
    p = probability[:, labelled]  # (K, N)
    drawn = labels[labelled]
    predicted = p.argmax(axis=0)
    p_drawn = np.take_along_axis(p, drawn[None], axis=0)[0].astype(np.float64)  # (N,)
    return QualityTally(np.bincount(drawn[predicted == drawn], minlength=classes).astype(np.float64),
                        np.bincount(predicted, minlength=classes).astype(np.float64),
                        np.bincount(drawn, minlength=classes).astype(np.float64), float((1 - p_drawn).sum()),
                        int(drawn.size))


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
    return tally_quality(probability, labels).quality(values)
