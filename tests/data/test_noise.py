"""Tests of the noise simulator, on synthetic masks that look like the shared data and on the sample masks."""
import numpy as np
import pytest
from scipy import ndimage

from jcas.data.noise import IMAGE_KINDS, NOISE_KINDS, REGION_KINDS, simulate_noise
from jcas.errors import JCASInputError

LABELS = (0, 3, 7)


def disk(shape, centre, radius):
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


@pytest.fixture
def cells_and_tissue():
    """(96, 96) uint8 map in labels {0, 3, 7}: blobs of 3 and 7 and a 7-ring around a 3-disk."""
    mask = np.zeros((96, 96), dtype=np.uint8)
    for centre, radius, value in [((12, 12), 8, 3), ((14, 40), 6, 7), ((80, 15), 10, 3), ((84, 50), 5, 3), ((20, 80), 9, 7)]:
        mask[disk(mask.shape, centre, radius)] = value
    mask[disk(mask.shape, (58, 70), 20)] = 7
    mask[disk(mask.shape, (58, 70), 12)] = 3
    return mask


def separated_boxes(count=8, spacing=32):
    """(2 * spacing, count // 2 * spacing) map of ``count`` label-3 13 x 9 boxes far apart; with their centres."""
    mask = np.zeros((2 * spacing, count // 2 * spacing), dtype=np.int32)
    centres = [(spacing // 2 + row * spacing, spacing // 2 + col * spacing) for row in range(2) for col in range(count // 2)]
    for row, col in centres:
        mask[row - 6 : row + 7, col - 4 : col + 5] = 3
    return mask, centres


def some_noise(kind):
    """A fraction that changes a single 2D mask for sure: the per-image kinds noise every image at 1."""
    return 1.0 if kind in IMAGE_KINDS else 0.5


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_every_kind_changes_something_and_keeps_label_values(cells_and_tissue, kind):
    original = cells_and_tissue.copy()
    noisy, noise_map = simulate_noise(cells_and_tissue, kind=kind, fraction=some_noise(kind), seed=3)
    np.testing.assert_array_equal(cells_and_tissue, original)
    assert noisy.shape == original.shape and noisy.dtype == original.dtype
    assert set(np.unique(noisy)) <= set(LABELS)
    np.testing.assert_array_equal(noise_map, noisy != original)
    assert noise_map.dtype == bool and noise_map.any()


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_same_seed_same_noise_other_seed_other_noise(cells_and_tissue, kind):
    fraction = some_noise(kind)
    first, _ = simulate_noise(cells_and_tissue, kind=kind, fraction=fraction, seed=11)
    again, _ = simulate_noise(cells_and_tissue, kind=kind, fraction=fraction, seed=11)
    np.testing.assert_array_equal(first, again)
    others = [simulate_noise(cells_and_tissue, kind=kind, fraction=fraction, seed=seed)[0] for seed in (12, 13, 14)]
    assert any(not np.array_equal(first, other) for other in others)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_ignore_pixels_stay_and_are_never_noisy(cells_and_tissue, kind):
    mask = cells_and_tissue.copy()
    mask[40:56, :] = 255
    noisy, noise_map = simulate_noise(mask, kind=kind, fraction=1.0, seed=0)
    assert np.all(noisy[40:56] == 255)
    assert not noise_map[40:56].any()
    assert not np.any(noisy[mask != 255] == 255)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_fraction_zero_changes_nothing(cells_and_tissue, kind):
    noisy, noise_map = simulate_noise(cells_and_tissue, kind=kind, fraction=0.0)
    np.testing.assert_array_equal(noisy, cells_and_tissue)
    assert not noise_map.any()


def test_symmetric_rate_is_close_to_fraction_and_targets_are_uniform():
    mask = np.random.default_rng(0).choice(np.array(LABELS, dtype=np.uint8), size=(200, 200))
    noisy, noise_map = simulate_noise(mask, kind="symmetric", fraction=0.3, seed=1)
    assert abs(noise_map.mean() - 0.3) < 0.01
    flipped_from_zero = noisy[noise_map & (mask == 0)]
    assert abs(np.mean(flipped_from_zero == 3) - 0.5) < 0.05
    assert set(np.unique(flipped_from_zero)) == {3, 7}


def test_asymmetric_moves_each_class_to_the_next():
    mask = np.random.default_rng(0).choice(np.array(LABELS, dtype=np.int16), size=(120, 120))
    noisy, noise_map = simulate_noise(mask, kind="asymmetric", fraction=0.4, seed=2)
    assert abs(noise_map.mean() - 0.4) < 0.015
    for source, target in [(0, 3), (3, 7), (7, 0)]:
        assert np.all(noisy[noise_map & (mask == source)] == target)


@pytest.mark.parametrize("kind", REGION_KINDS + ("mixed",))
@pytest.mark.parametrize("fraction, expected", [(0.5, 4), (0.25, 2), (0.01, 1), (1.0, 8)])
def test_fraction_of_regions_is_changed(kind, fraction, expected):
    mask, centres = separated_boxes()
    _, noise_map = simulate_noise(mask, kind=kind, fraction=fraction, seed=5)
    changed = sum(noise_map[r - 15 : r + 15, c - 15 : c + 15].any() for r, c in centres)
    assert changed == expected
    assert noise_map.sum() == sum(noise_map[r - 15 : r + 15, c - 15 : c + 15].sum() for r, c in centres)


def test_dilate_only_grows_and_erode_only_shrinks():
    mask, _ = separated_boxes()
    grown, grown_map = simulate_noise(mask, kind="dilate", fraction=1.0, seed=0)
    assert np.all(grown[grown_map] == 3) and np.all(mask[grown_map] == 0)
    shrunk, shrunk_map = simulate_noise(mask, kind="erode", fraction=1.0, seed=0)
    assert np.all(shrunk[shrunk_map] == 0) and np.all(mask[shrunk_map] == 3)


def test_freed_pixels_take_the_nearest_surrounding_label():
    shape, centre = (80, 80), (40, 40)
    mask = np.zeros(shape, dtype=np.uint8)
    mask[disk(shape, centre, 30)] = 7
    mask[disk(shape, centre, 14)] = 3
    noisy, noise_map = simulate_noise(mask, kind="erode", fraction=1.0, seed=4)
    rows, cols = np.indices(shape)
    distance = np.hypot(rows - centre[0], cols - centre[1])
    freed_ring = noise_map & (mask == 7)
    assert freed_ring.any()
    assert np.all(noisy[freed_ring & (distance > 22)] == 0)
    assert np.all(noisy[freed_ring & (distance < 22)] == 3)
    assert np.all(noisy[noise_map & (mask == 3)] == 7)


def test_ellipse_of_an_ellipse_is_nearly_itself_and_of_a_square_keeps_area():
    rows, cols = np.indices((80, 80))
    angle = np.deg2rad(30)
    u = (rows - 40) * np.cos(angle) + (cols - 38) * np.sin(angle)
    v = -(rows - 40) * np.sin(angle) + (cols - 38) * np.cos(angle)
    ellipse = ((u / 25) ** 2 + (v / 10) ** 2 <= 1).astype(np.uint8)
    _, noise_map = simulate_noise(ellipse, kind="ellipse", fraction=1.0)
    assert noise_map.sum() < 0.04 * ellipse.sum()
    square = np.zeros((80, 80), dtype=np.uint8)
    square[20:60, 20:60] = 1
    noisy, noise_map = simulate_noise(square, kind="ellipse", fraction=1.0)
    assert noise_map.any()
    # A uniform ellipse with a square's second moments has area pi / 3 * side^2.
    assert abs(int(noisy.sum()) - np.pi / 3 * 40**2) < 0.01 * square.sum()
    np.testing.assert_allclose(np.argwhere(noisy == 1).mean(axis=0), [39.5, 39.5], atol=0.5)


def test_background_is_lowest_label_without_zero():
    mask, _ = separated_boxes()
    mask = np.where(mask == 3, 9, 4).astype(np.uint8)
    noisy, noise_map = simulate_noise(mask, kind="dilate", fraction=1.0, seed=0)
    assert np.all(noisy[noise_map] == 9)


def test_stack_uses_a_stream_per_slice(cells_and_tissue):
    stack = np.stack([cells_and_tissue, cells_and_tissue])
    noisy, noise_map = simulate_noise(stack, kind="mixed", fraction=0.5, seed=7)
    single, _ = simulate_noise(cells_and_tissue, kind="mixed", fraction=0.5, seed=7)
    np.testing.assert_array_equal(noisy[0], single)
    assert not np.array_equal(noisy[0], noisy[1])
    np.testing.assert_array_equal(noise_map, noisy != stack)


@pytest.mark.parametrize(
    "arguments",
    [
        {"kind": "gaussian"},
        {"fraction": -0.1},
        {"fraction": 1.5},
        {"seed": -1},
        {"mask": np.zeros((8, 8), dtype=np.float32)},
        {"mask": np.zeros((8, 8), dtype=bool)},
        {"mask": np.zeros(8, dtype=np.uint8)},
        {"kind": "biased", "biased_class": 9},
        {"kind": "mixed", "biased_class": 0},
    ],
)
def test_bad_input_raises_a_clear_error(arguments):
    call = {"mask": np.zeros((8, 8), dtype=np.uint8), **arguments}
    with pytest.raises(JCASInputError):
        simulate_noise(**call)


def biased_value(clean, noisy):
    """The one label that all changed pixels of a 3-class map gained, else the one they all lost."""
    changed = noisy != clean
    gained = np.unique(noisy[changed])
    return gained[0] if len(gained) == 1 else np.unique(clean[changed])[0]


def bias_of(clean, noisy, value):
    """(sign, per-slice reach) of a biased class: +1 if it only grew, -1 if it only shrank, 0 otherwise.

    The reach of a slice is the largest distance from a changed pixel to the clean class
    (growth) or to the outside of the clean class (shrinkage), in pixels.
    """
    changed = noisy != clean
    grew = np.all(noisy[changed] == value) and not np.any(clean[changed] == value)
    shrank = np.all(clean[changed] == value) and not np.any(noisy[changed] == value)
    reach = []
    for clean_2d, changed_2d in zip(clean, changed):
        if changed_2d.any():
            distance = ndimage.distance_transform_edt(clean_2d != value if grew else clean_2d == value)
            reach.append(float(distance[changed_2d].max()))
    return (1 if grew else -1 if shrank else 0), reach


def test_biased_class_is_consistently_wider_or_narrower(mni):
    _, clean = mni
    seen = set()
    for seed in range(8):
        noisy, _ = simulate_noise(clean, kind="biased", seed=seed)
        value = biased_value(clean, noisy)
        sign, reach = bias_of(clean, noisy, value)
        assert sign != 0, "the biased class must only grow or only shrink"
        assert len(reach) == len(clean), "every slice is drawn by the biased annotator by default"
        # the same disk radius everywhere (233 x 197 slices: 1-4 px), reached in every slice
        assert len(set(reach)) == 1 and 1.0 <= reach[0] <= 4.0
        seen.add((value, sign))
    assert {value for value, _ in seen} == {1, 2} and {sign for _, sign in seen} == {-1, 1}


def test_biased_class_can_be_given_and_radius_scales_with_the_image(mni):
    _, clean = mni
    drawn, _ = simulate_noise(clean, kind="biased", seed=7)
    noisy, _ = simulate_noise(clean, kind="biased", seed=7, biased_class=2)
    sign, reach = bias_of(clean, noisy, 2)
    assert sign != 0
    # the seed fixes radius and sign whichever class is biased (seed 7 draws class 1 itself)
    assert (sign, reach) == bias_of(clean, drawn, biased_value(clean, drawn))
    double = clean.repeat(2, axis=1).repeat(2, axis=2)
    noisy_double, _ = simulate_noise(double, kind="biased", seed=7, biased_class=2)
    sign_double, reach_double = bias_of(double, noisy_double, 2)
    assert sign_double == sign
    assert abs(np.median(reach_double) - 2 * np.median(reach)) <= 1.5
    tiny = clean[:, 100:140, 60:100]
    _, tiny_map = simulate_noise(tiny, kind="biased", seed=7, biased_class=2)
    assert tiny_map.any(), "the radius is at least 1 px on a small image"


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_only_the_chosen_fraction_of_images_changes(mni, kind):
    _, clean = mni
    counts = set()
    for seed in range(6):
        noisy, noise_map = simulate_noise(clean, kind=kind, fraction=0.3, seed=seed)
        changed = noise_map.any(axis=(1, 2))
        assert changed.sum() in (2, 3)  # 0.3 * 8 slices, rounded down or up
        np.testing.assert_array_equal(noisy[~changed], clean[~changed])
        counts.add(int(changed.sum()))
        half, half_map = simulate_noise(clean, kind=kind, fraction=0.5, seed=seed)
        assert half_map.any(axis=(1, 2)).sum() == 4
    assert counts == {2, 3}


def test_mstfal_defaults_to_thirty_percent_of_images_and_corrupts_them_heavily(cells):
    _, clean = cells
    single = clean[0]
    noisy_count = sum(simulate_noise(single, kind="mstfal", seed=seed)[1].any() for seed in range(40))
    assert 6 <= noisy_count <= 18  # each 2D mask is noisy with probability 0.3
    stack = np.concatenate([clean, clean])
    _, noise_map = simulate_noise(stack, kind="mstfal", seed=1)
    rates = noise_map.mean(axis=(1, 2))
    assert (rates > 0).sum() in (3, 4)  # 0.3 * 12 slices
    assert np.all(rates[rates > 0] > 0.02)


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_image_kinds_on_a_stack_are_seeded_and_keep_ignore_pixels(mni, kind):
    _, clean = mni
    mask = clean.copy()
    mask[:, 100:120, :] = 255
    first, first_map = simulate_noise(mask, kind=kind, fraction=1.0, seed=21)
    again, _ = simulate_noise(mask, kind=kind, fraction=1.0, seed=21)
    other, _ = simulate_noise(mask, kind=kind, fraction=1.0, seed=22)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.all(first[:, 100:120, :] == 255) and not first_map[:, 100:120, :].any()
    assert not np.any(first[mask != 255] == 255)
    assert set(np.unique(first)) <= set(np.unique(mask))
