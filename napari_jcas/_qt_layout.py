"""Small Qt layout helpers shared by the docks."""
from __future__ import annotations

from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import QFrame, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

#: Height a dock asks for at least: a few rows of controls, the rest scrolls.
MIN_DOCK_HEIGHT = 240


def row(*widgets: QWidget) -> QHBoxLayout:
    """A horizontal layout holding ``widgets`` side by side."""
    layout = QHBoxLayout()
    for widget in widgets:
        layout.addWidget(widget)
    return layout


class VerticalScrollArea(QScrollArea):
    """A scroll area that scrolls its content up and down only, and is as wide as the content needs.

    Inside a dock it lets the dock be shorter than its controls (they scroll) without making it
    narrower than them (which would clip them or add a horizontal scroll bar).
    """

    def __init__(self, content: QWidget):
        super().__init__()
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def _width_for(self, content_width: int) -> int:
        return content_width + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:
        content = self.widget().minimumSizeHint()
        return QSize(self._width_for(content.width()), min(content.height(), MIN_DOCK_HEIGHT))

    def sizeHint(self) -> QSize:
        content = self.widget().sizeHint()
        return QSize(self._width_for(content.width()), content.height())


def scrolling_layout(owner: QWidget) -> tuple[VerticalScrollArea, QVBoxLayout, QVBoxLayout]:
    """Fill ``owner`` with a :class:`VerticalScrollArea` over a bar that stays in view.

    A dock built this way fits any window height: with both docks open in a 1366 x 768 window
    its controls scroll instead of stretching the window beyond the screen, and the primary
    actions, put in the bar, never scroll out of view.

    Returns
    -------
    VerticalScrollArea, QVBoxLayout, QVBoxLayout
        The scroll area, the layout of the controls that scroll, and that of the bar below them.
    """
    content = QWidget()
    layout = QVBoxLayout(content)
    scroll_area = VerticalScrollArea(content)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.setSpacing(2)
    outer.addWidget(scroll_area)
    pinned = QVBoxLayout()
    pinned.setContentsMargins(9, 0, 9, 4)  # the scrolling controls' margins, so that the columns line up
    outer.addLayout(pinned)
    return scroll_area, layout, pinned
