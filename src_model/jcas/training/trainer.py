"""Training as a generator of progress events: warm-up, then loss-corrected JCAS.

>>> trainer = Trainer(images, masks, make_config("jcas", "fast"))   # doctest: +SKIP
>>> for event in trainer.run():                                      # doctest: +SKIP
...     print(event.stage, event.epoch, event.losses["total"])
>>> trainer.save("model.pt")                                         # doctest: +SKIP

Closing the generator (``run().close()``, or leaving the loop) at any yield leaves
``trainer.model`` as it was after the last completed step. Each Trainer owns its models,
data, optimisers and random generators; the models' initial weights are drawn from a forked
copy of the global torch generator, which is left as it was.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..data.labels import typical_areas
from ..data.labels import IGNORE_INDEX
from ..data.pairs import check_training_arrays, check_training_sizes, normalise
from ..device import autocast, available_devices, select_device
from ..errors import JCASInputError
from ..losses.objective import JCASLoss
from ..nn.calibration import CALIBRATION_PIXELS, fit_temperature, sample_pixels
from ..nn.checkpoint import save_checkpoint
from ..nn.crossfit import (IN_SAMPLE, SLICES, STRIPS, CrossFittedModel, Trust, choose_folds, count_agreement, fingerprint,
                           plan_folds, strip_folds)
from ..nn.model import JCASModel
from ..nn.tiles import tiled_probabilities
from ..settings import (FINE_TUNE_PRESET, METHODS, NETWORK_FIELDS, PRESETS, TrainConfig, check_config,
                        check_fine_tune_keeps, fine_tune_config, make_config)
from . import distributed
from .augment import MIRRORS, Augmenter, allowed_mirrors
from .averaging import WeightAverage
from .dataset import CropDataset, Volume, scan_labels, volumes_from_arrays

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
        Over the whole run, all folds together.
    losses : dict of str to float
        Each loss term of this step, and "total".
    fold, folds : int
        0-based fold model being trained, and their number.
    class_transition : numpy.ndarray or None
        ``(K, K)`` current T_C in stage 2.
    affinity_transition : numpy.ndarray or None
        ``(2, 2)`` current T_A in stage 2.
    agreement : float or None
        Mean per-class Dice of the fold model's prediction against the noisy masks of its
        held-out slices, on the steps where it was measured.
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
    fold: int = 0
    folds: int = 1
    class_transition: np.ndarray | None = None
    affinity_transition: np.ndarray | None = None
    agreement: float | None = None
    seconds: float = 0.0

    @property
    def seconds_left(self) -> float:
        """The time the remaining steps will take at the mean pace of the steps so far."""
        return self.seconds / self.global_step * (self.total_steps - self.global_step)


@dataclass
class _Stage:
    name: str
    epochs: int
    corrected: bool


def check_init_model(init_model: object) -> None:
    """Raise :class:`JCASInputError` unless ``init_model`` is ``None`` or a whole trained model
    (:class:`jcas.nn.crossfit.CrossFittedModel`: ``trainer.model``, or a loaded model file)."""
    if init_model is None:
        return
    if isinstance(init_model, CrossFittedModel):
        return
    what = ("one fold model of a trained model" if isinstance(init_model, JCASModel)
            else f"a {type(init_model).__name__}")
    raise JCASInputError(f"init_model is {what}; pass the whole trained model to fine-tune: trainer.model, or "
                         "jcas.load_model(path).")


def train(images: Sequence[np.ndarray] = (), masks: Sequence[np.ndarray] = (), config: TrainConfig | None = None,
          **options) -> CrossFittedModel:
    """Train to the end and return the model: :class:`Trainer` with the same arguments, run through.

    >>> model = jcas.train([image_stack], [noisy_mask_stack], preset="fast")      # doctest: +SKIP

    Returns
    -------
    CrossFittedModel
        ``Trainer(...).model`` after the last step.
    """
    trainer = Trainer(images, masks, config, **options)
    for _ in trainer.run():
        pass
    return trainer.model


class Trainer:
    """Train a cross-fitted JCAS model (or a baseline) on images and their noisy masks.

    With ``config.folds`` K > 1 (None: chosen from the data, :func:`jcas.nn.crossfit.choose_folds`; ``config``
    then holds the number), K fold models train one after the other (under torchrun, spread
    over the processes: :func:`jcas.training.distributed.fold_teams`), each on all slices
    but its own fold (:mod:`jcas.nn.crossfit`), and each keeps the weights that agreed best with
    the noisy masks of its held-out fold. ``trainer.model`` is the
    :class:`~jcas.nn.crossfit.CrossFittedModel` that holds them.

    Parameters
    ----------
    images, masks : sequence of numpy.ndarray
        Pairs in memory: 2D images ``(H, W)`` / RGB ``(H, W, C)`` or stacks ``(Z, H, W[, C])``,
        with masks ``(H, W)`` / ``(Z, H, W)`` in the user's label values; sizes may differ
        between pairs. Pass ``volumes`` instead to stream pairs from disk.
    config : TrainConfig, optional
        Full settings; built from ``method``, ``preset`` and the keywords when omitted. Give one or
        the other: a ``config`` with any of ``method``, ``preset``, ``seed``, ``epochs`` or ``folds``
        set is refused rather than half-applied (``make_config(..., folds=3)`` sets them in a config).
    volumes : sequence of Volume, optional
        Pairs loaded on demand (see :func:`jcas.training.dataset.volumes_from_files`).
    method : str, optional
        The loss (:data:`jcas.settings.METHODS`; default ``"jcas"``). A fine-tune keeps the saved
        model's and refuses another.
    preset : {"fast", "standard", "long"}, optional
        The schedule; default ``"standard"``, or :data:`jcas.settings.FINE_TUNE_PRESET` for a fine-tune.
    init_model : CrossFittedModel, optional
        Fine-tune: start every fold model from one of this model's fold models, on its
        classes and channels, with its network (``config`` by default:
        :func:`jcas.settings.fine_tune_config` with ``preset``'s schedule). Fold model k starts
        from the saved fold model that saw the fewest of fold k's held-out slices, so slices
        the saved model trained on stay out of sample where its folds allow.
    trusted : sequence of numpy.ndarray or None, optional
        With ``images`` and ``masks``: per pair, the labels a person confirmed (the mask's shape,
        255 where nothing is confirmed), e.g. from a review (:func:`jcas.review.trusted_labels`).
        They replace the drawn labels there and train as clean labels, without the transition
        matrices (:class:`jcas.losses.objective.JCASLoss`). With ``volumes``, give them in
        :attr:`jcas.training.dataset.Volume.trusted`.
    device : {"auto", "cuda", "mps", "cpu"}
        Where to train (:func:`jcas.device.select_device`): a runtime choice, never saved with
        the model.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] = (),
        masks: Sequence[np.ndarray] = (),
        config: TrainConfig | None = None,
        *,
        volumes: Sequence[Volume] | None = None,
        method: str | None = None,
        preset: str | None = None,
        device: str = "auto",
        seed: int = 0,
        epochs: int | None = None,
        folds: int | None = None,
        init_model: CrossFittedModel | None = None,
        trusted: Sequence[np.ndarray | None] | None = None,
    ):
        check_init_model(init_model)
        given = {name: value for name, value, default in (("method", method, None), ("preset", preset, None),
                                                          ("seed", seed, 0), ("epochs", epochs, None),
                                                          ("folds", folds, None)) if value != default}
        if config is not None and given:
            raise JCASInputError(f"Trainer got a config and {', '.join(sorted(given))} as well, which the config "
                                 "already sets; put them in the config (jcas.settings.make_config(method, preset, "
                                 "**settings)) or leave the config out.")
        if config is None:
            extra = {} if epochs is None else {"epochs": epochs}
            if folds is not None:
                extra["folds"] = folds
            if init_model is None:
                config = make_config(method or TrainConfig.method, preset or TrainConfig.preset, seed=seed, **extra)
            else:
                check_fine_tune_keeps(init_model.config, {"method": method})
                config = fine_tune_config(init_model.config, preset or FINE_TUNE_PRESET, seed=seed, **extra)
        check_config(config)
        if init_model is not None:
            _check_fine_tune(init_model, config)
        if volumes is None:
            images, masks = check_training_arrays(images, masks, trusted)
            volumes = volumes_from_arrays(images, masks, trusted)
        if not volumes:
            raise JCASInputError("no training data: give at least one image with its mask.")
        check_training_sizes(volumes)
        self.volumes = list(volumes)
        units = [(v, z) for v, volume in enumerate(self.volumes) for z in range(volume.slices)]
        if config.folds is None:  # chosen from the data; the model keeps the number
            config = replace(config, folds=choose_folds([self.volumes[v].shape for v, _ in units]))
        self.config = config
        self.device = select_device(device)
        self.label_map, prior = scan_labels(self.volumes, None if init_model is None else init_model.label_map)
        self.prior = torch.tensor(prior, dtype=torch.float32, device=self.device)
        self.plan = plan_folds(len(units), config.folds)
        channels = max(volume.channels for volume in self.volumes)
        if init_model is not None and channels != init_model.in_channels:
            raise JCASInputError(f"the model to fine-tune reads {init_model.in_channels}-channel images; these have "
                                 f"{channels}. Fine-tune on images like the ones it was trained on.")
        unit_fingerprints = self._fingerprints()
        members = []
        for fold in range(self.plan.folds):
            with torch.random.fork_rng(devices=[]):  # seeds this fold's initial weights, leaves the global generator
                torch.manual_seed(config.seed * 1000 + fold)
                member = JCASModel(config, self.label_map, channels).to(self.device)
            if init_model is not None:
                start = _starting_member(init_model, self._held_out_fingerprints(unit_fingerprints, fold), fold)
                member.load_state_dict(init_model.members[start].state_dict())
            members.append(member)
        object_areas = typical_areas(self.volumes[v].mask(z) for v, z in units)
        for member in members:
            member.object_areas.copy_(torch.tensor([object_areas.get(value, 0.0)
                                                    for value in self.label_map.values]))
        self.model = CrossFittedModel(members, self.plan.mode, dict(zip(unit_fingerprints, self.plan.slice_folds)))
        self.stages = self._stages()
        self.augmenter = self._augmenter(units)
        self.teams = distributed.fold_teams(self.plan.folds)  # under torchrun: the fold models spread over the ranks
        self.runs = [_FoldRun(self, fold, units) for fold in range(self.plan.folds)]
        mine = [run for run in self.runs if run.mine]
        self.steps_per_epoch = mine[0].steps_per_epoch
        self.total_steps = sum(run.total_steps for run in mine)
        self.completed_steps = 0

    def _fingerprints(self) -> list[str]:
        """Fingerprint of every training slice, in training order, reading one slice at a time."""
        return [fingerprint(volume.image(z)) for volume in self.volumes for z in range(volume.slices)]

    def _held_out_fingerprints(self, unit_fingerprints: list[str], fold: int) -> list[str]:
        """Fingerprints of the slices fold model ``fold`` judges (all of them unless whole slices are held out)."""
        if self.plan.mode != SLICES:
            return unit_fingerprints
        return [f for f, k in zip(unit_fingerprints, self.plan.slice_folds) if k == fold]

    def _augmenter(self, units: list[tuple[int, int]]) -> Augmenter | None:
        """The crops' augmentation (:mod:`jcas.training.augment`), with the mirrors the noisy masks allow when
        ``config.flips`` is "auto"; None when the config asks for none."""
        config = self.config
        if config.flips == "auto":
            mirrors = allowed_mirrors((self.label_map.encode(self.volumes[v].mask(z)) for v, z in units),
                                      self.label_map.num_classes)
        else:
            mirrors = MIRRORS if config.flips else ()
        if not mirrors and not config.augment:
            return None
        return Augmenter(mirrors, geometry=config.augment, intensity=config.augment)

    def _stages(self) -> list[_Stage]:
        config = self.config
        if not config.uses_correction:
            return [_Stage(config.method, config.total_epochs, corrected=False)]
        stages = [_Stage("warmup", config.epochs_warmup, corrected=False)]
        if config.epochs_correction:
            stages.append(_Stage(config.method, config.epochs_correction, corrected=True))
        return [stage for stage in stages if stage.epochs]

    def run(self) -> Iterator[TrainEvent]:
        """Train every fold model in turn, yielding a :class:`TrainEvent` after every optimisation step.

        Closing the generator keeps each fold model as it was after its last completed step
        (a fold model that was evaluated keeps its best weights so far); folds not reached
        stay untrained and are marked so (``model.trained``).
        """
        started = time.perf_counter()
        self.model.interrupted = True
        completed = False
        try:
            for run in self.runs:
                if not run.mine:  # another team of ranks trains this fold model
                    continue
                for event in run.steps(started):
                    self.completed_steps += 1
                    event.global_step = self.completed_steps
                    event.total_steps = self.total_steps
                    yield event
            completed = True
        finally:
            for run in self.runs:
                run.finish()
            if completed:
                self._share_fold_models()
                self.model.interrupted = False
            self.model.eval()

    def _share_fold_models(self) -> None:
        """Every rank gets every fold model, with what its held-out selection kept, from the team that trained it."""
        model = self.model
        records = [[model.trust[f], model.selected_epochs[f], model.trained[f]] for f in range(self.plan.folds)]
        shared = distributed.share_fold_models(list(model.members), records, self.teams)
        for fold, (trust, epoch, trained) in enumerate(shared):
            model.trust[fold], model.selected_epochs[fold], model.trained[fold] = trust, epoch, trained

    def save(self, path: str | Path, overwrite: bool = True) -> Path:
        """Save the current model as a checkpoint (atomic)."""
        return save_checkpoint(self.model, path, overwrite=overwrite)


