"""Review dock: go through the ranked candidate corrections, accept or reject them, export.

A thin view on :class:`jcas.review.Review`, which the correction stores in the
metadata of the "<name> cleaned" layer: the dock listens to the review's signals (decided,
moved, reordered) and shows what they announce. Accepting writes the proposal into that layer
through its undo history (``Labels.data_setitem``), so Ctrl+Z undoes it like a brush
stroke, whichever layer is selected while the dock is open (a person's own Labels layer keeps its
own Ctrl+Z); every change to the layer (brush, eraser, undo, redo) re-syncs the decisions.
The table lists the candidates in rank order (most expected pixels fixed first); a click on
a column header sorts by that column, and Next / Previous follow the table's order. The
current region is outlined and framed with its surroundings. After Accept or Reject the decided
region stays in view, its result drawn, for :data:`RESULT_PAUSE_MS` before the next open one is
framed; a key pressed in that pause acts at once, on the next region, so fast reviewing is not held
up. The review autosaves from its first decision, beside the export path or, while there is none, to a
session file named by the drawn mask (:func:`session_folder`), and is restored from there. An export (the
dock's, or File > Save Selected Layers with the plugin's writer) is said in the dock, and closing napari
with decisions not exported asks first (:mod:`napari_jcas._quit_guard`).
"""
from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox
from napari.layers import Labels, Shapes
from napari.utils.key_bindings import KeyBinding
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QStandardPaths, Qt, QTimer
from qtpy.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QMessageBox, QPushButton,
                            QTableWidget, QTableWidgetItem, QWidget)

from jcas.data.labels import class_change
from jcas.errors import JCASInputError
from jcas.review import (ACCEPTED, OPEN, REJECTED, Review, autosave_conflict, autosave_path, default_export_path,
                         load_autosave, save_autosave, session_autosave_path)
from jcas.settings import REVIEW_KEY, SOURCE_KEY

from ._layers import EXPORT_KEY, focus, is_input, make_canvas_current, outline
from ._qt_layout import row, scrolling_layout
from ._quit_guard import ask_save_path, quit_guard
from ._reader import class_names
from ._writer import export_labels

if TYPE_CHECKING:
    import napari

#: Review actions: (label, key binding).
KEYS = {"accept": "Shift-A", "reject": "Shift-R", "previous": "Shift-P", "next": "Shift-N"}
#: Undoes the last change to the labels under review (a decision, a brush stroke), whichever layer is selected.
UNDO_KEY = "Control-Z"
#: Table columns, and what a click on each header sorts the review by (:data:`jcas.review.SORT_KEYS`).
COLUMN_SORT_KEYS = {"#": "index", "slice": "slice", "change": "change", "area": "area", "score": "score",
                    "exp. px": "expected_pixels_fixed", "status": "status"}
COLUMNS = tuple(COLUMN_SORT_KEYS)
NUMERIC_COLUMNS = ("#", "slice", "area", "score", "exp. px")
#: Columns whose first click sorts from the largest down (the others from the smallest up).
LARGEST_FIRST = ("area", "score", "exp. px")
#: The rank order: the column the table starts sorted by, largest first.
RANK_COLUMN = "exp. px"
AUTOSAVE_DELAY_MS = 1000
#: How long a decided region stays framed, with its result drawn, before the next open one is shown.
RESULT_PAUSE_MS = 800
#: The environment variable that names the folder of the session autosaves (:func:`session_folder`).
SESSION_FOLDER_ENV = "JCAS_REVIEW_SESSIONS"
LABELS_FILTER = "Labels (*.tif *.tiff *.nii *.nii.gz *.png)"


