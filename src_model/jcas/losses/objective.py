"""The training objective: class, affinity, volume and consistency terms for one batch."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch.nn import functional as F

from ..nn.affinity import pair_labels, unit_embedding
from ..nn.model import JCASModel, Prediction
from ..settings import TrainConfig
from .terms import affinity_loss, class_loss, consistency_loss, volume_loss


@dataclass(frozen=True)
class JCASLoss:
    """The training objective of one batch: class, auxiliary, affinity, volume and consistency terms.

    It owns its weights and its pairs (as a loss of segmentation_models.pytorch owns its
    settings); the transition matrices T_C and T_A are the model's parameters, applied in the
    corrected stage only, and never to *trusted* labels (pixels a person confirmed in a review):
    those train as clean labels, and so do local pairs of two trusted pixels. Build it with
    :meth:`from_config`.

    Attributes
    ----------
    use_class_transition, use_affinity_transition : bool
        Correct the class / affinity term through the model's T_C / T_A in the corrected stage.
    use_affinity : bool
        Add the affinity term.
    affinity : {"local", "global"}
        Pairs at :attr:`offsets`, or all pairs of a :attr:`grid` x :attr:`grid` resampling.
    offsets : tuple of int
        Pixel offsets of the local pairs (the model predicts the same ones).
    grid, pair_samples : int
        The global pairs' grid, and random pairs per image (0: all of them, exactly).
    weight_aux, weight_affinity, weight_volume, weight_consistency : float
        Weights of the terms; the class term has weight 1.
    """

    use_class_transition: bool
    use_affinity_transition: bool
    use_affinity: bool
    affinity: str
    offsets: tuple[int, ...]
    grid: int
    pair_samples: int
    weight_aux: float
    weight_affinity: float
    weight_volume: float
    weight_consistency: float

    @classmethod
    def from_config(cls, config: TrainConfig) -> JCASLoss:
        """The loss that ``config`` describes (its fields of the same names)."""
        return cls(**{field.name: getattr(config, field.name) for field in fields(cls)})

    def __call__(
        self, model: JCASModel, prediction: Prediction, labels: torch.Tensor, corrected: bool, prior: torch.Tensor,
        trusted: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """All loss terms of one batch, and their weighted sum under ``"total"``.

        Parameters
        ----------
        model : JCASModel
            Holds T_C and T_A (``model.class_transition()``, ``model.affinity_transition()``).
        prediction : Prediction
            From ``model.predict(images)``.
        labels : torch.Tensor
            ``(B, H, W)`` int64 noisy class indices, -1 for ignore.
        corrected : bool
            Stage 2: apply the transition matrices and add the volume and consistency terms.
        prior : torch.Tensor
            ``(K,)`` class frequencies of the noisy labels.
        trusted : torch.Tensor, optional
            ``(B, H, W)`` bool: labels a person confirmed (no transition matrix there). ``None``: none.

        Returns
        -------
        dict of str to torch.Tensor
            Scalar terms (``"class"``, and as configured ``"class_dar"``, ``"aux"``,
            ``"affinity"``, ``"volume"``, ``"consistency"``), weighted, and ``"total"``.
        """
        class_t = model.class_transition() if corrected and self.use_class_transition else None
        affinity_t = model.affinity_transition() if corrected and self.use_affinity_transition else None
        output = prediction.output
        losses = {"class": _class_term(output.logits, labels, class_t, trusted)}
        if prediction.rectified is not None:
            losses["class_dar"] = _class_term(prediction.rectified, labels, class_t, trusted)
        if output.aux_logits is not None:
            size = output.aux_logits.shape[-2:]
            small = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
            small_trusted = None if trusted is None else F.interpolate(
                trusted[:, None].float(), size=size, mode="nearest")[:, 0].bool()
            losses["aux"] = self.weight_aux * _class_term(output.aux_logits, small, class_t, small_trusted)
        if self.use_affinity:
            losses["affinity"] = self.weight_affinity * self.pair_loss(prediction, labels, affinity_t, trusted)
        if class_t is not None or affinity_t is not None:
            present = [t for t in (class_t, affinity_t) if t is not None]
            losses["volume"] = self.weight_volume * volume_loss(*present)
        if class_t is not None and affinity_t is not None:
            losses["consistency"] = self.weight_consistency * consistency_loss(class_t, affinity_t, prior)
        losses["total"] = sum(losses.values())
        return losses

    def pair_loss(self, prediction: Prediction, labels: torch.Tensor, transition: torch.Tensor | None,
                  trusted: torch.Tensor | None = None) -> torch.Tensor:
        """Mean (corrected) affinity loss over the pairs: local offsets or a global grid.

        Local pairs of two ``trusted`` pixels are not corrected; global pairs always are. The local
        pairs of all offsets are one stacked tensor, so the term costs the same few operations
        whatever the number of offsets.
        """
        if self.affinity != "local":
            return global_pair_loss(prediction.output.embedding, labels, self.grid, self.pair_samples, transition)
        pairs = prediction.pairs
        same, valid = pair_labels(labels, pairs.shifts)
        clean = None
        if transition is not None and trusted is not None:  # both pixels trusted: the "valid" pairs of trusted labels
            clean = pair_labels(torch.where(trusted, 0, -1), pairs.shifts)[1].bool()
        total, count = affinity_loss(pairs.affinity, same, valid, transition, clean)
        return total / count.clamp(min=1)


def _class_term(logits: torch.Tensor, labels: torch.Tensor, transition: torch.Tensor | None,
                trusted: torch.Tensor | None) -> torch.Tensor:
    """:func:`jcas.losses.terms.class_loss` over all labelled pixels, without ``transition`` at the
    ``trusted`` ones."""
    if transition is None or trusted is None:
        return class_loss(logits, labels, transition)
    confirmed, drawn = torch.where(trusted, labels, -1), torch.where(trusted, -1, labels)
    counts = [(part >= 0).sum() for part in (confirmed, drawn)]
    total = class_loss(logits, confirmed, None) * counts[0] + class_loss(logits, drawn, transition) * counts[1]
    return total / (counts[0] + counts[1]).clamp(min=1)


def global_pair_loss(
    embedding: torch.Tensor, labels: torch.Tensor, grid: int, samples: int, transition: torch.Tensor | None
) -> torch.Tensor:
    """Affinity loss over all pairs of a ``grid x grid`` resampling (exact), or ``samples`` random pairs.

    Parameters
    ----------
    embedding : torch.Tensor
        ``(B, D, H, W)`` raw embeddings (resampled, then made unit).
    labels : torch.Tensor
        ``(B, H, W)`` class indices, -1 for ignore (resampled by nearest neighbour).
    samples : int
        0 for the exact loss over all N^2 ordered pairs; else that many uniformly drawn
        pairs per image (an unbiased estimate of the same mean).
    """
    unit = unit_embedding(F.interpolate(embedding.float(), size=(grid, grid), mode="bilinear", align_corners=False))
    small = F.interpolate(labels[:, None].float(), size=(grid, grid), mode="nearest")[:, 0].long()
    unit, small = unit.flatten(2), small.flatten(1)
    if samples:
        count = unit.shape[-1]
        first = torch.randint(count, (unit.shape[0], samples), device=unit.device)
        second = torch.randint(count, (unit.shape[0], samples), device=unit.device)
        gather = lambda t, idx: torch.gather(t, -1, idx.unsqueeze(1).expand(-1, t.shape[1], -1))  # noqa: E731
        affinity = (gather(unit, first) * gather(unit, second)).sum(dim=1)
        label_i, label_j = torch.gather(small, 1, first), torch.gather(small, 1, second)
    else:
        affinity = torch.bmm(unit.transpose(1, 2), unit)
        label_i, label_j = small[:, :, None], small[:, None, :]
    same = (label_i == label_j).float()
    valid = ((label_i >= 0) & (label_j >= 0)).float()
    total, count = affinity_loss(affinity, same.expand_as(affinity), valid.expand_as(affinity), transition)
    return total / count.clamp(min=1)
