"""The plugin's settings: the dock offers the core's methods, its keys are its own, the manifest's samples are the
core's."""
from __future__ import annotations

import jcas.settings
from jcas.data.samples import SAMPLE_NAMES
from jcas.settings import METHODS
from napari_jcas import _settings
from napari_jcas._sample_data import CELLS3D_NUCLEI, MNI_TISSUE


def test_the_dock_offers_only_methods_of_the_core():
    assert set(_settings.DOCK_METHODS) <= set(METHODS) and "fc" not in _settings.DOCK_METHODS


def test_the_metadata_keys_are_distinct_and_the_plugins_alone():
    keys = (_settings.SOURCE_KEY, _settings.REVIEW_KEY, _settings.HEATMAPS_KEY, _settings.OUTPUT_KEY,
            _settings.EXPORT_KEY)
    assert len(set(keys)) == len(keys)
    assert not {"SOURCE_KEY", "REVIEW_KEY", "HEATMAPS_KEY", "CLASS_COLUMN", "DOCK_METHODS",
                "SHOW_BOUNDARY_VIEW"} & set(vars(jcas.settings))


def test_the_samples_are_the_cores():
    assert (MNI_TISSUE, CELLS3D_NUCLEI) == SAMPLE_NAMES
    assert _settings.DEFAULT_HEATMAP in _settings.HEATMAP_KINDS
