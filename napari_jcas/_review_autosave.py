"""The Review dock's autosave: a review is saved from its first decision, and taken up again from there.

The autosave lies beside the export path (:func:`jcas.review.autosave_path`) or, while there is none, in a
session file named by the drawn mask (:func:`session_folder`, :func:`jcas.review.session_autosave_path`). A
review that has not started takes up an autosave of the same drawn mask; one it cannot take up (another
mask's, an unreadable one) is left alone and never overwritten. A label says what was saved last: the latest
export (and the decisions since) and the latest autosave.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from napari.layers import Labels
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QObject, QStandardPaths, QTimer, Signal
from qtpy.QtWidgets import QLabel

from jcas.errors import JCASInputError
from jcas.review import Review, autosave_conflict, autosave_path, load_autosave, save_autosave, session_autosave_path

from ._settings import SESSION_FOLDER_ENV

#: How long after a decision the review is saved (decisions in quick succession are saved once).
AUTOSAVE_DELAY_MS = 1000


class ReviewAutosave(QObject):
    """The autosave of the review under way in a Review dock, and the label that says what was saved.

    Parameters
    ----------
    export_target : callable
        Returns the dock's export path (``None`` while 'Export to' is empty); the autosave lies beside it.

    Signals
    -------
    restored()
        An autosaved review was taken up: its decisions and the cleaned labels' pixels.
    """

    restored = Signal()

    def __init__(self, export_target: Callable[[], Path | None]):
        super().__init__()
        self.export_target = export_target
        self.layer: Labels | None = None
        self.review: Review | None = None
        self.saved = QLabel()  # what was saved last
        self.saved.setWordWrap(True)
        self._own: Path | None = None  # where this review autosaves
        self._foreign: Path | None = None  # an autosave this review must not replace
        self._autosaved = ""  # what the label says about the latest autosave
        self._exported = ""  # what it says about the latest export
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self.save)

    def follow(self, layer: Labels | None, review: Review | None) -> None:
        """Autosave ``review`` of the cleaned labels ``layer`` from now on (``None``: nothing), a new review:
        nothing of it was saved yet."""
        self.layer, self.review = layer, review
        self._own = self._foreign = None
        self._autosaved = self._exported = ""
        self.show()

    def take_up(self, review: Review) -> None:
        """Autosave ``review``, a new review of the same layer (its regions selected again), to the same place."""
        self.review = review
        self.save_soon()

    def save_soon(self) -> None:
        """Save in :data:`AUTOSAVE_DELAY_MS` (a decision was made)."""
        self._timer.start()

    def path(self) -> Path:
        """Where the review autosaves: beside the export path, or the session file of its drawn mask."""
        target = self.export_target()
        if target is not None:
            return autosave_path(target)
        return session_autosave_path(session_folder(), self.review.drawn)

    def save(self) -> Path | None:
        """Save the review and the cleaned labels (:meth:`path`); returns where, ``None`` when not."""
        self._timer.stop()
        if self.review is None:
            return None
        path = self.path()
        saved = None
        if path == self._foreign:
            self._autosaved = f"Not autosaving: {path.name} holds the review of another mask."
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                saved = self._own = save_autosave(path, self.review, self.layer.data)
            except (JCASInputError, OSError) as error:
                self._autosaved = f"Autosave to {path} failed: {error}"
            else:
                self._autosaved = f"Review autosaved at {time.strftime('%H:%M:%S')} to {path.name}."
                self.saved.setToolTip(f"The autosave, restored when this mask is corrected again: {path}")
        self.show()
        return saved

    def exported(self, path: str) -> None:
        """Say that the labels and the review log were written to ``path``, and autosave beside it."""
        self._exported = f"Exported at {time.strftime('%H:%M:%S')} to {Path(path).name}, with its review log."
        self.save()

    def show(self) -> None:
        """Show what was saved: the latest export (and the decisions since), the latest autosave."""
        exported = self._exported
        if exported and self.review is not None and self.review.unexported:
            exported += f" {self.review.unexported} decisions since."
        self.saved.setText(" ".join(text for text in (exported, self._autosaved) if text))

    def restore(self) -> None:
        """Take up an autosaved review of the same drawn mask, if there is one at :meth:`path`.

        Only into a review that has not started; an autosave that cannot be taken up is left alone
        (and not overwritten).
        """
        if self.review is None:
            return
        path = self.path()
        if path in (self._own, self._foreign) or not path.is_file():
            return
        try:
            state, cleaned = load_autosave(path)
        except (OSError, ValueError, KeyError, EOFError) as error:
            self._leave_alone(path, f"cannot be read ({error})")
            return
        conflict = autosave_conflict(state, cleaned, self.review, self.layer.data)
        if conflict is not None:
            self._leave_alone(path, conflict)
            return
        matched = self.review.restore(state)
        self.layer.data = cleaned.astype(self.layer.data.dtype, copy=False)
        self.review.sync(self.layer.data)
        self._own = path
        self.restored.emit()
        show_info(f"Review restored from {path.name}: {matched} decisions.")

    def _leave_alone(self, path: Path, why: str) -> None:
        self._foreign = path
        show_warning(f"The autosave {path} {why}; it is left alone. "
                     "Choose another export path to autosave this review.")


def session_folder() -> Path:
    """The folder of the session autosaves: reviews of masks with no export path.

    The folder named by the environment variable :data:`napari_jcas._settings.SESSION_FOLDER_ENV`, else
    "napari-jcas/reviews" in the user's data folder (``QStandardPaths.GenericDataLocation``).
    """
    named = os.environ.get(SESSION_FOLDER_ENV)
    if named:
        return Path(named).expanduser()
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation),
                "napari-jcas", "reviews")
