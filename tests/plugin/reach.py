"""Reaching the docks' controls as a user does on a laptop screen: scroll to a control, check that it
shows inside the window, then click it."""
from __future__ import annotations

from qtpy.QtCore import QRect, Qt, QTimer
from qtpy.QtWidgets import QApplication, QMessageBox, QWidget

#: A laptop screen, the smallest the docks are made for (width, height).
LAPTOP_SCREEN = (1366, 768)


def on_screen(widget: QWidget, rect: QRect | None = None) -> QRect:
    """``rect`` of ``widget`` (default: all of it) in screen coordinates."""
    rect = widget.rect() if rect is None else rect
    return QRect(widget.mapToGlobal(rect.topLeft()), rect.size())


def reveal(dock_widget: QWidget, control: QWidget, qtbot) -> None:
    """Scroll ``dock_widget`` until ``control`` shows, as the user does with the scroll bar."""
    dock_widget.scroll_area.ensureWidgetVisible(control)
    qtbot.wait(10)


def assert_reachable(dock_widget: QWidget, control: QWidget, qtbot) -> None:
    """``control`` shows, once scrolled to, and lies inside the window."""
    reveal(dock_widget, control, qtbot)
    name = getattr(control, "text", lambda: "")()
    assert control.isEnabled(), f"{control!r} ({name}) is disabled"
    assert not control.visibleRegion().isEmpty(), f"{control!r} ({name}) cannot be seen"
    assert on_screen(control.window()).contains(on_screen(control)), f"{control!r} ({name}) lies outside the window"


def click(dock_widget: QWidget, control: QWidget, qtbot) -> None:
    """Scroll to ``control``, check that it can be seen and used, and click it."""
    assert_reachable(dock_widget, control, qtbot)
    qtbot.mouseClick(control, Qt.MouseButton.LeftButton)


def press(viewer, qtbot, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.ShiftModifier) -> None:
    """Press and release ``key`` on the viewer's canvas, as the user does."""
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, key, modifier)


def _when_open(kind: type, act, tries: int = 500) -> None:
    """Once the next modal window of ``kind`` opens, call ``act`` with it (polled every 10 ms, ``tries`` times)."""
    def act_when_open(left: int = tries) -> None:
        window = QApplication.activeModalWidget()
        if not isinstance(window, kind):
            if left:
                QTimer.singleShot(10, lambda: act_when_open(left - 1))
            return
        act(window)

    QTimer.singleShot(0, act_when_open)


def answer_next_box(qtbot, button: QMessageBox.StandardButton, texts: list[str], tries: int = 500) -> None:
    """Click ``button`` of the next message box that opens, as the user does; its text goes to ``texts``.

    Call it before the action that opens the box (which waits for the answer).
    """
    def answer(box: QMessageBox) -> None:
        texts.append(box.text())
        qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

    _when_open(QMessageBox, answer, tries)


def click_row(review, row: int, qtbot) -> None:
    """Click row ``row`` of the review table, scrolled into view first as the user would."""
    table = review.table
    review.scroll_area.ensureWidgetVisible(table)
    table.scrollToItem(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(row, 0)).center())
