"""Candidate regions: one labelling of the changed pixels gives the regions of labelling each label pair alone."""
import numpy as np
import pytest
from scipy import ndimage

from jcas.correction.regions import STRUCTURE, find_regions


def regions_pair_by_pair(drawn, proposed, score, confidence):
    """The definition: per (drawn, proposed) pair in sorted order, its 8-connected components in raster order."""
    changed = drawn != proposed
    found = []
    for old, new in np.unique(np.stack([drawn[changed], proposed[changed]]), axis=1).T:
        components, count = ndimage.label(changed & (drawn == old) & (proposed == new), structure=STRUCTURE)
        for label in range(1, count + 1):
            pixels = components == label
            ys, xs = np.nonzero(pixels)
            found.append((pixels, (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1), int(pixels.sum()), int(old),
                          int(new), score[pixels].mean(), confidence[pixels].mean()))
    return found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regions_are_those_of_labelling_each_label_pair_alone(seed):
    rng = np.random.default_rng(seed)
    drawn = (ndimage.gaussian_filter(rng.random((120, 150)), 3) * 40).astype(np.uint8) % 4
    proposed = drawn.copy()
    flip = ndimage.gaussian_filter(rng.random(drawn.shape), 2) > 0.52  # patches that cross class borders,
    proposed[flip] = (drawn[flip] + 1 + (rng.random(int(flip.sum())) < 0.3)) % 4  # so that label pairs touch
    score, confidence = rng.random(drawn.shape), rng.random(drawn.shape)
    region_map, regions = find_regions(drawn, proposed, score, 3, 11, 1, 0.0, confidence, 0.0)
    expected = regions_pair_by_pair(drawn, proposed, score, confidence)
    assert len(regions) == len(expected) > 20
    for index, (region, (pixels, box, area, old, new, mean_score, mean_confidence)) in enumerate(zip(regions, expected)):
        assert region.index == 11 + index and region.slice == 3
        assert (region.bbox, region.area, region.old_label, region.new_label) == (box, area, old, new)
        assert np.isclose(region.score, mean_score) and np.isclose(region.confidence, mean_confidence)
        np.testing.assert_array_equal(region_map == region.index, pixels)
    components, count = ndimage.label(drawn != proposed, structure=STRUCTURE)
    mixed = [label for label in range(1, count + 1)
             if len({(r.old_label, r.new_label) for r in regions if (components[region_map == r.index] == label).any()}) > 1]
    assert mixed, "the test needs changed areas where two label pairs touch"


def test_the_floors_leave_regions_out_without_an_id():
    drawn = np.zeros((40, 40), dtype=np.uint8)
    proposed = drawn.copy()
    proposed[2:6, 2:6] = 1  # 16 px
    proposed[20:30, 20:30] = 2  # 100 px
    score = np.full(drawn.shape, 0.9)
    region_map, regions = find_regions(drawn, proposed, score, 0, 1, min_area=50)
    assert [(r.index, r.area, r.new_label) for r in regions] == [(1, 100, 2)]
    assert set(np.unique(region_map)) == {0, 1} and region_map[25, 25] == 1 and region_map[3, 3] == 0
    assert find_regions(drawn, drawn, score, 0, 1)[1] == []
