"""Reader and writer: folders of pairs, TIFF and NIfTI files, geometry, overwrite, the review log."""
from __future__ import annotations

import csv

import nibabel
import numpy as np
import pytest
import tifffile
from napari.components import ViewerModel
from PIL import Image as PILImage

from jcas.data.io import read_with_affine, write_array
from jcas.errors import JCASInputError
from jcas.review import Review
from napari_jcas._settings import REVIEW_KEY, SOURCE_KEY
from napari_jcas._reader import class_names, features_of_names, get_reader
from napari_jcas._writer import export_labels, write_labels


@pytest.fixture
def pair_folder(tmp_path, noisy_mni):
    """``images/`` and ``masks/`` folders of 2D PNG slices, paired by name."""
    images, masks = noisy_mni
    for sub, stack in (("images", images), ("masks", masks)):
        (tmp_path / "case" / sub).mkdir(parents=True)
        for z, plane in enumerate(stack):
            PILImage.fromarray(plane).save(tmp_path / "case" / sub / f"slice_{z:02d}.png")
    return tmp_path / "case"


@pytest.fixture
def nifti_pair(tmp_path, noisy_mni):
    """A NIfTI volume and its mask with an anisotropic, shifted affine."""
    images, masks = noisy_mni
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = (-10.0, 5.0, 30.0)
    write_array(tmp_path / "brain.nii.gz", images, affine=affine)
    write_array(tmp_path / "brain_mask.nii.gz", masks, affine=affine)
    return tmp_path / "brain.nii.gz", tmp_path / "brain_mask.nii.gz", affine


def test_folder_pair_opens_as_an_image_series_and_a_labels_series(pair_folder, noisy_mni):
    viewer = ViewerModel()
    layers = viewer.open(pair_folder, plugin="napari-jcas")
    image, mask = layers
    assert image._type_string == "image" and mask._type_string == "labels"
    np.testing.assert_array_equal(image.data, noisy_mni[0])
    np.testing.assert_array_equal(mask.data, noisy_mni[1])
    assert mask.metadata[SOURCE_KEY]["files"] == ["slice_00.png", "slice_01.png"]


def test_folder_without_pair_or_other_files_are_not_claimed(tmp_path):
    (tmp_path / "images").mkdir()
    assert get_reader(str(tmp_path)) is None
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader([str(tmp_path), str(tmp_path)]) is None


def test_unpaired_files_give_a_clear_error(pair_folder):
    (pair_folder / "images" / "slice_02.png").write_bytes((pair_folder / "images" / "slice_00.png").read_bytes())
    with pytest.raises(JCASInputError, match="slice_02.png"):
        get_reader(str(pair_folder))(str(pair_folder))


def test_nifti_mask_keeps_spacing_and_affine(nifti_pair):
    image_path, mask_path, affine = nifti_pair
    viewer = ViewerModel()
    [image] = viewer.open(image_path, plugin="napari-jcas")
    [mask] = viewer.open(mask_path, plugin="napari-jcas")
    assert image._type_string == "image" and mask._type_string == "labels"
    np.testing.assert_allclose(mask.scale, (2.5, 0.8, 0.9))
    np.testing.assert_allclose(mask.metadata[SOURCE_KEY]["affine"], affine)


def test_tiff_float_file_is_an_image_even_when_named_mask(tmp_path):
    path = tmp_path / "probability_mask.tif"
    tifffile.imwrite(path, np.random.default_rng(0).random((8, 8)).astype(np.float32))
    [(data, attributes, kind)] = get_reader(str(path))(str(path))
    assert kind == "image" and data.dtype == np.float32 and attributes["name"] == "probability_mask"


