"""Review dock: keys, accept-all, brush edits, slices, autosave and restore, failing exports; the ranked and
sortable table, the outline and framing of a region, live re-selection with Min. region / Min. score."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from napari.utils.key_bindings import KeyBinding
from napari.utils.notifications import NotificationSeverity
from qtpy.QtCore import QPoint, Qt

from jcas.review import ACCEPTED, OPEN, REJECTED, autosave_path, log_path, region_key, session_autosave_path
from napari_jcas._settings import REVIEW_KEY
from napari_jcas._layers import HEATMAP_FLOOR
from napari_jcas._reader import read_file
from napari_jcas._review_keys import KEYS
from napari_jcas._review_table import COLUMNS
from napari_jcas._review_widget import RESULT_PAUSE_MS
from reach import click, press

pytestmark = pytest.mark.gui


def test_correct_adds_its_layers_and_leaves_the_mask_alone(corrected, noisy_mni):
    viewer, mask = corrected.viewer, corrected.mask
    assert [layer.name for layer in viewer.layers] == ["brain", "brain mask", "brain cleaned",
                                                       "brain disagreement", "brain proposal", "brain boundaries"]
    np.testing.assert_array_equal(mask.data, noisy_mni[1])
    for name in ("brain disagreement", "brain cleaned", "brain proposal"):
        layer = viewer.layers[name]
        np.testing.assert_array_equal(layer.scale, (2.5, 0.8, 0.9))
        assert layer.metadata["subject"] == "mni"
    heat = viewer.layers["brain disagreement"]
    assert heat.blending == "translucent" and tuple(heat.contrast_limits) == (0.0, 1.0)
    # shown: the image, the heatmap, the cleaned labels and the proposal's outlines; the drawn mask,
    # which the cleaned labels copy, is hidden
    assert [layer.name for layer in viewer.layers if layer.visible] == ["brain", "brain cleaned",
                                                                        "brain disagreement", "brain proposal"]
    # where the model agrees the heatmap is transparent; where it disagrees it is strong, and the image
    # still shows through
    # (so it is, too, where the model's doubt is small: at every boundary, in the background)
    agree, doubt, disagree = heat.colormap.map([0.0, HEATMAP_FLOOR, 1.0])
    assert agree[3] == 0 and doubt[3] == 0 and 0.3 < disagree[3] <= 0.5
    assert viewer.layers.selection.active is corrected.cleaned
    # a mask without a source file gets no export path, and nothing is saved before the first decision
    assert corrected.review.export_path.line_edit.value == "" and corrected.review.autosave.saved.text() == ""


def test_the_review_names_the_classes_when_the_mask_layer_does(docked, model_file, qtbot, tmp_path):
    docked.mask.features = {"index": [0, 1, 2], "class": ["background", "grey matter", "white matter"]}
    docked.train.training.load_model(model_file)
    docked.train.correcting.correct()
    qtbot.waitUntil(lambda: docked.train.session.worker is None, timeout=60_000)
    cleaned = docked.viewer.layers["brain cleaned"]
    assert list(cleaned.features["class"]) == ["background", "grey matter", "white matter"]
    names = {"background", "grey matter", "white matter"}
    changes = [docked.review.table.item(row, 2).text() for row in range(docked.review.table.rowCount())]
    assert changes and all(set(change.split(" → ")) <= names for change in changes)

    target = tmp_path / "brain_cleaned.tif"  # the dock's Export keeps the names in the file
    docked.review.export_path.value = str(target)
    qtbot.mouseClick(docked.review.export_button, Qt.MouseButton.LeftButton)
    assert target.is_file()
    [(_, attributes, layer_type)] = read_file(target)
    assert layer_type == "labels"
    assert list(attributes["features"]["class"]) == ["background", "grey matter", "white matter"]


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


def test_accept_all_above_threshold_is_one_undo_step(corrected, qtbot):
    review, cleaned = corrected.review, corrected.cleaned
    state = review.review
    threshold = float(np.median([r.score for r in state.regions]))
    accepted = review.accept_all(threshold)
    assert accepted == sum(r.score >= threshold for r in state.regions) > 1
    np.testing.assert_array_equal(cleaned.data, state.expected_labels())
    cleaned.undo()
    qtbot.waitUntil(lambda: state.counts()[ACCEPTED] == 0, timeout=2_000)
    np.testing.assert_array_equal(cleaned.data, state.drawn)
    assert f"open {len(state)}" in review.counts.text()


def test_brush_edits_are_free_and_tracked(corrected, qtbot):
    state, cleaned = corrected.review.review, corrected.cleaned
    region = state.regions[0]
    z, ys, xs = state.pixels(region.index)
    before = cleaned.data.copy()
    cleaned.paint((z[0], ys[0], xs[0]), region.new_label)  # brush the proposal by hand, pixel by pixel
    for y, x in zip(ys[1:], xs[1:]):
        cleaned.paint((z[0], y, x), region.new_label)
    qtbot.waitUntil(lambda: state.status[region.index] == ACCEPTED, timeout=2_000)
    cleaned.brush_size = 5
    cleaned.paint((1, 10, 10), 2)  # an edit outside any candidate stays as painted
    assert cleaned.data[1, 10, 10] == 2 and before[1, 10, 10] != 2


def test_current_slice_filter(corrected):
    review, viewer = corrected.review, corrected.viewer
    review.slice_only.value = True
    viewer.dims.set_point(0, 2.5)  # slice 1 in world units
    shown = {int(review.table.item(row, 1).text()) for row in range(review.table.rowCount())}
    assert shown == {1} and review.table.rowCount() == len(review.review.rows(1))
    review.select(review.review.rows(1)[0])
    review.next()
    assert review.review.current.slice == 1


def test_autosave_survives_removing_the_layer_and_restores_after_a_rerun(corrected, qtbot, tmp_path):
    review, viewer, train = corrected.review, corrected.viewer, corrected.train
    review.export_path.value = str(tmp_path / "brain_cleaned.tif")
    state = review.review
    review.accept()
    review.accept()
    review.reject()
    corrected.cleaned.paint((1, 5, 5), 2)
    decided = {r.index: state.status[r.index] for r in state.regions}
    viewer.layers.remove(corrected.cleaned)  # autosaves on the way out
    assert autosave_path(tmp_path / "brain_cleaned.tif").is_file()
    assert review.layer is None

    assert train.correcting.correct() is not None  # after a restart: correct again with the same model
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    again = review.review
    assert again is not state and review.layer is viewer.layers["brain cleaned"]
    assert {r.index: again.status[r.index] for r in again.regions} == decided
    assert review.layer.data[1, 5, 5] == 2
    assert "accepted 2 · rejected 1" in review.counts.text()


def test_a_review_autosaves_from_its_first_decision_and_says_when_napari_saved_it(corrected_shown, qtbot,
                                                                                   tmp_path, _review_sessions):
    review, viewer = corrected_shown.review, corrected_shown.viewer
    assert review.export_path.line_edit.value == ""  # the mask has no file, so no export path either
    click(review, review.buttons["accept"], qtbot)
    session = session_autosave_path(_review_sessions, review.review.drawn)
    qtbot.waitUntil(session.is_file)  # the session file beside no export path, named by the drawn mask
    qtbot.waitUntil(lambda: "Review autosaved" in review.autosave.saved.text())
    assert session.name in review.autosave.saved.text() and str(session) in review.autosave.saved.toolTip()
    assert review.unsaved_work() == ["1 review decisions on 'brain cleaned', not exported"]

    # File > Save Selected Layers with the plugin's writer: the dock says it, and autosaves beside that file
    target = tmp_path / "brain_cleaned.tif"
    viewer.layers.selection.active = corrected_shown.cleaned
    assert viewer.layers.save(str(target), selected=True, plugin="napari-jcas") == [str(target), str(log_path(target))]
    assert review.autosave.saved.text().startswith("Exported at") and "brain_cleaned.tif, with its review log" in review.autosave.saved.text()
    assert "Not autosaved" not in review.autosave.saved.text() and autosave_path(target).is_file()
    assert review.export_path.line_edit.value == str(target) and review.unsaved_work() == []
    click(review, review.buttons["reject"], qtbot)  # a later decision is not in the export
    qtbot.waitUntil(lambda: "1 decisions since" in review.autosave.saved.text())
    assert review.unsaved_work() == ["1 review decisions on 'brain cleaned', not exported"]


def test_autosave_of_another_mask_is_left_alone(corrected, tmp_path, notifications):
    review = corrected.review
    target = tmp_path / "other.tif"
    other = autosave_path(target)
    other.write_bytes(b"")
    review.export_path.value = str(target)
    assert review.autosave.save() is None and other.read_bytes() == b""
    assert notifications.messages(NotificationSeverity.WARNING)


def test_failing_export_keeps_the_review(corrected, tmp_path, notifications):
    review = corrected.review
    review.accept()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert review.export(blocker / "cleaned.tif", overwrite=False) == []
    assert "Export failed" in notifications.messages()[0]
    assert review.review.counts()[ACCEPTED] == 1 and review.layer is corrected.cleaned

    target = tmp_path / "cleaned.tif"
    assert len(review.export(target, overwrite=False)) == 2
    first = tifffile.imread(target)
    review.accept()
    assert review.export(target, overwrite=False) == []
    assert "refusing to overwrite" in notifications.messages()[1]
    np.testing.assert_array_equal(tifffile.imread(target), first)
    review.export(target, overwrite=True)
    np.testing.assert_array_equal(tifffile.imread(target), review.review.expected_labels())


def test_nothing_to_review(docked, notifications):
    docked.review.accept()
    docked.review.next()
    assert docked.review.export() == []
    assert "Nothing to export" in notifications.messages()[0]
    assert "Nothing to review" in notifications.messages(NotificationSeverity.WARNING)[0]
    assert OPEN not in docked.review.counts.text()


def test_a_started_review_does_not_replace_an_earlier_autosave(corrected, qtbot, tmp_path, notifications):
    review, train = corrected.review, corrected.train
    target = tmp_path / "brain_cleaned.tif"
    review.export_path.value = str(target)
    review.accept()
    saved = review.autosave.save().read_bytes()
    review.export_path.line_edit.value = ""
    assert train.correcting.correct() is not None  # a second correction, reviewed before choosing the export path
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    review.reject()
    review.export_path.value = str(target)
    assert any("earlier review" in message for message in notifications.messages(NotificationSeverity.WARNING))
    assert review.autosave.save() is None and autosave_path(target).read_bytes() == saved


def test_correcting_a_cleaned_layer_starts_a_new_review(corrected, qtbot):
    train, review, viewer = corrected.train, corrected.review, corrected.viewer
    first = review.review
    train.training.mask_choice.value = corrected.cleaned
    assert train.correcting.correct() is not None
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    reviewed = [layer.name for layer in review.layer_choice.choices]
    assert reviewed == ["brain cleaned", "brain cleaned [1]"]
    assert review.review is not first and review.layer is viewer.layers["brain cleaned [1]"]


def click_row(review, row: int, qtbot) -> None:
    """Click row ``row`` of the review table, scrolled into view first as the user would."""
    table = review.table
    review.scroll_area.ensureWidgetVisible(table)
    table.scrollToItem(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(row, 0)).center())


def click_header(review, column: str, qtbot) -> None:
    """Click the header of ``column`` of the review table."""
    header = review.table.horizontalHeader()
    review.scroll_area.ensureWidgetVisible(review.table)
    section = COLUMNS.index(column)
    pos = QPoint(header.sectionViewportPosition(section) + header.sectionSize(section) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def column(review, name: str) -> list[str]:
    """The texts of column ``name``, top to bottom."""
    table = review.table
    return [table.item(row, COLUMNS.index(name)).text() for row in range(table.rowCount())]


def test_the_table_is_ranked_by_expected_pixels_fixed_and_sorts_by_a_header_click(corrected_shown, qtbot):
    review, viewer = corrected_shown.review, corrected_shown.viewer
    state = review.review
    expected = [float(text) for text in column(review, "exp. px")]
    assert len(expected) > 2 and expected == sorted(expected, reverse=True)
    assert expected == [round(r.area * r.score) for r in state.regions]

    click_header(review, "score", qtbot)
    scores = [float(text) for text in column(review, "score")]
    assert scores == sorted(scores, reverse=True) and scores != [round(r.score, 2) for r in state.regions]
    click_row(review, 0, qtbot)
    assert round(state.current.score, 2) == scores[0]
    press(viewer, qtbot, Qt.Key.Key_N)  # Next follows the table's order
    assert state.current is state.regions[state.rows()[1]]
    assert review.table.selectionModel().selectedRows()[0].row() == 1
    click_header(review, "score", qtbot)  # again: lowest first
    assert [float(text) for text in column(review, "score")] == sorted(scores)

    click_header(review, "exp. px", qtbot)  # back to the rank order
    assert [float(text) for text in column(review, "exp. px")] == expected
    assert state.rows() == list(range(len(state)))


def test_a_clicked_row_is_outlined_and_framed_with_its_surroundings(corrected_shown, qtbot):
    review, viewer, cleaned = corrected_shown.review, corrected_shown.viewer, corrected_shown.cleaned
    state = review.review
    for row in (0, len(state) - 1):
        click_row(review, row, qtbot)
        region = state.regions[state.rows()[row]]
        assert state.current is region
        [rectangle] = viewer.layers["brain cleaned selected"].data
        y0, x0, y1, x1 = region.bbox
        assert np.all(rectangle[:, 0] == region.slice)
        assert rectangle[:, 1].min() < y0 and rectangle[:, 1].max() >= y1 - 1
        assert rectangle[:, 2].min() < x0 and rectangle[:, 2].max() >= x1 - 1
        assert viewer.layers.selection.active is cleaned  # the review keys and Ctrl+Z still act on it

        camera, (canvas_height, canvas_width) = viewer.scene.camera, viewer.canvas.size
        centre = cleaned.data_to_world([region.slice, (y0 + y1) / 2, (x0 + x1) / 2])
        np.testing.assert_allclose(camera.center[-2:], centre[-2:], atol=1e-6)
        assert viewer.dims.point[0] == pytest.approx(centre[0])
        seen = np.array([canvas_height, canvas_width]) / camera.zoom / np.abs(cleaned.scale[-2:])  # data pixels
        least = np.maximum(3 * np.array([y1 - y0, x1 - x0]), 64)
        assert np.all(seen >= least - 1e-6) and np.any(seen <= least + 1e-6)  # the box fills the view


def type_into(spin_box, text: str, qtbot) -> None:
    """Replace the text of a magicgui spin box by typing ``text``, as the user does."""
    spin_box.native.selectAll()
    qtbot.keyClicks(spin_box.native, text)


def test_the_region_floors_select_again_live_and_keep_every_decision(corrected, qtbot, monkeypatch):
    from jcas.nn.model import JCASModel

    train, review, cleaned, proposal = corrected.train, corrected.review, corrected.cleaned, corrected.proposal
    state = review.review
    review.accept()
    accepted = region_key(state.regions[0])
    pixels = cleaned.data.copy()
    monkeypatch.setattr(JCASModel, "predict", None)  # the network does not run again

    type_into(train.correcting.min_area_choice, "1", qtbot)
    type_into(train.correcting.min_score_choice, "0", qtbot)
    reselected = "(min. region 1 px, min. score 0.00, min. confidence 0.60)"
    qtbot.waitUntil(lambda: reselected in train.status.text(), timeout=5_000)
    more = review.review
    assert more is cleaned.metadata[REVIEW_KEY] and len(more) > len(state)
    assert review.table.rowCount() == len(more) and min(r.area for r in more.regions) < 200
    assert [more.status[r.index] for r in more.regions if region_key(r) == accepted] == [ACCEPTED]
    assert more.counts()[ACCEPTED] == 1
    np.testing.assert_array_equal(cleaned.data, pixels)  # the cleaned labels are as the user left them
    np.testing.assert_array_equal(proposal.data, more.proposal)

    type_into(train.correcting.min_area_choice, "100000", qtbot)  # no region is that large, but the decided one stays
    qtbot.waitUntil(lambda: "min. region 100000 px" in train.status.text(), timeout=5_000)
    [kept] = review.review.regions
    assert region_key(kept) == accepted and review.review.status[kept.index] == ACCEPTED
    assert review.table.rowCount() == 1 and "accepted 1 · rejected 0 · open 0" == review.counts.text()
    assert train.status.text().startswith("0 candidate corrections")
    assert train.status.text().endswith("your 1 accepted and 0 rejected regions and your edits are kept.")
    np.testing.assert_array_equal(cleaned.data, pixels)
    np.testing.assert_array_equal(proposal.data, review.review.proposal)


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
