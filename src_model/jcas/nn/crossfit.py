"""Cross-fitting: fold models, which of them may judge which slice, and the model that holds them.

A model that was fitted to a noisy mask reproduces that mask, errors included, so it
cannot be trusted to find them. With K folds, every training slice (or, with fewer slices
than folds, every strip of a slice) is judged only by the fold model that never saw its
mask. Slices the models have not seen are judged by the average of all fold models.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..settings import FOLD_BUDGET_PIXELS, FOLD_LEAST_SLICES, MAX_AUTO_FOLDS
from .model import JCASModel

#: How the training data was split: whole slices per fold, strips of every slice, or not at all.
SLICES, STRIPS, IN_SAMPLE = "slices", "strips", "in-sample"


def fingerprint(image_slice: np.ndarray) -> str:
    """A content hash of one 2D image slice ``(H, W)`` or ``(H, W, C)``, to recognise training slices later."""
    array = np.ascontiguousarray(image_slice)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class FoldPlan:
    """Which fold each training slice belongs to.

    Attributes
    ----------
    folds : int
        Number of fold models K.
    mode : {"slices", "strips", "in-sample"}
        Whole slices per fold (at least K slices), K strips of every slice (fewer slices), or one
        model on everything (K = 1).
    slice_folds : tuple of int
        Fold of each slice in training order (slices mode; all 0 otherwise).
    """

    folds: int
    mode: str
    slice_folds: tuple[int, ...]


#: With fewer slices than folds, each slice is cut into K x STRIP_CYCLES strips that take turns per fold.
STRIP_CYCLES = 2


def choose_folds(shapes: Sequence[tuple[int, ...]], budget: int = FOLD_BUDGET_PIXELS, most: int = MAX_AUTO_FOLDS,
                 least_slices: int = FOLD_LEAST_SLICES) -> int:
    """The folds of a run that leaves them to the data: 2, unless that leaves each fold model fewer than
    ``least_slices`` slices to learn from; then the fewest, up to ``most``, that give it that many (``most`` where
    none does), as long as their training costs no more than two folds would on ``budget`` pixels (or on the
    data itself, when it is larger).

    K fold models each train on (K - 1) / K of the slices, so K folds cost about (K - 1) passes over the data's
    pixels. More folds give each fold model more of a small set to learn from (``jcas.settings.FOLD_LEAST_SLICES``
    says what was measured); a set with enough slices keeps 2. There are never more folds than slices (a single
    image is cut into strips, :func:`plan_folds`, with 2).

    Parameters
    ----------
    shapes : sequence of tuple of int
        ``(H, W, ...)`` of every training slice.
    budget, most, least_slices : int
        ``jcas.settings.FOLD_BUDGET_PIXELS``, ``MAX_AUTO_FOLDS`` and ``FOLD_LEAST_SLICES``.

    Returns
    -------
    int
        At least 2.
    """
    slices = len(shapes)
    pixels = sum(int(shape[0]) * int(shape[1]) for shape in shapes)
    affordable = [k for k in range(2, min(most, max(slices, 2)) + 1)
                  if k == 2 or (k - 1) * pixels <= max(pixels, budget)]
    enough = [k for k in affordable if (k - 1) * slices >= least_slices * k]
    return min(enough) if enough else max(affordable)


def plan_folds(slices: int, folds: int) -> FoldPlan:
    """Deal ``slices`` slices (in their training order) to the folds in turn: slice i to fold i mod K.

    Dealt one by one, not in blocks: every slice of a stack, the first and the last included, is
    judged by a fold model that trained on its neighbours, so no fold model extrapolates to a part
    of a volume it never saw. With blocks, the fold model judging the first block of a volume had
    seen nothing above it and redrew the ends of a stack with confidence it had not earned. The
    price: where an annotator's errors repeat across neighbouring slices (a mask copied to the
    slices between drawn ones), the judging model has seen the same error next door, so it
    proposes less there; it does not propose more.
    """
    if folds == 1:
        return FoldPlan(1, IN_SAMPLE, (0,) * slices)
    if slices < folds:
        return FoldPlan(folds, STRIPS, (0,) * slices)
    return FoldPlan(folds, SLICES, tuple(index % folds for index in range(slices)))


def strip_folds(shape: tuple[int, int], folds: int) -> np.ndarray:
    """``(H, W)`` int64 fold of every pixel: ``folds x STRIP_CYCLES`` equal strips across the longer side, taking turns."""
    height, width = shape
    along = width if width >= height else height
    count = folds * STRIP_CYCLES
    strips = np.minimum(np.arange(along) * count // max(along, 1), count - 1) % folds
    return np.broadcast_to(strips[None, :] if width >= height else strips[:, None], shape).astype(np.int64)


@dataclass
class Trust:
    """How far the fold models agree with the noisy masks on data they did not train on.

    Attributes
    ----------
    intersections, predicted, drawn : list of float
        Per class k (``(K,)``): held-out pixels predicted and drawn as k, predicted as k, drawn as k.
    held_out : bool
        False for an in-sample model (``folds=1``): its agreement is optimistic.
    """

    intersections: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    drawn: list[float] = field(default_factory=list)
    held_out: bool = True

    @property
    def class_agreement(self) -> np.ndarray:
        """``(K,)`` Dice of the prediction against the drawn (noisy) mask per class; NaN where never drawn or predicted."""
        intersections, total = np.asarray(self.intersections), np.asarray(self.predicted) + np.asarray(self.drawn)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 2 * intersections / total, np.nan)

    def add(self, other: "Trust") -> "Trust":
        """Pool the counts of two evaluations (for example of two folds)."""
        if not self.intersections:
            return Trust(list(other.intersections), list(other.predicted), list(other.drawn),
                         self.held_out and other.held_out)
        pooled = [list(np.add(a, b)) for a, b in ((self.intersections, other.intersections),
                                                  (self.predicted, other.predicted), (self.drawn, other.drawn))]
        return Trust(*pooled, held_out=self.held_out and other.held_out)

    def to_dict(self) -> dict:
        """Plain dictionary (for checkpoints)."""
        return {"intersections": [float(v) for v in self.intersections], "predicted": [float(v) for v in self.predicted],
                "drawn": [float(v) for v in self.drawn], "held_out": bool(self.held_out)}


def count_agreement(predicted: np.ndarray, drawn: np.ndarray, classes: int) -> Trust:
    """Per-class agreement counts of predicted and drawn class indices (``(...)``, -1 = not counted)."""
    counted = (drawn >= 0) & (predicted >= 0)
    predicted, drawn = predicted[counted], drawn[counted]
    return Trust(list(np.bincount(predicted[predicted == drawn], minlength=classes).astype(float)),
                 list(np.bincount(predicted, minlength=classes).astype(float)),
                 list(np.bincount(drawn, minlength=classes).astype(float)))


class CrossFittedModel(nn.Module):
    """The fold models of one training run, with which slices each one saw and how far to trust them.

    Parameters
    ----------
    members : list of JCASModel
        The K fold models (one for ``folds=1``), all with the same settings and labels.
    mode : {"slices", "strips", "in-sample"}
        See :class:`FoldPlan`.
    fingerprints : dict of str to int
        Fingerprint of each training slice (:func:`fingerprint`) to its fold.
    """

    def __init__(self, members: list[JCASModel], mode: str, fingerprints: dict[str, int]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.mode = mode
        self.fingerprints = dict(fingerprints)
        self.trained = [False] * len(members)
        self.trust: list[Trust | None] = [None] * len(members)
        self.selected_epochs: list[int | None] = [None] * len(members)
        self.interrupted = False

    @property
    def config(self):
        """The training settings (:class:`jcas.settings.TrainConfig`)."""
        return self.members[0].config

    @property
    def label_map(self):
        """Label values (:class:`jcas.data.labels.LabelMap`)."""
        return self.members[0].label_map

    @property
    def object_areas(self) -> dict[int, float]:
        """``{label value: pixels}``: the typical object of each class in the training masks, where measured."""
        areas = self.members[0].object_areas.tolist()
        return {value: area for value, area in zip(self.label_map.values, areas) if area > 0}

    @property
    def in_channels(self) -> int:
        """1 (grey) or 3 (RGB)."""
        return self.members[0].in_channels

    @property
    def folds(self) -> int:
        """Number of fold models."""
        return len(self.members)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return self.members[0].device

    def pooled_trust(self) -> Trust | None:
        """The agreement counts of every evaluated fold, pooled; None before any evaluation."""
        pooled = None
        for trust in self.trust:
            if trust is not None:
                pooled = trust if pooled is None else pooled.add(trust)
        return pooled

    def judges(self, image_slice: np.ndarray) -> tuple[str, int | None]:
        """Who judges a slice: ``("fold", k)`` or ``("strips", None)`` for a training slice of a cross-fitted
        run, ``("in-sample", None)`` for one of a one-model run, ``("unseen", None)`` for any other slice."""
        fold = self.fingerprints.get(fingerprint(image_slice))
        if fold is None:
            return ("unseen", None)
        if self.mode == IN_SAMPLE:
            return ("in-sample", None)
        return ("strips", None) if self.mode == STRIPS else ("fold", fold)


def as_cross_fitted(model: JCASModel | CrossFittedModel) -> CrossFittedModel:
    """A CrossFittedModel as it is, a lone JCASModel as a trained one-member in-sample model."""
    if isinstance(model, CrossFittedModel):
        return model
    wrapped = CrossFittedModel([model], IN_SAMPLE, {})
    wrapped.trained = [True]
    return wrapped