def test_writer_round_trip_nifti_keeps_geometry_and_writes_the_log(nifti_pair, tmp_path):
    _, mask_path, affine = nifti_pair
    viewer = ViewerModel()
    [mask] = viewer.open(mask_path, plugin="napari-jcas")
    cleaned = np.array(mask.data)
    cleaned[0, :10, :10] = 2
    review = Review([], np.zeros_like(cleaned, dtype=np.int32), cleaned, np.asarray(mask.data))
    layer = viewer.add_labels(cleaned, scale=mask.scale, metadata={**mask.metadata, REVIEW_KEY: review})
    target = tmp_path / "out" / "brain_cleaned.nii.gz"
    viewer.layers.selection = {layer}
    written = viewer.layers.save(str(target), selected=True, plugin="napari-jcas")
    assert written == [str(target), str(tmp_path / "out" / "brain_cleaned_review.csv")]
    data, saved_affine = read_with_affine(target)
    np.testing.assert_array_equal(data, cleaned)
    assert data.dtype == cleaned.dtype
    np.testing.assert_allclose(saved_affine, affine)
    assert nibabel.load(str(target)).shape == (233, 197, 2)
    with open(written[1]) as log:
        assert next(csv.reader(log)) == ["region", "slice", "old_class", "new_class", "area", "score",
                                         "decision", "time"]


def test_writer_refuses_to_overwrite_unless_told(tmp_path):
    target = tmp_path / "mask_cleaned.tif"
    labels = np.array([[0, 3], [7, 3]], dtype=np.uint16)
    assert write_labels(str(target), labels, {"metadata": {}}) == [str(target)]
    with pytest.raises(JCASInputError, match="refusing to overwrite"):
        write_labels(str(target), labels * 0, {"metadata": {}})
    np.testing.assert_array_equal(tifffile.imread(target), labels)
    export_labels(target, labels * 0, {"metadata": {}}, overwrite=True)
    saved = tifffile.imread(target)
    assert saved.dtype == np.uint16 and not saved.any()


def test_nifti_without_source_gets_its_affine_from_the_scale(tmp_path):
    target = tmp_path / "seg.nii"
    labels = np.zeros((3, 4, 5), dtype=np.uint8)
    export_labels(target, labels, {"metadata": {}, "scale": (3.0, 0.5, 0.25)})
    data, affine = read_with_affine(target)
    assert data.shape == labels.shape
    np.testing.assert_allclose(np.diag(affine), (0.5, 0.25, 3.0, 1.0))


def test_class_names_beside_the_masks_become_the_labels_features(pair_folder):
    (pair_folder / "masks" / "classes.json").write_text('{"0": "background", "1": "grey matter", "2": "white matter"}')
    viewer = ViewerModel()
    _, mask = viewer.open(pair_folder, plugin="napari-jcas")
    assert list(mask.features["index"]) == [0, 1, 2]
    assert list(mask.features["class"]) == ["background", "grey matter", "white matter"]
    # napari names the class under the pointer
    y, x = np.argwhere(mask.data[0] == 2)[0]
    assert "white matter" in mask.get_status((0, y, x))["coordinates"]


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_an_export_reloads_as_labels_whatever_its_name(tmp_path, suffix):
    labels = np.random.default_rng(1).integers(0, 3, (3, 8, 9), dtype=np.uint8)
    target = tmp_path / f"brain_final{suffix}"  # no word that marks a mask
    export_labels(target, labels, {"metadata": {}})
    viewer = ViewerModel()
    [layer] = viewer.open(target, plugin="napari-jcas")
    assert layer._type_string == "labels"
    np.testing.assert_array_equal(layer.data, labels)
    write_array(tmp_path / f"brain_other{suffix}", labels)  # an integer image that does not say so
    [image] = viewer.open(tmp_path / f"brain_other{suffix}", plugin="napari-jcas")
    assert image._type_string == "image"


def test_tiff_spacing_becomes_the_layer_scale_and_is_exported_again(tmp_path):
    source = tmp_path / "stack_mask.tif"
    labels = np.random.default_rng(0).integers(0, 3, (3, 8, 9), dtype=np.uint8)
    tifffile.imwrite(source, labels, imagej=True, resolution=(1 / 0.8, 1 / 0.5), metadata={"spacing": 2.0})
    viewer = ViewerModel()
    [mask] = viewer.open(source, plugin="napari-jcas")
    np.testing.assert_allclose(mask.scale, (2.0, 0.5, 0.8))
    target = tmp_path / "stack_mask_cleaned.tif"
    export_labels(target, mask.data, {"metadata": mask.metadata, "scale": mask.scale})
    [reloaded] = viewer.open(target, plugin="napari-jcas")
    np.testing.assert_allclose(reloaded.scale, (2.0, 0.5, 0.8))
    np.testing.assert_array_equal(reloaded.data, labels)


