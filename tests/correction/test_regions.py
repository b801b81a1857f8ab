"""Candidate regions: one labelling of the changed pixels gives the regions of labelling each label pair alone."""
from functools import partial

import numpy as np
import pytest
from scipy import ndimage

from jcas.correction.regions import Region, find_regions, rank, relative_floors
from jcas.data.labels import STRUCTURE, typical_areas
from jcas.settings import MIN_AREA_FRACTION, MIN_AREA_LOWEST


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


def nuclei_slice(radius: int, count: int = 9, side: int = 128) -> np.ndarray:
    """``(side, side)`` uint8: ``count`` discs of ``radius`` px (label 1) on a background (0)."""
    yy, xx = np.mgrid[:side, :side]
    mask = np.zeros((side, side), dtype=np.uint8)
    step = side // 3
    for index in range(count):
        cy, cx = step // 2 + step * (index // 3), step // 2 + step * (index % 3)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = 1
    return mask


def test_the_relative_area_floor_lets_a_missed_small_nucleus_through_and_keeps_specks_out():
    """Nuclei of about 110 px: a wrongly erased nucleus (one whole object) is a candidate under the
    relative floor, where a floor of 400 px would have hidden it; a speck of a few pixels is not."""
    drawn = nuclei_slice(radius=6)
    proposed = drawn.copy()
    proposed[nuclei_slice(radius=6, count=1) == 1] = 0  # the model says the first nucleus is not one
    proposed[100:103, 10:12] = 1  # a 6 px speck of nucleus in the background
    score = np.ones(drawn.shape, dtype=np.float32)
    floors = relative_floors(drawn)
    nucleus = int((nuclei_slice(radius=6, count=1) == 1).sum())
    assert floors[1] == max(MIN_AREA_LOWEST, round(MIN_AREA_FRACTION * nucleus)) < nucleus
    _, regions = find_regions(drawn, proposed, score, 0, 1, floors)
    assert [(r.old_label, r.new_label, r.area) for r in regions] == [(1, 0, nucleus)]
    _, absolute = find_regions(drawn, proposed, score, 0, 1, 400)
    assert absolute == []


def test_the_relative_floor_scales_with_the_objects():
    """The same error, half the size, on objects half the size: the same verdict."""
    small, large = (relative_floors(nuclei_slice(radius=radius), lowest=1) for radius in (10, 20))
    assert 3.5 < large[1] / small[1] < 4.5
    assert typical_areas([nuclei_slice(radius=20)])[1] == int((nuclei_slice(radius=20, count=1) == 1).sum())


def test_the_floor_follows_the_objects_the_model_trained_on_not_one_slices_clumps():
    """A slice where touching nuclei merge into one large component would raise its own floor above a
    whole nucleus; the sizes measured over the training masks keep the floor at a fraction of a nucleus."""
    training = [nuclei_slice(radius=6) for _ in range(4)]
    clumped = nuclei_slice(radius=6)
    clumped[20:110, 20:110] = 1
    measured = typical_areas(training)
    nucleus = int((nuclei_slice(radius=6, count=1) == 1).sum())
    assert measured[1] == nucleus
    floors = partial(relative_floors, fraction=0.05)  # a fraction at which the clump's own floor passes a nucleus
    assert floors(clumped)[1] > nucleus
    assert floors(clumped, measured)[1] == floors(training[0])[1] < nucleus
    assert floors(clumped, {0: 1e6})[1] == floors(clumped)[1]  # a class it lacks: the slice's


def test_rank_puts_the_most_expected_pixels_fixed_first():
    small_sure = Region(1, 0, (0, 0, 5, 5), 25, 0, 1, 0.95)  # 23.75 pixels expected to be fixed
    large_unsure = Region(2, 0, (10, 10, 80, 80), 5000, 0, 1, 0.6)  # 3000
    tie_late = Region(4, 1, (0, 0, 10, 10), 50, 1, 0, 1.0)  # 50
    tie_early = Region(3, 1, (20, 20, 30, 30), 100, 1, 0, 0.5)  # 50
    assert large_unsure.expected_pixels_fixed == 3000
    assert [r.index for r in rank([tie_late, small_sure, tie_early, large_unsure])] == [2, 3, 4, 1]
