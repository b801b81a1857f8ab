"""The docks on a laptop screen: with Train and Review open in a 1366 x 768 window, every control is reachable."""
from __future__ import annotations

import pytest
from qtpy.QtGui import QImage
from qtpy.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QWidget

from reach import on_screen, reveal

pytestmark = pytest.mark.gui

CONTROL_TYPES = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)


def controls(dock_widget: QWidget) -> list[QWidget]:
    """The buttons, spin boxes, drop-downs and text fields a user can reach in a dock."""
    content = dock_widget.scroll_area.widget()
    return [widget for widget in content.findChildren(CONTROL_TYPES) if widget.isVisibleTo(content)]


def test_both_docks_fit_a_1366_x_768_window(corrected_laptop, qtbot, tmp_path):
    train, review, viewer = corrected_laptop.train, corrected_laptop.review, corrected_laptop.viewer
    window = viewer.window._qt_window
    qtbot.waitExposed(window)
    assert (window.width(), window.height()) == (1366, 768)  # the docks did not stretch the window
    assert viewer.window._qt_viewer.canvas.native.width() >= 500  # and left the image room
    screen = on_screen(window)

    reached = []
    for dock_widget in (train, review):
        assert dock_widget.height() < window.height() / 2 + 100  # the two docks share the height
        for control in controls(dock_widget):
            reveal(dock_widget, control, qtbot)
            assert not control.visibleRegion().isEmpty(), f"{control!r} ({getattr(control, 'text', str)()})"
            assert screen.contains(on_screen(control)), f"{control!r} lies outside the window"
            reached.append(control)
    for key_control in (train.start_button, train.fine_tune_button, train.correct_button, train.learn_button,
                        *review.buttons.values(),
                        review.accept_all_button, review.export_button):
        assert key_control in reached

    table = review.table
    reveal(review, table, qtbot)
    first_row = on_screen(table.viewport(), table.visualItemRect(table.item(0, 0)))
    assert table.rowCount() > 0 and screen.contains(first_row)
    assert not table.horizontalHeader().visibleRegion().isEmpty()
    # named classes make the change column long; the status column stays in view, with no horizontal scrolling
    review.layer.features = {"index": [0, 1, 2], "class": ["background", "grey matter", "white matter"]}
    review.review.reordered.emit()  # the table is filled again, now with the names
    qtbot.wait(50)
    status = table.visualItemRect(table.item(0, table.columnCount() - 1))
    assert "matter" in table.item(0, 2).toolTip() and "→" in table.item(0, 2).toolTip()
    assert table.viewport().rect().contains(status) and not table.horizontalScrollBar().isVisible()

    review.select(review.review.rows()[1])  # the screenshot shows a region under review, outlined and framed
    reveal(train, train.correct_button, qtbot)
    reveal(review, review.buttons["accept"], qtbot)
    qtbot.wait(200)  # the canvas draws
    path = tmp_path / "review_1366x768.png"
    assert window.grab().save(str(path))
    assert (QImage(str(path)).width(), QImage(str(path)).height()) == (1366, 768)
