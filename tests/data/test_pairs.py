import numpy as np
import pytest

from jcas.data.io import write_array
from jcas.data.labels import LabelMap
from jcas.data.pairs import as_slices, check_pair, match_folders, normalise
from jcas.errors import JCASInputError


def test_label_map_round_trips_user_values_and_ignore():
    mask = np.array([[0, 3, 7], [255, 7, 0]], dtype=np.uint8)
    label_map = LabelMap.from_masks([mask])
    assert label_map.values == (0, 3, 7)
    encoded = label_map.encode(mask)
    assert encoded.tolist() == [[0, 1, 2], [-1, 2, 1 - 1]]
    assert np.array_equal(label_map.decode(encoded, np.uint8), mask)


def test_label_map_rejects_unknown_values():
    with pytest.raises(JCASInputError, match=r"\[5\].*not trained"):
        LabelMap((0, 1)).encode(np.array([[0, 5]]))


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.ones((4, 4), dtype=np.uint8), "single class"),
        (np.array([[0.0, 0.5], [1.0, 1.0]]), "non-integer"),
        (np.array([[0, -1], [1, 1]]), "negative"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), "NaN"),
    ],
)
def test_bad_masks_get_clear_errors(mask, message):
    with pytest.raises(JCASInputError, match=message):
        LabelMap.from_masks([mask])


def test_shape_mismatch_names_both_shapes_and_the_file():
    with pytest.raises(JCASInputError, match=r"case7.*\(10, 12\).*\(10, 11\)"):
        check_pair(np.zeros((10, 12)), np.zeros((10, 11), dtype=np.uint8), name="case7")


def test_nan_and_infinite_images_are_refused():
    image = np.zeros((5, 5), dtype=np.float32)
    image[1, 1] = np.inf
    with pytest.raises(JCASInputError, match="NaN or infinite"):
        check_pair(image, np.zeros((5, 5), dtype=np.uint8))


def test_rgb_images_and_stacks_split_into_slices():
    rgb = np.zeros((6, 7, 3), dtype=np.uint8)
    mask = np.zeros((6, 7), dtype=np.uint8)
    check_pair(rgb, mask)
    assert normalise(rgb, 3).shape == (3, 6, 7)
    stack = np.zeros((4, 6, 7))
    slices = as_slices(stack, np.zeros((4, 6, 7), dtype=np.uint8))
    assert len(slices) == 4 and slices[0][0].shape == (6, 7)


