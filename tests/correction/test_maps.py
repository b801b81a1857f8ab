import numpy as np
import pytest

from jcas.correction.maps import correct, iter_correct, select_regions, stream_correct
from jcas.correction.regions import Region, rank
from jcas.errors import JCASInputError
from jcas.settings import make_config
from jcas.training.trainer import Trainer


@pytest.fixture(scope="module")
def model():
    from jcas.data.samples import load_sample

    images, masks = load_sample("cells3d_nuclei")
    masks = np.where(masks > 0, 5, 2).astype(np.uint16)
    trainer = Trainer([images[:3]], [masks[:3]],
                      make_config("jcas", "fast", epochs=2, batch_size=4, crop=64, folds=1, min_steps=1))
    for _ in trainer.run():
        pass
    return trainer.model, images[:2], masks[:2]


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


def test_rank_puts_the_most_expected_pixels_fixed_first():
    small_sure = Region(1, 0, (0, 0, 5, 5), 25, 0, 1, 0.95)  # 23.75 pixels expected to be fixed
    large_unsure = Region(2, 0, (10, 10, 80, 80), 5000, 0, 1, 0.6)  # 3000
    tie_late = Region(4, 1, (0, 0, 10, 10), 50, 1, 0, 1.0)  # 50
    tie_early = Region(3, 1, (20, 20, 30, 30), 100, 1, 0, 0.5)  # 50
    assert large_unsure.expected_pixels_fixed == 3000
    assert [r.index for r in rank([tie_late, small_sure, tie_early, large_unsure])] == [2, 3, 4, 1]


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
    from jcas.errors import JCASInputError
    from jcas.nn.model import JCASModel

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
    from jcas.errors import JCASInputError

    net, images, masks = model
    with pytest.raises(JCASInputError, match=message):
        iter_correct(net, images, masks, **thresholds)


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
def test_a_streamed_correction_is_the_whole_one_slice_by_slice(model, guard):
    net, images, masks = model
    floors = dict(min_area=20, min_score=0.3, min_confidence=0.3, guard=guard)
    whole = correct(net, images, masks, **floors)
    parts = list(stream_correct(net, lambda z: images[z], lambda z: masks[z], len(masks), name="pair", **floors))
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