class ReviewWidget(QWidget):
    """Table of candidate corrections with accept / reject / next / previous, and export.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        self.layer: Labels | None = None
        self.review: Review | None = None
        self._shown_rows: list[int] = []
        self._outline: Shapes | None = None  # outlines the current region
        self._own_autosave: Path | None = None  # where this review autosaves
        self._foreign_autosave: Path | None = None  # an autosave this review must not replace
        self._autosaved = ""  # what the dock says about the latest autosave
        self._exported = ""  # what it says about the latest export

        self.layer_choice = ComboBox(label="Cleaned labels", choices=self._review_layers,
                                     tooltip="A '<name> cleaned' layer made by Correct in the Train dock")
        self.slice_only = CheckBox(text="Current slice only", value=False)
        self.threshold = FloatSpinBox(label="Score ≥", min=0.0, max=1.0, step=0.05, value=0.8)
        self.export_path = FileEdit(label="Export to", mode="w", filter=LABELS_FILTER,
                                    tooltip="Cleaned labels are saved here, the review log and autosave beside it")
        self.form = Container(widgets=[self.layer_choice, self.slice_only])
        self.export_form = Container(widgets=[self.export_path])

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # the change ("grey matter → white matter") takes the room left and wraps onto a second line there
        # (in full as its tooltip too), so that the class names are read whole and the status column stays
        # in view without a horizontal scroll bar
        header.setSectionResizeMode(COLUMNS.index("change"), QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionsClickable(True)  # Qt's sort indicator is not shown: it widens every column
        header.setToolTip("Click a column to sort by it, again to turn the order round. 'exp. px', the rank "
                          "order: area x score, how many pixels accepting the region is expected to fix")
        self._sort_order = (RANK_COLUMN, True)  # (column, largest first)
        self._show_sort_order()
        self.table.setMinimumHeight(160)

        self.buttons = {}
        for action, key in KEYS.items():
            button = QPushButton(f"{action.capitalize()} ({key.replace('-', '+')})")
            button.setToolTip(f"{action.capitalize()} the selected correction — key {key.replace('-', '+')}")
            self.buttons[action] = button
        self.accept_all_button = QPushButton("Accept all open ≥ score")
        self.accept_all_button.setToolTip("Accept every open correction scoring at least the threshold (one undo step)")
        self.export_button = QPushButton("Export cleaned labels")
        self.counts = QLabel()
        self.saved = QLabel()
        self.saved.setWordWrap(True)

        self.scroll_area, layout, pinned = scrolling_layout(self)
        layout.addWidget(self.form.native)
        layout.addLayout(row(self.buttons["previous"], self.buttons["next"]))
        layout.addWidget(self.table)
        threshold_row = row(self.accept_all_button)
        threshold_row.insertWidget(0, self.threshold.native)
        layout.addLayout(threshold_row)
        layout.addWidget(self.counts)
        layout.addWidget(self.export_form.native)
        layout.addWidget(self.saved)
        pinned.addLayout(row(self.buttons["accept"], self.buttons["reject"]))  # always in view
        pinned.addWidget(self.export_button)

        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(0)
        self._sync_timer.timeout.connect(self._sync)
        self._result_pause = QTimer(self)
        self._result_pause.setSingleShot(True)
        self._result_pause.setInterval(RESULT_PAUSE_MS)
        self._result_pause.timeout.connect(self._advance)

        actions = {"accept": self.accept, "reject": self.reject, "previous": self.previous, "next": self.next}
        self._key_callbacks = {}
        for action, slot in actions.items():
            self.buttons[action].clicked.connect(slot)
            self._key_callbacks[KEYS[action]] = _key_callback(action, slot)
        self._key_callbacks[UNDO_KEY] = _key_callback("undo", self.undo)
        self.destroyed.connect(_key_unbinder(viewer, self._key_callbacks))
        self.accept_all_button.clicked.connect(self.accept_all)
        self.export_button.clicked.connect(lambda: self.export())
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.table.cellClicked.connect(self._on_row_clicked)
        header.sectionClicked.connect(self._on_header_clicked)
        self.layer_choice.changed.connect(self.set_layer)
        self.slice_only.changed.connect(self._fill_table)
        self.export_path.changed.connect(self._on_export_path)
        viewer.dims.events.current_step.connect(self._on_slice_changed)
        viewer.layers.events.removing.connect(self._before_layer_removal)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._layers_changed)
        for layer in viewer.layers:
            self._take_undo_key(layer)
        quit_guard().watch(self)
        self._layers_changed()

    # -------------------------------------------------------------------- keys
    def event(self, event: QEvent) -> bool:
        """Bind the review keys while the widget sits in a dock; unbind them when the dock is closed.

        napari docks the widget by giving it a parent and closes the dock by taking it away.
        """
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is None:
                _unbind_keys(self.viewer, self._key_callbacks)
            else:
                for key, callback in self._key_callbacks.items():
                    self.viewer.bind_key(key, callback, overwrite=True)
        return super().event(event)

    # ------------------------------------------------------------------ layers
    def _before_layer_removal(self, _event=None) -> None:
        make_canvas_current(self)

    def _review_layers(self, _widget=None) -> list:
        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, Labels) and isinstance(layer.metadata.get(REVIEW_KEY), Review)]

    def _layers_changed(self, event=None) -> None:
        if event is not None and event.type == "inserted":
            self._take_undo_key(event.value)
        self.layer_choice.reset_choices()
        if event is not None and event.type == "inserted" and self.layer_choice.choices:
            newest = self.layer_choice.choices[-1]
            if newest is event.value:
                self.layer_choice.value = newest
        self.set_layer(self.layer_choice.value)

    def _take_undo_key(self, layer) -> None:
        """Make Ctrl+Z undo the review on one of the plugin's own Labels layers (a proposal, the boundaries),
        whose own Ctrl+Z would otherwise undo nothing while it is selected. The cleaned labels under review
        undo themselves, and a person's own Labels layer keeps its own Ctrl+Z (its brush strokes)."""
        if isinstance(layer, Labels) and not is_input(layer):
            layer.bind_key(UNDO_KEY, self._key_callbacks[UNDO_KEY], overwrite=True)

    def set_layer(self, layer: Labels | None) -> None:
        """Review the cleaned labels ``layer`` (``None``: nothing to review)."""
        if layer is self.layer:
            return
        if self.layer is not None:
            self._sync()
            if self.review.log:  # started: autosaved on the way out
                self.autosave()
            self.layer.events.paint.disconnect(self._sync_soon)
            self.layer.events.set_data.disconnect(self._sync_soon)
            self.layer.events.metadata.disconnect(self._on_metadata)
        self.layer = layer
        self._result_pause.stop()
        self._watch(None if layer is None else layer.metadata[REVIEW_KEY])
        self._own_autosave = self._foreign_autosave = None
        self._autosaved = self._exported = ""
        self._show_saved()
        self._clear_outline()
        self._sort_review()
        if layer is not None:
            layer.events.paint.connect(self._sync_soon)
            layer.events.set_data.connect(self._sync_soon)
            layer.events.metadata.connect(self._on_metadata)
            default = _default_export_path(layer)
            if default and (EXPORT_KEY in layer.metadata or not self._export_path_text()):
                self.export_path.value = default
            self._restore()
        self._fill_table()

    def _on_metadata(self, _event=None) -> None:
        """Take up a new review of the layer: its regions selected again with other thresholds
        (``napari_jcas._layers.show_reselection``), the decisions carried over."""
        review = self.layer.metadata.get(REVIEW_KEY)
        if review is self.review or not isinstance(review, Review):
            return
        self._watch(review)
        self._clear_outline()
        self._sort_review()
        self._fill_table()
        self._autosave_timer.start()

    def _watch(self, review: Review | None) -> None:
        """Listen to ``review`` (``None``: to nothing) instead of the review shown so far."""
        self._result_pause.stop()
        if self.review is not None:
            self.review.decided.disconnect(self._on_decided)
            self.review.moved.disconnect(self._on_moved)
            self.review.reordered.disconnect(self._fill_table)
            self.review.exported.disconnect(self._on_exported)
        self.review = review
        if review is not None:
            review.decided.connect(self._on_decided)
            review.moved.connect(self._on_moved)
            review.reordered.connect(self._fill_table)
            review.exported.connect(self._on_exported)

    def _on_decided(self, _regions: list) -> None:
        self._update_statuses()
        self._autosave_timer.start()

    def _on_moved(self) -> None:
        self._show(self.review.current)

    def _clear_outline(self) -> None:
        if self._outline is not None and self._outline in self.viewer.layers:
            self._outline.data = []

    # ------------------------------------------------------------------- table
    def _fill_table(self, *_) -> None:
        review, names = self.review, class_names(self.layer)
        self._shown_rows = [] if review is None else review.rows(self._current_slice() if self.slice_only.value else None)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._shown_rows))
        for table_row, position in enumerate(self._shown_rows):
            region = review.regions[position]
            cells = (region.index, region.slice, class_change(region.old_label, region.new_label, names), region.area,
                     f"{region.score:.2f}", f"{region.expected_pixels_fixed:.0f}", review.status[region.index])
            for number, (column, value) in enumerate(zip(COLUMNS, cells)):
                item = QTableWidgetItem(str(value))
                if column == "change":
                    item.setToolTip(str(value))
                if column in NUMERIC_COLUMNS:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(table_row, number, item)
        self._select_current()
        self.table.blockSignals(False)
        self._update_counts()

    def _on_header_clicked(self, section: int) -> None:
        """Sort by the clicked column: a new column from the largest down (area, score, exp. px) or from the
        smallest up (the others); the same column again the other way round."""
        column, largest_first = self._sort_order
        clicked = COLUMNS[section]
        self._sort_order = (clicked, not largest_first if clicked == column else clicked in LARGEST_FIRST)
        self._show_sort_order()
        self._sort_review()
        self._fill_table()

    def _show_sort_order(self) -> None:
        """An arrow in the header of the column the table is sorted by."""
        column, largest_first = self._sort_order
        self.table.setHorizontalHeaderLabels(
            [f"{name} {'▼' if largest_first else '▲'}" if name == column else name for name in COLUMNS])

    def _sort_review(self) -> None:
        """Order the review, and so the table and Next / Previous, as the table's header shows."""
        if self.review is not None:
            column, largest_first = self._sort_order
            self.review.sort(COLUMN_SORT_KEYS[column], descending=largest_first)

    def _update_statuses(self) -> None:
        for table_row, position in enumerate(self._shown_rows):
            region = self.review.regions[position]
            self.table.item(table_row, COLUMNS.index("status")).setText(self.review.status[region.index])
        self._update_counts()

    def _update_counts(self) -> None:
        if self.review is None:
            self.counts.setText("No corrections to review: run Correct in the Train dock.")
            return
        counts = self.review.counts()
        self.counts.setText(f"accepted {counts[ACCEPTED]} · rejected {counts[REJECTED]} · open {counts[OPEN]}")

    def _select_current(self) -> None:
        if self.review is None or self.review.position not in self._shown_rows:
            self.table.clearSelection()
            return
        table_row = self._shown_rows.index(self.review.position)
        self.table.selectRow(table_row)
        self.table.scrollToItem(self.table.item(table_row, 0))

    def _on_row_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self.review is not None and rows:
            self.select(self._shown_rows[rows[0].row()])

    def _on_row_clicked(self, table_row: int, _column: int) -> None:
        """A click on a row shows its region, also when the row was selected already (no selection signal then)."""
        if self.review is not None and self._shown_rows[table_row] == self.review.position:
            self._show(self.review.current)

    def _current_slice(self) -> int | None:
        if self.layer is None or self.layer.ndim != 3:
            return None
        point = self.viewer.dims.point[-self.layer.ndim:]
        return int(round(float(self.layer.world_to_data(point)[0])))

    def _on_slice_changed(self, _event=None) -> None:
        if self.slice_only.value:
            self._fill_table()

    # ------------------------------------------------------------- navigation
    def select(self, row: int) -> None:
        """Make row ``row`` of the review's regions current; outline it and frame it with the camera
        (again, when it is current already)."""
        self._result_pause.stop()
        if row == self.review.position:
            self._show(self.review.current)
        self.review.select(row)

    def next(self) -> None:
        """Go to the next candidate (within the current slice when so filtered); while a decision's result
        is on show, to the next open one, where the pause would have gone."""
        if self._result_pause.isActive():
            self._finish_pause()
        elif self.review is not None:
            self.review.step(+1, slice_index=self._filter_slice())

    def previous(self) -> None:
        """Go to the previous candidate."""
        self._result_pause.stop()
        if self.review is not None:
            self.review.step(-1, slice_index=self._filter_slice())

    def _filter_slice(self) -> int | None:
        return self._current_slice() if self.slice_only.value else None

    def _show(self, region) -> None:
        if region is None or self.layer is None:
            return
        self._outline = outline(self.viewer, self._outline, self.layer, region)
        focus(self.viewer, self.layer, region)
        if self.slice_only.value and self.review.position not in self._shown_rows:
            self._fill_table()
        self.table.blockSignals(True)
        self._select_current()
        self.table.blockSignals(False)

    # --------------------------------------------------------------- decisions
    def accept(self) -> None:
        """Accept the current candidate: the proposal replaces the labels in its region."""
        self._decide(self.review.accept if self.review else None)

    def reject(self) -> None:
        """Reject the current candidate (restoring the drawn labels if it was accepted)."""
        self._decide(self.review.reject if self.review else None)

    def _decide(self, decision) -> None:
        self._finish_pause()  # a decision made while the last one's result shows is for the next region
        region = None if self.review is None else self.review.current
        if region is None:
            show_warning("Nothing to review: select a cleaned layer with candidate corrections.")
            return
        self._apply(decision(region.index))
        self._result_pause.start()  # the result stays in view a moment, then the next open region

    def _finish_pause(self) -> None:
        """End the pause after a decision now, moving on as it would have."""
        if self._result_pause.isActive():
            self._result_pause.stop()
            self._advance()

    def _advance(self) -> None:
        """Frame the next open candidate (within the current slice when so filtered)."""
        if self.review is not None:
            self.review.step(+1, slice_index=self._filter_slice(), open_only=True)

    def undo(self) -> None:
        """Undo the last change to the cleaned labels under review: a decision (it opens again and stays
        current) or a brush stroke."""
        if self.layer is not None:
            self._result_pause.stop()
            self.layer.undo()

    def accept_all(self, threshold: float | None = None) -> int:
        """Accept every open candidate scoring at least ``threshold`` (default: the spin box); returns how many."""
        if self.review is None:
            show_warning("Nothing to review: select a cleaned layer with candidate corrections.")
            return 0
        threshold = self.threshold.value if threshold is None else threshold
        before = self.review.counts()[ACCEPTED]
        self._apply(self.review.accept_above(threshold))
        accepted = self.review.counts()[ACCEPTED] - before
        show_info(f"Accepted {accepted} corrections scoring ≥ {threshold:.2f}.")
        return accepted

    def _apply(self, edit) -> None:
        if edit.size:
            self.layer.data_setitem(edit.indices, edit.values)
        self._sync()

    def _sync_soon(self, _event=None) -> None:
        # napari announces an edit (paint event) before it writes the pixels: sync once it is done
        self._sync_timer.start()

    def _sync(self) -> None:
        """Update the decisions from the cleaned layer's pixels (after brush, eraser, undo, redo)."""
        self._sync_timer.stop()
        if self.review is not None:
            self.review.sync(self.layer.data)

    # ------------------------------------------------------------ persistence
    def _export_path_text(self) -> str:
        return self.export_path.line_edit.value.strip()

    def _export_target(self) -> Path | None:
        text = self._export_path_text()
        return Path(text).expanduser() if text else None

    def _on_export_path(self, _value=None) -> None:
        self._restore()

    def _autosave_path(self) -> Path:
        """Where the review autosaves: beside the export path, or the session file of its drawn mask."""
        target = self._export_target()
        if target is not None:
            return autosave_path(target)
        return session_autosave_path(session_folder(), self.review.drawn)

    def autosave(self) -> Path | None:
        """Save the review and the cleaned labels (:meth:`_autosave_path`); returns where, ``None`` when not."""
        self._autosave_timer.stop()
        if self.review is None:
            return None
        path = self._autosave_path()
        saved = None
        if path == self._foreign_autosave:
            self._autosaved = f"Not autosaving: {path.name} holds the review of another mask."
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                saved = self._own_autosave = save_autosave(path, self.review, self.layer.data)
            except (JCASInputError, OSError) as error:
                self._autosaved = f"Autosave to {path} failed: {error}"
            else:
                self._autosaved = f"Review autosaved at {time.strftime('%H:%M:%S')} to {path.name}."
                self.saved.setToolTip(f"The autosave, restored when this mask is corrected again: {path}")
        self._show_saved()
        return saved

    def _on_exported(self, path: str) -> None:
        """Say that the labels and the review log were written (by Export, or File > Save Selected Layers),
        make that the export path, and autosave beside it."""
        if Path(path) != self._export_target():
            self.export_path.value = path
        self._exported = f"Exported at {time.strftime('%H:%M:%S')} to {Path(path).name}, with its review log."
        self.autosave()

    def _show_saved(self) -> None:
        """Show what was saved: the latest export (and the decisions since), the latest autosave."""
        exported = self._exported
        if exported and self.review is not None and self.review.unexported:
            exported += f" {self.review.unexported} decisions since."
        self.saved.setText(" ".join(text for text in (exported, self._autosaved) if text))

    def _restore(self) -> None:
        """Take up an autosaved review of the same drawn mask, if there is one beside the export path.

        Only into a review that has not started; an autosave that cannot be taken up is left alone
        (and not overwritten).
        """
        if self.review is None:
            return
        path = self._autosave_path()
        if path in (self._own_autosave, self._foreign_autosave) or not path.is_file():
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
        self._own_autosave = path
        self._fill_table()
        show_info(f"Review restored from {path.name}: {matched} decisions.")

    def _leave_alone(self, path: Path, why: str) -> None:
        self._foreign_autosave = path
        show_warning(f"The autosave {path} {why}; it is left alone. "
                     "Choose another export path to autosave this review.")

    def export(self, path: str | Path | None = None, *, overwrite: bool | None = None) -> list[str]:
        """Save the cleaned labels and the review log.

        Parameters
        ----------
        path : path-like, optional
            Target; default: the 'Export to' field.
        overwrite : bool, optional
            Replace existing files. ``None`` asks in a dialog when a file exists.

        Returns
        -------
        list of str
            Files written (empty when nothing was written; the reason is shown).
        """
        if self.layer is None:
            show_error("Nothing to export: run Correct in the Train dock first.")
            return []
        if path is not None:
            self.export_path.value = str(path)
        target = self._export_target()
        if target is None:
            show_error("Choose where to export the cleaned labels ('Export to').")
            return []
        self._sync()
        if overwrite is None:
            overwrite = not target.exists() or _confirm_overwrite(self, target)
            if not overwrite:
                return []
        attributes = {"metadata": self.layer.metadata, "scale": self.layer.scale, "features": self.layer.features}
        try:
            written = export_labels(target, self.layer.data, attributes, overwrite=overwrite)
        except (JCASInputError, OSError) as error:
            show_error(f"Export failed, nothing was lost (the review stays open): {error}")
            return []
        show_info(f"Exported {', '.join(Path(p).name for p in written)}.")
        return written

    # ------------------------------------------------------- closing napari
    def unsaved_work(self) -> list[str]:
        """The review's decisions not yet exported, as the question before napari closes says them."""
        if self.review is None or not self.review.unexported:
            return []
        return [f"{self.review.unexported} review decisions on '{self.layer.name}', not exported"]

    def save_work(self) -> bool:
        """Export the cleaned labels and the review log (asking where, when 'Export to' is empty);
        whether they were written."""
        target = self._export_target() or ask_save_path(self, "Export the cleaned labels", LABELS_FILTER)
        return target is not None and bool(self.export(target))


