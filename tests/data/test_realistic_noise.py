"""Tests of the realistic annotation errors (threshold recipe, sparse slices, misregistration, pseudo-labels)."""
import numpy as np
import pytest
from scipy import ndimage

from jcas.data.realistic_noise import (
    REALISTIC_KINDS,
    drawn_slices,
    misregistration,
    multi_otsu,
    realistic_noise,
)
from jcas.errors import JCASInputError

LABELS = (0, 3, 7)


def disk(shape, centre, radius):
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def moving_blobs(count=12, side=80):
    """(count, side, side) uint8 stack in labels {0, 3, 7}: a 3-disk that grows and drifts, a 7-ring around it."""
    mask = np.zeros((count, side, side), dtype=np.uint8)
    for z in range(count):
        centre = (side // 2, side // 3 + 2 * z)
        mask[z][disk((side, side), centre, 14 + z // 2)] = 7
        mask[z][disk((side, side), centre, 7 + z // 3)] = 3
    return mask


def images_of(mask, seed=0):
    """Float images of ``mask`` with intensity 0 < 3 < 7 (background, 3, 7: 10, 100, 200) plus Gaussian noise."""
    levels = np.zeros(256)
    levels[[0, 3, 7]] = (10.0, 100.0, 200.0)
    return levels[mask] + np.random.default_rng(seed).normal(0.0, 8.0, mask.shape)


def seed_drawing_first_slice(count, step):
    """A seed whose slice annotation draws slice 0 (and every ``step``-th after it)."""
    for seed in range(100):
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        if drawn_slices(count, step, rng)[0] == 0:
            return seed
    raise AssertionError("no seed draws slice 0")


def inputs(kind):
    """(mask, keyword arguments) for a call of ``kind`` that changes the mask for sure."""
    stack = moving_blobs()
    if kind == "threshold":
        return stack, {"images": images_of(stack), "strength": 3.0}
    if kind == "pseudo":
        return stack, {"images": images_of(stack), "predict": lambda image: np.where(image > 50, 3, 0)}
    return stack, {}


@pytest.mark.parametrize("kind", REALISTIC_KINDS)
def test_every_kind_keeps_shape_dtype_and_label_values_and_maps_what_changed(kind):
    mask, arguments = inputs(kind)
    original = mask.copy()
    noisy, noise_map = realistic_noise(mask, kind, seed=3, **arguments)
    np.testing.assert_array_equal(mask, original)
    assert noisy.shape == mask.shape and noisy.dtype == mask.dtype
    assert set(np.unique(noisy)) <= set(LABELS)
    np.testing.assert_array_equal(noise_map, noisy != mask)
    assert noise_map.dtype == bool and noise_map.any()


@pytest.mark.parametrize("kind", REALISTIC_KINDS)
def test_same_seed_same_noise(kind):
    mask, arguments = inputs(kind)
    first, _ = realistic_noise(mask, kind, seed=11, **arguments)
    again, _ = realistic_noise(mask, kind, seed=11, **arguments)
    np.testing.assert_array_equal(first, again)


def test_images_are_read_only_by_the_kinds_that_need_them():
    mask = moving_blobs()
    for kind in ("sparse", "interpolated", "misregistered"):
        without, _ = realistic_noise(mask, kind, seed=4)
        with_images, _ = realistic_noise(mask, kind, images_of(mask), seed=4)
        np.testing.assert_array_equal(with_images, without)


@pytest.mark.parametrize("kind", ["sparse", "interpolated", "misregistered"])
def test_other_seeds_other_noise(kind):
    mask, _ = inputs(kind)
    first, _ = realistic_noise(mask, kind, seed=11)
    others = [realistic_noise(mask, kind, seed=seed)[0] for seed in (12, 13, 14)]
    assert any(not np.array_equal(first, other) for other in others)


@pytest.mark.parametrize("kind", ["threshold", "sparse", "interpolated", "misregistered"])
def test_ignored_pixels_stay(kind):
    mask, arguments = inputs(kind)
    mask = mask.copy()
    mask[:, :5, :] = 255
    noisy, _ = realistic_noise(mask, kind, seed=2, **arguments)
    assert np.all(noisy[:, :5, :] == 255)
    assert 255 not in noisy[:, 5:, :]


# --- threshold ---------------------------------------------------------------------------------------------


def test_multi_otsu_finds_the_gaps_between_intensity_levels():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(mean, 3.0, 3000) for mean in (20.0, 90.0, 200.0)])
    classes = np.digitize(values, multi_otsu(values, 3))
    np.testing.assert_array_equal(classes, np.repeat([0, 1, 2], 3000))
    assert multi_otsu(values, 1).shape == (0,)
    assert np.all(np.isinf(multi_otsu(np.full(10, 4.0), 3)))


def test_multi_otsu_agrees_with_scikit_image():
    filters = pytest.importorskip("skimage.filters")
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(mean, 12.0, 4000) for mean in (40.0, 100.0, 130.0, 220.0)])
    ours = np.digitize(values, multi_otsu(values, 4))
    theirs = np.digitize(values, filters.threshold_multiotsu(values, classes=4))
    assert np.mean(ours == theirs) > 0.995


def test_threshold_on_clean_intensities_redraws_the_mask():
    mask = moving_blobs()
    levels = np.zeros(256)
    levels[[0, 3, 7]] = (10.0, 100.0, 200.0)
    noisy, noise_map = realistic_noise(mask, "threshold", levels[mask], strength=0.0)
    np.testing.assert_array_equal(noisy, mask)
    assert not noise_map.any()


def test_threshold_depends_on_the_clean_mask_only_through_its_class_structure():
    """Separable classes: the labels come from the image alone; any mask with the same class order gives them."""
    mask = moving_blobs()
    images = images_of(mask)
    noisy, _ = realistic_noise(mask, "threshold", images, strength=1.5)
    # another "clean" mask: each class shrunk by a pixel, the same intensity order of classes
    shrunk = mask.copy()
    for value in (3, 7):
        inside = mask == value
        shrunk[inside & ~ndimage.binary_erosion(inside, structure=np.ones((1, 3, 3)))] = 0
    noisy_from_shrunk, _ = realistic_noise(shrunk, "threshold", images, strength=1.5)
    np.testing.assert_array_equal(noisy_from_shrunk, noisy)


def test_threshold_of_classes_of_one_intensity_keeps_them_apart_by_region():
    """Left and right discs of the same brightness: each class is thresholded inside its own region."""
    mask = np.zeros((2, 64, 96), dtype=np.uint8)
    mask[:, disk((64, 96), (32, 24), 14)] = 1
    mask[:, disk((64, 96), (32, 72), 14)] = 2
    images = np.where(mask > 0, 150.0, 20.0) + np.random.default_rng(0).normal(0.0, 5.0, mask.shape)
    images[:, disk((64, 96), (32, 24), 17) & ~disk((64, 96), (32, 24), 14)] = 150.0  # drawn 3 px too small
    noisy, noise_map = realistic_noise(mask, "threshold", images, strength=1.0)
    assert set(np.unique(noisy[:, :, :48])) == {0, 1} and set(np.unique(noisy[:, :, 48:])) == {0, 2}
    assert noise_map[:, :, :48].mean() > 0.02 and noise_map[:, :, 48:].mean() < noise_map[:, :, :48].mean() / 3


def test_threshold_fills_holes_and_drops_specks():
    mask = np.zeros((1, 80, 80), dtype=np.uint8)
    mask[0, 20:60, 20:60] = 1
    images = np.where(mask > 0, 200.0, 10.0)
    images[0, 38:42, 38:42] = 10.0  # a dark hole inside the object
    images[0, 5:6, 5:7] = 200.0  # a bright 2-pixel speck in the background (specks: under 3 px at this size)
    noisy, noise_map = realistic_noise(mask, "threshold", images, strength=0.0)
    np.testing.assert_array_equal(noisy, mask)
    assert not noise_map.any()


def test_threshold_of_independent_images_uses_each_images_histogram():
    mask = np.zeros((2, 40, 40), dtype=np.uint8)
    mask[:, 10:30, 10:30] = 1
    images = np.where(mask > 0, 100.0, 0.0)
    images[1] += 500.0  # the second image is much brighter overall: one histogram for both would merge it
    one_volume, _ = realistic_noise(mask, "threshold", images, strength=0.0, stack=True)
    each_image, each_map = realistic_noise(mask, "threshold", images, strength=0.0, stack=False)
    assert not each_map.any()
    assert not np.array_equal(one_volume, mask)


def test_threshold_reads_colour_images_by_their_mean():
    mask = moving_blobs(count=2)
    grey = images_of(mask)
    colour = np.stack([grey, grey + 5.0, grey - 5.0], axis=-1)
    np.testing.assert_array_equal(
        realistic_noise(mask, "threshold", colour)[0], realistic_noise(mask, "threshold", grey)[0]
    )


# --- sparse and interpolated -------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [2, 3, 5])
def test_sparse_keeps_drawn_slices_and_copies_the_nearest_to_the_others(step):
    mask = moving_blobs(count=13)
    for seed in range(4):
        noisy, _ = realistic_noise(mask, "sparse", strength=step, seed=seed)
        drawn = drawn_slices(len(mask), step, np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))
        assert len(drawn) >= len(mask) // step and np.all(np.diff(drawn) == step) and drawn[0] < step
        for z in range(len(mask)):
            nearest = drawn[np.argmin(np.abs(drawn - z))]  # the earlier one on a tie
            np.testing.assert_array_equal(noisy[z], mask[nearest])


