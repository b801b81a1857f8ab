"""Small Qt layout helper shared by the docks."""
from __future__ import annotations

from qtpy.QtWidgets import QHBoxLayout, QWidget


def row(*widgets: QWidget) -> QHBoxLayout:
    """A horizontal layout holding ``widgets`` side by side."""
    layout = QHBoxLayout()
    for widget in widgets:
        layout.addWidget(widget)
    return layout
