"""The docks on a laptop screen: with Train and Review open in a 1366 x 768 window, every control is reachable,
the primary actions are always in view, the class names read whole, the loss plot lets the dock scroll."""
from __future__ import annotations

import pytest
from qtpy.QtCore import QPoint, QPointF, QRect, Qt
from qtpy.QtGui import QFontMetrics, QImage, QWheelEvent
from qtpy.QtWidgets import QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QWidget

from napari_jcas._loss_plot import LossPlot

from reach import on_screen, reveal

pytestmark = pytest.mark.gui

CONTROL_TYPES = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)


def controls(dock_widget: QWidget) -> list[QWidget]:
    """The buttons, spin boxes, drop-downs and text fields a user can reach in a dock (scrolled or pinned)."""
    return [widget for widget in dock_widget.findChildren(CONTROL_TYPES) if widget.isVisibleTo(dock_widget)
            and not isinstance(widget.parent(), type(dock_widget.scroll_area))]  # not the scroll bars


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
    for key_control in (train.training.start_button, train.training.fine_tune_button, train.correcting.correct_button, train.correcting.learn_button,
                        *review.buttons.values(),
                        review.accept_all_button, review.export_button):
        assert key_control in reached

    table = review.table
    reveal(review, table, qtbot)
    first_row = on_screen(table.viewport(), table.visualItemRect(table.item(0, 0)))
    assert table.rowCount() > 0 and screen.contains(first_row)
    assert not table.horizontalHeader().visibleRegion().isEmpty()
    # named classes make the change column long: they wrap in it and read whole, and the status column stays
    # in view, with no horizontal scrolling
    review.layer.features = {"index": [0, 1, 2], "class": ["background", "grey matter", "white matter"]}
    review.review.reordered.emit()  # the table is filled again, now with the names
    qtbot.wait(50)
    status = table.visualItemRect(table.item(0, table.columnCount() - 1))
    change = table.item(0, 2)
    assert "matter" in change.text() and "→" in change.text() and change.toolTip() == change.text()
    cell = table.visualItemRect(change)
    needed = QFontMetrics(table.font()).boundingRect(QRect(0, 0, cell.width() - 8, 1000),
                                                     Qt.TextFlag.TextWordWrap, change.text())
    assert needed.width() <= cell.width() and needed.height() <= cell.height()  # every word shows
    assert table.viewport().rect().contains(status) and not table.horizontalScrollBar().isVisible()

    review.select(review.review.rows()[1])  # the screenshot shows a region under review, outlined and framed
    reveal(train, train.correcting.correct_button, qtbot)
    reveal(review, review.buttons["accept"], qtbot)
    qtbot.wait(200)  # the canvas draws
    path = tmp_path / "review_1366x768.png"
    assert window.grab().save(str(path))
    assert (QImage(str(path)).width(), QImage(str(path)).height()) == (1366, 768)


def test_the_primary_actions_stay_in_view_however_the_docks_scroll(corrected_laptop, qtbot):
    train, review = corrected_laptop.train, corrected_laptop.review
    qtbot.waitExposed(corrected_laptop.viewer.window._qt_window)
    pinned = {train: (train.training.start_button, train.training.stop_button),
              review: (review.buttons["accept"], review.buttons["reject"], review.export_button)}
    for dock_widget, actions in pinned.items():
        bar = dock_widget.scroll_area.verticalScrollBar()
        assert bar.maximum() > 0  # the dock scrolls at this size
        for value in (bar.minimum(), bar.maximum()):
            bar.setValue(value)
            qtbot.wait(10)
            for action in actions:
                assert not action.visibleRegion().isEmpty(), f"{action.text()} is out of view"
                assert on_screen(dock_widget).contains(on_screen(action))


def test_the_mouse_wheel_over_the_loss_plot_scrolls_the_dock(corrected_laptop, qtbot):
    train = corrected_laptop.train
    qtbot.waitExposed(corrected_laptop.viewer.window._qt_window)
    bar = train.scroll_area.verticalScrollBar()
    reveal(train, train.plot, qtbot)
    bar.setValue(bar.minimum() + 1)  # the plot shows, and the dock can scroll both ways
    before = bar.value()
    middle = QPointF(train.plot.width() / 2, train.plot.height() / 2)
    wheel = QWheelEvent(middle, QPointF(train.plot.mapToGlobal(middle.toPoint())), QPoint(), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(train.plot, wheel)
    assert bar.value() > before


def test_the_legend_hides_no_stage_label(qtbot):
    plot = LossPlot(interval=0.0)
    qtbot.addWidget(plot)
    plot.resize(400, 200)
    stages = ["fold 1/2 warmup", "fold 1/2 jcas", "fold 2/2 warmup", "fold 2/2 jcas"]
    for step in range(200):
        plot.add(step, {"class": 1.5 - step / 200, "aux": 1.0, "affinity": 0.5, "total": 3.0 - step / 100,
                        "volume": 0.2, "consistency": 0.1}, stage=stages[step // 50])
    plot.redraw()
    plot.figure.canvas.draw()
    renderer = plot.figure.canvas.get_renderer()
    legend = plot.legend.get_window_extent(renderer)
    labels = [text for text in plot.axes.texts if text.get_text() in stages]
    assert len(labels) == 3  # every stage after the first is named at its dashed line
    for label in labels:
        assert not label.get_window_extent(renderer).overlaps(legend), label.get_text()
