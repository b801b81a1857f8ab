"""The boundary view after Correct: an opt-in Labels layer, hidden by default, with the mask's geometry."""
from __future__ import annotations

import numpy as np
import pytest

from jcas.correction.boundary import MISSING, UNSEEN, boundary_view
from napari_jcas._settings import SHOW_BOUNDARY_VIEW

pytestmark = pytest.mark.gui


def test_correct_offers_the_boundary_view_as_a_hidden_labels_layer(corrected, noisy_mni):
    viewer = corrected.viewer
    layer = viewer.layers["brain boundaries"]
    assert layer.visible is SHOW_BOUNDARY_VIEW is False  # opt-in: it did not beat the class edges
    np.testing.assert_array_equal(layer.scale, (2.5, 0.8, 0.9))
    assert layer.metadata["subject"] == "mni"
    assert layer.data.shape == noisy_mni[1].shape and set(np.unique(layer.data)) <= {0, MISSING, UNSEEN}
    maps = corrected.train.correcting.latest_correction().maps
    np.testing.assert_array_equal(layer.data, boundary_view(maps.boundary, noisy_mni[1],
                                                            ignore_value=maps.ignore_value))
    assert layer.data.any()  # a two-epoch model and a noisy mask disagree somewhere
    # the drawn mask keeps its data, and the layers shown are the ones they were
    np.testing.assert_array_equal(corrected.mask.data, noisy_mni[1])
    assert [l.name for l in viewer.layers if l.visible] == ["brain", "brain cleaned", "brain disagreement",
                                                            "brain proposal"]
