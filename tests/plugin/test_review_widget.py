"""Review dock: the buttons (Accept, Reject, Next, Previous, Accept all, Export), brush edits, slices, failing
exports, a new review when a cleaned layer is corrected again."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from napari.utils.notifications import NotificationSeverity
from qtpy.QtCore import Qt

from jcas.review import ACCEPTED, OPEN, REJECTED
from napari_jcas._layers import HEATMAP_FLOOR
from napari_jcas._reader import read_file
from napari_jcas._settings import ACCEPT_ALL_THRESHOLD
from reach import click

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


def test_the_accept_all_button_accepts_the_open_regions_at_the_threshold_as_one_undo_step(corrected_shown, qtbot):
    review, cleaned = corrected_shown.review, corrected_shown.cleaned
    state = review.review
    assert review.threshold.value == ACCEPT_ALL_THRESHOLD
    review.threshold.value = float(np.median([r.score for r in state.regions]))
    threshold = review.threshold.value  # as the spin box shows it, to two decimals
    click(review, review.accept_all_button, qtbot)
    chosen = {r.index for r in state.regions if r.score >= threshold}
    assert 1 < len(chosen) < len(state)  # not every region: the threshold is the spin box's
    assert {r.index for r in state.regions if state.status[r.index] == ACCEPTED} == chosen
    np.testing.assert_array_equal(cleaned.data, state.expected_labels())
    cleaned.undo()
    qtbot.waitUntil(lambda: state.counts()[ACCEPTED] == 0, timeout=2_000)
    np.testing.assert_array_equal(cleaned.data, state.drawn)
    assert f"open {len(state)}" in review.counts.text()


def test_the_next_previous_accept_and_reject_buttons(corrected_shown, qtbot):
    review, cleaned, proposal = corrected_shown.review, corrected_shown.cleaned, corrected_shown.proposal.data
    state = review.review
    first, second, third = (state.regions[row] for row in state.rows()[:3])
    click(review, review.buttons["next"], qtbot)
    assert state.current is second and review.table.selectionModel().selectedRows()[0].row() == 1
    click(review, review.buttons["previous"], qtbot)
    assert state.current is first

    click(review, review.buttons["accept"], qtbot)
    pixels = state.pixels(first.index)
    assert state.status[first.index] == ACCEPTED
    np.testing.assert_array_equal(cleaned.data[pixels], proposal[pixels])
    qtbot.waitUntil(lambda: state.current is second, timeout=2_000)  # the result shown, then the next open one
    click(review, review.buttons["reject"], qtbot)
    assert state.status[second.index] == REJECTED
    np.testing.assert_array_equal(cleaned.data[state.pixels(second.index)], state.drawn[state.pixels(second.index)])
    qtbot.waitUntil(lambda: state.current is third, timeout=2_000)
    assert "accepted 1 · rejected 1" in review.counts.text()


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


def test_correcting_a_cleaned_layer_starts_a_new_review(corrected, qtbot):
    train, review, viewer = corrected.train, corrected.review, corrected.viewer
    first = review.review
    train.training.mask_choice.value = corrected.cleaned
    assert train.correcting.correct() is not None
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    reviewed = [layer.name for layer in review.layer_choice.choices]
    assert reviewed == ["brain cleaned", "brain cleaned [1]"]
    assert review.review is not first and review.layer is viewer.layers["brain cleaned [1]"]


