"""The npe2 manifest: shipped in the package, valid, and its contributions reachable from napari."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import npe2
import pytest
from napari.components import ViewerModel

import napari_jcas
from jcas.data.samples import SAMPLE_NAMES
from napari_jcas._review_widget import ReviewWidget
from napari_jcas._train_widget import TrainWidget

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_from_the_installed_distribution():
    manifest = npe2.PluginManifest.from_distribution("napari-jcas")
    manifest.validate_imports()
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {"Train", "Review", "Dataset"}
    [reader] = contributions.readers
    assert reader.accepts_directories and "*.nii.gz" in reader.filename_patterns
    [writer] = contributions.writers
    assert [str(t) for t in writer.layer_types] == ["labels"]
    assert {s.key for s in contributions.sample_data} == set(SAMPLE_NAMES)


def test_manifest_file_is_shipped_inside_the_package():
    shipped = Path(napari_jcas.__file__).parent / "napari.yaml"
    assert shipped.is_symlink() and shipped.resolve() == (ROOT / "napari.yaml").resolve()


@pytest.mark.parametrize("key", ["mni_tissue", "cells3d_nuclei"])
def test_sample_data_is_a_real_stack_with_a_noisy_mask(key):
    from jcas.data.samples import load_sample

    viewer = ViewerModel()
    image, mask = viewer.open_sample("napari-jcas", key)
    images, clean = load_sample(key)
    np.testing.assert_array_equal(image.data, images)
    assert mask._type_string == "labels" and mask.data.shape == clean.shape
    changed = np.mean(mask.data != clean)
    assert 0.005 < changed < 0.5, changed


@pytest.mark.gui
def test_docks_open_through_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    _, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    _, review = viewer.window.add_plugin_dock_widget("napari-jcas", "Review")
    assert isinstance(train, TrainWidget) and isinstance(review, ReviewWidget)
    assert train.training.device_choice.choices[0] == "auto" and "cpu" in train.training.device_choice.choices
    assert train.training._model_path() is None  # nothing is saved anywhere until the user chooses
