"""Do no harm: where the model's proposals cannot be trusted, propose nothing and say why.

Five rules, each measured without clean labels:

- a **class** whose out-of-fold prediction agrees with the drawn masks (Dice on the
  held-out slices during training) below :data:`MIN_AGREEMENT`: a model that has not learned
  a class must not redraw it, so regions to or from it keep the drawn labels;
- a **slice judged in sample** although the model is cross-fitted (training stopped before
  its fold model trained): its proposals are not out of sample;
- a **slice with no signal**: an image that holds one value everywhere gives the model no
  evidence, so whatever it proposes there comes from its prior alone;
- a **slice outside what the model learned**: where the prediction agrees with the slice's
  drawn mask :data:`UNFAMILIAR_MARGIN` below the agreement the model reached on the slices it
  was checked on, and the fold models disagree with each other there (below
  :data:`FOLD_AGREEMENT`), it is not correcting an annotation but redrawing a slice it does not
  know (the ends of a stack a fold model never saw, a slice of another kind of image), however
  confident it is. A drawn mask that is wrong all over also agrees little with the prediction;
  there the fold models, the one that never saw the slice and those that trained on its mask,
  agree on what the slice holds, and the correction goes ahead;
- a **region the check models do not make**: where fewer than :data:`MIN_SUPPORT` of the fold models
  that trained on the slice propose the region's label themselves (on average over its pixels), the
  drawn label convinced the models that learned it, and the judging model's disagreement is its
  own (a shape it cannot resolve, a fold model's quirk) rather than an error in the mask. A real
  error stands out even to a model that trained on it: it fits the rest of the data worse than the
  truth does.

When no class can be trusted the whole run proposes nothing. The region floor that keeps
small candidates out (``jcas.settings.MIN_AREA``) was chosen with ``benchmarks/guard.py`` on the
tuning sets; so was dropping a third rule, which withheld slices whose proposal agreed with the
drawn foreground below Dice 0.5: it withheld right corrections there and wrong ones almost
nowhere (docs/method.md, "Do no harm"). ``MIN_AGREEMENT`` is a guess (see its comment).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.crossfit import CrossFittedModel, count_agreement
from .regions import Region

#: Lowest Dice between the model's prediction and the drawn mask at which it may propose. A guess: no
#: tuning row has a class below 0.5, but the agreement is bounded by the drawn masks' own quality, and at
#: 0.5 the shipped sample's white matter (drawn at Dice 0.66 to the truth, agreement 0.45) was withheld
#: where the model had it right (``jcas demo``: 0.671 -> 0.686 at 0.5, 0.761 with the class redrawn).
#: Models that had not learned a class agreed at 0.19 (in sample on the MNI volume).
MIN_AGREEMENT = 0.4
#: How far a slice's agreement with its drawn mask may fall below the model's held-out agreement
#: (mean per-class Dice) before the slice counts as outside what the model learned. A guess: under
#: the simulated noise kinds of the tuning sets no slice falls this far (the noise changes about a
#: tenth of the pixels), while the sparse-slice harm it is meant to stop fell from 0.67 to 0.28.
UNFAMILIAR_MARGIN = 0.3
#: Lowest agreement (mean per-class Dice) between the judging prediction and each other fold model's on a slice
#: past the margin at which the slice still counts as one the model knows. Chosen on the tuning set mni_tissue
#: (mixed noise, seeds 1 and 2, JCAS and the plain recipe): the slices past the margin whose correction was
#: right (17, gains +0.26 to +0.68 Dice) had 0.90 to 0.97, the four it harmed (the first slice of the stack,
#: and its neighbour once; -0.19 to -0.70) 0.62 to 0.89. A guess on other data.
FOLD_AGREEMENT = 0.9
#: Lowest support of a region (:attr:`jcas.correction.regions.Region.support`: the share of its pixels where the
#: check models propose its label too) at which it is proposed: a majority, not a tuned figure. On the tuning sets
#: under mixed noise (seeds 0-2, candidates at the default area floor; recipe.md, "The check models' support") the
#: candidates below it were right 16 % of the time on cells3d_nuclei (356 regions) and 37 % on mni_tissue (191),
#: against 72 % and 78 % above it. Where the fold models are trained on a handful of slices each, a check model
#: learns its slices' errors and keeps right corrections out (the 8-slice shipped sample with 2 folds: 0.671 -> 0.698,
#: 0.775 without the rule); the folds chosen from the data give such a set 4 (0.862): a conservative guess.
MIN_SUPPORT = 0.5


@dataclass(frozen=True)
class Withheld:
    """A candidate region that the guard kept out of the correction.

    Attributes
    ----------
    region : Region
        The candidate (its id does not appear in the region map).
    reason : str
        Why, for people: which rule and the measured figure.
    """

    region: Region
    reason: str


def untrusted_classes(model: CrossFittedModel, min_agreement: float = MIN_AGREEMENT) -> dict[int, str]:
    """Label values the model may not redraw, each with the reason.

    Parameters
    ----------
    model : CrossFittedModel
    min_agreement : float
        Lowest per-class Dice of the (held-out) prediction against the drawn masks.

    Returns
    -------
    dict of int to str
        ``{label value: reason}``; empty when the model has no agreement measured yet.
    """
    trust = model.pooled_trust()
    if trust is None:
        return {}
    where = "out-of-fold" if trust.held_out else "in-sample"
    reasons = {}
    for index, agreement in enumerate(trust.class_agreement):
        if np.isfinite(agreement) and agreement < min_agreement:
            value = model.label_map.values[index]
            reasons[value] = (f"class {value}: the model's {where} prediction agrees with the drawn masks at "
                              f"Dice {agreement:.2f} (< {min_agreement:g}); it has not learned this class")
    return reasons


def untrusted_slice(model: CrossFittedModel, image: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                    others: list[np.ndarray] | None = None) -> str | None:
    """Why every region of one slice must keep the drawn labels, or None: no signal in the image, or a
    prediction that agrees with the drawn mask far less than the model does elsewhere while the fold models
    disagree with each other on the slice.

    Parameters
    ----------
    model : CrossFittedModel
    image : numpy.ndarray
        ``(C, H, W)`` the normalised image the model saw.
    labels : numpy.ndarray
        ``(H, W)`` drawn class indices, -1 = ignore.
    predicted : numpy.ndarray
        ``(H, W)`` the judging model's class indices.
    others : list of numpy.ndarray, optional
        The check models' class indices ``(H, W)`` on the slice (:func:`jcas.correction.prediction.check_predictions`).
        None or an empty list (a single model): the margin alone decides.
    """
    if np.ptp(image) == 0:
        return "the image holds one value everywhere, so the model has no evidence to propose anything"
    trust = model.pooled_trust()
    if trust is None:
        return None
    usual = float(np.nanmean(trust.class_agreement))
    classes = model.label_map.num_classes
    agreement = slice_agreement(predicted, labels, classes)
    if agreement >= usual - UNFAMILIAR_MARGIN:
        return None
    between = min((slice_agreement(other, predicted, classes) for other in others or []), default=None)
    if between is not None and between >= FOLD_AGREEMENT:
        return None
    disagree = "" if between is None else f" and the fold models agree with each other at only {between:.2f}"
    return (f"the prediction agrees with the drawn mask at Dice {agreement:.2f}, far below the {usual:.2f} the "
            f"model reaches where it was checked{disagree}: this slice lies outside what it learned")


def slice_agreement(predicted: np.ndarray, labels: np.ndarray, classes: int) -> float:
    """Mean Dice over the classes present in either map of one slice's prediction against its drawn labels.

    Parameters
    ----------
    predicted, labels : numpy.ndarray
        ``(H, W)`` class indices (-1 in ``labels``: not counted).
    classes : int
    """
    counts = count_agreement(predicted, labels, classes)
    return float(np.nanmean(counts.class_agreement)) if np.isfinite(counts.class_agreement).any() else 1.0


def withhold(regions: list[Region], *, classes: dict[int, str],
             slice_reason: str | None) -> tuple[list[Region], list[Withheld]]:
    """Split one slice's candidate regions into those proposed and those withheld.

    Parameters
    ----------
    regions : list of Region
        The slice's candidates.
    classes : dict of int to str
        From :func:`untrusted_classes`.
    slice_reason : str or None
        Set when no region of the slice can be trusted (:func:`untrusted_slice`, or a cross-fitted
        model that could judge it only in sample); then every candidate of the slice is withheld.
        Otherwise a region whose :attr:`~jcas.correction.regions.Region.support` is below :data:`MIN_SUPPORT`
        is withheld.

    Returns
    -------
    kept : list of Region
    withheld : list of Withheld
    """
    kept, withheld = [], []
    for region in regions:
        reason = (slice_reason or classes.get(region.old_label) or classes.get(region.new_label)
                  or unsupported(region))
        if reason is None:
            kept.append(region)
        else:
            withheld.append(Withheld(region, reason))
    return kept, withheld


def unsupported(region: Region) -> str | None:
    """Why a region's proposal lacks the check models' support (below :data:`MIN_SUPPORT`), or None."""
    if region.support is None or region.support >= MIN_SUPPORT:  # None: no check model to ask
        return None
    return (f"the fold models that trained on this slice propose label {region.new_label} on only "
            f"{region.support:.0%} of the region (< {MIN_SUPPORT:.0%}); they keep the drawn label there")
