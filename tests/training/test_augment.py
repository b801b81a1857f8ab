"""Augmentation: only the mirrors the masks allow, and every change keeps image and labels together."""
import numpy as np
import pytest

from jcas.data.synthetic import split_discs
from jcas.settings import make_config
from jcas.training.augment import MIRRORS, Augmenter, allowed_mirrors
from jcas.training.trainer import Trainer


def encoded(masks):
    values = np.unique(np.stack(masks))
    return [np.searchsorted(values, mask) for mask in masks], len(values)


def test_a_mirror_that_swaps_left_and_right_classes_is_refused():
    """Discs split into a left class and a right class: a left-right flip turns one into the other,
    and a transpose (quarter turns with the flips) carries left onto top; an up-down flip keeps both."""
    _, masks = split_discs(6, 64, seed=0)
    assert allowed_mirrors(*encoded(list(masks))) == ("flip_rows",)


def test_classes_that_do_not_depend_on_position_allow_every_mirror(cells):
    images, masks = cells
    assert allowed_mirrors(*encoded(list(masks))) == MIRRORS


def test_layers_stacked_top_to_bottom_allow_only_the_left_right_flip():
    rows = np.repeat(np.arange(4), 16)[:, None]
    mask = np.broadcast_to(rows, (64, 80)).copy()
    assert allowed_mirrors(*encoded([mask, mask])) == ("flip_columns",)


@pytest.mark.parametrize("seed", range(6))
def test_augmented_image_and_labels_move_together(seed):
    """The image is a function of its labels (class k has intensity k / 3), so after any geometric
    change every labelled pixel must still show its class's intensity (intensity changes off)."""
    rng = np.random.default_rng(seed)
    classes = (np.add.outer(np.arange(64) // 16, np.arange(64) // 32) % 4).astype(np.int64)
    image = (classes / 3).astype(np.float32)[None]
    labels = np.where(rng.random(classes.shape) < 0.02, -1, classes)  # a few unlabelled pixels
    trusted = labels == 2
    augment = Augmenter(MIRRORS, geometry=True, intensity=False)
    moved = 0
    for draw in range(20):
        new_image, new_labels, new_trusted = augment(image, labels, trusted, np.random.default_rng([seed, draw]))
        known = new_labels >= 0
        assert new_image.shape == image.shape and new_labels.shape == labels.shape
        inside = known.copy()  # bilinear image values blend at class borders: compare away from them
        for axis in (0, 1):
            for shift in (-1, 1):
                inside &= np.roll(new_labels, shift, axis) == new_labels
        assert np.allclose(new_image[0][inside], new_labels[inside] / 3, atol=1e-4)
        assert (new_trusted <= (new_labels == 2)).all()
        moved += not np.array_equal(new_labels, labels)
    assert moved >= 5


def test_intensity_changes_leave_labels_alone_and_training_uses_the_allowed_mirrors():
    images, masks = split_discs(4, 48, seed=1)
    default = Trainer(images, masks, method="ce", preset="fast", epochs=1).augmenter
    assert default == Augmenter(("flip_rows",), geometry=False, intensity=False)
    trainer = Trainer(images, masks, make_config("ce", "fast", epochs=1, augment=True))
    assert trainer.augmenter == Augmenter(("flip_rows",), geometry=True, intensity=True)
    crop = trainer.runs[0].dataset
    crop.augment = Augmenter((), geometry=False, intensity=True)
    image, labels, _ = crop[0]
    crop.augment = None
    plain_image, plain_labels, _ = crop[0]
    assert np.array_equal(labels, plain_labels) and not np.allclose(image, plain_image)
    unaugmented = make_config("ce", "fast", epochs=1, flips=False, augment=False)
    assert Trainer(images, masks, unaugmented).augmenter is None