def session_folder() -> Path:
    """The folder of the session autosaves: reviews of masks with no export path.

    The folder named by the environment variable :data:`SESSION_FOLDER_ENV`, else "napari-jcas/reviews"
    in the user's data folder (``QStandardPaths.GenericDataLocation``).
    """
    named = os.environ.get(SESSION_FOLDER_ENV)
    if named:
        return Path(named).expanduser()
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation),
                "napari-jcas", "reviews")


def _default_export_path(layer: Labels) -> str | None:
    """Where the review of the layer is exported: its own place (:data:`~napari_jcas._layers.EXPORT_KEY`, which
    replaces what 'Export to' said), else :func:`jcas.review.default_export_path` of the mask file or folder the
    layer came from, if known."""
    if EXPORT_KEY in layer.metadata:
        return str(layer.metadata[EXPORT_KEY])
    source = layer.metadata.get(SOURCE_KEY) or {}
    if not source.get("path"):
        return None
    return str(default_export_path(source["path"], from_folder=bool(source.get("files"))))


def _confirm_overwrite(parent: QWidget, target: Path) -> bool:
    answer = QMessageBox.question(parent, "Replace files?", f"{target} exists. Replace it and its review log?")
    return answer == QMessageBox.StandardButton.Yes


def _key_callback(action: str, slot):
    """A named key-binding callback for the method ``slot``, which it holds by a weak reference.

    napari calls it with the viewer and looks up its ``__name__`` on every key press. The weak
    reference keeps the viewer's keymap (and the ``destroyed`` slot) from keeping the widget alive.
    """
    method = weakref.WeakMethod(slot)

    def callback(_viewer) -> None:
        bound = method()
        if bound is not None:
            bound()

    callback.__name__ = callback.__qualname__ = f"jcas_review_{action}"
    return callback


def _unbind_keys(viewer, callbacks: dict) -> None:
    """Remove the key bindings in ``callbacks`` (key: callback) that are still bound to those callbacks."""
    for key, callback in callbacks.items():
        if viewer.keymap.get(KeyBinding.from_str(key)) is callback:
            viewer.bind_key(key, None)


def _key_unbinder(viewer, callbacks: dict):
    """A slot for the widget's ``destroyed`` signal that removes its key bindings (the widget is gone then)."""
    def unbind_review_keys(*_) -> None:
        _unbind_keys(viewer, callbacks)

    return unbind_review_keys