def test_sparse_with_step_one_draws_every_slice():
    mask = moving_blobs()
    for kind in ("sparse", "interpolated"):
        noisy, noise_map = realistic_noise(mask, kind, strength=1)
        np.testing.assert_array_equal(noisy, mask)


def test_interpolated_keeps_drawn_slices_and_blends_the_shapes_between():
    """A disk whose radius grows linearly: interpolated slices are close to the truth, copies are not."""
    side, count, step = 80, 9, 4
    mask = np.zeros((count, side, side), dtype=np.uint8)
    for z in range(count):
        mask[z][disk((side, side), (40, 40), 10 + 2 * z)] = 1
    seed = seed_drawing_first_slice(count, step)  # slices 0, 4, 8: every other slice has two drawn neighbours
    interpolated, interpolated_map = realistic_noise(mask, "interpolated", strength=step, seed=seed)
    copied, copied_map = realistic_noise(mask, "sparse", strength=step, seed=seed)
    for z in (0, 4, 8):
        np.testing.assert_array_equal(interpolated[z], mask[z])
    for z in range(count):
        area = np.count_nonzero(interpolated[z])
        assert abs(area - np.count_nonzero(mask[z])) <= 0.04 * np.count_nonzero(mask[z])
    assert interpolated_map.sum() < 0.25 * copied_map.sum()


