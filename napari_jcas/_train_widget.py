"""Train dock: train (or load) a model on an image and its noisy mask, then run the correction.

Training and correction run in napari workers (:mod:`napari_jcas._workers`); this widget
only reads layers, starts and stops workers and shows their progress. ``start``,
``stop``, ``load_model``, ``save_model`` and ``correct`` are public so that scripts and
tests drive the same code as the buttons; ``start`` and ``correct`` return the worker.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, SpinBox
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog, QLabel, QMessageBox, QPushButton, QWidget

from jcas.data.labels import IGNORE_VALUE
from jcas.data.pairs import check_pair
from jcas.errors import JCASInputError
from jcas.review import ACCEPTED, OPEN, REJECTED, Review, trusted_labels
from jcas.settings import REVIEW_KEY, SELECTION_HELP

from ._layers import (HEATMAP_KINDS, CorrectionLayers, add_correction_layers, is_input, make_canvas_current,
                      show_heatmap, show_new_correction, show_reselection)
from ._loss_plot import LossPlot
from ._qt_layout import row, scrolling_layout
from ._quit_guard import ask_save_path, quit_guard
from ._workers import start_worker

if TYPE_CHECKING:
    import napari

    from jcas.nn.crossfit import CrossFittedModel

#: Milliseconds the thresholds must rest before the regions are selected again (typing "250" is one change).
RESELECT_DELAY_MS = 200
MODEL_FILTER = "napari-jcas model (*.pt)"


class TrainWidget(QWidget):
    """Choose data and settings, train or load a model, and correct the mask.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        from jcas.device import available_devices
        from jcas.settings import (DOCK_METHODS, METHOD_HELP, METHOD_LABELS, MIN_AREA, MIN_CONFIDENCE, MIN_SCORE,
                                   PRESETS, QUICK_PRESET, TrainConfig)

        self.viewer = viewer
        self.model = None
        self.worker = None
        self.trainer = None
        self._failed: Exception | None = None
        self._removed: str | None = None  # name of an input layer removed while a worker ran
        self._learning: CorrectionLayers | None = None  # the correction a running fine-tune learns from
        self._refresh: CorrectionLayers | None = None  # the correction a running Correct shows its result in
        self._learnt = None  # a model that learnt from the review, adopted once its proposals are shown
        self._unsaved = False  # whether the current model was trained here and is in no file
        self._steps = None
        self._inputs: tuple = ()
        self._corrections: list = []

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
        self.min_area_choice = SpinBox(
            label="Min. region (px, 0 = auto)", min=0, max=1_000_000, value=MIN_AREA or 0,
            tooltip=_selection_tooltip("min_area"))
        self.min_score_choice = FloatSpinBox(label="Min. score", min=0.0, max=1.0, step=0.05, value=MIN_SCORE,
                                             tooltip=_selection_tooltip("min_score"))
        self.min_confidence_choice = FloatSpinBox(label="Min. confidence", min=0.0, max=1.0, step=0.05,
                                                  value=MIN_CONFIDENCE, tooltip=_selection_tooltip("min_confidence"))
        self.mirror_choice = CheckBox(text="Mirror", value=False,
                                      tooltip=_selection_tooltip("mirror", reselects=False))
        self.heatmap_choice = ComboBox(
            label="Heatmap", choices=list(HEATMAP_KINDS), value="class",
            tooltip="class: 1 - p(drawn label), what candidates are ranked by and the better guide to wrong pixels; "
                    "affinity: how much the learned pair affinities contradict the drawn mask around each pixel")
        self.form = Container(widgets=[self.image_choice, self.mask_choice, self.method_choice, self.preset_choice,
                                       self.epochs_choice, self.device_choice, self.model_path])
        self.correction_form = Container(widgets=[self.min_area_choice, self.min_score_choice,
                                                  self.min_confidence_choice, self.mirror_choice,
                                                  self.heatmap_choice])

        self.start_button = QPushButton("Start training")
        self.fine_tune_button = QPushButton("Fine-tune")
        self.correct_button = QPushButton("Correct")
        #: The actions on the chosen pair, with their tooltips: disabled until an image and a mask are chosen.
        self._pair_actions = {
            self.start_button: "Train a new model on the chosen image and mask",
            self.fine_tune_button: "Continue training the current model (trained or loaded) on the chosen image "
                                   "and mask, with the chosen preset's schedule",
            self.correct_button: "Propose a corrected mask and show where the model disagrees",
        }
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stops after the current step and keeps the model trained so far; stops "
                                    "learning from the review and keeps the model and the review as they were")
        self.load_button = QPushButton("Load model…")
        self.save_button = QPushButton("Save model")
        self.learn_button = QPushButton("Learn from my review")
        self.learn_button.setToolTip("Fine-tune the model on what you decided in the latest correction (accepted "
                                     "and rejected regions, pixels you painted) as clean labels, then propose "
                                     "again; your decisions and edits stay")
        self.status = QLabel("No model yet: train one or load one.")
        self.status.setWordWrap(True)
        self.plot = LossPlot()

        self.scroll_area, layout, pinned = scrolling_layout(self)
        layout.addWidget(self.form.native)
        layout.addLayout(row(self.load_button, self.save_button))
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addWidget(self.correction_form.native)
        layout.addWidget(self.correct_button)
        layout.addWidget(self.learn_button)
        layout.addStretch()
        pinned.addLayout(row(self.start_button, self.fine_tune_button, self.stop_button))  # always in view

        self.start_button.clicked.connect(lambda: self.start())
        self.fine_tune_button.clicked.connect(self.fine_tune)
        self.stop_button.clicked.connect(self.stop)
        self.load_button.clicked.connect(self._ask_model_to_load)
        self.save_button.clicked.connect(lambda: self.save_model())
        self.correct_button.clicked.connect(lambda: self.correct())
        self.learn_button.clicked.connect(self.learn_from_review)
        self.heatmap_choice.changed.connect(self._show_heatmaps)
        self.image_choice.changed.connect(self._update_actions)
        self.mask_choice.changed.connect(self._update_actions)
        self._reselect_timer = QTimer(self)
        self._reselect_timer.setSingleShot(True)
        self._reselect_timer.setInterval(RESELECT_DELAY_MS)
        self._reselect_timer.timeout.connect(self.reselect)
        for threshold in (self.min_area_choice, self.min_score_choice, self.min_confidence_choice):
            threshold.changed.connect(self._reselect_soon)
        viewer.layers.events.removing.connect(self._before_layer_removal)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed,
                      viewer.layers.events.moved):
            event.connect(self._layers_changed)
        self._set_busy(False)
        quit_guard().watch(self)

    # ------------------------------------------------------------------ layers
    def _before_layer_removal(self, _event=None) -> None:
        make_canvas_current(self)

    def _inputs_of_type(self, kind: type) -> list:
        """(name, layer) of the layers of ``kind`` that can be inputs: not the plugin's results (:func:`is_input`)."""
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, kind) and is_input(layer)]

    def _image_layers(self, _widget=None) -> list:
        return self._inputs_of_type(Image)

    def _label_layers(self, _widget=None) -> list:
        return self._inputs_of_type(Labels)

    def _mask_layers(self, _widget=None) -> list:
        return self._label_layers() + self._image_layers()

    def _layers_changed(self, event) -> None:
        """Follow the layer list.

        A selector with nothing chosen takes a newly added input layer of its kind (an Image for the
        image, a Labels layer for the mask). Removing a chosen layer empties its selector, never
        falling back to another layer, and is said in the status line; removing an input of the
        running worker stops it.
        """
        removed = event.value if event.type == "removed" else None
        watched = (self.image_choice.value, self.mask_choice.value, *self._inputs)
        self.image_choice.reset_choices()
        self.mask_choice.reset_choices()
        if event.type == "inserted" and is_input(event.value):
            for choice, kind in ((self.image_choice, Image), (self.mask_choice, Labels)):
                if choice.value is None and isinstance(event.value, kind):
                    choice.value = event.value
        if removed is None or not any(removed is layer for layer in watched):
            return
        if any(removed is layer for layer in self._inputs):  # inputs of the running worker
            self._removed = removed.name
            self.status.setText(f"Layer '{removed.name}' was removed: stopping after the current step.")
            self.stop()
        else:
            kept = " The model is kept." if self.model is not None else ""
            self.status.setText(f"Layer '{removed.name}' was removed.{kept} Choose the {self._missing()} "
                                "to train or correct next.")

    def _missing(self) -> str:
        """What the selectors lack ("image", "mask", "image and mask"), empty when a pair is chosen."""
        return " and ".join(name for name, choice in (("image", self.image_choice), ("mask", self.mask_choice))
                            if choice.value is None)

    def _chosen_pair(self) -> tuple[Image, Labels | Image]:
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

        With ``init_model`` (a CrossFittedModel) the training continues from it: see :meth:`fine_tune`.
        ``pair`` (image and mask layers) replaces the chosen pair, and ``trusted`` (the mask's shape,
        255 where nothing is confirmed) are labels to train on as clean ones: see :meth:`learn_from_review`.
        """
        from jcas.settings import fine_tune_config
        from jcas.training.trainer import Trainer

        if self.worker is not None:
            return self.worker
        if init_model is None and self._unsaved and not _confirm_discard(self):
            return None
        try:
            image, mask = pair or self._chosen_pair()
            epochs = {} if not self.epochs_choice.value else {"epochs": self.epochs_choice.value}
            settings = ({"config": fine_tune_config(init_model.config, self.preset_choice.value, **epochs)}
                        if init_model is not None else
                        {"method": self.method_choice.value, "preset": self.preset_choice.value, **epochs})
            trainer = Trainer([np.asarray(image.data)], [np.asarray(mask.data)], device=self.device_choice.value,
                              init_model=init_model, trusted=None if trusted is None else [trusted], **settings)
        except JCASInputError as error:
            show_error(f"Cannot {'fine-tune' if init_model is not None else 'train'}: {error}")
            self._learning = None
            return None
        self.trainer, self._inputs, self._steps = trainer, (image, mask), trainer.run()
        self.plot.reset()
        self.status.setText(f"Training on {trainer.device.type} ({trainer.total_steps} steps)…")
        self._failed = self._removed = None
        self.worker = start_worker(
            self._steps, total=trainer.total_steps, description="JCAS training", task="Training",
            on_yielded=self._on_step, on_errored=self._on_training_error, on_finished=self._on_training_finished,
        )
        self._set_busy(True)
        return self.worker

    def fine_tune(self):
        """Continue training the current model on the chosen pair (same classes and channels, its network and
        method; the preset's schedule). Returns the worker, or ``None`` when there is no model or bad input."""
        if self.model is None:
            show_error("No model to fine-tune: train one or load one first.")
            return None
        return self.start(init_model=self.model)

    def learn_from_review(self):
        """Fine-tune the model on the latest correction's review, then propose again in its layers.

        Accepted regions (the proposal is right), rejected ones (the drawn mask is right) and the
        pixels painted in the cleaned layer (the paint is right) become trusted labels
        (:func:`jcas.review.trusted_labels`): the fine-tune trains on them as clean labels and on the
        rest of the drawn mask as before. Then Correct runs again on the same pair with the fine-tuned
        model, and the layers show its proposals where the person has decided nothing; every decision
        and edit is kept (:func:`napari_jcas._layers.review_keeping_decisions`). Only then does the
        fine-tuned model replace the current one: stopped (or failed) before then, the model and the review
        stay as they were. Returns the worker, or ``None`` when there is nothing to learn from.
        """
        if self.worker is not None:
            return self.worker
        layers = self._latest_correction()
        if self.model is None or layers is None:
            show_error("Nothing to learn from: train or load a model, run Correct and review some corrections first.")
            return None
        trusted = trusted_labels(layers.cleaned.metadata[REVIEW_KEY], np.asarray(layers.cleaned.data))
        confirmed = int(np.sum(trusted != IGNORE_VALUE))
        if not confirmed:
            show_error("Nothing to learn from yet: accept or reject corrections in the Review dock, or paint "
                       "in the cleaned layer.")
            return None
        self._learning = layers
        worker = self.start(init_model=self.model, pair=(layers.image, layers.mask), trusted=trusted)
        if worker is not None:
            self.status.setText(f"Learning from {confirmed} confirmed pixels on {self.trainer.device.type} "
                                f"({self.trainer.total_steps} steps)…")
        return worker

    def stop(self) -> None:
        """Stop the running worker after its current step."""
        if self.worker is not None:
            self.worker.quit()

    def _on_step(self, event) -> None:
        fold = f"fold {event.fold + 1}/{event.folds} " if event.folds > 1 else ""
        self.plot.add(event.global_step, event.losses, stage=f"{fold}{event.stage}")
        if self.worker is None:  # a step delivered after the run ended must not overwrite its outcome
            return
        self.status.setText(_progress_text(event, self.trainer.device.type, learning=self._learning is not None))
        if self.worker.pbar is not None:
            self.worker.pbar.set_description(f"JCAS {fold}{event.stage} epoch {event.epoch}/{event.epochs}")

    def _on_training_error(self, error: Exception) -> None:
        self._failed = error

    def _on_training_finished(self) -> None:
        steps, trainer, learning = self._steps, self.trainer, self._learning
        self._learning = None
        steps.close()  # the worker thread is done with it; closing keeps the last completed step
        self.worker, self._steps, self.trainer, self._inputs = None, None, None, ()
        self.plot.redraw()
        self._set_busy(False)
        done = f"{trainer.completed_steps}/{trainer.total_steps} steps"
        if self._failed is not None:
            why = f"Training failed: {self._failed}."
        elif self._removed is not None:
            why = f"Layer '{self._removed}' was removed, so training stopped."
        else:
            why = ""
        if learning is not None:
            if why or trainer.completed_steps < trainer.total_steps:
                self._learning_cancelled(why or f"Learning from the review was stopped after {done}.")
            else:
                self.correct(into=learning, learnt=trainer.model)
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
        self._adopt(trainer.model)

    def _learning_cancelled(self, why: str) -> None:
        """Say that learning from the review ended before its proposals were shown: nothing changed."""
        self.status.setText(f"{why} The model and the review are as they were.")

    def _adopt(self, model) -> None:
        """Make ``model`` the current one, and save it where 'Save model to' says (or say that it is not saved)."""
        self.model, self._unsaved = model, True
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
        if self.model is None:
            show_error("No model to save: train or load one first.")
            return None
        if path is None:
            show_error("Choose where to save the model ('Save model to').")
            return None
        from jcas.nn.checkpoint import save_checkpoint

        try:
            saved = save_checkpoint(self.model, path, overwrite=True)
        except (JCASInputError, OSError) as error:
            show_error(f"Could not save the model to {path}: {error}")
            return None
        self._unsaved = False
        self.status.setText(f"{self.status.text()} Saved to {saved}.")
        return saved

    def unsaved_work(self) -> list[str]:
        """The model trained here when it is in no file, as the question before napari closes says it."""
        return ["the model trained here, not saved"] if self._unsaved else []

    def save_work(self) -> bool:
        """Save the model (asking where, when 'Save model to' is empty); whether it was saved."""
        path = self._model_path() or ask_save_path(self, "Save the napari-jcas model", MODEL_FILTER)
        return path is not None and self.save_model(path) is not None

    def _ask_model_to_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a napari-jcas model", "", MODEL_FILTER)
        if path:
            self.load_model(path)

    def load_model(self, path: str | Path) -> bool:
        """Load a model file; returns whether it worked (errors become notifications)."""
        from jcas.nn.checkpoint import load_checkpoint

        try:
            self.model = load_checkpoint(path, device=self.device_choice.value)
        except JCASInputError as error:
            show_error(f"Cannot load the model: {error}")
            return False
        self._unsaved = False
        values = ", ".join(str(v) for v in self.model.label_map.values)
        self.status.setText(f"Loaded {Path(path).name}: {self.model.config.method}, labels {values}.")
        return True

    # -------------------------------------------------------------- correction
    def correct(self, into: CorrectionLayers | None = None, learnt: CrossFittedModel | None = None):
        """Run the model on the chosen pair in a worker; returns the worker, or ``None`` on bad input.

        With ``into``, the pair of that earlier correction, shown in its layers (:func:`show_new_correction`).
        With ``learnt`` (a model fine-tuned on the review: :meth:`learn_from_review`), that model runs, and
        it becomes the current model only once its proposals are shown: stopped before, nothing changes.
        """
        from jcas.correction.stream import iter_correct

        if self.worker is not None:
            return self.worker
        model = learnt if learnt is not None else self.model
        try:
            if model is None:
                raise JCASInputError("there is no model yet: train one (Start training) or load one first.")
            image, mask = (into.image, into.mask) if into is not None else self._chosen_pair()
            image_data, mask_data = np.asarray(image.data), np.asarray(mask.data)
            check_pair(image_data, mask_data)
        except JCASInputError as error:
            show_error(f"Cannot correct: {error}")
            return None
        self._inputs, self._steps = (image, mask), iter_correct(
            model, image_data, mask_data, min_area=self.min_area_choice.value or None,
            min_score=self.min_score_choice.value, min_confidence=self.min_confidence_choice.value,
            mirror=self.mirror_choice.value)
        self._removed, self._failed, self._refresh, self._learnt = None, None, into, learnt
        self.status.setText(f"{'Proposing again with what the model learnt' if learnt else 'Correcting'} "
                            f"'{mask.name}'…")
        total = 1 if mask_data.ndim == 2 else mask_data.shape[0]
        self.worker = start_worker(self._steps, total=total, description="JCAS correction", task="Correction",
                                   on_returned=self._on_corrected, on_finished=self._on_correction_finished,
                                   on_errored=self._on_correction_error)
        self._set_busy(True)
        return self.worker

    def _on_correction_error(self, error: Exception) -> None:
        self._failed = error
        self.status.setText(f"Correction failed: {error}")

    def _on_corrected(self, correction) -> None:
        if self._removed is not None:  # the finished handler says so
            return
        image, mask = self._inputs
        if self._refresh is not None and self._refresh.cleaned in self.viewer.layers:
            review = show_new_correction(self._refresh, correction, heatmap=self.heatmap_choice.value)
            self.status.setText(f"Learnt from the review: {_kept_decisions(review)}; "
                                f"{_candidates(correction, review.counts()[OPEN])} where you have not decided, "
                                f"for '{mask.name}'.")
        else:
            self._corrections.append(
                add_correction_layers(self.viewer, image, mask, correction, heatmap=self.heatmap_choice.value))
            self.status.setText(f"{_candidates(correction)} for '{mask.name}'. Review them in the Review dock.")
        if self._learnt is not None:
            self._adopt(self._learnt)
            self._learnt = None
        if correction.notes:
            more = f"\n… and {len(correction.notes) - 3} more" if len(correction.notes) > 3 else ""
            show_warning(f"Correction of '{mask.name}' withheld proposals:\n" + "\n".join(correction.notes[:3]) + more)

    def _on_correction_finished(self) -> None:
        self._steps.close()
        learnt = self._learnt  # still set: its proposals were not shown
        self.worker, self._steps, self._inputs, self._refresh, self._learnt = None, None, (), None, None
        self._set_busy(False)
        removed = "" if self._removed is None else (f"Layer '{self._removed}' was removed, so the correction "
                                                    "stopped; no layers added.")
        if learnt is not None:
            failed = "" if self._failed is None else f"Correction failed: {self._failed}."
            self._learning_cancelled(removed or failed or "Learning from the review was stopped before the new "
                                                          "proposals were shown.")
        elif removed:
            self.status.setText(removed)

    def _reselect_soon(self, _value=None) -> None:
        self._reselect_timer.start()

    def reselect(self) -> Review | None:
        """Select the candidate regions of the latest correction again with the current Min. region and
        Min. score, from its cached maps: no network runs.

        Every decision is kept, and so are the cleaned labels' pixels; new regions are proposed only where
        the person has decided nothing (:func:`napari_jcas._layers.review_keeping_decisions`).
        Returns the new review, or ``None`` when there is no correction (or it is out of the viewer).
        """
        from jcas import select_regions

        layers = self._latest_correction()
        if layers is None:
            return None
        min_area, min_score = self.min_area_choice.value or None, self.min_score_choice.value
        min_confidence = self.min_confidence_choice.value
        correction = select_regions(layers.maps, min_area=min_area, min_score=min_score, min_confidence=min_confidence)
        review = show_reselection(layers, correction)
        area = "relative to the objects" if min_area is None else f"{min_area} px"
        counts = review.counts()
        kept = f"; {_kept_decisions(review)}" if counts[ACCEPTED] or counts[REJECTED] else ""
        self.status.setText(f"{_candidates(correction, counts[OPEN])} in '{layers.cleaned.name}' (min. region {area}, "
                            f"min. score {min_score:.2f}, min. confidence {min_confidence:.2f}){kept}.")
        return review

    def _latest_correction(self) -> CorrectionLayers | None:
        """The layers of the latest correction still in the viewer."""
        shown = [layers for layers in self._corrections
                 if layers.cleaned in self.viewer.layers and layers.proposal in self.viewer.layers]
        return shown[-1] if shown else None

    def _show_heatmaps(self, kind: str) -> None:
        for layers in self._corrections:
            if layers.disagreement in self.viewer.layers:
                show_heatmap(layers.disagreement, kind)

    # ------------------------------------------------------------------- state
    def _set_busy(self, busy: bool) -> None:
        for widget in (self.load_button, self.save_button, self.learn_button):
            widget.setEnabled(not busy)
        self.form.enabled = not busy
        self.stop_button.setEnabled(busy)
        self._update_actions()

    def _update_actions(self, _value=None) -> None:
        """Enable the actions on the chosen pair (Start training, Fine-tune, Correct) when no worker runs and
        an image and a mask are chosen; say what is missing in their tooltips."""
        missing = self._missing()
        for button, tip in self._pair_actions.items():
            button.setEnabled(self.worker is None and not missing)
            button.setToolTip(tip if not missing else f"{tip}. Choose the {missing} first")


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


def _candidates(correction, proposed: int | None = None) -> str:
    """'N candidate corrections', with how many the guard withheld.

    Parameters
    ----------
    correction : jcas.correction.results.Correction
    proposed : int, optional
        How many are proposed, when not all of ``correction.regions`` are (those that touch what the person
        decided are not).
    """
    withheld = f" ({len(correction.withheld)} withheld: the model cannot be trusted there)" if correction.withheld else ""
    count = len(correction.regions) if proposed is None else proposed
    return f"{count} candidate corrections{withheld}"


def _kept_decisions(review: Review) -> str:
    """'your A accepted and R rejected regions and your edits are kept': what a new selection keeps
    (:func:`napari_jcas._layers.review_keeping_decisions`)."""
    counts = review.counts()
    return f"your {counts[ACCEPTED]} accepted and {counts[REJECTED]} rejected regions and your edits are kept"


def _selection_tooltip(setting: str, reselects: bool = True) -> str:
    """The tooltip of a correction setting: what it does (:data:`jcas.settings.SELECTION_HELP`), and
    whether a change selects the latest correction's regions again at once."""
    text = SELECTION_HELP[setting]
    again = ". A change selects the latest correction's regions again at once, without running the model"
    return text[0].upper() + text[1:] + (again if reselects else "")
