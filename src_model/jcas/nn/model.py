"""A trained JCAS model: network, transition matrices, label values and settings."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from ..data.labels import LabelMap
from ..settings import TrainConfig
from .affinity import LocalPairs, local_pairs, unit_embedding
from .affinity_reasoning import grid_dar, local_dar
from .networks import NetworkOutput, build_network


@dataclass
class Prediction:
    """The model's view of a batch of images.

    Attributes
    ----------
    output : NetworkOutput
        Raw network output (logits Q ``(B, K, H, W)``, embedding, auxiliary logits).
    unit : torch.Tensor
        ``(B, D, H, W)`` unit non-negative embeddings.
    rectified : torch.Tensor or None
        ``(B, K, H, W)`` DAR-rectified logits P, ``None`` without DAR.
    offsets : tuple of int
        Offsets of the local pairs.
    """

    output: NetworkOutput
    unit: torch.Tensor
    rectified: torch.Tensor | None
    offsets: tuple[int, ...] = ()

    @cached_property
    def pairs(self) -> LocalPairs:
        """Local pair affinities at the configured offsets (computed once, on first use)."""
        return local_pairs(self.unit, self.offsets)

    def probabilities(self) -> torch.Tensor:
        """``(B, K, H, W)``: ``(softmax(P) + softmax(Q)) / 2`` with DAR, else ``softmax(Q)``."""
        probability = self.output.logits.float().softmax(dim=1)
        if self.rectified is None:
            return probability
        return 0.5 * (probability + self.rectified.softmax(dim=1))


class TransitionMatrix(nn.Module):
    """A learned row-stochastic, diagonally dominant transition matrix (VolMinNet form).

    ``T = rownorm(I + sigmoid(W) * (1 - I))`` with a free matrix W.

    Parameters
    ----------
    size : int
        Number of rows and columns.
    init : float
        Initial value of every entry of W; -2 gives off-diagonal weights of 0.12.
    """

    def __init__(self, size: int, init: float = -2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.full((size, size), float(init)))
        self.register_buffer("identity", torch.eye(size))

    @torch.no_grad()
    def set_to(self, matrix: torch.Tensor) -> None:
        """Set W so that T is as close to ``matrix`` (row-stochastic, ``(size, size)``) as the form allows.

        Off-diagonal ratios ``T_ij / T_ii = sigmoid(W_ij)`` are kept, clipped to below 1 so that
        T stays diagonally dominant.
        """
        diagonal = torch.diagonal(matrix).clamp(min=1e-6)[:, None]
        ratio = (matrix / diagonal).clamp(1e-4, 0.95)
        self.weight.copy_(torch.logit(ratio))

    def forward(self) -> torch.Tensor:
        """Return T, ``(size, size)``."""
        raw = self.identity + torch.sigmoid(self.weight) * (1 - self.identity)
        return raw / raw.sum(dim=1, keepdim=True)


class JCASModel(nn.Module):
    """Network plus the learned transition matrices, with the label values it was trained on.

    Parameters
    ----------
    config : TrainConfig
    label_map : LabelMap
    in_channels : int
        1 (grey) or 3 (RGB).
    """

    def __init__(self, config: TrainConfig, label_map: LabelMap, in_channels: int):
        super().__init__()
        self.config = config
        self.label_map = label_map
        self.in_channels = in_channels
        classes = label_map.num_classes
        self.network = build_network(config.network, in_channels, classes, config.embedding_dim, config.width,
                                     config.norm)
        self.class_transition = TransitionMatrix(classes, config.transition_init)
        self.affinity_transition = TransitionMatrix(2, config.transition_init)
        # Fitted on the held-out slices after training (jcas.nn.calibration); 1 = not calibrated.
        self.register_buffer("temperature", torch.ones(()))
        # (K,) the typical object of each class in the training masks, in pixels
        # (jcas.data.labels.typical_areas; the relative area floor); 0 = not measured.
        self.register_buffer("object_areas", torch.zeros(classes))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Model files written before calibration and object sizes hold neither: they load as not calibrated
        (temperature 1) and with no object size (the area floor then measures each slice)."""
        state_dict.setdefault(prefix + "temperature", torch.ones(()))
        state_dict.setdefault(prefix + "object_areas", torch.zeros_like(self.object_areas))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def predict(self, images: torch.Tensor) -> Prediction:
        """Run the network (and DAR, when configured).

        Parameters
        ----------
        images : torch.Tensor
            ``(B, C, H, W)`` normalised images.
        """
        output = self.network(images)
        prediction = Prediction(output, unit_embedding(output.embedding), None, self.config.offsets)
        if self.config.use_dar:
            if self.config.affinity == "local":
                prediction.rectified = local_dar(output.logits, prediction.pairs)
            else:
                prediction.rectified = grid_dar(output.logits, prediction.unit, self.config.grid)
        return prediction
