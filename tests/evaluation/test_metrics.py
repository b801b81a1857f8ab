"""Tests of the metrics against hand-computed values and brute-force definitions."""
import math

import numpy as np
import pytest

from jcas.errors import JCASInputError
from jcas.evaluation import metrics


def brute_force_auroc(scores, targets):
    """Mean over all (positive, negative) pairs of [s_p > s_n] + 0.5 [s_p == s_n]."""
    positive, negative = scores[targets], scores[~targets]
    difference = positive[:, None] - negative[None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0))


def brute_force_average_precision(scores, targets):
    """sum_n (R_n - R_(n-1)) P_n, each distinct score (high to low) a threshold."""
    total, previous_recall = 0.0, 0.0
    for threshold in np.unique(scores)[::-1]:
        flagged = scores >= threshold
        precision = np.sum(flagged & targets) / np.sum(flagged)
        recall = np.sum(flagged & targets) / np.sum(targets)
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return total


@pytest.mark.parametrize("seed", range(6))
def test_auroc_and_average_precision_match_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 300))
    scores = rng.integers(0, 6, size).astype(float) / 5.0
    targets = rng.random(size) < rng.uniform(0.1, 0.9)
    targets[:2] = [True, False]
    assert metrics.auroc(scores, targets) == pytest.approx(brute_force_auroc(scores, targets), abs=1e-12)
    assert metrics.average_precision(scores, targets) == pytest.approx(
        brute_force_average_precision(scores, targets), abs=1e-12
    )


def test_auroc_and_average_precision_hand_values():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    targets = np.array([True, False, True, False, False])
    # Pairs (p, n): 0.9 beats all 3; 0.8 ties one and beats two -> (3 + 2.5) / 6.
    assert metrics.auroc(scores, targets) == pytest.approx(5.5 / 6)
    # Thresholds 0.9: R=1/2, P=1; 0.8: R=1, P=2/3 -> 0.5 + 0.5 * 2/3.
    assert metrics.average_precision(scores, targets) == pytest.approx(0.5 + 1 / 3)


def test_valid_mask_restricts_pixels():
    scores = np.array([[0.9, 0.1], [0.8, 0.95]])
    targets = np.array([[True, False], [False, False]])
    valid = np.array([[True, True], [True, False]])
    assert metrics.auroc(scores, targets, valid) == 1.0
    assert metrics.average_precision(scores, targets, valid) == 1.0
    assert metrics.auroc(scores, targets) == pytest.approx(2 / 3)


def test_detection_metrics_nan_for_one_sided_targets_and_error_for_bad_scores():
    scores = np.array([0.1, 0.5, 0.7])
    for targets in (np.zeros(3, bool), np.ones(3, bool)):
        assert math.isnan(metrics.auroc(scores, targets))
        assert math.isnan(metrics.average_precision(scores, targets))
    with pytest.raises(JCASInputError):
        metrics.auroc(np.array([0.1, np.nan, 0.3]), np.array([True, False, True]))
    with pytest.raises(JCASInputError):
        metrics.average_precision(scores, np.array([True, False]))


def test_detection_metrics_on_a_million_pixels():
    rng = np.random.default_rng(0)
    targets = rng.random(1_000_000) < 0.2
    # Negatives score 0.0, 0.4 or 0.8, positives 1.0, 1.4 or 1.8: perfectly separated, with many ties.
    scores = np.where(targets, 1.0, 0.0) + rng.integers(0, 3, targets.size) * 0.4
    assert metrics.auroc(scores, targets) == 1.0
    assert metrics.average_precision(scores, targets) == 1.0
    assert 0.49 < metrics.auroc(rng.random(targets.size), targets) < 0.51


def test_dice_and_iou_by_hand_with_ignore():
    truth = np.array([[0, 1, 1], [2, 2, 255]])
    pred = np.array([[0, 1, 2], [2, 1, 0]])
    # Ignore pixel left out. Class 1: |P|=2 |T|=2 |P&T|=1. Class 2: |P|=2 |T|=2 |P&T|=1. Class 0: 1,1,1.
    assert metrics.dice_per_class(pred, truth) == {0: 1.0, 1: 0.5, 2: 0.5}
    assert metrics.iou_per_class(pred, truth) == {0: 1.0, 1: pytest.approx(1 / 3), 2: pytest.approx(1 / 3)}


