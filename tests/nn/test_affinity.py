import numpy as np
import torch
from scipy import ndimage

from jcas.nn.affinity import (global_affinity_disagreement, global_affinity_statistics, local_affinity_disagreement,
                               local_pairs, pair_labels, pair_offsets, shifted, unit_embedding)


def test_shifted_moves_content_by_each_shift_and_fills_outside():
    tensor = torch.arange(12.0).view(1, 1, 3, 4)
    moved = shifted(tensor, ((1, 0), (0, -1), (5, 0)), fill=-1)
    assert moved.shape == (1, 3, 1, 3, 4)
    assert moved[0, 0, 0, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert moved[0, 0, 0, 2].tolist() == [-1.0] * 4
    assert moved[0, 1, 0, 0].tolist() == [-1.0, 0.0, 1.0, 2.0]
    assert (moved[0, 2] == -1).all()
    two_channels = torch.cat([tensor, 10 * tensor], dim=1)
    per_channel = shifted(two_channels, ((1, 0), (0, -1)), per_channel=True)
    assert torch.equal(per_channel, torch.stack([shifted(tensor, ((1, 0),))[:, 0, 0],
                                                 shifted(10 * tensor, ((0, -1),))[:, 0, 0]], dim=1))


def test_stacked_pairs_labels_and_disagreement_match_an_explicit_loop_over_pixels():
    generator = torch.Generator().manual_seed(3)
    height, width, offsets = 7, 9, (1, 3)
    unit = unit_embedding(torch.randn(2, 5, height, width, generator=generator))
    labels = torch.randint(-1, 3, (2, height, width), generator=generator)
    pairs = local_pairs(unit, offsets)
    same, valid = pair_labels(labels, pairs.shifts)
    disagreement = local_affinity_disagreement(pairs, labels)
    assert pairs.shifts == pair_offsets(offsets) and pairs.affinity.shape == (2, 4, height, width)
    for b in range(2):
        for y in range(height):
            for x in range(width):
                total = count = 0.0
                for s, (dy, dx) in enumerate(pairs.shifts):
                    ny, nx = y + dy, x + dx
                    inside = ny < height and nx < width
                    expected = float(unit[b, :, y, x] @ unit[b, :, ny, nx]) if inside else 0.0
                    assert abs(float(pairs.affinity[b, s, y, x]) - expected) < 1e-5
                    assert float(pairs.inside[0, s, y, x]) == inside
                    known = inside and labels[b, y, x] >= 0 and labels[b, ny, nx] >= 0
                    assert float(valid[b, s, y, x]) == known
                    if inside:
                        assert float(same[b, s, y, x]) == (labels[b, y, x] == labels[b, ny, nx])
                for dy, dx in pairs.shifts + tuple((-dy, -dx) for dy, dx in pairs.shifts):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < height and 0 <= nx < width and labels[b, y, x] >= 0 and labels[b, ny, nx] >= 0:
                        affinity = float(unit[b, :, y, x] @ unit[b, :, ny, nx])
                        total += abs(affinity - float(labels[b, y, x] == labels[b, ny, nx]))
                        count += 1
                assert abs(float(disagreement[b, y, x]) - total / max(count, 1)) < 1e-5


def test_global_affinity_disagreement_matches_quadratic_form():
    generator = torch.Generator().manual_seed(1)
    unit = unit_embedding(torch.randn(1, 6, 80, generator=generator))[0]
    labels = torch.randint(0, 3, (80,), generator=generator)
    labels[:5] = -1
    stats = global_affinity_statistics(unit, labels, 3)
    fast = global_affinity_disagreement(unit, labels, stats)
    known = labels >= 0
    affinity = unit.T @ unit
    same = (labels[:, None] == labels[None, :]).float()
    slow = ((affinity - same).abs() * known[None, :]).sum(dim=1) / known.sum()
    assert torch.allclose(fast[known], slow[known], atol=1e-5)
    assert (fast[~known] == 0).all()


def test_local_affinity_disagreement_is_zero_for_perfect_embeddings():
    labels = torch.zeros(1, 20, 20, dtype=torch.long)
    labels[:, 5:15, 5:15] = 1
    embedding = torch.nn.functional.one_hot(labels, 2).permute(0, 3, 1, 2).float()
    disagreement = local_affinity_disagreement(local_pairs(unit_embedding(embedding), (1, 3)), labels)
    assert disagreement.abs().max() < 1e-6


def pair_error_rate(clean, noisy, pairs):
    (same_clean, valid), (same_noisy, _) = pairs(clean), pairs(noisy)
    return float(((same_clean != same_noisy).float() * valid).sum() / valid.sum())


def test_local_pair_labels_are_cleaner_than_pixel_labels_and_global_pairs_under_dilation():
    """The premise of local affinities (method.md): under a wide dilation, near pairs keep their relation."""
    clean = np.zeros((96, 96), dtype=np.int64)
    yy, xx = np.mgrid[:96, :96]
    clean[(yy - 48) ** 2 + (xx - 48) ** 2 < 20**2] = 1
    noisy = ndimage.binary_dilation(clean, iterations=6).astype(np.int64)
    pixel_noise = float((clean != noisy).mean())
    clean_t, noisy_t = torch.from_numpy(clean)[None], torch.from_numpy(noisy)[None]
    local = pair_error_rate(clean_t, noisy_t, lambda labels: pair_labels(labels, pair_offsets((1, 3))))
    flat_clean, flat_noisy = clean.ravel(), noisy.ravel()
    global_wrong = np.mean((flat_clean[:, None] == flat_clean[None, ::7]) != (flat_noisy[:, None] == flat_noisy[None, ::7]))
    assert local < pixel_noise / 2
    assert local < global_wrong / 2
