"""The Train dock's training panel: the image and mask, method, schedule, device and model file; Start training,
Fine-tune, Stop, Load model and Save model; the training runs, in napari workers (:mod:`napari_jcas._workers`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, SpinBox
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QFileDialog, QLabel, QMessageBox, QPushButton, QWidget

from jcas.errors import JCASInputError
from jcas.settings import METHOD_HELP, METHOD_LABELS, PRESETS, QUICK_PRESET, TrainConfig, fine_tune_config

from ._layers import is_input
from ._loss_plot import LossPlot
from ._quit_guard import ask_save_path
from ._run_session import FINE_TUNING, RunSession
from ._settings import DOCK_METHODS
from ._workers import start_worker

if TYPE_CHECKING:
    import napari

MODEL_FILTER = "napari-jcas model (*.pt)"


class TrainPanel(QObject):
    """The controls and the runs of training.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    session : RunSession
        The dock's run state, shared with the correct panel.
    status : QLabel
        The dock's status line.
    plot : LossPlot
        The dock's loss plot.
    parent : QWidget
        The dock: the parent of its dialogs.
    set_busy : callable
        Called with ``True`` when a run starts and ``False`` when it has finished.

    Signals
    -------
    fine_tuned()
        Learning from the review has fine-tuned its model (:attr:`LearningFromReview.learnt`): its proposals are next.
    """

    fine_tuned = Signal()

    def __init__(self, viewer: napari.viewer.Viewer, session: RunSession, status: QLabel, plot: LossPlot,
                 parent: QWidget, set_busy: Callable[[bool], None]):
        from jcas.device import available_devices  # torch: loaded when the dock opens

        super().__init__(parent)
        self.viewer, self.session, self.status, self.plot, self.dock = viewer, session, status, plot, parent
        self.set_busy = set_busy
        self.image_choice = ComboBox(label="Image", choices=self._image_layers, nullable=True,
                                     value=_first(self._image_layers()),
                                     tooltip="An Image layer you opened (not a heatmap the plugin made)")
        self.mask_choice = ComboBox(label="Noisy mask", choices=self._mask_layers, nullable=True,
                                    value=_first(self._label_layers()),
                                    tooltip="A Labels layer (a drawn mask, or cleaned labels to correct again), "
                                            "or an Image layer holding integer labels; not a result the plugin made")
        self.method_choice = ComboBox(label="Method", choices=[(METHOD_LABELS[m], m) for m in DOCK_METHODS],
                                      value=TrainConfig.method,
                                      tooltip="\n".join(f"{METHOD_LABELS[m]}: {METHOD_HELP[m]}" for m in DOCK_METHODS))
        self.preset_choice = ComboBox(label="Preset", choices=list(PRESETS), value=QUICK_PRESET)
        self.epochs_choice = SpinBox(label="Epochs (0: preset)", min=0, max=10000, value=0,
                                     tooltip="0 = the preset's number of epochs")
        self.device_choice = ComboBox(label="Device", choices=available_devices(), value="auto")
        self.model_path = FileEdit(label="Save model to", mode="w", filter=MODEL_FILTER,
                                   tooltip="Where the trained model is saved (nothing is saved until you choose)")
        self.form = Container(widgets=[self.image_choice, self.mask_choice, self.method_choice, self.preset_choice,
                                       self.epochs_choice, self.device_choice, self.model_path])
        self.start_button = QPushButton("Start training")
        self.fine_tune_button = QPushButton("Fine-tune")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stops after the current step and keeps the model trained so far; stops "
                                    "learning from the review and keeps the model and the review as they were")
        self.load_button = QPushButton("Load model…")
        self.save_button = QPushButton("Save model")

        self.start_button.clicked.connect(lambda: self.start())
        self.fine_tune_button.clicked.connect(self.fine_tune)
        self.stop_button.clicked.connect(self.stop)
        self.load_button.clicked.connect(self._ask_model_to_load)
        self.save_button.clicked.connect(lambda: self.save_model())

    # ------------------------------------------------------------------ layers
    def _inputs_of_type(self, kind: type) -> list:
        """(name, layer) of the layers of ``kind`` that can be inputs: not the plugin's results (:func:`is_input`)."""
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, kind) and is_input(layer)]

    def _image_layers(self, _widget=None) -> list:
        return self._inputs_of_type(Image)

    def _label_layers(self, _widget=None) -> list:
        return self._inputs_of_type(Labels)

    def _mask_layers(self, _widget=None) -> list:
        return self._label_layers() + self._image_layers()

    def follow_layers(self, event) -> None:
        """Follow the layer list.

        A selector with nothing chosen takes a newly added input layer of its kind (an Image for the
        image, a Labels layer for the mask). Removing a chosen layer empties its selector, never
        falling back to another layer, and is said in the status line; removing an input of the
        running worker stops it.
        """
        removed = event.value if event.type == "removed" else None
        watched = (self.image_choice.value, self.mask_choice.value, *self.session.inputs)
        self.image_choice.reset_choices()
        self.mask_choice.reset_choices()
        if event.type == "inserted" and is_input(event.value):
            for choice, kind in ((self.image_choice, Image), (self.mask_choice, Labels)):
                if choice.value is None and isinstance(event.value, kind):
                    choice.value = event.value
        if removed is None or not any(removed is layer for layer in watched):
            return
        if any(removed is layer for layer in self.session.inputs):  # inputs of the running worker
            self.session.removed = removed.name
            self.status.setText(f"Layer '{removed.name}' was removed: stopping after the current step.")
            self.stop()
        else:
            kept = " The model is kept." if self.session.model is not None else ""
            self.status.setText(f"Layer '{removed.name}' was removed.{kept} Choose the {self.missing()} "
                                "to train or correct next.")

    def missing(self) -> str:
        """What the selectors lack ("image", "mask", "image and mask"), empty when a pair is chosen."""
        return " and ".join(name for name, choice in (("image", self.image_choice), ("mask", self.mask_choice))
                            if choice.value is None)

    def chosen_pair(self) -> tuple[Image, Labels | Image]:
        """The chosen image and mask layers; raises :class:`JCASInputError` when they are not a pair."""
        image, mask = self.image_choice.value, self.mask_choice.value
        if image is None or mask is None:
            raise JCASInputError("choose an image layer and a mask layer first "
                                 "(File > Open, or File > Open Sample > JCAS label cleaning).")
        if image is mask:
            raise JCASInputError(f"'{image.name}' is chosen as both the image and the mask; pick the mask layer.")
        return image, mask

    # ---------------------------------------------------------------- training
    def start(self, init_model=None, pair: tuple | None = None, trusted: np.ndarray | None = None):
        """Check the inputs and start training in a worker; returns the worker, or ``None`` on bad input.

        A new training (no ``init_model``) while the current model is unsaved asks first
        (:func:`_confirm_discard`); ``None`` when the person keeps it.

        Parameters
        ----------
        init_model : CrossFittedModel, optional
            Continue training from it (:meth:`fine_tune`).
        pair : tuple of napari layers, optional
            The image and mask layers to train on instead of the chosen pair.
        trusted : numpy.ndarray, optional
            The mask's shape: labels to train on as clean ones, 255 where nothing is confirmed
            (:func:`jcas.review.trusted_labels`; learning from the review).
        """
        from jcas import Trainer

        if self.session.worker is not None:
            return self.session.worker
        if init_model is None and self.session.unsaved and not _confirm_discard(self.dock):
            return None
        try:
            image, mask = pair or self.chosen_pair()
            epochs = {} if not self.epochs_choice.value else {"epochs": self.epochs_choice.value}
            settings = ({"config": fine_tune_config(init_model.config, self.preset_choice.value, **epochs)}
                        if init_model is not None else
                        {"method": self.method_choice.value, "preset": self.preset_choice.value, **epochs})
            trainer = Trainer([np.asarray(image.data)], [np.asarray(mask.data)], device=self.device_choice.value,
                              init_model=init_model, trusted=None if trusted is None else [trusted], **settings)
        except JCASInputError as error:
            show_error(f"Cannot {'fine-tune' if init_model is not None else 'train'}: {error}")
            self.session.learning = None
            return None
        self.session.begin(trainer.run(), (image, mask), trainer)
        self.plot.reset()
        self.status.setText(f"Training on {trainer.device.type} ({trainer.total_steps} steps)…")
        self.session.worker = start_worker(
            self.session.steps, total=trainer.total_steps, description="JCAS training", task="Training",
            on_yielded=self._on_step, on_errored=self._on_training_error, on_finished=self._on_training_finished,
        )
        self.set_busy(True)
        return self.session.worker

    def fine_tune(self):
        """Continue training the current model on the chosen pair (same classes and channels, its network and
        method; the preset's schedule). Returns the worker, or ``None`` when there is no model or bad input."""
        if self.session.model is None:
            show_error("No model to fine-tune: train one or load one first.")
            return None
        return self.start(init_model=self.session.model)

    def stop(self) -> None:
        """Stop the running worker after its current step."""
        if self.session.worker is not None:
            self.session.worker.quit()

    def _on_step(self, event) -> None:
        fold = f"fold {event.fold + 1}/{event.folds} " if event.folds > 1 else ""
        self.plot.add(event.global_step, event.losses, stage=f"{fold}{event.stage}")
        worker = self.session.worker
        if worker is None:  # a step delivered after the run ended must not overwrite its outcome
            return
        learning = self.session.learning_stage == FINE_TUNING
        self.status.setText(_progress_text(event, self.session.trainer.device.type, learning=learning))
        if worker.pbar is not None:
            worker.pbar.set_description(f"JCAS {fold}{event.stage} epoch {event.epoch}/{event.epochs}")

    def _on_training_error(self, error: Exception) -> None:
        self.session.failed = error

    def _on_training_finished(self) -> None:
        session = self.session
        trainer, learning = session.trainer, session.learning
        session.end()
        self.plot.redraw()
        self.set_busy(False)
        done = f"{trainer.completed_steps}/{trainer.total_steps} steps"
        if session.failed is not None:
            why = f"Training failed: {session.failed}."
        elif session.removed is not None:
            why = f"Layer '{session.removed}' was removed, so training stopped."
        else:
            why = ""
        if learning is not None:
            if why or trainer.completed_steps < trainer.total_steps:
                self.learning_cancelled(why or f"Learning from the review was stopped after {done}.")
            else:
                learning.learnt = trainer.model
                self.fine_tuned.emit()
            return
        if trainer.completed_steps == 0:
            self.status.setText(f"{why or 'Training stopped.'} No step was completed.")
            return
        if why:
            self.status.setText(f"{why} Kept the model after {done}.")
        elif trainer.completed_steps < trainer.total_steps:
            self.status.setText(f"Model trained for {done} (stopped early).")
        else:
            self.status.setText(f"Model trained for {done}.")
        self.adopt(trainer.model)

    def learning_cancelled(self, why: str) -> None:
        """Say that learning from the review ended before its proposals were shown: nothing changed."""
        self.session.learning = None
        self.status.setText(f"{why} The model and the review are as they were.")

    def adopt(self, model) -> None:
        """Make ``model`` the current one, and save it where 'Save model to' says (or say that it is not saved)."""
        self.session.adopt(model)
        if self._model_path() is not None:
            self.save_model()
        else:
            show_info("The model is not saved yet: choose 'Save model to' and press 'Save model'.")

    # ------------------------------------------------------------------ models
    def _model_path(self) -> Path | None:
        text = self.model_path.line_edit.value.strip()
        return Path(text).expanduser() if text else None

    def save_model(self, path: str | Path | None = None) -> Path | None:
        """Save the current model to ``path`` (default: the 'Save model to' field)."""
        path = Path(path) if path is not None else self._model_path()
        if self.session.model is None:
            show_error("No model to save: train or load one first.")
            return None
        if path is None:
            show_error("Choose where to save the model ('Save model to').")
            return None
        from jcas import save_model

        try:
            saved = save_model(self.session.model, path, overwrite=True)
        except (JCASInputError, OSError) as error:
            show_error(f"Could not save the model to {path}: {error}")
            return None
        self.session.unsaved = False
        self.status.setText(f"{self.status.text()} Saved to {saved}.")
        return saved

    def save_work(self) -> bool:
        """Save the model (asking where, when 'Save model to' is empty); whether it was saved."""
        path = self._model_path() or ask_save_path(self.dock, "Save the napari-jcas model", MODEL_FILTER)
        return path is not None and self.save_model(path) is not None

    def _ask_model_to_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dock, "Load a napari-jcas model", "", MODEL_FILTER)
        if path:
            self.load_model(path)

    def load_model(self, path: str | Path) -> bool:
        """Load a model file; returns whether it worked (errors become notifications)."""
        from jcas import load_model

        try:
            model = load_model(path, device=self.device_choice.value)
        except JCASInputError as error:
            show_error(f"Cannot load the model: {error}")
            return False
        self.session.model, self.session.unsaved = model, False
        values = ", ".join(str(v) for v in model.label_map.values)
        self.status.setText(f"Loaded {Path(path).name}: {model.config.method}, labels {values}.")
        return True


