import numpy as np
import pytest

from jcas.data import as_slices, check_pair, match_folders, normalise
from jcas.errors import JCASInputError
from jcas.io import write_array
from jcas.labels import LabelMap


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
    with pytest.raises(JCASInputError, match="holds no PNG, TIFF or NIfTI"):
        match_folders(tmp_path / "images", tmp_path / "masks")
