import numpy as np
import pytest
import torch

from jcas.correction.boundary import (MISSING, UNSEEN, affinity_boundary, boundary_view, class_boundary, label_edges,
                                      missing_edges)
from jcas.evaluation.metrics import boundary_f1


def two_sided_embedding(height: int, width: int, split: int) -> torch.Tensor:
    """``(1, 2, H, W)`` unit embeddings: (1, 0) left of column ``split``, (0, 1) from it on, so the
    affinity across that column is 0 and 1 everywhere else."""
    unit = torch.zeros(1, 2, height, width)
    unit[0, 0, :, :split] = 1
    unit[0, 1, :, split:] = 1
    return unit


def columns(height: int, width: int, *cols: int) -> np.ndarray:
    out = np.zeros((height, width), dtype=bool)
    out[:, list(cols)] = True
    return out


def test_the_affinity_boundary_is_both_pixels_of_every_pair_the_model_splits():
    boundary = affinity_boundary(two_sided_embedding(6, 10, split=5))[0].numpy()
    np.testing.assert_array_equal(boundary, columns(6, 10, 4, 5).astype(np.float32))


def test_the_view_marks_a_shifted_boundary_beyond_the_tolerance_exactly():
    height, width = 8, 12
    drawn = np.zeros((height, width), dtype=np.uint8)
    drawn[:, 2:] = 1  # drawn boundary between columns 1 and 2
    boundary = affinity_boundary(two_sided_embedding(height, width, split=5))[0].numpy()  # model: columns 4 | 5
    view = boundary_view(boundary, drawn, threshold=0.5, tolerance=2)
    # column 4 is 2 px from the drawn column 2: the same boundary; column 5 is 3 px away: missing;
    # the drawn column 1 is 3 px from the model's column 4: unseen, column 2 is within 2 px
    np.testing.assert_array_equal(view == MISSING, columns(height, width, 5))
    np.testing.assert_array_equal(view == UNSEEN, columns(height, width, 1))
    assert set(np.unique(view)) == {0, MISSING, UNSEEN}
    # with no tolerance every model pixel off the drawn boundary is missing, and the reverse
    strict = boundary_view(boundary, drawn, threshold=0.5, tolerance=0)
    np.testing.assert_array_equal(strict == MISSING, columns(height, width, 4, 5))
    np.testing.assert_array_equal(strict == UNSEEN, columns(height, width, 1, 2))


def test_the_view_agrees_where_model_and_mask_draw_the_same_boundary():
    drawn = np.zeros((6, 10), dtype=np.uint8)
    drawn[:, 5:] = 3
    boundary = affinity_boundary(two_sided_embedding(6, 10, split=5))[0].numpy()
    assert not boundary_view(boundary, drawn).any()
    # below the threshold the model sees no boundary: the drawn one is unseen
    view = boundary_view(0.4 * boundary, drawn, threshold=0.5)
    np.testing.assert_array_equal(view == UNSEEN, columns(6, 10, 4, 5))


def test_a_stack_is_compared_slice_by_slice_and_ignored_pixels_draw_nothing():
    drawn = np.zeros((2, 6, 10), dtype=np.int16)
    drawn[0, :, 5:] = 1  # slice 0 has the boundary, slice 1 none
    boundary = np.zeros((2, 6, 10), dtype=np.float32)
    boundary[1][columns(6, 10, 4, 5)] = 1.0  # the model sees it in slice 1 only
    view = boundary_view(boundary, drawn)
    np.testing.assert_array_equal(view[0] == UNSEEN, columns(6, 10, 4, 5))
    np.testing.assert_array_equal(view[1] == MISSING, columns(6, 10, 4, 5))
    ignored = drawn[0].copy()
    ignored[:, 5:] = -1  # the drawn boundary now runs between labelled and ignored pixels only
    assert not label_edges(ignored, ignore_value=-1).any()
    seen = np.zeros((6, 10), dtype=np.float32)
    seen[:, [4, 5]] = 1.0
    view = boundary_view(seen, ignored, ignore_value=-1)
    np.testing.assert_array_equal(view == MISSING, columns(6, 10, 4))  # column 5 is ignored: 0


