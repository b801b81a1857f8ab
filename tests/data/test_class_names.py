"""Class names stored in a mask file's metadata (TIFF description, NIfTI extension), and their precedence."""
import json
import logging

import nibabel
import numpy as np
import pytest
import tifffile
from nibabel.nifti1 import Nifti1Extension

from jcas.data.class_names import NIFTI_ECODE, class_names_of, names_in_file
from jcas.data.io import affine_of_spacing, is_label_file, read_with_affine, spacing_of_affine, write_array
from jcas.data.labels import CLASS_NAMES_FILE

NAMES = {0: "background", 3: "grey matter", 7: "white matter – ü"}  # not ASCII: stored escaped


@pytest.fixture
def labels():
    return np.random.default_rng(0).choice(np.array([0, 3, 7], dtype=np.uint8), size=(3, 8, 9))


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz", ".nii"])
def test_names_written_into_a_file_are_read_back_with_its_spacing(tmp_path, labels, suffix):
    path = write_array(tmp_path / f"seg{suffix}", labels, affine=affine_of_spacing((2.5, 0.5, 0.8), 3), labels=True,
                       class_names=NAMES)
    assert class_names_of(path) == NAMES
    data, affine = read_with_affine(path)
    np.testing.assert_array_equal(data, labels)
    np.testing.assert_allclose(spacing_of_affine(affine, 3), (2.5, 0.5, 0.8), rtol=1e-6)
    assert is_label_file(path)
    # without names nothing is stored, and PNG (which cannot hold them) is written as before
    assert class_names_of(write_array(tmp_path / f"plain{suffix}", labels)) == {}
    assert class_names_of(write_array(tmp_path / "slice.png", labels[0], class_names=NAMES)) == {}


def test_where_the_names_are_stored(tmp_path, labels):
    tiff = write_array(tmp_path / "seg.tif", labels, labels=True, class_names=NAMES)
    with tifffile.TiffFile(tiff) as handle:
        description = json.loads(handle.pages.first.description)
    assert description["intent"] == "label"
    assert description["class_names"] == {"0": "background", "3": "grey matter", "7": "white matter – ü"}
    nifti = write_array(tmp_path / "seg.nii.gz", labels, labels=True, class_names=NAMES)
    [extension] = nibabel.load(str(nifti)).header.extensions
    assert extension.get_code() == NIFTI_ECODE == 6  # "comment"
    assert json.loads(extension.get_content().rstrip(b"\0")) == {"class_names": description["class_names"]}


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_a_names_file_beside_the_mask_comes_before_the_names_in_the_file(tmp_path, labels, suffix):
    path = write_array(tmp_path / f"seg{suffix}", labels, class_names=NAMES)
    (tmp_path / CLASS_NAMES_FILE).write_text(json.dumps({"0": "clear", "3": "cortex"}))
    assert class_names_of(path) == {0: "clear", 3: "cortex"}
    assert names_in_file(path) == NAMES


@pytest.mark.parametrize("entry", ["grey matter", ["background", "grey matter"], {"grey": "matter"},
                                   {"1": 5}, {"1": {"name": "grey"}}, {}, None])
def test_odd_names_in_a_tiff_are_ignored_and_the_file_still_loads(tmp_path, labels, entry, caplog):
    path = tmp_path / "seg.tif"
    tifffile.imwrite(path, labels, photometric="minisblack",
                     metadata={"intent": "label", "spacing": 2.0, "class_names": entry})
    with caplog.at_level(logging.WARNING, logger="jcas.data.class_names"):
        assert class_names_of(path) == {}
    assert "class names in its metadata are ignored" in caplog.text and "seg.tif" in caplog.text
    data, affine = read_with_affine(path)
    np.testing.assert_array_equal(data, labels)
    assert spacing_of_affine(affine, 3) == (2.0, 1.0, 1.0) and is_label_file(path)


@pytest.mark.parametrize("content, warned", [
    (b'{"class_names": ["background", "grey matter"]}', True),  # ours, damaged
    (b'{"class_names": {"x": "grey"}}', True),
    (b'{"class_names": {"1": "gr', False),  # cut short: not JSON, so not ours
    (b"scanned on Tuesday", False),  # another tool's free-text comment
    (b'{"operator": "A. N. Other"}', False),  # another tool's JSON
    (b"\xff\xfe\x00garbage", False),
])
def test_odd_nifti_comment_extensions_are_ignored_and_the_file_still_loads(tmp_path, labels, content, warned,
                                                                        caplog):
    volume = nibabel.Nifti1Image(labels, np.diag([0.5, 0.8, 2.5, 1.0]))
    volume.header.extensions.append(Nifti1Extension(NIFTI_ECODE, content))
    path = tmp_path / "seg_mask.nii.gz"
    nibabel.save(volume, str(path))
    with caplog.at_level(logging.WARNING, logger="jcas.data.class_names"):
        assert class_names_of(path) == {}
    assert ("class names in its metadata are ignored" in caplog.text) == warned
    data, affine = read_with_affine(path)
    assert data.shape == (9, 3, 8)
    np.testing.assert_allclose(spacing_of_affine(affine, 3), (2.5, 0.5, 0.8))


def test_a_later_extension_with_names_is_found_after_another_tools_comment(tmp_path, labels):
    volume = nibabel.Nifti1Image(labels, np.eye(4))
    volume.header.extensions.append(Nifti1Extension(NIFTI_ECODE, b"converted by some tool"))
    volume.header.extensions.append(Nifti1Extension(NIFTI_ECODE, b'{"class_names": {"0": "bg", "3": "cortex"}}'))
    nibabel.save(volume, str(tmp_path / "seg.nii"))
    assert class_names_of(tmp_path / "seg.nii") == {0: "bg", 3: "cortex"}


def test_imagej_slice_labels_are_not_class_names(tmp_path, labels):
    path = tmp_path / "seg.tif"
    tifffile.imwrite(path, labels, imagej=True, metadata={"spacing": 2.0, "Labels": ["top", "middle", "bottom"]})
    assert class_names_of(path) == {}
    assert names_in_file(tmp_path / "missing.tif") == {} and names_in_file(tmp_path / "seg.png") == {}
