"""The Dataset dock in a real napari viewer: a real `jcas correct` run on PNG files, its files worst first, opened
for the Review dock with real clicks, their states kept in the session file and restored by a new dock, and the
export of every cleaned mask."""
from __future__ import annotations

import json

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QMessageBox

from dataset_run import correct_folder_run, tiny_model
from jcas.data.io import read_array
from jcas.dataset_session import REVIEWED, SESSION_NAME, SKIPPED, TO_REVIEW
from jcas.review import ACCEPTED
from reach import answer_next_box, click

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A `jcas correct` run on three PNG pairs of the MNI sample, with a model trained in seconds."""
    from jcas.data.samples import load_sample

    images, masks = load_sample("mni_tissue")
    root = tmp_path_factory.mktemp("dataset")
    return correct_folder_run(root, images[2:5], masks[2:5], tiny_model(images[2:5], masks[2:5], root / "model.pt"))


def dock(viewer):
    return viewer.window.add_plugin_dock_widget("napari-jcas", "Dataset")[1]


def states(widget) -> list[str]:
    return [widget.table.item(row, 2).text() for row in range(widget.table.rowCount())]


def test_files_ranked_opened_marked_and_resumed_by_a_new_dock(make_napari_viewer, run, qtbot, tmp_path):
    viewer = make_napari_viewer(show=True)
    widget = dock(viewer)
    widget.out_folder.value = str(run.out)
    widget.images_folder.value = str(run.images)
    widget.masks_folder.value = str(run.masks)
    click(widget, widget.load_button, qtbot)
    assert [widget.table.item(row, 0).text() for row in range(3)][0] == "slice2", "the worst drawn mask first"
    assert states(widget) == [TO_REVIEW] * 3
    assert widget.summary.text().startswith("0 of 3 reviewed, estimated Dice 0.")

    click(widget, widget.next_button, qtbot)  # opens the first file to review: the worst
    first = widget.open_stem
    assert first == "slice2"
    names = [layer.name for layer in viewer.layers]
    assert {first, f"{first} mask", f"{first} cleaned", f"{first} disagreement", f"{first} proposal"} <= set(names)
    review_widget = viewer.window.add_plugin_dock_widget("napari-jcas", "Review")[1]
    cleaned = viewer.layers[f"{first} cleaned"]
    assert review_widget.layer is cleaned, "the Review dock works on the opened file"
    proposal = read_array(run.out / f"{first}.png")
    assert np.array_equal(viewer.layers[f"{first} proposal"].data, proposal)
    if len(review_widget.review):
        click(review_widget, review_widget.buttons["accept"], qtbot)
        assert ACCEPTED in review_widget.review.status.values()
    else:
        cleaned.data[0, 0] = 2  # the person's own edit
    click(widget, widget.reviewed_button, qtbot)
    assert widget.session.saved_review(first) is not None, "the work on the file is saved with the run"
    worked = np.asarray(cleaned.data).copy()

    click(widget, widget.next_button, qtbot)
    second = widget.open_stem
    assert second != first and f"{first} cleaned" not in [layer.name for layer in viewer.layers]
    click(widget, widget.skip_button, qtbot)
    assert states(widget)[:2] == [REVIEWED, SKIPPED]
    assert widget.summary.text().startswith("1 of 3 reviewed, 1 skipped, estimated Dice")
    saved = json.loads((run.out / SESSION_NAME).read_text())
    assert saved["states"][first] == REVIEWED and saved["states"][second] == SKIPPED

    # closing the dock and opening a new one on the same folders resumes
    viewer.window.remove_dock_widget(viewer.window._wrapped_dock_widgets["Dataset (napari-jcas)"])
    again = dock(viewer)
    assert again is not widget
    again.out_folder.value = str(run.out)  # the session fills in the images and masks folders
    assert again.images_folder.value.resolve() == run.images.resolve()
    click(again, again.load_button, qtbot)
    assert states(again) == [REVIEWED, SKIPPED, TO_REVIEW]
    assert again.summary.text().startswith("1 of 3 reviewed, 1 skipped")
    again.table.selectRow(0)
    click(again, again.open_button, qtbot)
    assert np.array_equal(viewer.layers[f"{first} cleaned"].data, worked), "the saved review is taken up"

    export = tmp_path / "cleaned"
    again.export_folder.value = str(export)
    click(again, again.export_button, qtbot)
    third = again.session.files[2].stem
    assert np.array_equal(read_array(export / f"{first}.png"), worked)
    assert np.array_equal(read_array(export / f"{second}.png"), read_array(run.masks / f"{second}.png"))
    assert np.array_equal(read_array(export / f"{third}.png"), read_array(run.masks / f"{third}.png"))

    before = (export / f"{first}.png").read_bytes()
    (export / f"{first}.png").write_bytes(b"not replaced")
    texts = []
    answer_next_box(qtbot, QMessageBox.StandardButton.No, texts)
    click(again, again.export_button, qtbot)
    assert "exist" in texts[0] and (export / f"{first}.png").read_bytes() == b"not replaced"
    answer_next_box(qtbot, QMessageBox.StandardButton.Yes, texts)
    click(again, again.export_button, qtbot)
    assert (export / f"{first}.png").read_bytes() == before


def test_export_into_an_input_is_refused(make_napari_viewer, run, qtbot, notifications):
    widget = dock(make_napari_viewer())
    widget.load(run.images, run.masks, run.out)
    widget.export_folder.value = str(run.masks)
    before = {path.name: path.read_bytes() for path in run.masks.iterdir()}
    qtbot.mouseClick(widget.export_button, Qt.MouseButton.LeftButton)
    assert any("never go onto or into an input" in message for message in notifications.messages())
    assert {path.name: path.read_bytes() for path in run.masks.iterdir()} == before
