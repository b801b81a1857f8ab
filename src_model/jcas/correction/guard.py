"""Do no harm: where the model's proposals cannot be trusted, propose nothing and say why.

Three levels, each measured without clean labels:

- a **class** whose out-of-fold prediction agrees with the drawn masks (Dice on the
  held-out slices during training) below :data:`MIN_AGREEMENT`: a model that has not learned
  a class must not redraw it, so regions to or from it keep the drawn labels;
- a **slice** whose proposal agrees with its drawn foreground below :data:`MIN_AGREEMENT`:
  the model would redraw most of it, which is a failure, not a cleaning;
- a **slice judged in sample** although the model is cross-fitted (training stopped before
  its fold model trained): its proposals are not out of sample.

When no class can be trusted the whole run proposes nothing. ``MIN_AGREEMENT`` = 0.5 is a
guess: it was not tuned (docs/method.md, "Do no harm").
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


def slice_agreement(drawn: np.ndarray, proposed: np.ndarray, ignore_value: int) -> float:
    """Dice of ``proposed`` against ``drawn`` ``(H, W)`` over the foreground, pooled over classes.

    The foreground is every class but the one drawn most often in the slice; NaN when the
    slice has no drawn foreground.
    """
    labelled = drawn != ignore_value
    values, counts = np.unique(drawn[labelled], return_counts=True)
    if len(values) < 2:
        return float("nan")
    background = values[np.argmax(counts)]
    foreground_drawn = labelled & (drawn != background)
    foreground_proposed = labelled & (proposed != background)
    both = (foreground_drawn & foreground_proposed & (drawn == proposed)).sum()
    return float(2 * both / (foreground_drawn.sum() + foreground_proposed.sum()))


def withhold(regions: list[Region], drawn: np.ndarray, proposed: np.ndarray, *, classes: dict[int, str],
             in_sample_reason: str | None, ignore_value: int,
             min_agreement: float = MIN_AGREEMENT) -> tuple[list[Region], list[Withheld], str | None]:
    """Split one slice's candidate regions into those proposed and those withheld.

    Parameters
    ----------
    regions : list of Region
        The slice's candidates.
    drawn, proposed : numpy.ndarray
        ``(H, W)`` label values: the drawn mask and the model's argmax proposal.
    classes : dict of int to str
        From :func:`untrusted_classes`.
    in_sample_reason : str or None
        Set when the slice could only be judged in sample by a cross-fitted model.
    ignore_value : int

    Returns
    -------
    kept : list of Region
    withheld : list of Withheld
    slice_reason : str or None
        Why the whole slice was withheld, if it was.
    """
    slice_reason = in_sample_reason
    if slice_reason is None:
        agreement = slice_agreement(drawn, proposed, ignore_value)
        if np.isfinite(agreement) and agreement < min_agreement:
            slice_reason = (f"the proposal agrees with the drawn foreground at Dice {agreement:.2f} "
                            f"(< {min_agreement:g}): it would redraw most of the slice")
    kept, withheld = [], []
    for region in regions:
        reason = slice_reason or classes.get(region.old_label) or classes.get(region.new_label)
        if reason is None:
            kept.append(region)
        else:
            withheld.append(Withheld(region, reason))
    return kept, withheld, slice_reason
