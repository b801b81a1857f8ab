"""A new selection of regions (other thresholds, or a model that learnt from the review) keeps every decision
and edit, and proposes only where the person decided nothing (``napari_jcas._layers.review_keeping_decisions``)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from jcas.correction.regions import Region
from jcas.review import ACCEPTED, OPEN, REJECTED, Review, region_key
from napari_jcas._layers import review_keeping_decisions


def _selection(drawn: np.ndarray, boxes: dict[int, tuple[int, int, int, int]], new_label: int = 2) -> SimpleNamespace:
    """A correction of ``drawn`` (1, H, W) whose region ``k`` relabels box ``boxes[k]`` of slice 0 to ``new_label``."""
    region_map = np.zeros(drawn.shape, dtype=np.int32)
    corrected = drawn.copy()
    regions = []
    for index, (y0, x0, y1, x1) in boxes.items():
        region_map[0, y0:y1, x0:x1] = index
        corrected[0, y0:y1, x0:x1] = new_label
        area = (y1 - y0) * (x1 - x0)
        regions.append(Region(index, 0, (y0, x0, y1, x1), area, 1, new_label, score=0.5 + index / 100))
    return SimpleNamespace(regions=regions, region_map=region_map, corrected=corrected)


def test_decisions_and_edits_stay_and_new_regions_avoid_them():
    drawn = np.ones((1, 40, 40), dtype=np.uint8)
    first = _selection(drawn, {1: (0, 0, 5, 5), 2: (10, 10, 15, 15), 3: (20, 20, 25, 25)})
    earlier = Review(first.regions, first.region_map, first.corrected, drawn)
    cleaned = drawn.copy()
    edit = earlier.accept(1)
    cleaned[edit.indices] = edit.values
    earlier.reject(2)
    cleaned[0, 35, 35] = 0  # the person painted here

    # the new model: region 7 covers the rejected one again, region 8 the painted pixel, 9 and 1 are new
    again = _selection(drawn, {7: (9, 9, 16, 16), 8: (33, 33, 38, 38), 9: (30, 0, 34, 4), 1: (20, 30, 24, 34)},
                       new_label=0)
    review = review_keeping_decisions(earlier, cleaned, again)

    statuses = {region_key(r): review.status[r.index] for r in review.regions}
    assert statuses == {region_key(first.regions[0]): ACCEPTED, region_key(first.regions[1]): REJECTED,
                        region_key(again.regions[2]): OPEN, region_key(again.regions[3]): OPEN}
    open_ids = [r.index for r in review.regions if review.status[r.index] == OPEN]
    assert len({r.index for r in review.regions}) == 4 and min(open_ids) > 2  # numbered after the decided ones
    np.testing.assert_array_equal(review.proposal[0, :5, :5], 2)  # the decided regions keep their proposal
    np.testing.assert_array_equal(review.proposal[0, 10:15, 10:15], 2)
    assert not (review.proposal[0, 9:16, 9:16] == 0).any()  # nothing new over the rejected region
    assert not (review.proposal[0, 33:38, 33:38] == 0).any()  # nor over the paint
    np.testing.assert_array_equal(review.proposal[0, 30:34, :4], 0)
    for region in review.regions:  # every region's pixels are where the review says
        assert np.all(review.region_map[review.pixels(region.index)] == region.index)
        assert (review.region_map == region.index).sum() == region.area
    assert review.log == earlier.log
    assert review.sync(cleaned) == []  # the cleaned labels agree with every status