def test_label_edges_and_missing_edges_of_a_square():
    mask = np.zeros((7, 7), dtype=np.uint8)
    mask[2:5, 2:5] = 1
    edges = label_edges(mask)
    expected = np.zeros((7, 7), dtype=bool)
    expected[1:6, 1:6] = True
    expected[3, 3] = False  # the square's centre has only same-label neighbours
    for corner in ((1, 1), (1, 5), (5, 1), (5, 5)):
        expected[corner] = False  # diagonal neighbours are not pairs
    np.testing.assert_array_equal(edges, expected)
    assert not missing_edges(edges, edges, tolerance=0).any()
    assert missing_edges(edges, np.zeros_like(edges), tolerance=100).sum() == edges.sum()


def test_the_class_boundary_is_one_minus_the_chance_that_neighbours_agree():
    probability = np.zeros((2, 1, 3), dtype=np.float32)
    probability[:, 0, 0] = (1.0, 0.0)
    probability[:, 0, 1] = (0.5, 0.5)
    probability[:, 0, 2] = (0.0, 1.0)
    # pairs (0, 1) and (1, 2) both agree with chance 0.5
    np.testing.assert_allclose(class_boundary(probability), [[0.5, 0.5, 0.5]])
    probability[:, 0, 1] = (1.0, 0.0)
    np.testing.assert_allclose(class_boundary(probability), [[0.0, 1.0, 1.0]])


def test_boundary_f1_on_a_hand_checked_case():
    targets = columns(10, 10, 5)  # 10 target pixels
    candidates = np.zeros((10, 10), dtype=bool)
    candidates[:5, 7] = True  # 2 px from the targets of their rows: right, and they find rows 0-4
    candidates[9, 0] = True  # 5 px from the nearest target: wrong
    score = boundary_f1(candidates, targets, tolerance=2)
    assert score.candidates == 6 and score.targets == 10
    assert score.precision == pytest.approx(5 / 6)
    assert score.recall == pytest.approx(0.5)
    assert score.f1 == pytest.approx(0.625)
    # at 1.5 px nothing is close enough
    assert boundary_f1(candidates, targets, tolerance=1.5).f1 == 0.0


def test_boundary_f1_matches_within_a_slice_only_and_handles_empty_maps():
    targets = np.zeros((2, 5, 5), dtype=bool)
    candidates = np.zeros((2, 5, 5), dtype=bool)
    targets[0, 2, 2] = True
    candidates[1, 2, 2] = True
    score = boundary_f1(candidates, targets)
    assert (score.precision, score.recall, score.f1) == (0.0, 0.0, 0.0)
    empty = boundary_f1(np.zeros((5, 5), bool), targets[0])
    assert np.isnan(empty.precision) and empty.recall == 0.0 and empty.f1 == 0.0
    assert np.isnan(boundary_f1(candidates[1], np.zeros((5, 5), bool)).f1)


def test_a_correction_carries_the_boundary_probability_slice_by_slice():
    from jcas import correct
    from jcas.correction.stream import stream_correct
    from jcas.settings import make_config
    from jcas.training.trainer import Trainer

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    masks = np.zeros((2, 48, 48), dtype=np.uint8)
    masks[:, 12:36, 10:30] = 1
    images = (masks * 100 + rng.normal(0, 10, masks.shape)).astype(np.float32)
    trainer = Trainer([images], [masks], make_config("jcas", "fast", epochs=2, batch_size=2, crop=32, folds=1,
                                                     min_steps=1))
    for _ in trainer.run():
        pass
    whole = correct(trainer.model, images, masks, tile=32)
    assert whole.boundary.shape == masks.shape and whole.boundary.dtype == np.float32
    assert 0 <= whole.boundary.min() and whole.boundary.max() <= 1
    assert whole.maps.boundary is whole.boundary
    parts = list(stream_correct(trainer.model, lambda z: images[z], lambda z: masks[z], 2, tile=32))
    np.testing.assert_array_equal(np.stack([part.boundary for part in parts]), whole.boundary)
    view = boundary_view(whole.boundary, masks)
    assert view.shape == masks.shape and set(np.unique(view)) <= {0, MISSING, UNSEEN}
