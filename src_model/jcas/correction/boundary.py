"""The boundary view: where the model sees a boundary the drawn mask lacks, and where the mask has one it does not.

The pair affinities say *where a boundary should run*: ``A_ij`` is the model's probability that
the neighbouring pixels i and j share a class, so ``1 - A_ij`` is its probability that a boundary
runs between them. A pixel's boundary probability is the largest ``1 - A_ij`` over its four nearest
neighbours (:func:`affinity_boundary`). A label map's boundary is, in the same way, every pixel
with a 4-neighbour of another label (:func:`label_edges`): both sides of a boundary, a band two
pixels wide, so the two are compared like with like.

The view (:func:`boundary_view`) compares the model's boundary with the drawn one, with a
tolerance: 1 (:data:`MISSING`) where the model sees a boundary farther than ``tolerance`` px from
any drawn boundary, 2 (:data:`UNSEEN`) on a drawn boundary farther than ``tolerance`` px from any
the model sees, 0 elsewhere. The baselines the view is measured against are the edges of the
class prediction (:func:`label_edges` of the argmax, or of the thresholded class heatmap) and
the class head's own pair probability ``1 - p_i . p_j`` (:func:`class_boundary`);
``benchmarks/boundary.py`` measures them all (docs/method.md, "What the annotator sees").
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ..nn.affinity import local_pairs
from ..settings import BOUNDARY_THRESHOLD, BOUNDARY_TOLERANCE

#: Values of the boundary view's label map.
AGREE, MISSING, UNSEEN = 0, 1, 2
#: The nearest neighbours: offset 1 along rows and along columns (both directions through
#: :meth:`jcas.nn.affinity.LocalPairs.both_directions`).
NEAREST = (1,)


def affinity_boundary(unit: torch.Tensor) -> torch.Tensor:
    """The model's boundary probability per pixel: the largest ``1 - A_ij`` over its 4 nearest neighbours.

    Parameters
    ----------
    unit : torch.Tensor
        ``(B, D, H, W)`` unit non-negative embeddings (:attr:`jcas.nn.model.Prediction.unit`); the
        affinity of two pixels is the dot product of theirs.

    Returns
    -------
    torch.Tensor
        ``(B, H, W)`` float in [0, 1]; neighbours outside the image are left out (a one-pixel
        image is 0).
    """
    both = local_pairs(unit.float(), NEAREST).both_directions()
    return ((1 - both.affinity.float()) * both.inside).amax(dim=1).clamp(0, 1)


def class_boundary(probability: np.ndarray) -> np.ndarray:
    """The class head's boundary probability per pixel: the largest ``1 - p_i . p_j`` over its 4 nearest neighbours.

    ``p_i . p_j`` is the probability that two independent draws from the class probabilities of
    i and j agree: the class head's counterpart of the pair affinity (a baseline of the view).

    Parameters
    ----------
    probability : numpy.ndarray
        ``(K, H, W)`` class probabilities.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32 in [0, 1].
    """
    probability = np.asarray(probability, dtype=np.float32)
    out = np.zeros(probability.shape[1:], dtype=np.float32)
    down = 1 - (probability[:, 1:] * probability[:, :-1]).sum(axis=0)  # (H - 1, W): pairs (y, y + 1)
    right = 1 - (probability[:, :, 1:] * probability[:, :, :-1]).sum(axis=0)  # (H, W - 1)
    np.maximum(out[1:], down, out=out[1:])
    np.maximum(out[:-1], down, out=out[:-1])
    np.maximum(out[:, 1:], right, out=out[:, 1:])
    np.maximum(out[:, :-1], right, out=out[:, :-1])
    return out.clip(0, 1)


def label_edges(labels: np.ndarray, ignore_value: int | None = None) -> np.ndarray:
    """The boundary of a label map: pixels with a 4-neighbour (in the same slice) of another label.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` label values (or a bool map: the edges of its regions).
    ignore_value : int, optional
        Pairs touching a pixel of this value are left out, and such pixels are never edges.

    Returns
    -------
    numpy.ndarray
        bool, ``labels``' shape; both pixels of every pair that differs.
    """
    labels = np.asarray(labels)
    edges = np.zeros(labels.shape, dtype=bool)
    known = np.ones(labels.shape, dtype=bool) if ignore_value is None else labels != ignore_value
    for axis in (-2, -1):
        ahead = [slice(None)] * labels.ndim
        behind = [slice(None)] * labels.ndim
        ahead[axis], behind[axis] = slice(1, None), slice(None, -1)
        ahead, behind = tuple(ahead), tuple(behind)
        differ = (labels[ahead] != labels[behind]) & known[ahead] & known[behind]
        edges[ahead] |= differ
        edges[behind] |= differ
    return edges


def distance_to(edges: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels from every pixel to the nearest ``True`` of its own 2D slice.

    Parameters
    ----------
    edges : numpy.ndarray
        bool, ``(H, W)`` or ``(Z, H, W)``.

    Returns
    -------
    numpy.ndarray
        float32, ``edges``' shape; ``inf`` throughout a slice without any ``True``.
    """
    edges = np.asarray(edges, dtype=bool)
    if edges.ndim == 3:
        return np.stack([distance_to(plane) for plane in edges])
    if not edges.any():
        return np.full(edges.shape, np.inf, dtype=np.float32)
    return ndimage.distance_transform_edt(~edges).astype(np.float32)


def missing_edges(edges: np.ndarray, reference: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> np.ndarray:
    """The pixels of ``edges`` farther than ``tolerance`` px from every pixel of ``reference`` (per 2D slice).

    Parameters
    ----------
    edges, reference : numpy.ndarray
        bool, the same shape, ``(H, W)`` or ``(Z, H, W)``: e.g. a view's boundary and the drawn one.
    tolerance : float
        Pixels; 0 keeps every pixel of ``edges`` that is not itself in ``reference``.

    Returns
    -------
    numpy.ndarray
        bool, the same shape.
    """
    return np.asarray(edges, dtype=bool) & (distance_to(reference) > tolerance)


def boundary_view(boundary: np.ndarray, drawn: np.ndarray, *, threshold: float = BOUNDARY_THRESHOLD,
                  tolerance: float = BOUNDARY_TOLERANCE, ignore_value: int | None = None) -> np.ndarray:
    """The boundary view of a drawn mask: boundaries the model sees and the mask lacks, and the reverse.

    Parameters
    ----------
    boundary : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)`` float in [0, 1]: the model's boundary probability
        (:func:`affinity_boundary`, :attr:`jcas.correction.results.CorrectionMaps.boundary`).
    drawn : numpy.ndarray
        The same shape: the drawn label values.
    threshold : float
        The model sees a boundary at a pixel whose probability is at least this.
    tolerance : float
        Pixels: a boundary within this distance of the other's counts as the same boundary.
    ignore_value : int, optional
        The drawn value of unlabelled pixels; they are 0 in the view and draw no boundary.

    Returns
    -------
    numpy.ndarray
        uint8, ``drawn``'s shape: :data:`MISSING` (1) where the model sees a boundary farther than
        ``tolerance`` from any drawn boundary, :data:`UNSEEN` (2) on a drawn boundary farther than
        ``tolerance`` from any the model sees, :data:`AGREE` (0) elsewhere.
    """
    drawn = np.asarray(drawn)
    boundary = np.asarray(boundary)
    if boundary.shape != drawn.shape:
        raise ValueError(f"the boundary map {boundary.shape} and the drawn mask {drawn.shape} must have one shape")
    model_edges = boundary >= threshold
    if ignore_value is not None:
        model_edges &= drawn != ignore_value
    drawn_edges = label_edges(drawn, ignore_value)
    view = np.zeros(drawn.shape, dtype=np.uint8)
    view[missing_edges(drawn_edges, model_edges, tolerance)] = UNSEEN
    view[missing_edges(model_edges, drawn_edges, tolerance)] = MISSING
    return view
