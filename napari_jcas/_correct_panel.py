"""The Train dock's correct panel: Min. region, Min. score, Min. confidence, Mirror and the heatmap; Correct and
Learn from my review; the correction runs, in napari workers, and the live re-selection of their regions."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, SpinBox
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import QObject, QTimer
from qtpy.QtWidgets import QLabel, QPushButton

from jcas.data.pairs import check_pair
from jcas.errors import JCASInputError
from jcas.review import ACCEPTED, OPEN, REJECTED, Review
from jcas.settings import MIN_AREA, MIN_CONFIDENCE, MIN_SCORE, MIRROR, SELECTION_HELP

from ._layers import CorrectionLayers, add_correction_layers, show_heatmap, show_new_correction, show_reselection
from ._run_session import PROPOSING, RunSession
from ._settings import DEFAULT_HEATMAP, HEATMAP_KINDS
from ._workers import start_worker

if TYPE_CHECKING:
    import napari

#: Milliseconds the thresholds must rest before the regions are selected again (typing "250" is one change).
RESELECT_DELAY_MS = 200


class CorrectPanel(QObject):
    """The controls and the runs of correction.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    session : RunSession
        The dock's run state, shared with the training panel.
    status : QLabel
        The dock's status line.
    chosen_pair : callable
        Returns the chosen image and mask layers (:meth:`napari_jcas._train_panel.TrainPanel.chosen_pair`).
    set_busy : callable
        Called with ``True`` when a run starts and ``False`` when it has finished.
    adopt : callable
        Makes a model that learnt from the review the current one, once its proposals are shown.
    learning_cancelled : callable
        Says why learning from the review ended before its proposals were shown.
    """

    def __init__(self, viewer: napari.viewer.Viewer, session: RunSession, status: QLabel,
                 chosen_pair: Callable[[], tuple], set_busy: Callable[[bool], None], adopt: Callable,
                 learning_cancelled: Callable[[str], None]):
        super().__init__()
        self.viewer, self.session, self.status, self.chosen_pair = viewer, session, status, chosen_pair
        self.set_busy, self.adopt, self.learning_cancelled = set_busy, adopt, learning_cancelled
        self.corrections: list[CorrectionLayers] = []
        self.min_area_choice = SpinBox(
            label="Min. region (px, 0 = auto)", min=0, max=1_000_000, value=MIN_AREA or 0,
            tooltip=_selection_tooltip("min_area"))
        self.min_score_choice = FloatSpinBox(label="Min. score", min=0.0, max=1.0, step=0.05, value=MIN_SCORE,
                                             tooltip=_selection_tooltip("min_score"))
        self.min_confidence_choice = FloatSpinBox(label="Min. confidence", min=0.0, max=1.0, step=0.05,
                                                  value=MIN_CONFIDENCE, tooltip=_selection_tooltip("min_confidence"))
        self.mirror_choice = CheckBox(text="Mirror", value=MIRROR, tooltip=_selection_tooltip("mirror", reselects=False))
        self.heatmap_choice = ComboBox(
            label="Heatmap", choices=list(HEATMAP_KINDS), value=DEFAULT_HEATMAP,
            tooltip="class: 1 - p(drawn label), what candidates are ranked by and the better guide to wrong pixels; "
                    "affinity: how much the learned pair affinities contradict the drawn mask around each pixel")
        self.form = Container(widgets=[self.min_area_choice, self.min_score_choice, self.min_confidence_choice,
                                       self.mirror_choice, self.heatmap_choice])
        self.correct_button = QPushButton("Correct")
        self.learn_button = QPushButton("Learn from my review")
        self.learn_button.setToolTip("Fine-tune the model on what you decided in the latest correction (accepted "
                                     "and rejected regions, pixels you painted) as clean labels, then propose "
                                     "again; your decisions and edits stay")

        self.correct_button.clicked.connect(lambda: self.correct())
        self.heatmap_choice.changed.connect(self._show_heatmaps)
        self._reselect_timer = QTimer(self)
        self._reselect_timer.setSingleShot(True)
        self._reselect_timer.setInterval(RESELECT_DELAY_MS)
        self._reselect_timer.timeout.connect(self.reselect)
        for threshold in (self.min_area_choice, self.min_score_choice, self.min_confidence_choice):
            threshold.changed.connect(self._reselect_soon)

    # -------------------------------------------------------------- correction
    def correct(self):
        """Run the current model on the chosen pair in a worker; returns the worker, or ``None`` on bad input."""
        if self.session.worker is not None:
            return self.session.worker
        try:
            if self.session.model is None:
                raise JCASInputError("there is no model yet: train one (Start training) or load one first.")
            image, mask = self.chosen_pair()
        except JCASInputError as error:
            show_error(f"Cannot correct: {error}")
            return None
        return self._run(self.session.model, image, mask, f"Correcting '{mask.name}'…")

    def propose_learnt(self) -> None:
        """Run the model that learnt from the review (:attr:`RunSession.learning`) on the reviewed pair; its
        proposals are shown in the layers of the correction reviewed."""
        learning = self.session.learning
        if self._run(learning.learnt, learning.layers.image, learning.layers.mask,
                     f"Proposing again with what the model learnt for '{learning.layers.mask.name}'…") is None:
            self.learning_cancelled("The reviewed image and mask cannot be corrected.")

    def _run(self, model, image, mask, doing: str):
        """Correct ``mask`` of ``image`` with ``model`` in a worker; returns it, or ``None`` on bad input."""
        from jcas.correction.stream import iter_correct

        image_data, mask_data = np.asarray(image.data), np.asarray(mask.data)
        try:
            check_pair(image_data, mask_data)
        except JCASInputError as error:
            show_error(f"Cannot correct: {error}")
            return None
        self.session.begin(iter_correct(
            model, image_data, mask_data, min_area=self.min_area_choice.value or None,
            min_score=self.min_score_choice.value, min_confidence=self.min_confidence_choice.value,
            mirror=self.mirror_choice.value), (image, mask))
        self.status.setText(doing)
        total = 1 if mask_data.ndim == 2 else mask_data.shape[0]
        self.session.worker = start_worker(self.session.steps, total=total, description="JCAS correction",
                                           task="Correction", on_returned=self._on_corrected,
                                           on_finished=self._on_correction_finished,
                                           on_errored=self._on_correction_error)
        self.set_busy(True)
        return self.session.worker

    def _on_correction_error(self, error: Exception) -> None:
        self.session.failed = error
        self.status.setText(f"Correction failed: {error}")

    def _on_corrected(self, correction) -> None:
        session = self.session
        if session.removed is not None:  # the finished handler says so
            return
        image, mask = session.inputs
        learning = session.learning if session.learning_stage == PROPOSING else None
        if learning is not None and learning.layers.cleaned in self.viewer.layers:
            review = show_new_correction(learning.layers, correction, heatmap=self.heatmap_choice.value)
            self.status.setText(f"Learnt from the review: {_kept_decisions(review)}; "
                                f"{_candidates(correction, review.counts()[OPEN])} where you have not decided, "
                                f"for '{mask.name}'.")
        else:
            self.corrections.append(
                add_correction_layers(self.viewer, image, mask, correction, heatmap=self.heatmap_choice.value))
            self.status.setText(f"{_candidates(correction)} for '{mask.name}'. Review them in the Review dock.")
        if learning is not None:
            session.learning = None
            self.adopt(learning.learnt)
        if correction.notes:
            more = f"\n… and {len(correction.notes) - 3} more" if len(correction.notes) > 3 else ""
            show_warning(f"Correction of '{mask.name}' withheld proposals:\n" + "\n".join(correction.notes[:3]) + more)

    def _on_correction_finished(self) -> None:
        session = self.session
        session.end()
        self.set_busy(False)
        removed = "" if session.removed is None else (f"Layer '{session.removed}' was removed, so the correction "
                                                      "stopped; no layers added.")
        if session.learning is not None:  # its proposals were not shown
            failed = "" if session.failed is None else f"Correction failed: {session.failed}."
            self.learning_cancelled(removed or failed or "Learning from the review was stopped before the new "
                                                         "proposals were shown.")
        elif removed:
            self.status.setText(removed)

    # ------------------------------------------------------------- selection
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

        layers = self.latest_correction()
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

    def latest_correction(self) -> CorrectionLayers | None:
        """The layers of the latest correction still in the viewer."""
        shown = [layers for layers in self.corrections
                 if layers.cleaned in self.viewer.layers and layers.proposal in self.viewer.layers]
        return shown[-1] if shown else None

    def _show_heatmaps(self, kind: str) -> None:
        for layers in self.corrections:
            if layers.disagreement in self.viewer.layers:
                show_heatmap(layers.disagreement, kind)


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