def _check_fine_tune(init_model: CrossFittedModel, config: TrainConfig) -> None:
    """A fine-tune must keep the saved network (its weights only fit that one)."""
    changed = sorted(name for name in NETWORK_FIELDS
                     if getattr(config, name) != getattr(init_model.config, name))
    if changed:
        raise JCASInputError(f"the settings change the saved model's {', '.join(changed)}; a fine-tune keeps "
                             "them (jcas.settings.fine_tune_config), or train a new model instead.")


def _starting_member(init_model: CrossFittedModel, held_out: list[str], fold: int) -> int:
    """The saved fold model that trained on the fewest of ``held_out`` (slice fingerprints); ties go to ``fold mod K``."""
    folds = init_model.folds
    seen = np.zeros(folds, dtype=int)
    for digest in held_out:
        saved_fold = init_model.fingerprints.get(digest)
        if saved_fold is None:
            continue
        seen += 1
        if init_model.mode == SLICES:
            seen[saved_fold] -= 1  # the one saved fold model that held this slice out
    return min(range(folds), key=lambda k: (seen[k], (k - fold) % folds))


class _FoldRun:
    """The training of one fold model: its data, schedule, held-out evaluation and best weights."""

    def __init__(self, trainer: Trainer, fold: int, units: list[tuple[int, int]]):
        config, plan = trainer.config, trainer.plan
        self.trainer, self.fold = trainer, fold
        self.model: JCASModel = trainer.model.members[fold]
        self.loss = JCASLoss.from_config(config)
        hidden_strip = None
        if plan.mode == SLICES:
            train_units = [u for u, f in zip(units, plan.slice_folds) if f != fold]
            self.held_out = [u for u, f in zip(units, plan.slice_folds) if f == fold]
        elif plan.mode == STRIPS:
            train_units, self.held_out, hidden_strip = units, units, (fold, plan.folds)
        else:
            train_units, self.held_out = units, units
        self.hidden_strip = hidden_strip
        self.stages = trainer.stages
        total_epochs = sum(stage.epochs for stage in self.stages)
        fewest_crops = math.ceil(config.min_steps / total_epochs) * config.batch_size
        self.dataset = CropDataset(trainer.volumes, trainer.label_map, config.crop, config.seed * 1000 + fold,
                                   units=train_units, hidden_strip=hidden_strip, augment=trainer.augmenter,
                                   minimum=fewest_crops)
        # Under torchrun a team of ranks trains this fold model, each rank its share of every batch
        # (distributed.py): the same steps.
        self.team = trainer.teams[fold]
        self.mine = self.team.includes(distributed.rank_and_size()[0])
        self.rank, self.ranks = (distributed.team_rank(self.team) if self.mine else 0), self.team.size
        self.batch_size = math.ceil(config.batch_size / self.ranks)
        self.steps_per_epoch = math.ceil(math.ceil(len(self.dataset) / self.ranks) / self.batch_size)
        self.total_steps = total_epochs * self.steps_per_epoch
        # In sample there is nothing to select on: one evaluation at the end, for the guard.
        points = 1 if plan.mode == IN_SAMPLE else min(config.selection_points, total_epochs)
        self.evaluate_after = {round(total_epochs * (j + 1) / points) for j in range(points)}
        # (agreement, weights, trust, epoch, held-out probabilities (K, N) and drawn labels (N,) to calibrate on)
        self.best: tuple[float, dict, Trust, int, np.ndarray, np.ndarray] | None = None
        self.average = (WeightAverage(self.model.network, config.average_epochs, self.steps_per_epoch)
                        if config.average_epochs > 0 else None)
        self.finished = False

    def steps(self, started: float) -> Iterator[TrainEvent]:
        """Train this fold model, yielding one event per step (global step numbers are the trainer's)."""
        config, model, device = self.trainer.config, self.model, self.trainer.device
        optimizer = _optimizer(model, config)
        base_rates = [group["lr"] for group in optimizer.param_groups]
        scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
        sampler = None if self.ranks == 1 else torch.utils.data.DistributedSampler(
            self.dataset, num_replicas=self.ranks, rank=self.rank, shuffle=False)
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False,
                                             sampler=sampler, drop_last=False, num_workers=0)
        step_in_run, epochs_done = 0, 0
        model.train()
        for stage in self.stages:
            if stage.corrected and config.transition_from_warmup:
                self._start_transitions_from_confusion(loader)
            for epoch in range(1, stage.epochs + 1):
                self.dataset.epoch = step_in_run  # a fresh crop for every item, every epoch
                for step, (images, labels, trusted) in enumerate(loader, start=1):
                    decay = (1 - step_in_run / self.total_steps) ** 0.9
                    for group, rate in zip(optimizer.param_groups, base_rates):
                        group["lr"] = rate * decay
                    losses = self._step(images, labels, trusted, stage.corrected, optimizer, scaler)
                    if self.average is not None:
                        self.average.update(model.network)
                    step_in_run += 1
                    agreement = None
                    if step == self.steps_per_epoch:
                        epochs_done += 1
                        if epochs_done in self.evaluate_after:
                            with self.average.applied(model.network) if self.average is not None else nullcontext():
                                agreement = self._evaluate(epochs_done, stage.corrected)
                    yield self._event(stage, epoch, step, losses, started, agreement)
        self.finished = True

    def finish(self) -> None:
        """Keep the best evaluated weights (the last ones where nothing was evaluated), record trust, and
        calibrate the kept weights' probabilities on the held-out pixels they were judged on."""
        model, members = self.model, self.trainer.model
        if self.best is not None:
            _, state, trust, epoch, probability, drawn = self.best
            model.load_state_dict(state)
            members.trust[self.fold] = trust
            members.selected_epochs[self.fold] = epoch
            transition = (model.class_transition().detach().cpu().numpy() if self.trainer.config.use_class_transition
                          else None)
            # the probabilities were already tempered by the weights' own temperature (1, or a fine-tune's start)
            model.temperature.mul_(fit_temperature(probability, drawn, transition))
        members.trained[self.fold] = self.finished or self.best is not None
        model.eval()

    @torch.no_grad()
    def _evaluate(self, epoch: int, corrected: bool) -> float:
        """Agreement of the model with the noisy masks of its held-out slices; keeps the best weights.

        The weights are judged by the mean class Dice of their prediction against the held-out noisy masks: of the
        clean prediction, or in a corrected stage with ``select_through_transition`` of the noisy one
        (argmax of ``p T_C``). The trust kept for the guard is always the clean prediction's."""
        model, label_map, config = self.model, self.trainer.label_map, self.trainer.config
        model.eval()
        through = (model.class_transition().detach().cpu().numpy()
                   if corrected and config.select_through_transition and config.use_class_transition else None)
        total = judged = Trust(held_out=self.trainer.plan.mode != IN_SAMPLE)
        rng = np.random.default_rng([config.seed, self.fold])  # the same pixels at every evaluation
        per_slice = CALIBRATION_PIXELS // max(1, len(self.held_out))
        sampled_probability, sampled_drawn = [], []
        for v, z in self.held_out:
            image, labels, _ = self.trainer.volumes[v].slice_labels(z, label_map)
            probability = tiled_probabilities(model, normalise(image, model.in_channels))
            predicted = probability.argmax(axis=0)
            if self.hidden_strip is not None:
                labels = np.where(strip_folds(labels.shape, self.hidden_strip[1]) == self.fold, labels, IGNORE_INDEX)
            total = total.add(count_agreement(predicted, labels, label_map.num_classes))
            if through is not None:
                noisy = np.einsum("kj,k...->j...", through, probability).argmax(axis=0)
                judged = judged.add(count_agreement(noisy, labels, label_map.num_classes))
            pixels = sample_pixels(labels, per_slice, rng)
            sampled_probability.append(probability.reshape(len(probability), -1)[:, pixels])
            sampled_drawn.append(labels.ravel()[pixels])
        model.train()
        agreement = float(np.nanmean((total if through is None else judged).class_agreement))
        if self.best is None or agreement >= self.best[0]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.best = (agreement, state, total, epoch, np.concatenate(sampled_probability, axis=1),
                         np.concatenate(sampled_drawn))
        return agreement

    @torch.no_grad()
    def _start_transitions_from_confusion(self, loader) -> None:
        """Set T_C to P(noisy label | warm-up prediction) over one pass of the data, T_A to what T_C implies."""
        from ..losses.terms import implied_affinity_transition

        model, device = self.model, self.trainer.device
        classes = self.trainer.label_map.num_classes
        counts = torch.zeros(classes, classes, device=device)
        model.eval()
        for images, labels, _ in loader:
            labels = labels.to(device)
            with autocast(device):
                predicted = model.predict(images.to(device)).probabilities().argmax(dim=1)
            known = labels >= 0
            counts += torch.bincount(predicted[known] * classes + labels[known],
                                     minlength=classes * classes).view(classes, classes).float()
        model.train()
        distributed.sum_over_ranks(counts, self.team)
        confusion = (counts + 1) / (counts + 1).sum(dim=1, keepdim=True)
        model.class_transition.set_to(confusion)
        model.affinity_transition.set_to(implied_affinity_transition(model.class_transition(), self.trainer.prior))

    def _step(self, images, labels, trusted, corrected, optimizer, scaler) -> dict[str, float]:
        device = self.trainer.device
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        trusted = trusted.to(device, non_blocking=True) if trusted.any() else None
        with autocast(device):
            prediction = self.model.predict(images)
        losses = self.loss(self.model, prediction, labels, corrected, self.trainer.prior, trusted)
        # One copy to the host for all the terms: each one read on its own would make the CPU wait
        # for the device again.
        values = dict(zip(losses, torch.stack([value.detach().float() for value in losses.values()]).tolist()))
        if not math.isfinite(values["total"]):
            raise FloatingPointError(
                f"training diverged (loss {values['total']}); try a lower learning rate or volume weight."
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        distributed.average_gradients(self.model, self.team)
        scaler.step(optimizer)
        scaler.update()
        distributed.share_buffers(self.model, self.team)
        return values

    def _event(self, stage, epoch, step, losses, started, agreement) -> TrainEvent:
        transitions = {}
        if stage.corrected:
            with torch.no_grad():
                if self.trainer.config.use_class_transition:
                    transitions["class_transition"] = self.model.class_transition().cpu().numpy()
                if self.trainer.config.use_affinity_transition:
                    transitions["affinity_transition"] = self.model.affinity_transition().cpu().numpy()
        return TrainEvent(stage.name, epoch, stage.epochs, step, self.steps_per_epoch, 0, 0, losses,
                          fold=self.fold, folds=self.trainer.plan.folds, agreement=agreement,
                          seconds=time.perf_counter() - started, **transitions)


#: Devices whose AdamW updates every parameter in one fused kernel (on a GPU, one launch instead of
#: about ten per parameter tensor).
FUSED_OPTIMIZER_DEVICES = ("cuda", "cpu")


def _optimizer(model: JCASModel, config: TrainConfig) -> torch.optim.Optimizer:
    transitions = list(model.class_transition.parameters()) + list(model.affinity_transition.parameters())
    return torch.optim.AdamW(
        [
            {"params": model.network.parameters(), "lr": config.learning_rate, "weight_decay": config.weight_decay},
            {"params": transitions, "lr": config.transition_learning_rate, "weight_decay": 0.0},
        ],
        fused=model.device.type in FUSED_OPTIMIZER_DEVICES,
    )
