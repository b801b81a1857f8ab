"""Train dock: train (or load) a model on an image and its noisy mask, then run the correction.

The dock lays out two panels over one run state (:class:`napari_jcas._run_session.RunSession`): the training
panel (:mod:`napari_jcas._train_panel`: inputs, schedule, model file, training runs) and the correct panel
(:mod:`napari_jcas._correct_panel`: selection settings, heatmap, correction runs). "Learn from my review" hands
the reviewed correction from one to the other: a fine-tune on the person's decisions, then a correction with the
fine-tuned model in the same layers. The panels' ``start``, ``stop``, ``load_model``, ``save_model`` and
``correct`` are public so that scripts and tests drive the same code as the buttons; ``start`` and ``correct``
return the worker.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QLabel, QWidget

from jcas.data.labels import IGNORE_VALUE
from jcas.review import trusted_labels

from ._correct_panel import CorrectPanel
from ._layers import make_canvas_current
from ._loss_plot import LossPlot
from ._qt_layout import row, scrolling_layout
from ._quit_guard import quit_guard
from ._run_session import LearningFromReview, RunSession
from ._settings import REVIEW_KEY
from ._train_panel import TrainPanel

if TYPE_CHECKING:
    import napari


class TrainWidget(QWidget):
    """Choose data and settings, train or load a model, and correct the mask.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        self.session = RunSession()
        self.status = QLabel("No model yet: train one or load one.")
        self.status.setWordWrap(True)
        self.plot = LossPlot()
        self.training = TrainPanel(viewer, self.session, self.status, self.plot, self, self._set_busy)
        self.correcting = CorrectPanel(viewer, self.session, self.status, self.training.chosen_pair, self._set_busy,
                                       self.training.adopt, self.training.learning_cancelled)
        training, correcting = self.training, self.correcting
        #: The actions on the chosen pair, with their tooltips: disabled until an image and a mask are chosen.
        self._pair_actions = {
            training.start_button: "Train a new model on the chosen image and mask",
            training.fine_tune_button: "Continue training the current model (trained or loaded) on the chosen image "
                                       "and mask, with the chosen preset's schedule",
            correcting.correct_button: "Propose a corrected mask and show where the model disagrees",
        }

        self.scroll_area, layout, pinned = scrolling_layout(self)
        layout.addWidget(training.form.native)
        layout.addLayout(row(training.load_button, training.save_button))
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addWidget(correcting.form.native)
        layout.addWidget(correcting.correct_button)
        layout.addWidget(correcting.learn_button)
        layout.addStretch()
        pinned.addLayout(row(training.start_button, training.fine_tune_button, training.stop_button))  # in view

        correcting.learn_button.clicked.connect(self.learn_from_review)
        training.fine_tuned.connect(correcting.propose_learnt)
        for choice in (training.image_choice, training.mask_choice):
            choice.changed.connect(self._update_actions)
        viewer.layers.events.removing.connect(self._before_layer_removal)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed, viewer.layers.events.moved):
            event.connect(training.follow_layers)
        self._set_busy(False)
        quit_guard().watch(self)

    def _before_layer_removal(self, _event=None) -> None:
        make_canvas_current(self)

    def learn_from_review(self):
        """Fine-tune the model on the latest correction's review, then propose again in its layers.

        Accepted regions (the proposal is right), rejected ones (the drawn mask is right) and the
        pixels painted in the cleaned layer (the paint is right) become trusted labels
        (:func:`jcas.review.trusted_labels`): the fine-tune trains on them as clean labels and on the
        rest of the drawn mask as before. Then Correct runs again on the same pair with the fine-tuned
        model, and the layers show its proposals where the person has decided nothing; every decision
        and edit is kept (:func:`napari_jcas._layers.review_keeping_decisions`). Only then does the
        fine-tuned model replace the current one: stopped (or failed) before then, the model and the review
        stay as they were. The session's :attr:`~RunSession.learning` follows the two runs. Returns the worker,
        or ``None`` when there is nothing to learn from.
        """
        session = self.session
        if session.worker is not None:
            return session.worker
        layers = self.correcting.latest_correction()
        if session.model is None or layers is None:
            show_error("Nothing to learn from: train or load a model, run Correct and review some corrections first.")
            return None
        trusted = trusted_labels(layers.cleaned.metadata[REVIEW_KEY], np.asarray(layers.cleaned.data))
        confirmed = int(np.sum(trusted != IGNORE_VALUE))
        if not confirmed:
            show_error("Nothing to learn from yet: accept or reject corrections in the Review dock, or paint "
                       "in the cleaned layer.")
            return None
        session.learning = LearningFromReview(layers)
        worker = self.training.start(init_model=session.model, pair=(layers.image, layers.mask), trusted=trusted)
        if worker is not None:
            self.status.setText(f"Learning from {confirmed} confirmed pixels on {session.trainer.device.type} "
                                f"({session.trainer.total_steps} steps)…")
        return worker

    # ------------------------------------------------------- closing napari
    def unsaved_work(self) -> list[str]:
        """The model trained here when it is in no file, as the question before napari closes says it."""
        return ["the model trained here, not saved"] if self.session.unsaved else []

    def save_work(self) -> bool:
        """Save the model (asking where, when 'Save model to' is empty); whether it was saved."""
        return self.training.save_work()

    # ------------------------------------------------------------------- state
    def _set_busy(self, busy: bool) -> None:
        for widget in (self.training.load_button, self.training.save_button, self.correcting.learn_button):
            widget.setEnabled(not busy)
        self.training.form.enabled = not busy
        self.training.stop_button.setEnabled(busy)
        self._update_actions()

    def _update_actions(self, _value=None) -> None:
        """Enable the actions on the chosen pair (Start training, Fine-tune, Correct) when no worker runs and
        an image and a mask are chosen; say what is missing in their tooltips."""
        missing = self.training.missing()
        for button, tip in self._pair_actions.items():
            button.setEnabled(self.session.worker is None and not missing)
            button.setToolTip(tip if not missing else f"{tip}. Choose the {missing} first")
