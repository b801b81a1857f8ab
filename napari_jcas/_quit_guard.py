"""Asking before napari closes with work that is in no file: a model trained here, review decisions not exported.

A :class:`QuitGuard` filters the close events of napari's main window (an event filter on the application,
so that napari's own window class is left alone). When the person closes it
(the window's close button, File > Close Window, File > Exit) while a dock holds unsaved work, a
message box lists that work and offers Save, Discard and Cancel: Save saves it all and closes,
Discard closes, Cancel (and a failed or abandoned save) keeps napari open. A window closed by a
program (``viewer.close()``, which closes the viewer's canvas first) is not asked about.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from qtpy.QtCore import QEvent, QObject
from qtpy.QtOpenGLWidgets import QOpenGLWidget
from qtpy.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QWidget

#: The object name that finds the application's guard.
GUARD_NAME = "jcas_quit_guard"


class HoldsWork(Protocol):
    """A dock whose work the guard asks about."""

    def unsaved_work(self) -> list[str]:
        """What would be lost on quitting, one phrase each ("the model trained here"); empty when nothing."""

    def save_work(self) -> bool:
        """Save that work (asking where, when no place is chosen); whether all of it was saved."""


class QuitGuard(QObject):
    """Filters the close events of the application's main windows, asking about the work of the docks
    inside the window that closes. One for the application: :func:`quit_guard`."""

    def __init__(self):
        app = QApplication.instance()
        super().__init__(app)
        self.setObjectName(GUARD_NAME)
        self.docks: list[QWidget] = []
        app.installEventFilter(self)

    def watch(self, dock: QWidget) -> None:
        """Ask about the work of ``dock`` (a :class:`HoldsWork` widget) until it is destroyed."""
        self.docks.append(dock)
        dock.destroyed.connect(lambda *_: self.docks.remove(dock))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Keep the window open (the event ignored and consumed) when the person cancels."""
        if event.type() != QEvent.Type.Close or not isinstance(watched, QMainWindow) or not _closed_by_person(watched):
            return False
        holding = [dock for dock in self.docks if _inside(dock, watched) and dock.unsaved_work()]
        if not holding:
            return False
        unsaved = [work for dock in holding for work in dock.unsaved_work()]
        answer = ask_before_closing(watched, unsaved)
        if answer == QMessageBox.StandardButton.Discard or (
                answer == QMessageBox.StandardButton.Save and all(dock.save_work() for dock in holding)):
            return False
        event.ignore()
        return True


def quit_guard() -> QuitGuard:
    """The application's :class:`QuitGuard`, installed on first use."""
    return QApplication.instance().findChild(QuitGuard, GUARD_NAME) or QuitGuard()


def _closed_by_person(window: QMainWindow) -> bool:
    """Whether ``window`` closes by the person's hand: its canvas still shows (``viewer.close()`` closes the
    canvas before the window; the window's close button, File > Close Window and File > Exit do not)."""
    return any(canvas.isVisible() for canvas in window.findChildren(QOpenGLWidget))


def _inside(widget: QWidget, window: QWidget) -> bool:
    """Whether ``widget`` lies in ``window``, docked or floating."""
    while widget is not None and widget is not window:
        widget = widget.parentWidget()
    return widget is window


def ask_before_closing(parent: QWidget, unsaved: list[str]) -> QMessageBox.StandardButton:
    """Ask whether to save ``unsaved`` (phrases of :meth:`HoldsWork.unsaved_work`) before napari closes.

    Returns
    -------
    QMessageBox.StandardButton
        Save, Discard or Cancel (also for Escape and the box's close button).
    """
    box = QMessageBox(QMessageBox.Icon.Warning, "Save before closing?",
                      "Closing napari loses:\n" + "\n".join(f"• {work}" for work in unsaved)
                      + "\n\nSave saves it all (asking where when no place is chosen), then closes.",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    answer = box.exec()
    return QMessageBox.StandardButton(answer)


def ask_save_path(parent: QWidget, title: str, file_filter: str) -> Path | None:
    """Ask where to save (a file dialog); ``None`` when the person cancels."""
    path, _ = QFileDialog.getSaveFileName(parent, title, "", file_filter)
    return Path(path) if path else None
