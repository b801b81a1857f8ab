"""Closing napari with work in no file: a model trained here, review decisions not exported. The window is
closed as its close button closes it, and the question is answered by clicking the message box's buttons."""
from __future__ import annotations

import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QMessageBox

from jcas.review import log_path
from reach import answer_next_box, click

pytestmark = pytest.mark.gui


def close_window(viewer, qtbot):
    """Close napari's main window as its close button does; it is kept (hidden) for the fixture's teardown."""
    window = viewer.window._qt_window
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    window.windowHandle().close()
    qtbot.wait(10)
    return window


def test_closing_with_review_decisions_not_exported_asks_cancel_keeps_napari_save_exports(corrected_shown, qtbot,
                                                                                           tmp_path):
    review, viewer = corrected_shown.review, corrected_shown.viewer
    click(review, review.buttons["accept"], qtbot)
    asked = []
    answer_next_box(qtbot, QMessageBox.StandardButton.Cancel, asked)
    window = close_window(viewer, qtbot)
    assert asked and "1 review decisions on 'brain cleaned', not exported" in asked[0]
    assert window.isVisible()  # Cancel keeps napari open, with the review as it was
    assert review.review.unexported == 1

    target = tmp_path / "brain_cleaned.tif"
    review.export_path.value = str(target)
    answer_next_box(qtbot, QMessageBox.StandardButton.Save, asked)
    close_window(viewer, qtbot)
    assert len(asked) == 2 and not window.isVisible()  # Save exported, then napari closed
    assert target.is_file() and log_path(target).is_file()


@pytest.mark.slow
def test_closing_with_an_unsaved_model_asks_and_discard_closes(docked_shown, qtbot, tmp_path):
    train, viewer = docked_shown.train, docked_shown.viewer
    # a small crop of the pair, so that one epoch trains quickly
    train.training.image_choice.value = viewer.add_image(docked_shown.image.data[:1, 60:156, 50:146], name="crop")
    train.training.mask_choice.value = viewer.add_labels(docked_shown.mask.data[:1, 60:156, 50:146], name="crop mask")
    train.training.preset_choice.value, train.training.epochs_choice.value = "fast", 1
    click(train, train.training.start_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=300_000)
    assert train.session.model is not None
    asked = []
    answer_next_box(qtbot, QMessageBox.StandardButton.Cancel, asked)
    window = close_window(viewer, qtbot)
    assert "the model trained here, not saved" in asked[0] and window.isVisible()

    answer_next_box(qtbot, QMessageBox.StandardButton.Discard, asked)
    close_window(viewer, qtbot)
    assert len(asked) == 2 and not window.isVisible() and not list(tmp_path.glob("*.pt"))


def test_nothing_unsaved_closes_without_asking(corrected_shown, qtbot):
    asked = []
    answer_next_box(qtbot, QMessageBox.StandardButton.Cancel, asked, tries=20)
    window = close_window(corrected_shown.viewer, qtbot)  # a loaded model, no decision: nothing to lose
    qtbot.wait(300)
    assert not asked and not window.isVisible()


def test_a_program_closing_the_viewer_is_not_asked(corrected_shown, qtbot):
    review = corrected_shown.review
    click(review, review.buttons["accept"], qtbot)
    assert review.unsaved_work()
    asked = []
    answer_next_box(qtbot, QMessageBox.StandardButton.Cancel, asked, tries=20)
    corrected_shown.viewer.close()  # a script's close: its canvas closes first
    qtbot.wait(300)
    assert not asked
