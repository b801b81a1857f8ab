"""Correcting an image or stack slice by slice: the streamed slices and their collation into one correction."""
import numpy as np
import pytest

from jcas import correct, select_regions
from jcas.correction.regions import rank
from jcas.correction.stream import iter_correct, stream_correct
from jcas.errors import JCASInputError


def test_outputs_keep_geometry_dtype_and_label_values(model):
    net, images, masks = model
    slices = list(iter_correct(net, images, masks))
    assert slices == [(1, 2), (2, 2)]
    result = correct(net, images, masks)
    assert result.corrected.shape == masks.shape and result.corrected.dtype == masks.dtype
    assert set(np.unique(result.corrected)) <= {2, 5}
    for heatmap in (result.class_disagreement, result.affinity_disagreement):
        assert heatmap.shape == masks.shape and heatmap.dtype == np.float32
        assert heatmap.min() >= 0 and heatmap.max() <= 1
    assert result.affinity_disagreement.max() > 0


def test_regions_match_the_region_map_and_the_changes(model):
    net, images, masks = model
    result = correct(net, images, masks, min_area=1, min_score=0.0, min_confidence=0.0)
    changed = result.corrected != masks
    assert np.array_equal(changed, result.region_map > 0)
    expected = [r.area * r.score for r in result.regions]
    assert expected == sorted(expected, reverse=True) and len(result.regions) > 1
    for region in result.regions[:20]:
        pixels = result.region_map[region.slice] == region.index
        assert pixels.sum() == region.area
        y0, x0, y1, x1 = region.bbox
        assert pixels[y0:y1, x0:x1].sum() == region.area
        assert np.all(masks[region.slice][pixels] == region.old_label)
        assert np.all(result.corrected[region.slice][pixels] == region.new_label)
        assert np.isclose(result.class_disagreement[region.slice][pixels].mean(), region.score, atol=1e-5)


def test_the_input_mask_is_not_modified(model):
    net, images, masks = model
    before = masks.copy()
    correct(net, images, masks)
    assert np.array_equal(masks, before)


def test_large_images_are_processed_in_tiles(model):
    net, images, masks = model
    big_image = np.tile(images[0], (3, 3))[:700, :650]
    big_mask = np.tile(masks[0], (3, 3))[:700, :650]
    tiled = correct(net, big_image, big_mask, tile=256)
    whole = correct(net, big_image, big_mask, tile=1024)
    assert tiled.corrected.shape == (700, 650)
    # Tiles see a 64-pixel margin of context, so they agree with the whole image almost everywhere.
    assert np.mean(tiled.corrected == whole.corrected) > 0.99
    assert np.abs(tiled.class_disagreement - whole.class_disagreement).mean() < 0.01


def test_mirroring_makes_the_heatmap_equivariant_to_flips(model):
    """Test-time mirroring averages over the flip group, so flipping the image flips the heatmap exactly."""
    net, images, masks = model
    image, mask = images[0][:96, :128], masks[0][:96, :128]
    flipped = np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1])
    for mirror, equivariant in ((True, True), (False, False)):
        heatmap = correct(net, image, mask, mirror=mirror).class_disagreement
        heatmap_of_flipped = correct(net, *flipped, mirror=mirror).class_disagreement
        assert np.allclose(heatmap[:, ::-1], heatmap_of_flipped, atol=1e-5) is equivariant


@pytest.mark.parametrize("guard", [True, False])
def test_the_streamed_slices_collate_into_the_selection_made_on_the_whole_maps(model, guard):
    net, images, masks = model
    floors = dict(min_area=20, min_score=0.3, min_confidence=0.3)
    whole = correct(net, images, masks, guard=guard, **floors)
    selected = select_regions(whole.maps, **floors)
    assert selected.regions == whole.regions and selected.withheld == whole.withheld
    assert selected.notes == whole.notes and whole.maps.guard == guard
    np.testing.assert_array_equal(selected.corrected, whole.corrected)
    np.testing.assert_array_equal(selected.region_map, whole.region_map)
    parts = list(stream_correct(net, lambda z: images[z], lambda z: masks[z], len(masks), name="pair", guard=guard, **floors))
    assert [part.z for part in parts] == [0, 1]
    np.testing.assert_array_equal(np.stack([part.selection.corrected for part in parts]), whole.corrected)
    np.testing.assert_array_equal(np.stack([part.selection.region_map for part in parts]), whole.region_map)
    np.testing.assert_array_equal(np.stack([part.class_disagreement for part in parts]), whole.class_disagreement)
    np.testing.assert_array_equal(np.stack([part.affinity_disagreement for part in parts]),
                                  whole.affinity_disagreement)
    regions = [region for part in parts for region in part.selection.regions]
    assert rank(regions) == whole.regions and len(regions) > 0
    assert [w for part in parts for w in part.selection.withheld] == whole.withheld


def test_a_streamed_correction_checks_each_slice_when_it_reaches_it(model):
    net, images, masks = model
    unknown = masks.copy()
    unknown[1, 0, 0] = 9
    parts = stream_correct(net, lambda z: images[z], lambda z: unknown[z], 2, name="pair")
    assert next(parts).z == 0
    with pytest.raises(JCASInputError, match=r"label values \[9\]"):
        next(parts)
