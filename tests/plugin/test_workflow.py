"""The whole path in a real viewer on a laptop screen, through the controls a user clicks and the keys a user
presses: open, train, stop, correct, review, undo, export, reload, learn from the review."""
from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import tifffile
from qtpy.QtCore import Qt, QTimer

from jcas.nn.checkpoint import load_checkpoint
from jcas.review import ACCEPTED, OPEN, REJECTED
from reach import LAPTOP_SCREEN, click, press


@pytest.mark.gui
@pytest.mark.slow
@pytest.mark.slow
def test_open_train_stop_correct_review_undo_export_reload_learn(make_napari_viewer, qtbot, noisy_mni, tmp_path,
                                                                 notifications):
    images, noisy = noisy_mni
    tifffile.imwrite(tmp_path / "brain.tif", images)
    tifffile.imwrite(tmp_path / "brain_mask.tif", noisy)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(*LAPTOP_SCREEN)  # every control clicked below is checked to show on it
    [image] = viewer.open(tmp_path / "brain.tif", plugin="napari-jcas")
    [mask] = viewer.open(tmp_path / "brain_mask.tif", plugin="napari-jcas")
    assert mask._type_string == "labels"
    _, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    _, review = viewer.window.add_plugin_dock_widget("napari-jcas", "Review")
    train.training.image_choice.value, train.training.mask_choice.value = image, mask
    train.training.preset_choice.value, train.training.epochs_choice.value = "fast", 2
    train.correcting.min_area_choice.value = 100  # this short training proposes only a region or two of the default 400 px
    train.training.model_path.value = str(tmp_path / "models" / "brain.pt")

    # Start, then Stop after a few steps: training ends within a step and the model is kept and saved.
    click(train, train.training.start_button, qtbot)
    worker = train.session.worker
    assert worker is not None and not train.training.start_button.isEnabled() and train.training.stop_button.isEnabled()
    qtbot.waitUntil(lambda: len(train.plot.steps) >= 3, timeout=30_000)
    trainer = train.session.trainer
    total = trainer.total_steps
    assert worker.pbar.total == total and worker.pbar.desc.startswith("JCAS fold 1/2 warmup epoch 1/1")
    done_at_stop = trainer.completed_steps
    click(train, train.training.stop_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=10_000)
    assert done_at_stop <= trainer.completed_steps <= done_at_stop + 1 < total  # within one step
    assert train.session.model is trainer.model
    assert "stopped early" in train.status.text() and train.training.start_button.isEnabled()
    assert load_checkpoint(tmp_path / "models" / "brain.pt").label_map.values == (0, 1, 2)

    # Train to the end while the GUI thread keeps ticking: the viewer stays responsive.
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    click(train, train.training.start_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=600_000)
    timer.stop()
    assert train.plot.steps[-1] == total and f"{total}/{total}" in train.status.text()
    # the loss plot marks where each stage of each fold model starts (the losses jump there)
    assert [stage for _, stage in train.plot.stages] == ["fold 1/2 warmup", "fold 1/2 jcas", "fold 2/2 warmup",
                                                         "fold 2/2 jcas"]
    # The GUI thread kept running its event loop while the worker trained: a 20 ms timer fired
    # throughout (training on the GUI thread would let it fire only once it was over). The longest
    # gap is reported, not asserted: timing limits do not belong in tests on a shared machine.
    assert len(ticks) >= 10, f"the GUI timer fired only {len(ticks)} times during training"
    print(f"longest GUI pause during training: {max(np.diff(ticks)):.3f} s")
    assert set(train.plot.losses) >= {"total", "class"}

    # Correct: proposal, disagreement and cleaned layers in the mask's geometry; the mask is untouched.
    click(train, train.correcting.correct_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    np.testing.assert_array_equal(mask.data, noisy)
    proposal, heat, cleaned = (viewer.layers[f"brain {k}"] for k in ("proposal", "disagreement", "cleaned"))
    for layer in (proposal, heat, cleaned):
        np.testing.assert_array_equal(layer.scale, mask.scale)
        assert layer.metadata["jcas_source"]["path"] == str(tmp_path / "brain_mask.tif")
    np.testing.assert_array_equal(cleaned.data, noisy)
    assert heat.colormap.name == "jcas disagreement" and 0 <= heat.data.min() and heat.data.max() <= 1
    train.correcting.heatmap_choice.value = "affinity"
    np.testing.assert_array_equal(heat.data, heat.metadata["jcas_heatmaps"]["affinity"])

    # Review: the new cleaned layer is picked up, with a default export path beside the mask file.
    assert review.layer is cleaned and review.table.rowCount() == len(review.review) >= 3
    assert review.export_path.value == tmp_path / "brain_mask_cleaned.tif"
    state = review.review
    first, second, third = state.regions[:3]
    for row in (1, 0):  # choosing a row moves to its slice and centres the camera on it
        review.table.selectRow(row)
        region = state.regions[row]
        assert viewer.dims.point[0] == pytest.approx(cleaned.data_to_world([region.slice, 0, 0])[0])
        centre = [region.slice, (region.bbox[0] + region.bbox[2]) / 2, (region.bbox[1] + region.bbox[3]) / 2]
        np.testing.assert_allclose(viewer.scene.camera.center[-2:], cleaned.data_to_world(centre)[-2:])
    for key in (Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_A):  # accept, reject, accept: keys on the canvas
        press(viewer, qtbot, key)
    assert [state.status[r.index] for r in (first, second, third)] == [ACCEPTED, REJECTED, ACCEPTED]
    region = state.pixels(first.index)
    np.testing.assert_array_equal(cleaned.data[region], proposal.data[region])
    assert viewer.layers.selection.active is cleaned
    press(viewer, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z undoes the last accept
    qtbot.waitUntil(lambda: state.status[third.index] == OPEN, timeout=2_000)
    np.testing.assert_array_equal(cleaned.data[state.pixels(third.index)], noisy[state.pixels(third.index)])
    assert "accepted 1 · rejected 1" in review.counts.text()

    # Export in the input's format; reload it and compare with what the review decided.
    click(review, review.export_button, qtbot)
    written = [str(tmp_path / "brain_mask_cleaned.tif"), str(tmp_path / "brain_mask_cleaned_review.csv")]
    assert all((tmp_path / name).is_file() for name in written)
    [reloaded] = viewer.open(written[0], plugin="napari-jcas")
    assert reloaded._type_string == "labels"
    np.testing.assert_array_equal(reloaded.data, state.expected_labels())
    saved = tifffile.imread(written[0])
    assert saved.dtype == noisy.dtype and saved.shape == noisy.shape
    np.testing.assert_array_equal(saved, state.expected_labels())
    expected = noisy.copy()
    expected[region] = proposal.data[region]
    np.testing.assert_array_equal(saved, expected)
    with open(written[1]) as log:
        decisions = [(int(row["region"]), row["decision"]) for row in csv.DictReader(log)]
    assert decisions == [(first.index, "accepted"), (second.index, "rejected"), (third.index, "accepted"),
                         (third.index, "reopened")]

    # Learn from the review: a short fine-tune on the decisions; they and the cleaned pixels stay.
    decided = cleaned.data.copy()
    train.training.epochs_choice.value = 1
    click(train, train.correcting.learn_button, qtbot)
    qtbot.waitUntil(lambda: "Learnt from the review" in train.status.text(), timeout=600_000)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    np.testing.assert_array_equal(cleaned.data, decided)
    assert review.review is not state and review.layer is cleaned  # the new model's candidates, in the same layer
    assert not notifications.messages()
