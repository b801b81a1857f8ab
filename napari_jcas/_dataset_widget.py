"""Dataset dock: go through the files of a ``jcas correct`` run on a folder, worst first, and export them all.

A thin view on :class:`jcas.dataset_session.DatasetSession`. The person picks the images and masks folders and the
run's output folder (``OUT``, holding ``quality.csv``); the dock lists the files ranked by their estimated quality
(the file rows of ``quality.csv``) with the estimated Dice before -> after the run's proposals and their state (to
review, reviewed, skipped). The states are kept in ``OUT/review_session.json``, written on every change, so the
same folders loaded again resume where the person stopped; picking an output folder with a session fills in its
images and masks folders.

Opening a file (double-click, Open, Next file) replaces the layers of the file open before with the file's image,
drawn mask, and the run's outputs as the layers a correction adds (:func:`napari_jcas._layers.add_review_layers`):
the cleaned labels, the disagreement heatmap, the run's corrected mask as the proposal, the boundary view. Their
review is built from the run's outputs, without the model (:func:`jcas.dataset_session.run_review`: the regions where
the corrected mask differs from the drawn one), and the Review dock, opened with it, works on it as on any
correction. The review of each file is saved in ``OUT/review/`` (the Review dock exports it there and autosaves it
beside; the Dataset dock saves it too when the person leaves the file), and taken up again when the file is opened.

Export all writes every file's cleaned mask into a folder the person picks, asking before it replaces files and
never into the inputs or the run's folder: the person's review where they worked on a file, else the run's corrected
mask for a file marked reviewed, else the drawn mask (:mod:`jcas.dataset_session`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import Container, FileEdit
from napari.layers import Layer
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QMessageBox, QPushButton, QTableWidget,
                            QTableWidgetItem, QWidget)

from jcas.dataset_session import (FROM_CORRECTION, FROM_DRAWN, FROM_REVIEW, REVIEWED, SESSION_NAME, SKIPPED, STATES,
                                  DatasetSession, read_session, run_review)
from jcas.errors import JCASInputError

from ._layers import add_review_layers, heatmaps_of, make_canvas_current
from ._qt_layout import row, scrolling_layout
from ._reader import read_file
from ._settings import EXPORT_KEY, REVIEW_KEY

if TYPE_CHECKING:
    import napari

COLUMNS = ("file", "est. Dice", "state")
#: What the summary says the dataset's estimate is.
ESTIMATE_HELP = ("The estimated Dice of the drawn masks -> after the run's proposals: the mean over the files of "
                 "their rows in quality.csv")


class DatasetWidget(QWidget):
    """Files of a ``jcas correct`` run ranked by estimated quality, their review states, open / next, export all.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        self.session: DatasetSession | None = None
        self.open_stem: str | None = None  # the file whose layers are shown
        self._layers: list[Layer] = []  # the layers of the open file

        self.images_folder = FileEdit(label="Images", mode="d", tooltip="The --images folder of the run")
        self.masks_folder = FileEdit(label="Masks", mode="d", tooltip="The --masks folder: the drawn masks")
        self.out_folder = FileEdit(label="Run output", mode="d",
                                   tooltip="The --out folder of `jcas correct`, holding quality.csv")
        self.form = Container(widgets=[self.out_folder, self.images_folder, self.masks_folder])
        self.load_button = QPushButton("Load folders")
        self.load_button.setToolTip("List the run's files, worst first, and take up the review session kept there")
        self.summary = QLabel("Pick the run's output folder, its images and masks folders, and press Load folders.")
        self.summary.setWordWrap(True)
        self.summary.setToolTip(ESTIMATE_HELP)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("file"), QHeaderView.ResizeMode.Stretch)
        header.setToolTip("Worst first, as quality.csv ranks them. 'est. Dice': the file's estimated Dice as drawn "
                          "-> after the run's proposals")
        self.table.setMinimumHeight(160)

        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show the selected file, its drawn mask and the run's proposals (or double-click it)")
        self.next_button = QPushButton("Next file")
        self.next_button.setToolTip("Open the next file still to review, in the ranked order")
        self.reviewed_button = QPushButton("Mark reviewed")
        self.reviewed_button.setToolTip("Mark the selected file reviewed: your review of it is exported, or the "
                                        "run's corrected mask where you decided nothing")
        self.skip_button = QPushButton("Skip")
        self.skip_button.setToolTip("Mark the selected file skipped: its drawn mask is exported, unless you worked "
                                    "on it")
        self.export_folder = FileEdit(label="Export to", mode="d",
                                      tooltip="A folder for every file's cleaned mask (not an input, not the run's)")
        self.export_form = Container(widgets=[self.export_folder])
        self.export_button = QPushButton("Export all")
        self.export_button.setToolTip("Write every file's cleaned mask: your review where you worked on a file, "
                                      "else the run's corrected mask if reviewed, else the drawn mask")
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.scroll_area, layout, pinned = scrolling_layout(self)
        layout.addWidget(self.form.native)
        layout.addWidget(self.load_button)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.open_button)
        layout.addWidget(self.export_form.native)
        layout.addWidget(self.export_button)
        layout.addWidget(self.status)
        pinned.addLayout(row(self.reviewed_button, self.skip_button, self.next_button))  # always in view

        self.out_folder.changed.connect(self._on_out_folder)
        self.load_button.clicked.connect(lambda: self.load())
        self.open_button.clicked.connect(lambda: self.open_file())
        self.table.cellDoubleClicked.connect(lambda table_row, _column: self.open_file(self._stem_at(table_row)))
        self.next_button.clicked.connect(self.next_file)
        self.reviewed_button.clicked.connect(lambda: self.mark(REVIEWED))
        self.skip_button.clicked.connect(lambda: self.mark(SKIPPED))
        self.export_button.clicked.connect(lambda: self.export_all())
        self._update_actions()

    # ----------------------------------------------------------------- folders
    @staticmethod
    def _folder(edit: FileEdit) -> Path | None:
        text = edit.line_edit.value.strip()
        return Path(text).expanduser() if text else None

    def _on_out_folder(self, _value=None) -> None:
        """Fill in the images and masks folders that a session kept in the picked output folder names, where empty."""
        out = self._folder(self.out_folder)
        try:
            saved = read_session(out) if out is not None and out.is_dir() else None
        except JCASInputError:
            return  # Load folders says why
        for edit, key in ((self.images_folder, "images"), (self.masks_folder, "masks")):
            if saved and saved.get(key) and self._folder(edit) is None:
                edit.value = saved[key]

    def load(self, images=None, masks=None, out=None) -> DatasetSession | None:
        """List the files of the run (the folders given, default: the dock's fields) and take up its session.

        Returns the session, ``None`` when the folders cannot be read (the reason is shown).
        """
        for edit, value in ((self.out_folder, out), (self.images_folder, images), (self.masks_folder, masks)):
            if value is not None:
                edit.value = str(value)
        folders = [self._folder(edit) for edit in (self.images_folder, self.masks_folder, self.out_folder)]
        if None in folders:
            show_error("Pick the run's output folder, and the images and masks folders it corrected.")
            return None
        resumed = (folders[2] / SESSION_NAME).is_file()
        try:
            session = DatasetSession(*folders)
            session.save()
        except (JCASInputError, OSError) as error:
            show_error(f"Cannot load the folders: {error}")
            return None
        self._close_file()
        self.session = session
        self._fill_table()
        upcoming = session.next_to_review()
        if upcoming is not None:
            self.table.selectRow(self._row_of(upcoming))
        self.status.setText(f"Resumed the review kept in {SESSION_NAME}." if resumed else
                            f"Review states are kept in {session.path}.")
        return session

    # ------------------------------------------------------------------- table
    def _fill_table(self) -> None:
        session = self.session
        self.table.setRowCount(len(session.files))
        for table_row, estimate in enumerate(session.files):
            cells = (estimate.stem, f"{_dice(estimate.dice)} → {_dice(estimate.dice_after)}",
                     session.states[estimate.stem])
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if column == COLUMNS.index("est. Dice"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                font = item.font()
                font.setBold(estimate.stem == self.open_stem)  # the open file
                item.setFont(font)
                self.table.setItem(table_row, column, item)
        self._update_summary()
        self._update_actions()

    def _update_summary(self) -> None:
        counts, total = self.session.counts(), len(self.session.files)
        before, after = self.session.estimate()
        skipped = f", {counts[SKIPPED]} skipped" if counts[SKIPPED] else ""
        self.summary.setText(f"{counts[REVIEWED]} of {total} reviewed{skipped}, estimated Dice "
                             f"{_dice(before)} → {_dice(after)}")

    def _update_actions(self) -> None:
        loaded = self.session is not None
        for button in (self.open_button, self.next_button, self.reviewed_button, self.skip_button,
                       self.export_button):
            button.setEnabled(loaded)

    def _stem_at(self, table_row: int) -> str:
        return self.session.files[table_row].stem

    def _row_of(self, stem: str) -> int:
        return [estimate.stem for estimate in self.session.files].index(stem)

    def selected_stem(self) -> str | None:
        """The file of the selected row, else the open file."""
        rows = self.table.selectionModel().selectedRows()
        return self._stem_at(rows[0].row()) if rows and self.session is not None else self.open_stem

    # ------------------------------------------------------------------- files
    def open_file(self, stem: str | None = None) -> bool:
        """Show a file (default: the selected one) and its run's proposals for review; whether it worked.

        The file open before is saved (:meth:`_close_file`) and its layers removed. The Review dock opens on the
        new file's cleaned labels, and takes up its saved review.
        """
        stem = stem or self.selected_stem()
        if self.session is None or stem is None:
            show_error("Load the folders and select a file first.")
            return False
        pair = self.session.pairs[stem]
        try:
            (image_data, image_attributes, _), = read_file(pair.image, mask=False)
            (mask_data, mask_attributes, _), = read_file(pair.mask, mask=True)
            corrected, class_disagreement, affinity_disagreement, boundaries = self.session.load(stem)
            review = run_review(np.asarray(mask_data), corrected, class_disagreement)
        except JCASInputError as error:
            show_error(f"Cannot open {stem}: {error}")
            return False
        self._close_file()
        self.viewer.window.add_plugin_dock_widget("napari-jcas", "Review")  # it takes up the cleaned labels
        mask_attributes["name"] = f"{stem} mask"
        mask_attributes["metadata"][EXPORT_KEY] = str(self.session.review_target(stem))
        image = self.viewer.add_layer(Layer.create(image_data, image_attributes, "image"))
        mask = self.viewer.add_layer(Layer.create(mask_data, mask_attributes, "labels"))
        heatmaps = heatmaps_of(class_disagreement, affinity_disagreement)
        self._layers = [image, mask, *add_review_layers(self.viewer, image, mask, review, heatmaps, boundaries)]
        self.open_stem = stem
        self.viewer.reset_view()
        self._fill_table()
        self.table.selectRow(self._row_of(stem))
        saved = " (your saved review of it is taken up)" if self.session.saved_review(stem) else ""
        self.status.setText(f"Opened {stem}: {len(review)} proposals of the run{saved}. Review them in the Review "
                            "dock, then Mark reviewed or Skip.")
        return True

    def _cleaned(self) -> Layer | None:
        """The cleaned labels of the open file, while they are in the viewer."""
        shown = [layer for layer in self._layers if layer in self.viewer.layers and REVIEW_KEY in layer.metadata]
        return shown[0] if shown else None

    def save_open_file(self) -> Path | None:
        """Save the review of the open file when the person worked on it; returns where, ``None`` when not."""
        cleaned = self._cleaned()
        if self.session is None or self.open_stem is None or cleaned is None:
            return None
        try:
            return self.session.save_review(self.open_stem, cleaned.metadata[REVIEW_KEY], np.asarray(cleaned.data))
        except (JCASInputError, OSError) as error:
            show_error(f"Could not save the review of {self.open_stem}: {error}")
            return None

    def _close_file(self) -> None:
        """Save the open file's review and remove its layers."""
        self.save_open_file()
        shown = [layer for layer in self._layers if layer in self.viewer.layers]
        if shown:
            make_canvas_current(self)
        for layer in reversed(shown):
            self.viewer.layers.remove(layer)
        self._layers, self.open_stem = [], None

    def mark(self, state: str) -> None:
        """Give the selected file (else the open one) ``state``, one of :data:`jcas.dataset_session.STATES`."""
        stem = self.selected_stem()
        if self.session is None or stem is None:
            show_error("Load the folders and select a file first.")
            return
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        if stem == self.open_stem:
            self.save_open_file()
        try:
            self.session.set_state(stem, state)
        except (JCASInputError, OSError) as error:
            show_error(f"Could not save the review session: {error}")
            return
        self._fill_table()
        self.table.selectRow(self._row_of(stem))
        self.status.setText(f"{stem}: {state}.")

    def next_file(self) -> bool:
        """Open the next file still to review after the open one (going round); whether there was one."""
        if self.session is None:
            show_error("Load the folders first.")
            return False
        upcoming = self.session.next_to_review(self.open_stem)
        if upcoming is None:
            self.save_open_file()
            self.status.setText("Every file is reviewed or skipped. Export all writes the cleaned masks.")
            return False
        return self.open_file(upcoming)

    # ------------------------------------------------------------------ export
    def export_all(self, folder: str | Path | None = None, *, overwrite: bool | None = None) -> dict[str, str]:
        """Write every file's cleaned mask into ``folder`` (default: 'Export to').

        Parameters
        ----------
        folder : path-like, optional
        overwrite : bool, optional
            Replace existing files; ``None`` asks in a dialog when some exist.

        Returns
        -------
        dict of str to str
            What was written for each file (:meth:`jcas.dataset_session.DatasetSession.export_source`); empty when
            nothing was written (the reason is shown).
        """
        if folder is not None:
            self.export_folder.value = str(folder)
        target = self._folder(self.export_folder)
        if self.session is None or target is None:
            show_error("Load the folders and choose where to export ('Export to').")
            return {}
        self.save_open_file()
        try:
            existing = [path for path in self.session.export_targets(target).values() if path.exists()]
            if overwrite is None:
                overwrite = not existing or _confirm_overwrite(self, target, len(existing))
                if not overwrite:
                    return {}
            sources = self.session.export(target, overwrite=overwrite)
        except (JCASInputError, OSError) as error:
            show_error(f"Export failed, nothing was written: {error}")
            return {}
        made = {source: list(sources.values()).count(source) for source in (FROM_REVIEW, FROM_CORRECTION, FROM_DRAWN)}
        said = (f"Exported {len(sources)} masks to {target}: {made[FROM_REVIEW]} from your review, "
                f"{made[FROM_CORRECTION]} the run's correction (reviewed), {made[FROM_DRAWN]} as drawn.")
        self.status.setText(said)
        show_info(said)
        return sources


def _dice(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "–"


def _confirm_overwrite(parent: QWidget, folder: Path, count: int) -> bool:
    answer = QMessageBox.question(parent, "Replace files?", f"{count} of the masks exist in {folder} already. "
                                                             "Replace them?")
    return answer == QMessageBox.StandardButton.Yes
