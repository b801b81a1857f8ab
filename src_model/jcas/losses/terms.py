"""Class-affinity loss correction (CALC): the loss terms, corrected by noise-transition matrices.

Convention everywhere: ``T[i, j] = P(noisy = j | clean = i)``, rows sum to 1. For the
affinity matrix T_A, index 0 is "different class" and 1 is "same class".
"""
from __future__ import annotations

import functools
import itertools

import torch
from torch.nn import functional as F

EPS = 1e-7


def class_loss(logits: torch.Tensor, labels: torch.Tensor, transition: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy on the noisy labels, forward-corrected by ``transition`` when given.

    ``L_C = mean over labelled pixels of -log((softmax(z) T_C)[y~])``; 0 when no pixel is
    labelled (a batch of crops inside an unlabelled area teaches nothing, rather than NaN).

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, K, H, W)``.
    labels : torch.Tensor
        ``(B, H, W)`` int64 noisy class indices, -1 for ignore.
    transition : torch.Tensor, optional
        ``(K, K)`` T_C; plain cross-entropy without it.
    """
    logits = logits.float()
    if transition is None:
        log_probability = logits.log_softmax(dim=1)
    else:
        noisy_probability = torch.einsum("bchw,cj->bjhw", logits.softmax(dim=1), transition)
        log_probability = noisy_probability.clamp(min=EPS).log().contiguous()
    total = F.nll_loss(log_probability, labels, ignore_index=-1, reduction="sum")
    return total / (labels >= 0).sum().clamp(min=1)


def affinity_loss(
    affinity: torch.Tensor, same: torch.Tensor, valid: torch.Tensor, transition: torch.Tensor | None = None,
    clean: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary cross-entropy of pair affinities against the noisy pair labels, optionally corrected.

    The probability that the noisy labels call a pair "same" is
    ``p = (1 - a) T_A[0, 1] + a T_A[1, 1]`` (``p = a`` without correction, and at ``clean`` pairs).

    Parameters
    ----------
    affinity, same, valid : torch.Tensor
        Same shapes (any): predicted affinities in [0, 1], pair labels in {0, 1}, and 0/1 weights.
    transition : torch.Tensor, optional
        ``(2, 2)`` T_A.
    clean : torch.Tensor, optional
        Bool, the same shape: pairs whose labels are known right (both pixels confirmed in a
        review), which ``transition`` does not correct.

    Returns
    -------
    loss_sum, pair_count : torch.Tensor
        Summed loss over valid pairs and their number (so callers can average over offsets).
    """
    affinity = affinity.float()
    if transition is not None:
        noisy = transition[0, 1] + affinity * (transition[1, 1] - transition[0, 1])
        affinity = noisy if clean is None else torch.where(clean, affinity, noisy)
    probability = affinity.clamp(EPS, 1 - EPS)
    return F.binary_cross_entropy(probability, same, weight=valid, reduction="sum"), valid.sum()


#: Smallest determinant the volume term still pushes down. Without a floor ``log det T`` is
#: unbounded below as T's rows become equal, the term swamps the loss and T collapses
#: (method.md, "What a first prototype found").
VOLUME_FLOOR = 0.1


#: Largest matrix whose determinant is expanded over permutations (``size!`` products) rather than
#: factorised: a CUDA LU factorisation of a tiny matrix costs more than the whole expansion.
PERMUTATION_DET_MAX = 6


def determinant(matrix: torch.Tensor) -> torch.Tensor:
    """The determinant of a small ``(K, K)`` matrix, in a few element-wise operations up to K = 6.

    Up to :data:`PERMUTATION_DET_MAX` rows it is the Leibniz sum over permutations
    ``sum_p sign(p) prod_i M[i, p(i)]`` (one gather, one product, one sum: no factorisation, no
    pivoting, nothing that waits for the device); beyond that, :func:`torch.linalg.det`.
    """
    size = matrix.shape[-1]
    if size > PERMUTATION_DET_MAX:
        return torch.linalg.det(matrix)
    rows, permutations, signs = _permutations(size, matrix.device)
    return (matrix[rows, permutations].prod(dim=-1) * signs.to(matrix.dtype)).sum()


@functools.cache
def _permutations(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The row indices ``(size,)``, all ``(size!, size)`` permutations of ``range(size)`` and their
    ``(size!,)`` signs (+1 / -1), made once per size and device."""
    permutations = list(itertools.permutations(range(size)))
    signs = [(-1) ** sum(a > b for i, a in enumerate(row) for b in row[i + 1:]) for row in permutations]
    return (torch.arange(size, device=device), torch.tensor(permutations, device=device),
            torch.tensor(signs, device=device))


def volume_loss(*transitions: torch.Tensor, floor: float = VOLUME_FLOOR) -> torch.Tensor:
    """VolMinNet volume term, bounded: the sum of ``log max(det T, floor)`` (minimised).

    The matrices of :class:`jcas.nn.model.TransitionMatrix` are diagonally dominant, so their determinants
    are positive; below ``floor`` the term is constant and no longer shrinks T.
    """
    return sum(torch.log(determinant(t).clamp(min=floor)) for t in transitions)


def implied_affinity_transition(class_transition: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """The 2 x 2 affinity transition implied by T_C when two pixels' classes are drawn from ``prior``.

    With ``T_i`` the i-th row of T_C and classes corrupted independently:
    ``s_same = sum_i pi_i^2 <T_i, T_i> / sum_i pi_i^2`` = P(noisy same | clean same), and
    ``s_diff = sum_{i != m} pi_i pi_m <T_i, T_m> / sum_{i != m} pi_i pi_m`` = P(noisy same | clean different).

    Parameters
    ----------
    class_transition : torch.Tensor
        ``(K, K)`` T_C.
    prior : torch.Tensor
        ``(K,)`` class probabilities pi.

    Returns
    -------
    torch.Tensor
        ``[[1 - s_diff, s_diff], [1 - s_same, s_same]]``, in T_A's index order.
    """
    inner = class_transition @ class_transition.T
    weights = prior[:, None] * prior[None, :]
    diagonal = torch.diagonal(weights)
    s_same = (diagonal * torch.diagonal(inner)).sum() / diagonal.sum().clamp(min=EPS)
    off = weights - torch.diag(diagonal)
    s_diff = (off * inner).sum() / off.sum().clamp(min=EPS)
    return torch.stack([torch.stack([1 - s_diff, s_diff]), torch.stack([1 - s_same, s_same])])


def consistency_loss(class_transition: torch.Tensor, affinity_transition: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Class-affinity consistency ``L_CACR = mean((g - T_A)^2)``, g from :func:`implied_affinity_transition`."""
    implied = implied_affinity_transition(class_transition, prior)
    return ((implied - affinity_transition) ** 2).mean()
