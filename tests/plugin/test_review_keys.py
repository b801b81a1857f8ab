"""The Review dock's key bindings: the review keys on the canvas, a key pressed during the result pause, napari's
own keys with the dock open and after closing it, Ctrl+Z whichever layer is selected."""
from __future__ import annotations

import numpy as np
import pytest
from napari.utils.key_bindings import KeyBinding
from qtpy.QtCore import Qt

from jcas.review import ACCEPTED, OPEN, REJECTED
from napari_jcas._review_keys import KEYS
from napari_jcas._review_table import COLUMNS
from napari_jcas._review_widget import RESULT_PAUSE_MS
from reach import click_row, press

pytestmark = pytest.mark.gui


def test_keys_on_the_canvas_accept_reject_move_and_undo(corrected_shown, qtbot, notifications):
    review, viewer, cleaned = corrected_shown.review, corrected_shown.viewer, corrected_shown.cleaned
    proposal = corrected_shown.proposal.data
    assert "Shift+A" in review.buttons["accept"].toolTip()
    state = review.review
    first, second, third = state.regions[:3]
    press(viewer, qtbot, Qt.Key.Key_N)
    assert state.current is second
    press(viewer, qtbot, Qt.Key.Key_P)
    assert state.current is first

    press(viewer, qtbot, Qt.Key.Key_A)
    pixels = state.pixels(first.index)
    assert state.status[first.index] == ACCEPTED and state.current is first  # the result is shown first
    np.testing.assert_array_equal(cleaned.data[pixels], proposal[pixels])
    assert not np.array_equal(cleaned.data[pixels], state.drawn[pixels])
    qtbot.waitUntil(lambda: state.current is second, timeout=2_000)  # then the next open region
    press(viewer, qtbot, Qt.Key.Key_R)
    assert state.status[second.index] == REJECTED
    qtbot.waitUntil(lambda: state.current is third, timeout=2_000)
    np.testing.assert_array_equal(cleaned.data[state.pixels(second.index)], state.drawn[state.pixels(second.index)])
    assert review.table.item(0, COLUMNS.index("status")).text() == ACCEPTED

    assert viewer.layers.selection.active is cleaned
    press(viewer, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # napari's undo of the cleaned layer
    qtbot.waitUntil(lambda: state.status[first.index] == OPEN, timeout=2_000)
    np.testing.assert_array_equal(cleaned.data, state.drawn)
    assert not notifications.messages()


def test_a_key_pressed_while_a_result_shows_acts_on_the_next_region(corrected_shown, qtbot):
    review, viewer = corrected_shown.review, corrected_shown.viewer
    state = review.review
    first, second, third, fourth = state.regions[:4]
    press(viewer, qtbot, Qt.Key.Key_A)
    press(viewer, qtbot, Qt.Key.Key_R)  # before the pause ends: the second region, not the first again
    assert state.status[first.index] == ACCEPTED and state.status[second.index] == REJECTED
    press(viewer, qtbot, Qt.Key.Key_N)  # skips the rest of the pause, to the next open region
    assert state.current is third
    press(viewer, qtbot, Qt.Key.Key_N)
    assert state.current is fourth
    qtbot.wait(RESULT_PAUSE_MS + 200)  # no pause was left running to move on by itself
    assert state.current is fourth


def test_napari_keys_work_with_the_review_dock_and_after_closing_it(corrected_shown, qtbot):
    review, viewer, cleaned = corrected_shown.review, corrected_shown.viewer, corrected_shown.cleaned
    press(viewer, qtbot, Qt.Key.Key_2, Qt.KeyboardModifier.NoModifier)  # napari's paint tool
    assert cleaned.mode == "paint"

    qtbot.mouseClick(corrected_shown.review_dock.title.close_button, Qt.MouseButton.LeftButton)
    assert not any(KeyBinding.from_str(key) in viewer.keymap for key in KEYS.values())
    press(viewer, qtbot, Qt.Key.Key_1, Qt.KeyboardModifier.NoModifier)  # napari's eraser
    assert cleaned.mode == "erase"
    press(viewer, qtbot, Qt.Key.Key_A)  # the review keys are gone with the dock
    assert review.review.counts()[ACCEPTED] == 0
    np.testing.assert_array_equal(cleaned.data, review.review.drawn)


def select_in_layer_list(viewer, layer, qtbot) -> None:
    """Click ``layer``'s row in the viewer's layer list, as the user does to select it."""
    view = viewer.window._qt_viewer.layers
    model = view.model()
    [index] = [model.index(row, 0) for row in range(model.rowCount())
               if model.data(model.index(row, 0), Qt.ItemDataRole.UserRole) is layer]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    assert viewer.layers.selection.active is layer


@pytest.mark.parametrize("selected", ["brain", "brain disagreement", "brain proposal", "brain boundaries",
                                      "brain cleaned selected"])
def test_ctrl_z_undoes_the_last_decision_whichever_layer_is_selected(corrected_shown, qtbot, selected):
    review, viewer, cleaned = corrected_shown.review, corrected_shown.viewer, corrected_shown.cleaned
    state = review.review
    click_row(review, 0, qtbot)  # outlined ("brain cleaned selected") and framed
    region = state.current
    drawn = cleaned.data.copy()
    qtbot.mouseClick(review.buttons["accept"], Qt.MouseButton.LeftButton)
    assert state.status[region.index] == ACCEPTED
    select_in_layer_list(viewer, viewer.layers[selected], qtbot)

    press(viewer, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: state.status[region.index] == OPEN, timeout=2_000)
    np.testing.assert_array_equal(cleaned.data, drawn)
    qtbot.wait(RESULT_PAUSE_MS + 100)
    assert state.current is region  # the undone region stays in view, to decide again
    assert "accepted 0 · rejected 0" in review.counts.text()