def test_dice_absent_class_is_nan_and_labels_can_be_given():
    truth = np.array([0, 0, 3, 3])
    pred = np.array([0, 3, 3, 3])
    result = metrics.dice_per_class(pred, truth, labels=[0, 3, 7])
    assert result[0] == pytest.approx(2 / 3) and result[3] == pytest.approx(0.8) and math.isnan(result[7])
    assert metrics.dice_per_class(np.array([0, 7]), truth[:2], labels=[7]) == {7: 0.0}


def test_pooled_over_a_sequence_equals_the_concatenation():
    rng = np.random.default_rng(1)
    preds = [rng.integers(0, 3, (5, 7)), rng.integers(0, 3, (4, 4))]
    truths = [rng.integers(0, 3, (5, 7)), rng.integers(0, 3, (4, 4))]
    pooled = metrics.dice_per_class(preds, truths)
    joined = metrics.dice_per_class(
        np.concatenate([p.ravel() for p in preds]), np.concatenate([t.ravel() for t in truths])
    )
    assert pooled == joined


def test_shape_mismatch_raises():
    with pytest.raises(JCASInputError, match="shape"):
        metrics.dice_per_class(np.zeros((2, 3), int), np.zeros((3, 2), int))
    with pytest.raises(JCASInputError):
        metrics.dice_per_class([np.zeros(2, int)], [np.zeros(2, int), np.zeros(2, int)])


def test_dice_per_image_has_the_same_keys_for_every_image():
    truths = [np.array([0, 1]), np.array([0, 2])]
    preds = [np.array([0, 1]), np.array([2, 2])]
    per_image = metrics.dice_per_image(preds, truths)
    assert [list(d) for d in per_image] == [[0, 1, 2], [0, 1, 2]]
    assert per_image[0][0] == 1.0 and math.isnan(per_image[0][2])
    assert per_image[1] == {0: 0.0, 1: pytest.approx(math.nan, nan_ok=True), 2: pytest.approx(2 / 3)}


def test_mean_dice_is_the_foreground_mean_and_background_is_lowest_without_zero():
    truth = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    assert metrics.mean_dice(pred, truth) == pytest.approx(0.8)
    assert metrics.mean_dice(pred, truth, include_background=True) == pytest.approx((2 / 3 + 0.8) / 2)
    # Labels {3, 7}: 3 is the background, so the score is class 7's Dice.
    assert metrics.mean_dice(pred * 4 + 3, truth * 4 + 3) == pytest.approx(0.8)
    three = np.array([0, 1, 2, 2])
    assert metrics.mean_dice(np.array([0, 1, 2, 0]), three) == pytest.approx((1.0 + 2 / 3) / 2)


def test_mean_dice_present_counts_only_classes_present_per_image():
    truths = [np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0])]
    preds = [np.array([0, 1, 1, 1]), np.array([0, 0, 1, 1])]
    # Image 1: class 0 Dice 2/3, class 1 Dice 0.8. Image 2: class 0 Dice 2/3; class 1 absent from truth.
    assert metrics.mean_dice_present(preds, truths) == pytest.approx((2 / 3 + 0.8 + 2 / 3) / 3)
    assert metrics.mean_dice_present(preds, truths, include_background=False) == pytest.approx(0.8)
    # Pooled mean Dice differs: class 1 pooled |P|=5 |T|=2 |P&T|=2.
    assert metrics.mean_dice(preds, truths) == pytest.approx(4 / 7)


def test_label_quality_gain():
    truth = np.array([0, 0, 1, 1])
    noisy = np.array([1, 1, 1, 1])
    cleaned = np.array([0, 1, 1, 1])
    assert metrics.label_quality_gain(cleaned, noisy, truth) == pytest.approx(0.8 - 2 / 3)
    assert metrics.label_quality_gain(noisy, noisy, truth) == 0.0


def test_precision_recall():
    flagged = np.array([True, True, False, False, True])
    targets = np.array([True, False, True, False, True])
    assert metrics.precision_recall(flagged, targets) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    precision, recall = metrics.precision_recall(np.zeros(3, bool), np.array([True, False, False]))
    assert math.isnan(precision) and recall == 0.0