def test_interpolated_lets_a_class_fade_out_between_drawn_slices():
    mask = np.zeros((5, 40, 40), dtype=np.uint8)
    mask[0][disk((40, 40), (20, 20), 10)] = 1
    noisy, _ = realistic_noise(mask, "interpolated", strength=4, seed=seed_drawing_first_slice(5, 4))
    areas = [np.count_nonzero(slice_mask) for slice_mask in noisy]
    assert areas[0] > areas[1] > 0 and areas[2] == areas[3] == areas[4] == 0


@pytest.mark.parametrize("kind", ["sparse", "interpolated"])
def test_slice_annotation_needs_an_ordered_stack(kind):
    with pytest.raises(JCASInputError, match="volume in order"):
        realistic_noise(moving_blobs()[0], kind)
    with pytest.raises(JCASInputError, match="volume in order"):
        realistic_noise(moving_blobs(), kind, stack=False)


# --- misregistered -----------------------------------------------------------------------------------------


def test_misregistration_is_one_transform_per_volume():
    slice_mask = moving_blobs(count=1)[0]
    volume = np.repeat(slice_mask[np.newaxis], 4, axis=0)
    noisy, noise_map = realistic_noise(volume, "misregistered", strength=3.0, seed=5)
    assert noise_map.any()
    for z in range(1, 4):
        np.testing.assert_array_equal(noisy[z], noisy[0])
    independent, _ = realistic_noise(volume, "misregistered", strength=3.0, seed=5, stack=False)
    assert any(not np.array_equal(independent[z], independent[0]) for z in range(1, 4))
    np.testing.assert_array_equal(independent[0], noisy[0])  # image 0 draws like volume 0


