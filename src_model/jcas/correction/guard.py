"""Do no harm: where the model's proposals cannot be trusted, propose nothing and say why.

Two rules, each measured without clean labels:

- a **class** whose out-of-fold prediction agrees with the drawn masks (Dice on the
  held-out slices during training) below :data:`MIN_AGREEMENT`: a model that has not learned
  a class must not redraw it, so regions to or from it keep the drawn labels;
- a **slice judged in sample** although the model is cross-fitted (training stopped before
  its fold model trained): its proposals are not out of sample.

When no class can be trusted the whole run proposes nothing. The region floor that keeps
small candidates out (``jcas.settings.MIN_AREA``) was chosen with ``benchmarks/guard.py`` on the
tuning sets; so was dropping a third rule, which withheld slices whose proposal agreed with the
drawn foreground below Dice 0.5: it withheld right corrections there and wrong ones almost
nowhere (docs/method.md, "Do no harm"). ``MIN_AGREEMENT`` = 0.5 cost nothing on the tuning
sets, but it is a guess: no tuning row had a class below it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.crossfit import CrossFittedModel
from .regions import Region

#: Lowest Dice between the model's prediction and the drawn mask at which it may propose.
MIN_AGREEMENT = 0.5


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


def withhold(regions: list[Region], *, classes: dict[int, str],
             in_sample_reason: str | None) -> tuple[list[Region], list[Withheld]]:
    """Split one slice's candidate regions into those proposed and those withheld.

    Parameters
    ----------
    regions : list of Region
        The slice's candidates.
    classes : dict of int to str
        From :func:`untrusted_classes`.
    in_sample_reason : str or None
        Set when the slice could only be judged in sample by a cross-fitted model; then
        every candidate of the slice is withheld.

    Returns
    -------
    kept : list of Region
    withheld : list of Withheld
    """
    kept, withheld = [], []
    for region in regions:
        reason = in_sample_reason or classes.get(region.old_label) or classes.get(region.new_label)
        if reason is None:
            kept.append(region)
        else:
            withheld.append(Withheld(region, reason))
    return kept, withheld
