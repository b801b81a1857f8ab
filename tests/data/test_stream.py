"""Slices read one at a time from every input format, through a cache that stays within its budget."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from jcas.correction.boundary import UNSEEN, label_edges
from jcas.cli import main
from jcas.data.io import read_array, read_with_affine, spacing_of_affine, write_array
from jcas.data.pairs import match_folders
from jcas.data.stream import OPEN_FILES, SliceFile, SliceStore
from jcas.errors import JCASInputError
from jcas.training.dataset import scan_labels, volumes_from_files


def write_ome_zarr(path, data, scale):
    """An OME-Zarr image (v0.4 metadata) of ``data`` ``(Z, Y, X)`` with time and channel axes of one entry."""
    group = zarr.open_group(str(path), mode="w")
    group.create_array("0", data=data[None, None], chunks=(1, 1, 1) + data.shape[1:])
    group.attrs["multiscales"] = [{
        "version": "0.4", "axes": [{"name": axis} for axis in "tczyx"],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, *scale]}]}]}]


@pytest.fixture
def stack(mni):
    """Five MNI slices and their masks."""
    images, masks = mni
    return images[:5], masks[:5].astype(np.uint8)


@pytest.mark.parametrize("name", ["a.nii", "a.nii.gz", "a.tif", "imagej.tif", "a.ome.zarr", "plain.zarr"])
def test_every_format_reads_slice_by_slice_as_the_whole_file_reads(tmp_path, stack, name):
    images, _ = stack
    path = tmp_path / name
    if name == "imagej.tif":
        tifffile.imwrite(path, images, imagej=True)
    elif name == "a.ome.zarr":
        write_ome_zarr(path, images, (2.0, 0.5, 0.5))
    elif name == "plain.zarr":
        zarr.save_array(str(path), images)
    else:
        write_array(path, images)
    whole = read_array(path)
    opened = SliceFile(path)
    assert opened.shape == whole.shape == images.shape and opened.dtype == whole.dtype
    for z in range(len(images)):
        np.testing.assert_array_equal(opened.read(z), images[z])
    opened.close()
    np.testing.assert_array_equal(opened.read(4), images[4])  # opens again after closing
    if name == "a.ome.zarr":
        assert spacing_of_affine(read_with_affine(path)[1], 3) == (2.0, 0.5, 0.5)


def test_a_2d_file_is_one_slice_read_whole(tmp_path, stack):
    images, _ = stack
    write_array(tmp_path / "one.png", images[0])
    opened = SliceFile(tmp_path / "one.png")
    assert opened.shape == images[0].shape
    np.testing.assert_array_equal(opened.read(None), images[0])


def test_the_store_keeps_at_most_its_budget_and_the_latest_slices(tmp_path, stack):
    images, _ = stack
    write_array(tmp_path / "a.tif", images)
    per_slice = images[0].nbytes
    store = SliceStore(3 * per_slice)
    for z in range(5):
        store.read(tmp_path / "a.tif", z)
        assert store.cached_bytes <= 3 * per_slice
    assert store.reads == 5
    store.read(tmp_path / "a.tif", 4)  # among the latest three: from the cache
    assert store.reads == 5
    np.testing.assert_array_equal(store.read(tmp_path / "a.tif", 0), images[0])  # evicted: read again
    assert store.reads == 6
    with pytest.raises(ValueError):
        store.read(tmp_path / "a.tif", 0)[0, 0] = 1  # shared with the cache, so read-only
    tiny = SliceStore(per_slice // 2)  # a slice larger than the whole budget is handed out, not kept
    np.testing.assert_array_equal(tiny.read(tmp_path / "a.tif", 2), images[2])
    assert tiny.cached_bytes == 0


def test_the_store_keeps_only_a_few_files_open(tmp_path, stack):
    images, _ = stack
    paths = [write_array(tmp_path / f"{index}.nii.gz", images) for index in range(OPEN_FILES + 3)]
    store = SliceStore(2**20)
    for path in paths:
        store.read(path, 1)
    assert len(store._files) == OPEN_FILES
    store.close()
    assert store.cached_bytes == 0 and not store._files


def test_volumes_from_files_check_every_slice_and_name_it(tmp_path, stack):
    images, masks = stack
    bad = masks.astype(np.float32)
    bad[3, 10, 10] = 0.5
    write_array(tmp_path / "images" / "a.nii.gz", images)
    write_array(tmp_path / "masks" / "a.nii.gz", bad)
    with pytest.raises(JCASInputError, match=r"a\.nii\.gz / a\.nii\.gz, slice 4 of 5: mask holds non-integer"):
        volumes_from_files(match_folders(tmp_path / "images", tmp_path / "masks"))
    write_array(tmp_path / "masks" / "a.nii.gz", masks[:4], overwrite=True)
    with pytest.raises(JCASInputError, match=r"image shape \(5, 233, 197\) and mask shape \(4, 233, 197\) differ"):
        volumes_from_files(match_folders(tmp_path / "images", tmp_path / "masks"))


def test_label_scanning_streams_and_counts_as_the_whole_masks_do(tmp_path, stack):
    images, masks = stack
    write_array(tmp_path / "images" / "a.tif", images)
    write_array(tmp_path / "masks" / "a.tif", masks)
    write_ome_zarr(tmp_path / "images" / "b.ome.zarr", images[:2], (1.0, 1.0, 1.0))
    write_ome_zarr(tmp_path / "masks" / "b.ome.zarr", masks[:2], (1.0, 1.0, 1.0))
    store = SliceStore(images[0].nbytes)  # a slice at a time
    volumes = volumes_from_files(match_folders(tmp_path / "images", tmp_path / "masks"), store=store)
    assert [volume.slices for volume in volumes] == [5, 2]
    label_map, frequencies = scan_labels(volumes)
    whole = np.concatenate([masks, masks[:2]])
    assert label_map.values == (0, 1, 2)
    np.testing.assert_allclose(frequencies, np.bincount(whole.ravel()) / whole.size)
    assert store.cached_bytes <= images[0].nbytes


def test_train_and_correct_read_an_ome_zarr_folder(tmp_path, cells, small_training, capsys):
    images, masks = cells
    write_ome_zarr(tmp_path / "images" / "nuclei.ome.zarr", images, (0.29, 0.26, 0.26))
    write_ome_zarr(tmp_path / "masks" / "nuclei.ome.zarr", masks.astype(np.uint8), (0.29, 0.26, 0.26))
    assert main(["train", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"), "--model",
                 str(tmp_path / "model.pt"), "--epochs", "1", "--folds", "1", "--cache-mb", "1"]) == 0
    assert main(["correct", "--model", str(tmp_path / "model.pt"), "--images", str(tmp_path / "images"),
                 "--masks", str(tmp_path / "masks"), "--out", str(tmp_path / "out")]) == 0
    corrected, affine = read_with_affine(tmp_path / "out" / "nuclei.tif")  # zarr is read only: a TIFF comes out
    assert corrected.shape == masks.shape
    np.testing.assert_allclose(spacing_of_affine(affine, 3), (0.29, 0.26, 0.26), rtol=1e-6)
    for heatmap in ("disagreement", "affinity_disagreement"):  # written slice by slice, read back as one stack
        stack = read_array(tmp_path / "out" / heatmap / "nuclei.tif")
        assert stack.shape == masks.shape and stack.dtype == np.float32 and 0 <= stack.min() <= stack.max() <= 1
    boundaries = read_array(tmp_path / "out" / "boundaries" / "nuclei.tif")  # the boundary view, slice by slice
    assert boundaries.shape == masks.shape and boundaries.dtype == np.uint8 and set(np.unique(boundaries)) <= {0, 1, 2}
    assert not (boundaries == UNSEEN)[~label_edges(masks)].any(), "an unseen boundary lies on a drawn one"
    assert main(["train", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"), "--model",
                 str(tmp_path / "again.pt"), "--cache-mb", "0"]) == 2
    assert "--cache-mb: 0 is too small; give a whole number of at least 1" in capsys.readouterr().err