def test_misregistration_moves_no_pixel_farther_than_its_bound():
    side, strength = 100, 3.0
    coordinates = misregistration((side, side), strength, np.random.default_rng(0))
    moved = np.hypot(*(coordinates - np.indices((side, side))))
    pixels = strength * side / 200.0
    reach = np.hypot(side / 2, side / 2)
    # rotation + scale about the centre, the shift and the field along each axis
    bound = reach * (np.deg2rad(strength) + strength / 100.0) + np.sqrt(2) * 1.5 * pixels
    assert 0 < moved.max() <= bound


def test_misregistration_errors_lie_along_boundaries():
    mask = np.zeros((3, 120, 120), dtype=np.uint8)
    mask[:, 20:100, 20:70] = 1
    mask[:, 40:80, 70:100] = 2
    noisy, noise_map = realistic_noise(mask, "misregistered", strength=2.0, seed=1)
    boundary = np.zeros(mask.shape, dtype=bool)
    for z in range(3):
        edges = ndimage.morphological_gradient(mask[z], size=3) > 0
        boundary[z] = ndimage.distance_transform_edt(~edges) <= 5
    assert noise_map.any()
    assert not noise_map[~boundary].any()


# --- pseudo-labels -----------------------------------------------------------------------------------------


def test_pseudo_labels_are_the_predictions():
    mask = moving_blobs(count=3)
    images = images_of(mask)
    calls = []

    def predict(image):
        calls.append(image.shape)
        return np.where(image > 150, 7, 0)

    noisy, noise_map = realistic_noise(mask, "pseudo", images, predict=predict)
    assert calls == [mask.shape[1:]] * 3
    np.testing.assert_array_equal(noisy, np.where(images > 150, 7, 0))
    np.testing.assert_array_equal(noise_map, noisy != mask)


@pytest.mark.parametrize(
    "predict, message",
    [
        (lambda image: np.zeros((5, 5), dtype=np.uint8), "must return"),
        (lambda image: np.zeros(image.shape, dtype=float), "must return"),
        (lambda image: np.full(image.shape, 4), "lacks"),
    ],
)
def test_pseudo_labels_checks_the_predictions(predict, message):
    mask = moving_blobs(count=2)
    with pytest.raises(JCASInputError, match=message):
        realistic_noise(mask, "pseudo", images_of(mask), predict=predict)


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (dict(kind="blur"), "Unknown realistic noise kind"),
        (dict(kind="sparse", strength=2.5), "whole number"),
        (dict(kind="sparse", strength=0), "whole number"),
        (dict(kind="interpolated", strength="five"), "whole number"),
        (dict(kind="misregistered", strength=-1.0), ">= 0"),
        (dict(kind="threshold", strength=float("nan"), images="own"), ">= 0"),
        (dict(kind="misregistered", seed=-1), "non-negative"),
        (dict(kind="threshold"), "reads the images"),
        (dict(kind="threshold", images=np.zeros((12, 80, 81))), "must be numeric of shape"),
        (dict(kind="threshold", images=np.zeros((12, 80, 80), dtype=bool)), "must be numeric of shape"),
        (dict(kind="misregistered", images=np.zeros((12, 80))), "must be numeric of shape"),
        (dict(kind="pseudo", images="own"), "predict="),
        (dict(kind="sparse", predict=lambda image: image), "predict="),
        (dict(kind="pseudo", images="own", strength=1.0, predict=lambda image: image), "no strength"),
        (dict(kind="sparse", mask=np.zeros((3, 8, 8), dtype=float)), "integer labels"),
        (dict(kind="sparse", mask=np.zeros((2, 3, 8, 8), dtype=np.uint8)), "non-empty"),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    call = dict(call)
    call.setdefault("mask", moving_blobs())
    if isinstance(call.get("images"), str):
        call["images"] = images_of(call["mask"])
    with pytest.raises(JCASInputError, match=message):
        realistic_noise(**call)