def _confirm_discard(parent: QWidget) -> bool:
    """Ask whether to train a new model and discard the current, unsaved one (No is the default)."""
    answer = QMessageBox.question(
        parent, "Discard the unsaved model?",
        "The current model is not saved, and a new training replaces it. Train a new model and discard it?\n\n"
        "To keep it, answer No, choose 'Save model to' and press 'Save model'.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _first(choices: list):
    """The layer of the first (name, layer) choice, ``None`` when there is none."""
    return choices[0][1] if choices else None


def _progress_text(event, device: str, learning: bool = False) -> str:
    """The status line during training: stage, epoch, steps and the time left.

    Parameters
    ----------
    event : jcas.training.trainer.TrainEvent
        The latest step.
    device : str
        Where the training runs ("cpu", "cuda", "mps").
    learning : bool
        Whether the run fine-tunes on the review.
    """
    doing = "Learning from the review" if learning else "Training"
    fold = f"fold {event.fold + 1} of {event.folds}, " if event.folds > 1 else ""
    left = round(event.seconds_left)
    time_left = f"about {-(-left // 60)} min left" if left >= 90 else f"about {left} s left"
    return (f"{doing} on {device}: {fold}{event.stage} epoch {event.epoch}/{event.epochs}, "
            f"step {event.global_step}/{event.total_steps}, {time_left}.")
