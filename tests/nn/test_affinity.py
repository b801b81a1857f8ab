import numpy as np
import torch
from scipy import ndimage

from jcas.nn.affinity import (global_affinity_disagreement, global_affinity_statistics, local_affinity_disagreement,
                               neighbour_pair_labels, pair_affinities, shift, unit_embedding)


def test_shift_moves_content_and_zero_fills():
    tensor = torch.arange(12.0).view(1, 3, 4)
    assert shift(tensor, 1, 0)[0, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert shift(tensor, 0, -1)[0, 0].tolist() == [0.0, 0.0, 1.0, 2.0]
    assert shift(tensor, 5, 0).abs().sum() == 0


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
    disagreement = local_affinity_disagreement(pair_affinities(unit_embedding(embedding), (1, 3)), labels)
    assert disagreement.abs().max() < 1e-6


def pair_error_rate(clean, noisy, pairs):
    wrong = total = 0
    for (same_clean, valid, _, _), (same_noisy, _, _, _) in zip(pairs(clean), pairs(noisy)):
        wrong += float(((same_clean != same_noisy).float() * valid).sum())
        total += float(valid.sum())
    return wrong / total


def test_local_pair_labels_are_cleaner_than_pixel_labels_and_global_pairs_under_dilation():
    """The premise of local affinities (method.md): under a wide dilation, near pairs keep their relation."""
    clean = np.zeros((96, 96), dtype=np.int64)
    yy, xx = np.mgrid[:96, :96]
    clean[(yy - 48) ** 2 + (xx - 48) ** 2 < 20**2] = 1
    noisy = ndimage.binary_dilation(clean, iterations=6).astype(np.int64)
    pixel_noise = float((clean != noisy).mean())
    clean_t, noisy_t = torch.from_numpy(clean)[None], torch.from_numpy(noisy)[None]
    local = pair_error_rate(clean_t, noisy_t, lambda labels: neighbour_pair_labels(labels, (1, 3)))
    flat_clean, flat_noisy = clean.ravel(), noisy.ravel()
    global_wrong = np.mean((flat_clean[:, None] == flat_clean[None, ::7]) != (flat_noisy[:, None] == flat_noisy[None, ::7]))
    assert local < pixel_noise / 2
    assert local < global_wrong / 2
