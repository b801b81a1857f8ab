import numpy as np
import pytest

from jcas.errors import JCASInputError
from jcas.io import file_stem, read_with_affine, write_array


@pytest.mark.parametrize("suffix, dtype", [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint16),
                                           (".nii.gz", np.uint8)])
def test_round_trip_keeps_values_shape_and_dtype(tmp_path, suffix, dtype):
    data = (np.arange(6 * 7).reshape(6, 7) % 5).astype(dtype)
    if suffix == ".nii.gz":
        data = np.stack([data, data[::-1]])
    affine = np.diag([0.5, 0.5, 2.0, 1.0])
    path = write_array(tmp_path / f"x{suffix}", data, affine=affine)
    back, back_affine = read_with_affine(path)
    assert back.dtype == dtype and np.array_equal(back, data)
    if suffix == ".nii.gz":
        assert np.allclose(back_affine, affine)
    assert file_stem(path) == "x"


def test_refuses_to_overwrite_and_leaves_the_file_alone(tmp_path):
    path = write_array(tmp_path / "m.png", np.zeros((3, 3), dtype=np.uint8))
    before = path.read_bytes()
    with pytest.raises(JCASInputError, match="refusing to overwrite"):
        write_array(path, np.ones((3, 3), dtype=np.uint8))
    assert path.read_bytes() == before
    write_array(path, np.ones((3, 3), dtype=np.uint8), overwrite=True)
    assert path.read_bytes() != before


def test_failed_write_leaves_no_partial_file(tmp_path):
    with pytest.raises(JCASInputError, match="PNG holds"):
        write_array(tmp_path / "m.png", np.zeros((3, 3), dtype=np.float64))
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"this is not a TIFF file")
    with pytest.raises(JCASInputError, match="cannot be read"):
        read_with_affine(path)
