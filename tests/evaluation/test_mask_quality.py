"""The estimated quality of a drawn mask: exact for a right model, read from its prediction otherwise."""
import numpy as np
import pytest

from jcas.evaluation.mask_quality import estimate_quality
from jcas.evaluation.metrics import dice_per_class, mean_dice


def one_hot(indices: np.ndarray, classes: int) -> np.ndarray:
    return (np.arange(classes)[:, None, None] == indices[None]).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_right_and_certain_model_estimates_the_true_dice_exactly(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, (40, 50))
    drawn = np.where(rng.random(truth.shape) < 0.2, rng.integers(0, 3, truth.shape), truth)
    values = [0, 5, 9]
    quality = estimate_quality(one_hot(truth, 3), drawn, values)
    as_values = np.asarray(values)
    true_per_class = dice_per_class(as_values[drawn], as_values[truth])
    assert quality.dice == pytest.approx(mean_dice(as_values[drawn], as_values[truth]))
    assert quality.class_dice == pytest.approx({v: true_per_class[v] for v in values})
    assert quality.likely_wrong == pytest.approx(np.mean(drawn != truth))


def test_an_uncertain_model_is_read_by_its_prediction_and_unlabelled_pixels_do_not_count():
    drawn = np.array([[1, 1, 0, 0], [1, 1, 0, -1]])
    p_foreground = np.array([[0.9, 0.6, 0.2, 0.0], [0.8, 0.4, 0.1, 1.0]])
    probability = np.stack([1 - p_foreground, p_foreground])
    quality = estimate_quality(probability, drawn, [0, 1])
    # labelled pixels: drawn foreground 4, predicted foreground 3 (p > 0.5), both 3; the unlabelled 1.0 is left out
    assert quality.dice == pytest.approx(2 * 3 / (4 + 3)) and quality.class_dice[1] == pytest.approx(6 / 7)
    assert quality.likely_wrong == pytest.approx(np.mean([0.1, 0.4, 0.2, 0.0, 0.2, 0.6, 0.1]))
