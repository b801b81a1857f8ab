import pytest
import torch

from jcas.nn.affinity import local_pairs, pair_offsets, reversed_shifts, unit_embedding
from jcas.nn.affinity_reasoning import global_dar, local_dar


def quadratic_dar(logits, unit):
    """The plain N x N form of method.md, as an oracle."""
    affinity = torch.einsum("bdn,bdm->bnm", unit, unit)
    aggregate = affinity / affinity.sum(-1, keepdim=True)
    contrast = (1 - affinity) / (1 - affinity).sum(-1, keepdim=True)
    q = logits.transpose(1, 2)
    return (q + 0.5 * (aggregate @ q - contrast @ q)).transpose(1, 2)


@pytest.mark.parametrize("seed", range(5))
def test_linear_global_dar_matches_quadratic_oracle(seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 150, generator=generator, dtype=torch.float64)
    unit = unit_embedding(torch.randn(2, 8, 150, generator=generator, dtype=torch.float64).abs()).double()
    expected = quadratic_dar(logits, unit)
    assert torch.allclose(global_dar(logits.float(), unit.float()).double(), expected, atol=1e-5)


def test_unit_embedding_is_unit_and_non_negative():
    unit = unit_embedding(torch.randn(3, 5, 7, 7))
    assert (unit >= 0).all()
    norms = unit.norm(dim=1)
    assert torch.allclose(norms[norms > 0], torch.ones_like(norms[norms > 0]), atol=1e-5)


def test_local_dar_matches_explicit_neighbour_loop():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 2, 9, 11, generator=generator)
    unit = unit_embedding(torch.randn(1, 4, 9, 11, generator=generator).abs())
    offsets = (1, 3)
    result = local_dar(logits, local_pairs(unit, offsets))
    for y, x in [(0, 0), (4, 5), (8, 10), (2, 9)]:
        agg, elim, a_sum, c_sum = torch.zeros(2), torch.zeros(2), 0.0, 0.0
        for dy, dx in pair_offsets(offsets) + reversed_shifts(pair_offsets(offsets)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < 9 and 0 <= nx < 11:
                a = float(unit[0, :, y, x] @ unit[0, :, ny, nx])
                agg += a * logits[0, :, ny, nx]
                elim += (1 - a) * logits[0, :, ny, nx]
                a_sum, c_sum = a_sum + a, c_sum + 1 - a
        expected = logits[0, :, y, x] + 0.5 * (agg / a_sum - elim / c_sum)
        assert torch.allclose(result[0, :, y, x], expected, atol=1e-5)
