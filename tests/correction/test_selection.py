"""Choosing the candidate regions: the floors, and re-selecting from the maps without the network."""
import numpy as np
import pytest

from jcas import correct, select_regions
from jcas.correction.stream import iter_correct
from jcas.errors import JCASInputError
from jcas.nn.model import JCASModel


def test_selective_correction_keeps_small_and_weak_regions(model):
    net, images, masks = model
    everything = correct(net, images, masks, min_area=1, min_score=0.0, min_confidence=0.0)
    assert np.array_equal(everything.corrected != masks, everything.region_map > 0)
    selective = correct(net, images, masks, min_area=20, min_score=0.7, min_confidence=0.75)
    assert all(r.area >= 20 and r.score >= 0.7 and r.confidence >= 0.75 for r in selective.regions)
    assert len(selective.regions) < len(everything.regions)
    confident = [r for r in everything.regions if r.area >= 20 and r.score >= 0.7 and r.confidence >= 0.75]
    assert [(r.slice, r.bbox) for r in selective.regions] == [(r.slice, r.bbox) for r in confident]
    assert np.array_equal(selective.corrected != masks, selective.region_map > 0)


def test_regions_are_reselected_from_the_maps_without_the_network(model, monkeypatch):
    net, images, masks = model
    everything = correct(net, images, masks, min_area=1, min_score=0.0, min_confidence=0.0)
    selective = correct(net, images, masks, min_area=20, min_score=0.7, min_confidence=0.75)
    monkeypatch.setattr(JCASModel, "predict", None)  # no network from here on
    again = select_regions(everything.maps, min_area=20, min_score=0.7, min_confidence=0.75)
    assert again.regions == selective.regions and again.notes == selective.notes
    np.testing.assert_array_equal(again.corrected, selective.corrected)
    np.testing.assert_array_equal(again.region_map, selective.region_map)
    back = select_regions(again.maps, min_area=1, min_score=0.0, min_confidence=0.0)
    assert back.regions == everything.regions
    np.testing.assert_array_equal(back.corrected, everything.corrected)
    with pytest.raises(JCASInputError, match="min_area"):
        select_regions(everything.maps, min_area=0)


@pytest.mark.parametrize("thresholds, message", [(dict(min_area=0), "min_area"), (dict(min_score=6), "min_score")])
def test_thresholds_out_of_range_are_refused_at_the_call(model, thresholds, message):
    net, images, masks = model
    with pytest.raises(JCASInputError, match=message):
        iter_correct(net, images, masks, **thresholds)