NAMES = {0: "background", 1: "grey matter", 2: "white matter"}


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_an_export_keeps_the_class_names_and_the_spacing_of_the_layer(tmp_path, suffix):
    labels = np.random.default_rng(2).integers(0, 3, (3, 8, 9), dtype=np.uint8)
    viewer = ViewerModel()
    layer = viewer.add_labels(labels, scale=(2.0, 0.5, 0.8), features=features_of_names(NAMES))
    target = tmp_path / f"brain_final{suffix}"  # no classes.json anywhere: the names travel in the file
    viewer.layers.selection = {layer}
    assert viewer.layers.save(str(target), selected=True, plugin="napari-jcas") == [str(target)]
    [reloaded] = viewer.open(target, plugin="napari-jcas")
    assert reloaded._type_string == "labels" and class_names(reloaded) == NAMES
    np.testing.assert_allclose(reloaded.scale, (2.0, 0.5, 0.8), rtol=1e-6)
    np.testing.assert_array_equal(reloaded.data, labels)
    z, y, x = np.argwhere(labels == 2)[0]
    assert "white matter" in reloaded.get_status((z * 2.0, y * 0.5, x * 0.8))["coordinates"]
    # exported again (from the reloaded layer), the names and the spacing are still there
    again = tmp_path / f"brain_again{suffix}"
    export_labels(again, reloaded.data, {"metadata": reloaded.metadata, "scale": reloaded.scale,
                                         "features": reloaded.features})
    [twice] = viewer.open(again, plugin="napari-jcas")
    assert class_names(twice) == NAMES
    np.testing.assert_allclose(twice.scale, (2.0, 0.5, 0.8), rtol=1e-6)


def test_a_names_file_beside_a_mask_comes_before_the_names_in_it(tmp_path):
    labels = np.random.default_rng(3).integers(0, 3, (8, 9), dtype=np.uint8)
    path = tmp_path / "slice_mask.tif"
    write_array(path, labels, labels=True, class_names=NAMES)
    (tmp_path / "classes.json").write_text('{"0": "clear", "1": "cortex", "2": "core"}')
    [layer] = ViewerModel().open(path, plugin="napari-jcas")
    assert class_names(layer) == {0: "clear", 1: "cortex", 2: "core"}


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_a_mask_with_damaged_names_in_its_metadata_opens_without_names(tmp_path, suffix):
    labels = np.random.default_rng(4).integers(0, 3, (3, 8, 9), dtype=np.uint8)
    path = tmp_path / f"brain_mask{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, labels, photometric="minisblack", resolution=(2.0, 2.0),
                         metadata={"intent": "label", "class_names": ["background", "grey matter"]})
    else:
        volume = nibabel.Nifti1Image(np.moveaxis(labels, 0, -1), np.diag([0.5, 0.5, 2.0, 1.0]))
        volume.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, b'{"class_names": {"one": 1}}'))
        nibabel.save(volume, str(path))
    [layer] = ViewerModel().open(path, plugin="napari-jcas")
    assert layer._type_string == "labels" and class_names(layer) == {}
    np.testing.assert_array_equal(layer.data, labels)
    np.testing.assert_allclose(layer.scale[-2:], (0.5, 0.5))


def test_folder_series_is_written_back_as_slices(pair_folder, tmp_path):
    viewer = ViewerModel()
    _, mask = viewer.open(pair_folder, plugin="napari-jcas")
    target = tmp_path / "case_cleaned"
    written = export_labels(target, mask.data, {"metadata": mask.metadata})
    assert [p.split("/")[-1] for p in written] == ["slice_00.png", "slice_01.png"]
    np.testing.assert_array_equal(np.asarray(PILImage.open(target / "slice_01.png")), mask.data[1])
