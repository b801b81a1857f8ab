"""Review dock: go through the ranked candidate corrections, accept or reject them, export.

A thin view on :class:`jcas.review.Review`, which the correction stores in the
metadata of the "<name> cleaned" layer: the dock listens to the review's signals (decided,
moved, reordered) and shows what they announce. Accepting writes the proposal into that layer
through its undo history (``Labels.data_setitem``), so Ctrl+Z undoes it like a brush
stroke, whichever layer is selected while the dock is open (a person's own Labels layer keeps its
own Ctrl+Z); every change to the layer (brush, eraser, undo, redo) re-syncs the decisions.
The table (:mod:`napari_jcas._review_table`) lists the candidates in rank order; Next / Previous follow
the table's order. The current region is outlined and framed with its surroundings. After Accept or Reject
the decided region stays in view, its result drawn, for :data:`RESULT_PAUSE_MS` before the next open one is
framed; a key (:mod:`napari_jcas._review_keys`) pressed in that pause acts at once, on the next region, so
fast reviewing is not held up. The review autosaves from its first decision and is restored from there
(:mod:`napari_jcas._review_autosave`). An export (the dock's, or File > Save Selected Layers with the
plugin's writer) is said in the dock, and closing napari with decisions not exported asks first
(:mod:`napari_jcas._quit_guard`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox
from napari.layers import Labels, Shapes
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QTimer
from qtpy.QtWidgets import QLabel, QMessageBox, QPushButton, QWidget

from jcas.errors import JCASInputError
from jcas.review import ACCEPTED, OPEN, REJECTED, Review, default_export_path

from ._layers import focus, make_canvas_current, outline
from ._qt_layout import row, scrolling_layout
from ._quit_guard import ask_save_path, quit_guard
from ._reader import class_names
from ._review_autosave import ReviewAutosave
from ._review_keys import KEYS, ReviewKeys
from ._review_table import ReviewTable
from ._settings import ACCEPT_ALL_THRESHOLD, EXPORT_KEY, REVIEW_KEY, SOURCE_KEY
from ._writer import export_labels

if TYPE_CHECKING:
    import napari

#: How long a decided region stays framed, with its result drawn, before the next open one is shown.
RESULT_PAUSE_MS = 800
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
        self._outline: Shapes | None = None  # outlines the current region

        self.layer_choice = ComboBox(label="Cleaned labels", choices=self._review_layers,
                                     tooltip="A '<name> cleaned' layer made by Correct in the Train dock")
        self.slice_only = CheckBox(text="Current slice only", value=False)
        self.threshold = FloatSpinBox(label="Score ≥", min=0.0, max=1.0, step=0.05, value=ACCEPT_ALL_THRESHOLD)
        self.export_path = FileEdit(label="Export to", mode="w", filter=LABELS_FILTER,
                                    tooltip="Cleaned labels are saved here, the review log and autosave beside it")
        self.form = Container(widgets=[self.layer_choice, self.slice_only])
        self.export_form = Container(widgets=[self.export_path])
        self.table = ReviewTable()
        self.autosave = ReviewAutosave(self._export_target)

        self.buttons = {}
        for action, key in KEYS.items():
            button = QPushButton(f"{action.capitalize()} ({key.replace('-', '+')})")
            button.setToolTip(f"{action.capitalize()} the selected correction — key {key.replace('-', '+')}")
            self.buttons[action] = button
        self.accept_all_button = QPushButton("Accept all open ≥ score")
        self.accept_all_button.setToolTip("Accept every open correction scoring at least the threshold (one undo step)")
        self.export_button = QPushButton("Export cleaned labels")
        self.counts = QLabel()

        self.scroll_area, layout, pinned = scrolling_layout(self)
        layout.addWidget(self.form.native)
        layout.addLayout(row(self.buttons["previous"], self.buttons["next"]))
        layout.addWidget(self.table)
        threshold_row = row(self.accept_all_button)
        threshold_row.insertWidget(0, self.threshold.native)
        layout.addLayout(threshold_row)
        layout.addWidget(self.counts)
        layout.addWidget(self.export_form.native)
        layout.addWidget(self.autosave.saved)
        pinned.addLayout(row(self.buttons["accept"], self.buttons["reject"]))  # always in view
        pinned.addWidget(self.export_button)

        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(0)
        self._sync_timer.timeout.connect(self._sync)
        self._result_pause = QTimer(self)
        self._result_pause.setSingleShot(True)
        self._result_pause.setInterval(RESULT_PAUSE_MS)
        self._result_pause.timeout.connect(self._advance)

        actions = {"accept": self.accept, "reject": self.reject, "previous": self.previous, "next": self.next}
        for action, slot in actions.items():
            self.buttons[action].clicked.connect(slot)
        self.keys = ReviewKeys(viewer, {**actions, "undo": self.undo})
        self.keys.unbind_when_destroyed(self)
        self.accept_all_button.clicked.connect(lambda: self.accept_all())
        self.export_button.clicked.connect(lambda: self.export())
        self.table.chosen.connect(self.select)
        self.autosave.restored.connect(self._fill_table)
        self.layer_choice.changed.connect(self.set_layer)
        self.slice_only.changed.connect(self._fill_table)
        self.export_path.changed.connect(self._on_export_path)
        viewer.dims.events.current_step.connect(self._on_slice_changed)
        viewer.layers.events.removing.connect(self._before_layer_removal)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._layers_changed)
        for layer in viewer.layers:
            self.keys.take_undo_key(layer)
        quit_guard().watch(self)
        self._layers_changed()

    # -------------------------------------------------------------------- keys
    def event(self, event: QEvent) -> bool:
        """Bind the review keys while the widget sits in a dock; unbind them when the dock is closed.

        napari docks the widget by giving it a parent and closes the dock by taking it away.
        """
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is None:
                self.keys.unbind()
            else:
                self.keys.bind()
        return super().event(event)

    # ------------------------------------------------------------------ layers
    def _before_layer_removal(self, _event=None) -> None:
        make_canvas_current(self)

    def _review_layers(self, _widget=None) -> list:
        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, Labels) and isinstance(layer.metadata.get(REVIEW_KEY), Review)]

    def _layers_changed(self, event=None) -> None:
        if event is not None and event.type == "inserted":
            self.keys.take_undo_key(event.value)
        self.layer_choice.reset_choices()
        if event is not None and event.type == "inserted" and self.layer_choice.choices:
            newest = self.layer_choice.choices[-1]
            if newest is event.value:
                self.layer_choice.value = newest
        self.set_layer(self.layer_choice.value)

    def set_layer(self, layer: Labels | None) -> None:
        """Review the cleaned labels ``layer`` (``None``: nothing to review)."""
        if layer is self.layer:
            return
        if self.layer is not None:
            self._sync()
            if self.review.log:  # started: autosaved on the way out
                self.autosave.save()
            self.layer.events.paint.disconnect(self._sync_soon)
            self.layer.events.set_data.disconnect(self._sync_soon)
            self.layer.events.metadata.disconnect(self._on_metadata)
        self.layer = layer
        self._watch(None if layer is None else layer.metadata[REVIEW_KEY])
        self.autosave.follow(layer, self.review)
        self._clear_outline()
        if layer is not None:
            layer.events.paint.connect(self._sync_soon)
            layer.events.set_data.connect(self._sync_soon)
            layer.events.metadata.connect(self._on_metadata)
            default = _default_export_path(layer)
            if default and (EXPORT_KEY in layer.metadata or not self._export_path_text()):
                self.export_path.value = default
            self.autosave.restore()
        self._fill_table()

    def _on_metadata(self, _event=None) -> None:
        """Take up a new review of the layer: its regions selected again with other thresholds
        (``napari_jcas._layers.show_reselection``), the decisions carried over."""
        review = self.layer.metadata.get(REVIEW_KEY)
        if review is self.review or not isinstance(review, Review):
            return
        self._watch(review)
        self.autosave.take_up(review)
        self._clear_outline()
        self._fill_table()

    def _watch(self, review: Review | None) -> None:
        """Listen to ``review`` (``None``: to nothing) instead of the review shown so far, and list it in the table."""
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
        self.table.set_review(review)

    def _on_decided(self, _regions: list) -> None:
        self.table.update_statuses()
        self._update_counts()
        self.autosave.save_soon()

    def _on_moved(self) -> None:
        self._show(self.review.current)

    def _clear_outline(self) -> None:
        if self._outline is not None and self._outline in self.viewer.layers:
            self._outline.data = []

    def _fill_table(self, *_) -> None:
        self.table.fill(class_names(self.layer), self._filter_slice())
        self._update_counts()

    def _update_counts(self) -> None:
        if self.review is None:
            self.counts.setText("No corrections to review: run Correct in the Train dock.")
            return
        counts = self.review.counts()
        self.counts.setText(f"accepted {counts[ACCEPTED]} · rejected {counts[REJECTED]} · open {counts[OPEN]}")

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
        if self.slice_only.value and self.review.position not in self.table.shown_rows:
            self._fill_table()
        self.table.select_current()

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
        self.autosave.restore()

    def _on_exported(self, path: str) -> None:
        """Say that the labels and the review log were written (by Export, or File > Save Selected Layers),
        make that the export path, and autosave beside it."""
        if Path(path) != self._export_target():
            self.export_path.value = path
        self.autosave.exported(path)

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


def _default_export_path(layer: Labels) -> str | None:
    """Where the review of the layer is exported: its own place (:data:`~napari_jcas._settings.EXPORT_KEY`, which
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
