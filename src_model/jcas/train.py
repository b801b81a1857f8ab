"""Training as a generator of progress events: warm-up, then loss-corrected JCAS.

>>> trainer = Trainer(images, masks, make_config("jcas", "fast"))   # doctest: +SKIP
>>> for event in trainer.run():                                      # doctest: +SKIP
...     print(event.stage, event.epoch, event.losses["total"])
>>> trainer.save("model.pt")                                         # doctest: +SKIP

Closing the generator (``run().close()``, or leaving the loop) at any yield leaves
``trainer.model`` as it was after the last completed step. Nothing here is global: each
Trainer owns its model, data, optimiser and random generators, ready for one process per
device under ``torchrun``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from .config import METHODS, PRESETS, TrainConfig, make_config
from .dataset import CropDataset, Volume, scan_labels, volumes_from_arrays
from .device import autocast, available_devices, select_device
from .errors import JCASInputError
from .model import JCASModel
from .objective import batch_losses

__all__ = ["METHODS", "PRESETS", "TrainConfig", "TrainEvent", "Trainer", "available_devices", "make_config"]


@dataclass
class TrainEvent:
    """Progress after one optimisation step.

    Attributes
    ----------
    stage : {"warmup", "jcas", "ce", "fc"}
        Stage 1 is "warmup" for corrected methods; stage 2 is named after the method.
    epoch, epochs : int
        1-based epoch within the stage, and the stage's number of epochs.
    step, steps_per_epoch : int
        1-based step within the epoch.
    global_step, total_steps : int
        Over the whole run.
    losses : dict of str to float
        Each loss term of this step, and "total".
    class_transition : numpy.ndarray or None
        ``(K, K)`` current T_C in stage 2.
    affinity_transition : numpy.ndarray or None
        ``(2, 2)`` current T_A in stage 2.
    seconds : float
        Wall time since the run started.
    """

    stage: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    global_step: int
    total_steps: int
    losses: dict[str, float]
    class_transition: np.ndarray | None = None
    affinity_transition: np.ndarray | None = None
    seconds: float = 0.0

    @property
    def fraction_done(self) -> float:
        """Share of the run completed, in [0, 1]."""
        return self.global_step / self.total_steps


@dataclass
class _Stage:
    name: str
    epochs: int
    corrected: bool


class Trainer:
    """Train a JCAS model (or a baseline) on images and their noisy masks.

    Parameters
    ----------
    images, masks : sequence of numpy.ndarray
        Pairs in memory: 2D images ``(H, W)`` / RGB ``(H, W, C)`` or stacks ``(Z, H, W[, C])``,
        with masks ``(H, W)`` / ``(Z, H, W)`` in the user's label values; sizes may differ
        between pairs. Pass ``volumes`` instead to stream pairs from disk.
    config : TrainConfig, optional
        Full settings; built from ``method``, ``preset`` and the keywords when omitted.
    volumes : sequence of Volume, optional
        Pairs loaded on demand (see :func:`jcas.dataset.volumes_from_files`).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] = (),
        masks: Sequence[np.ndarray] = (),
        config: TrainConfig | None = None,
        *,
        volumes: Sequence[Volume] | None = None,
        method: str = "jcas",
        preset: str = "standard",
        device: str = "auto",
        seed: int = 0,
        epochs: int | None = None,
    ):
        if config is None:
            extra = {} if epochs is None else {"epochs": epochs}
            config = make_config(method, preset, device=device, seed=seed, **extra)
        if volumes is None:
            if len(images) != len(masks):
                raise JCASInputError(f"got {len(images)} images but {len(masks)} masks; give one mask per image.")
            volumes = volumes_from_arrays(images, masks)
        if not volumes:
            raise JCASInputError("no training data: give at least one image with its mask.")
        self.config = config
        self.device = select_device(config.device)
        self.label_map, prior = scan_labels(volumes)
        self.prior = torch.tensor(prior, dtype=torch.float32, device=self.device)
        torch.manual_seed(config.seed)
        channels = max(volume.channels for volume in volumes)
        self.model = JCASModel(config, self.label_map, channels).to(self.device)
        slices = sum(volume.slices for volume in volumes)
        self.dataset = CropDataset(volumes, self.label_map, config.crop,
                                   max(slices, config.min_samples_per_epoch), config.seed)
        self.steps_per_epoch = math.ceil(len(self.dataset) / config.batch_size)
        self.stages = self._stages()
        self.total_steps = sum(stage.epochs for stage in self.stages) * self.steps_per_epoch
        self.completed_steps = 0

    def _stages(self) -> list[_Stage]:
        config = self.config
        if not config.uses_correction:
            return [_Stage(config.method, config.total_epochs, corrected=False)]
        stages = [_Stage("warmup", config.epochs_warmup, corrected=False)]
        if config.epochs_correction:
            stages.append(_Stage(config.method, config.epochs_correction, corrected=True))
        return [stage for stage in stages if stage.epochs]

    def _optimizer(self) -> torch.optim.Optimizer:
        config = self.config
        transitions = list(self.model.class_transition.parameters()) + list(self.model.affinity_transition.parameters())
        return torch.optim.AdamW(
            [
                {"params": self.model.network.parameters(), "lr": config.learning_rate,
                 "weight_decay": config.weight_decay},
                {"params": transitions, "lr": config.transition_learning_rate, "weight_decay": 0.0},
            ]
        )

    def run(self) -> Iterator[TrainEvent]:
        """Train, yielding a :class:`TrainEvent` after every optimisation step."""
        config, model = self.config, self.model
        optimizer = self._optimizer()
        base_rates = [group["lr"] for group in optimizer.param_groups]
        scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda")
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=config.batch_size, shuffle=False,
                                             drop_last=False, num_workers=0)
        started = time.perf_counter()
        global_step = 0
        model.train()
        try:
            for stage in self.stages:
                if stage.corrected and config.transition_from_warmup:
                    self._start_transitions_from_confusion(loader)
                for epoch in range(1, stage.epochs + 1):
                    self.dataset.epoch = global_step  # a fresh crop for every item, every epoch
                    for step, (images, labels) in enumerate(loader, start=1):
                        decay = (1 - global_step / self.total_steps) ** 0.9
                        for group, rate in zip(optimizer.param_groups, base_rates):
                            group["lr"] = rate * decay
                        losses = self._step(images, labels, stage.corrected, optimizer, scaler)
                        global_step += 1
                        self.completed_steps = global_step
                        yield self._event(stage, epoch, step, global_step, losses, started)
        finally:
            model.eval()

    @torch.no_grad()
    def _start_transitions_from_confusion(self, loader) -> None:
        """Set T_C to P(noisy label | warm-up prediction) over one pass of the data, T_A to what T_C implies."""
        from .calc import implied_affinity_transition

        classes = self.label_map.num_classes
        counts = torch.zeros(classes, classes, device=self.device)
        self.model.eval()
        for images, labels in loader:
            labels = labels.to(self.device)
            with autocast(self.device):
                predicted = self.model.predict(images.to(self.device)).probabilities().argmax(dim=1)
            known = labels >= 0
            counts += torch.bincount(predicted[known] * classes + labels[known],
                                     minlength=classes * classes).view(classes, classes).float()
        self.model.train()
        confusion = (counts + 1) / (counts + 1).sum(dim=1, keepdim=True)
        self.model.class_transition.set_to(confusion)
        self.model.affinity_transition.set_to(implied_affinity_transition(self.model.class_transition(), self.prior))

    def _step(self, images, labels, corrected, optimizer, scaler) -> dict[str, float]:
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        with autocast(self.device):
            prediction = self.model.predict(images)
        losses = batch_losses(self.model, prediction, labels, corrected, self.prior)
        if not torch.isfinite(losses["total"]):
            raise FloatingPointError(
                f"training diverged (loss {losses['total'].item()}); try a lower learning rate or volume weight."
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.step(optimizer)
        scaler.update()
        return {name: float(value.detach()) for name, value in losses.items()}

    def _event(self, stage, epoch, step, global_step, losses, started) -> TrainEvent:
        transitions = {}
        if stage.corrected:
            with torch.no_grad():
                if self.config.use_class_transition:
                    transitions["class_transition"] = self.model.class_transition().cpu().numpy()
                if self.config.use_affinity_transition:
                    transitions["affinity_transition"] = self.model.affinity_transition().cpu().numpy()
        return TrainEvent(stage.name, epoch, stage.epochs, step, self.steps_per_epoch, global_step,
                          self.total_steps, losses, seconds=time.perf_counter() - started, **transitions)

    def save(self, path: str | Path, overwrite: bool = True) -> Path:
        """Save the current model as a checkpoint (atomic)."""
        return self.model.save(path, overwrite=overwrite)
