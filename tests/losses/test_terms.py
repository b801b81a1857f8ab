import numpy as np
import pytest
import torch
from torch.nn import functional as F

from jcas.losses.terms import (PERMUTATION_DET_MAX, VOLUME_FLOOR, affinity_loss, class_loss, consistency_loss,
                               determinant, implied_affinity_transition, volume_loss)
from jcas.nn.model import TransitionMatrix


def test_transition_matrix_is_row_stochastic_and_diagonally_dominant():
    matrix = TransitionMatrix(4)
    with torch.no_grad():
        matrix.weight.copy_(torch.randn(4, 4) * 5)
    t = matrix()
    assert torch.allclose(t.sum(dim=1), torch.ones(4), atol=1e-6)
    assert (t >= 0).all()
    assert (torch.diagonal(t) >= t.max(dim=1).values - 1e-6).all()


def test_transition_stays_row_stochastic_and_bounded_under_the_volume_term():
    """The unbounded log det drove T to equal rows and NaN; the floor stops it there."""
    matrix = TransitionMatrix(3)
    optimiser = torch.optim.SGD(matrix.parameters(), lr=1.0)
    for _ in range(300):
        optimiser.zero_grad()
        volume_loss(matrix()).backward()
        optimiser.step()
        t = matrix()
        assert torch.isfinite(t).all()
        assert torch.allclose(t.sum(dim=1), torch.ones(3), atol=1e-5)
    assert torch.linalg.det(matrix()) > VOLUME_FLOOR * 0.5


@pytest.mark.parametrize("size", range(1, PERMUTATION_DET_MAX + 2))
def test_determinant_and_its_gradient_match_the_lu_factorisation(size):
    generator = torch.Generator().manual_seed(size)
    matrix = (torch.rand(size, size, generator=generator, dtype=torch.float64) + torch.eye(size)).requires_grad_()
    reference = matrix.detach().clone().requires_grad_()
    determinant(matrix).backward()
    torch.linalg.det(reference).backward()
    assert torch.allclose(matrix.grad, reference.grad)
    assert torch.isclose(determinant(matrix), torch.linalg.det(reference))


def test_corrected_class_loss_with_identity_is_cross_entropy():
    logits = torch.randn(2, 3, 5, 5)
    labels = torch.randint(0, 3, (2, 5, 5))
    labels[0, 0, 0] = -1
    assert torch.allclose(class_loss(logits, labels, torch.eye(3)), F.cross_entropy(logits, labels, ignore_index=-1),
                          atol=1e-5)


def test_corrected_class_loss_uses_the_noisy_probability():
    logits = torch.tensor([[[[2.0]], [[0.0]]]])
    transition = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    p = logits.softmax(dim=1)[0, :, 0, 0]
    expected = -torch.log(p[0] * 0.2 + p[1] * 0.7)
    assert torch.allclose(class_loss(logits, torch.tensor([[[1]]]), transition), expected)


def test_affinity_loss_correction():
    affinity = torch.tensor([0.9, 0.1])
    same = torch.tensor([1.0, 0.0])
    valid = torch.tensor([1.0, 1.0])
    transition = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    total, count = affinity_loss(affinity, same, valid, transition)
    p = (1 - affinity) * 0.1 + affinity * 0.8
    expected = -(torch.log(p[0]) + torch.log(1 - p[1]))
    assert count == 2 and torch.allclose(total, expected)


def test_implied_affinity_transition_matches_monte_carlo_pair_flips():
    rng = np.random.default_rng(0)
    prior = np.array([0.5, 0.3, 0.2])
    t_c = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.05, 0.25, 0.7]])
    n = 400_000
    clean_i, clean_j = rng.choice(3, n, p=prior), rng.choice(3, n, p=prior)
    flip = lambda clean: (rng.random(n)[:, None] > np.cumsum(t_c[clean], axis=1)).sum(axis=1)  # noqa: E731
    noisy_i, noisy_j = flip(clean_i), flip(clean_j)
    clean_same, noisy_same = clean_i == clean_j, noisy_i == noisy_j
    s_same = noisy_same[clean_same].mean()
    s_diff = noisy_same[~clean_same].mean()
    g = implied_affinity_transition(torch.tensor(t_c), torch.tensor(prior)).numpy()
    assert np.allclose(g, [[1 - s_diff, s_diff], [1 - s_same, s_same]], atol=0.005)
    assert np.allclose(g.sum(axis=1), 1)


def test_consistency_gradients_reach_both_matrices():
    class_t, affinity_t = TransitionMatrix(3), TransitionMatrix(2)
    with torch.no_grad():
        class_t.weight.normal_()
    consistency_loss(class_t(), affinity_t(), torch.tensor([0.5, 0.3, 0.2])).backward()
    assert class_t.weight.grad.abs().sum() > 0 and affinity_t.weight.grad.abs().sum() > 0