def test_match_folders_pairs_by_stem_and_lists_lonely_files(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    for stem in ("a", "b", "c"):
        write_array(images / f"{stem}.tif", np.zeros((4, 4), dtype=np.uint16))
    for stem in ("a", "b", "d"):
        write_array(masks / f"{stem}.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(JCASInputError) as error:
        match_folders(images, masks)
    assert "image without mask: c.tif" in str(error.value) and "mask without image: d.png" in str(error.value)
    (images / "c.tif").unlink()
    (masks / "d.png").unlink()
    assert [pair.stem for pair in match_folders(images, masks)] == ["a", "b"]


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(JCASInputError, match="holds no PNG, TIFF, NIfTI or zarr"):
        match_folders(tmp_path / "images", tmp_path / "masks")


# --- hostile input to the checks and the Python API -------------------------------------------

from jcas.data.labels import check_mask  # noqa: E402
from jcas.data.pairs import (MIN_TRAINING_SIDE, check_training_arrays, check_training_sizes,  # noqa: E402
                       supported_files)


def test_colour_and_empty_masks_are_refused_but_small_stacks_are_not():
    with pytest.raises(JCASInputError, match="single-channel label image"):
        check_mask(np.zeros((10, 12, 3), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="single-channel label image"):
        check_pair(np.zeros((10, 12, 4), dtype=np.uint8), np.zeros((10, 12, 4), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="empty"):
        check_pair(np.zeros((0, 0)), np.zeros((0, 0), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="image is empty"):
        check_pair(np.zeros((0, 4)), np.zeros((4, 4), dtype=np.uint8))
    check_mask(np.zeros((2, 4, 4), dtype=np.uint8))  # two slices of 4 x 4: a stack, not a colour


def test_a_dtype_that_cannot_hold_the_labels_is_refused_not_wrapped():
    label_map = LabelMap((0, 300, 1000))
    indices = np.array([[0, 1], [2, 0]])
    with pytest.raises(JCASInputError, match=r"uint8, which cannot hold.*Save the mask as uint16"):
        label_map.decode(indices, np.uint8)
    assert label_map.decode(indices, np.uint16).tolist() == [[0, 300], [1000, 0]]
    LabelMap((0, 1)).check_dtype(bool)
    with pytest.raises(JCASInputError):
        LabelMap((0, 3)).check_dtype(bool)


def test_huge_values_normalise_to_finite_numbers():
    ordinary = (np.arange(100).reshape(10, 10) % 7).astype(np.uint8)
    expected = np.asarray(ordinary, dtype=np.float32)[None]
    low, high = np.percentile(expected, (1.0, 99.0))
    before = np.clip((expected - low) / (high - low), -1, 2).astype(np.float32)
    assert np.array_equal(normalise(ordinary, 1), before)  # ordinary images: exactly as before
    for huge in ((ordinary.astype(np.float32) - 3) * np.float32(1e38), ordinary * 1e300):
        result = normalise(huge, 1)
        assert result.dtype == np.float32 and np.all(np.isfinite(result))
        assert np.allclose(result, normalise(ordinary, 1), atol=1e-5)


def test_folders_named_wrongly_or_holding_twins_are_refused(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    for stem in ("a", "b"):
        write_array(images / f"{stem}.png", np.zeros((4, 4), dtype=np.uint8))
        write_array(masks / f"{stem}.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(JCASInputError, match="is a file, not a folder"):
        supported_files(images / "a.png", "images")
    with pytest.raises(JCASInputError, match="are the same"):
        match_folders(images, images)
    write_array(masks / "a.tif", np.zeros((4, 4), dtype=np.uint8))
    write_array(masks / "b.nii.gz", np.zeros((1, 4, 4), dtype=np.uint8))
    with pytest.raises(JCASInputError, match=r"a\.png, a\.tif\n  b\.nii\.gz, b\.png") as error:
        match_folders(images, masks)
    assert "Keep one of each" in str(error.value)


class _Volume:
    def __init__(self, name, side):
        self.name = name
        self.shape = (side, side)


def test_images_too_small_to_train_on_are_named_with_the_minimum():
    check_training_sizes([_Volume("big", MIN_TRAINING_SIDE)])
    with pytest.raises(JCASInputError, match=r"(?s)small.png \(7 x 7\).*at least 8 x 8 pixels"):
        check_training_sizes([_Volume("big", 64), _Volume("small.png", 7)])


@pytest.mark.parametrize("images, masks, message", [
    (None, [np.zeros((8, 8))], "images is None"),
    ((np.zeros((8, 8)) for _ in range(2)), [np.zeros((8, 8))] * 2, "generator"),
    ([np.zeros((8, 8))], iter([np.zeros((8, 8))]), "masks is a generator"),
    (np.zeros((8, 8)), np.zeros((8, 8)), r"one 2D array.*\[image\]"),
    ("images/", "masks/", "is a path"),
    ({"a": np.zeros((8, 8))}, [np.zeros((8, 8))], "is a dict"),
    ([[[1, 2], [3]]], [np.zeros((2, 2))], r"images\[0\] is a ragged list"),
    ([None], [np.zeros((8, 8))], r"images\[0\] is None"),
    ([np.zeros((8, 8))] * 2, [np.zeros((8, 8))], "2 images but 1 masks"),
])
def test_training_arguments_get_clear_errors(images, masks, message):
    with pytest.raises(JCASInputError, match=message):
        check_training_arrays(images, masks)


def test_training_arguments_that_are_fine_come_back_as_lists_of_arrays():
    stack = np.zeros((3, 8, 8))
    images, masks = check_training_arrays((stack[0], stack[1]), [stack[0].tolist(), stack[1]])
    assert [a.shape for a in images + masks] == [(8, 8)] * 4
    images, masks = check_training_arrays(stack, stack.astype(np.uint8))  # an array of three images
    assert len(images) == len(masks) == 3
