"""Train dock: bad input gives a clear notification, and training stops cleanly whatever happens; the selectors
offer only inputs and never fall back to another layer; learning from the review keeps every decision, and Stop
cancels it."""
from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import ndimage

from jcas.review import ACCEPTED, OPEN, REJECTED, region_key
from napari_jcas._settings import REVIEW_KEY
from napari_jcas._review_table import COLUMNS
from reach import click, press

pytestmark = pytest.mark.gui


def test_with_no_layers_the_actions_on_a_pair_wait_for_one(make_napari_viewer, noisy_mni, notifications):
    viewer = make_napari_viewer()
    _, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    pair_actions = (train.training.start_button, train.training.fine_tune_button, train.correcting.correct_button)
    assert train.training.image_choice.value is None and train.training.mask_choice.value is None
    for button in pair_actions:
        assert not button.isEnabled() and "Choose the image and mask first" in button.toolTip()
    assert train.training.start() is None  # a script calling it is told why
    assert "choose an image layer and a mask layer" in notifications.messages()[0]
    assert train.session.worker is None

    images, noisy = noisy_mni  # opening an image and a mask fills the empty selectors
    image, mask = viewer.add_image(images, name="brain"), viewer.add_labels(noisy, name="brain mask")
    assert (train.training.image_choice.value, train.training.mask_choice.value) == (image, mask)
    assert all(button.isEnabled() for button in pair_actions)


def test_image_and_mask_of_different_shapes(docked, notifications):
    docked.train.training.mask_choice.value = docked.viewer.add_labels(docked.mask.data[:, :100], name="cropped")
    assert docked.train.training.start() is None
    [message] = notifications.messages()
    assert "(2, 233, 197)" in message and "(2, 100, 197)" in message and "differ" in message


def test_mask_with_a_single_class(docked, notifications):
    docked.train.training.mask_choice.value = docked.viewer.add_labels(np.ones_like(docked.mask.data), name="one class")
    assert docked.train.training.start() is None
    assert "single class" in notifications.messages()[0]


def test_non_integer_mask(docked, notifications):
    probabilities = docked.mask.data.astype(np.float32) / 2.5
    docked.train.training.mask_choice.value = docked.viewer.add_image(probabilities, name="probabilities")
    assert docked.train.training.start() is None
    assert "non-integer" in notifications.messages()[0]


def test_correct_with_no_model(docked, notifications):
    assert docked.train.correcting.correct() is None
    assert "no model" in notifications.messages()[0]
    assert [layer.name for layer in docked.viewer.layers] == ["brain", "brain mask"]


def test_loading_a_file_that_is_not_a_model(docked, tmp_path, notifications):
    bogus = tmp_path / "not_a_model.pt"
    bogus.write_bytes(b"\x00garbage")
    assert not docked.train.training.load_model(bogus)
    assert "not a readable napari-jcas model" in notifications.messages()[0]
    assert docked.train.session.model is None


def _train_a_few_steps(docked, qtbot):
    docked.train.training.epochs_choice.value = 2
    worker = docked.train.training.start()
    qtbot.waitUntil(lambda: len(docked.train.plot.steps) >= 2, timeout=30_000)
    return worker


def _redraw(viewer, times: int = 3) -> None:
    """Draw the canvas now, ``times`` times (the second draw after removing a layer used to crash)."""
    for _ in range(times):
        viewer.window._qt_viewer.canvas.native.repaint()


@pytest.mark.parametrize("when", ["during training", "after training", "during correction", "after correction"])
@pytest.mark.parametrize("which", ["image", "mask"])
def test_removing_an_input_layer_keeps_the_viewer_and_says_so_in_the_dock(docked_shown, model_file, qtbot,
                                                                          notifications, which, when):
    """In a shown window, whose canvas draws with OpenGL (with Mesa's software renderer under Xvfb)."""
    viewer, train = docked_shown.viewer, docked_shown.train
    if "training" in when:
        train.training.epochs_choice.value = 2
        assert train.training.start() is not None
        qtbot.waitUntil(lambda: bool(train.plot.steps), timeout=30_000)
        trainer = train.session.trainer
    else:
        assert train.training.load_model(model_file)
    if when == "after training":
        train.training.stop()
        qtbot.waitUntil(lambda: train.session.worker is None, timeout=10_000)
    if "correction" in when:
        assert train.correcting.correct() is not None
    if when == "after correction":
        qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    layer = getattr(docked_shown, which)
    viewer.layers.remove(layer)
    _redraw(viewer)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    _redraw(viewer)

    status = train.status.text()
    assert f"Layer '{layer.name}' was removed" in status
    if when == "during training":
        assert "so training stopped" in status and trainer.completed_steps < trainer.total_steps
    elif when == "during correction":
        assert "so the correction stopped; no layers added" in status
        assert "brain cleaned" not in viewer.layers
    else:
        assert "The model is kept" in status
    assert train.session.model is not None
    assert layer not in viewer.layers and len(viewer.layers) == (5 if when == "after correction" else 1)
    # its selector is empty, not fallen back to another layer, and what needs it waits for a new choice
    assert getattr(train, f"{which}_choice").value is None and not train.training.start_button.isEnabled()
    assert not notifications.messages()


def test_closing_the_viewer_stops_training(docked, qtbot):
    worker = _train_a_few_steps(docked, qtbot)
    finished = []
    worker.finished.connect(lambda: finished.append(True))
    docked.viewer.close()
    qtbot.waitUntil(lambda: bool(finished), timeout=10_000)
    assert not worker.is_running


def test_diverging_training_is_a_notification_and_controls_come_back(docked, qtbot, notifications):
    import torch

    worker = _train_a_few_steps(docked, qtbot)
    with torch.no_grad():  # wreck the weights under the running step: torch or the core raises
        for parameter in docked.train.session.trainer.model.parameters():
            parameter.fill_(float("nan"))
    qtbot.waitUntil(lambda: docked.train.session.worker is None, timeout=10_000)
    [message] = notifications.messages()
    assert "diverged" in message or "RuntimeError" in message
    assert docked.train.training.start_button.isEnabled() and "failed" in docked.train.status.text()
    assert not worker.is_running


def test_model_is_saved_where_the_user_says_and_loaded_back(corrected, tmp_path, notifications):
    train = corrected.train
    assert train.training.save_model() is None and "Choose where" in notifications.messages()[0]
    saved = train.training.save_model(tmp_path / "kept" / "model.pt")
    assert saved.is_file() and train.training.load_model(saved)
    assert train.session.model.label_map.values == (0, 1, 2)


@pytest.mark.parametrize("method, has_dar", [("jcas", False), ("jcas_dar", True)])
def test_the_method_chosen_is_the_method_trained(docked, qtbot, method, has_dar):
    assert set(docked.train.training.method_choice.choices) >= {"jcas", "jcas_dar", "ce"}
    docked.train.training.method_choice.value = method
    _train_a_few_steps(docked, qtbot)
    docked.train.training.stop()
    qtbot.waitUntil(lambda: docked.train.session.worker is None, timeout=10_000)
    config = docked.train.session.model.config
    assert config.method == method and config.use_dar is has_dar and config.use_affinity


def test_mirror_choice_reaches_the_correction(docked, model_file, qtbot):
    from jcas.correction.maps import correct

    train = docked.train
    assert train.training.load_model(model_file)
    train.correcting.mirror_choice.value = True
    train.correcting.correct()
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=60_000)
    expected = correct(train.session.model, docked.image.data, docked.mask.data, mirror=True).class_disagreement
    assert np.allclose(docked.viewer.layers["brain disagreement"].data, expected, atol=1e-6)


def test_region_thresholds_reach_the_correction(corrected, qtbot):
    """Min. region 1, min. score 0 and min. confidence 0 propose every pixel the model disagrees with (speckle)."""
    train = corrected.train
    default = len(corrected.review.review)
    train.correcting.min_area_choice.value, train.correcting.min_score_choice.value, train.correcting.min_confidence_choice.value = 1, 0.0, 0.0
    train.correcting.correct()
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=60_000)
    proposal = corrected.viewer.layers["brain proposal [1]"].data  # a second Correct adds new layers
    everything = len(corrected.review.review)
    assert everything > default
    assert np.array_equal(proposal != corrected.mask.data, corrected.review.review.region_map > 0)


def test_fine_tune_without_a_model_says_so(docked, qtbot, notifications):
    from qtpy.QtCore import Qt

    qtbot.mouseClick(docked.train.training.fine_tune_button, Qt.MouseButton.LeftButton)
    assert "No model to fine-tune" in notifications.messages()[0] and docked.train.session.worker is None


def test_the_fine_tune_button_continues_from_the_loaded_model(docked, model_file, qtbot):
    import torch
    from qtpy.QtCore import Qt

    train = docked.train
    assert train.training.load_model(model_file)
    loaded = train.session.model
    qtbot.mouseClick(train.training.fine_tune_button, Qt.MouseButton.LeftButton)
    assert train.session.worker is not None and not train.training.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(train.plot.steps) >= 3, timeout=60_000)
    running = train.status.text()
    assert re.search(r"Training on cpu: fold 1 of 2, warmup epoch 1/\d+, step \d+/\d+, about \d+ (s|min) left",
                     running), running
    qtbot.mouseClick(train.training.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    qtbot.wait(200)  # steps still queued for the GUI thread arrive now, and must not overwrite the outcome
    assert train.session.model is not loaded and "stopped early" in train.status.text()
    before, after = loaded.members[0], train.session.model.members[0]  # stopped in fold 0
    with torch.no_grad():
        change = max(float((a - b).norm() / b.norm()) for a, b in zip(after.parameters(), before.parameters())
                     if b.norm() > 0)
    assert 0 < change < 1, "it moved from the loaded weights, not from scratch"


def _accept_reject_and_paint(docked, qtbot) -> dict:
    """Accept the first region and reject the next with their keys, paint a few pixels away from every
    region with the brush; returns what the person decided (statuses by region key) and the painted pixels."""
    from qtpy.QtCore import Qt

    review, cleaned, viewer = docked.review, docked.cleaned, docked.viewer
    state = review.review
    for key in (Qt.Key.Key_A, Qt.Key.Key_R):
        region = state.current
        press(viewer, qtbot, key)
        qtbot.waitUntil(lambda: state.current is not region, timeout=2_000)  # the result shown, then the next
    decided = {region_key(r): state.status[r.index] for r in state.regions if state.status[r.index] != OPEN}
    assert sorted(decided.values()) == [ACCEPTED, REJECTED]
    near_a_region = ndimage.binary_dilation(state.region_map[0] > 0, iterations=4)
    ys, xs = np.nonzero(~near_a_region[2:-2, 2:-2])
    y, x = ys[len(ys) // 2] + 2, xs[len(xs) // 2] + 2
    before = cleaned.data.copy()
    cleaned.brush_size = 2
    cleaned.paint((0, y, x), (int(cleaned.data[0, y, x]) + 1) % 3)
    painted = cleaned.data != before
    assert painted.any() and not (painted & (state.region_map > 0)).any()
    return {"decided": decided, "painted": painted}


@pytest.mark.slow
def test_learning_from_my_review_keeps_every_decision_and_edit_and_proposes_only_where_i_did_not_decide(
        corrected_shown, qtbot, notifications):
    """Accept a region and reject another with their keys, paint with the brush, click "Learn from my review":
    the model is fine-tuned and proposes again in the same layers; the accepted region stays accepted with its
    proposal, the rejected one rejected, the painted pixels stay, and no new proposal touches any of them."""
    docked = corrected_shown
    train, review, cleaned, proposal = docked.train, docked.review, docked.cleaned, docked.proposal
    click(train, train.correcting.learn_button, qtbot)  # nothing decided yet
    assert "Nothing to learn from yet" in notifications.messages()[-1] and train.session.worker is None

    person = _accept_reject_and_paint(docked, qtbot)
    earlier, earlier_model = review.review, train.session.model
    kept_pixels, earlier_proposal, layers_before = cleaned.data.copy(), proposal.data.copy(), len(docked.viewer.layers)
    train.training.epochs_choice.value = 1
    click(train, train.correcting.learn_button, qtbot)
    assert train.session.worker is not None and "Learning from" in train.status.text()
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=600_000)

    assert "Learnt from the review: your 1 accepted and 1 rejected regions and your edits are kept" \
        in train.status.text()
    assert train.session.model is not earlier_model and len(docked.viewer.layers) == layers_before  # the same layers
    np.testing.assert_array_equal(cleaned.data, kept_pixels)  # every decision and edit, pixel for pixel
    now = review.review
    assert now is not earlier and now is cleaned.metadata[REVIEW_KEY]
    assert {region_key(r): now.status[r.index] for r in now.regions if now.status[r.index] != OPEN} \
        == person["decided"]
    assert "accepted 1 · rejected 1" in review.counts.text()
    statuses = [review.table.item(row, COLUMNS.index("status")).text() for row in range(review.table.rowCount())]
    assert statuses.count(ACCEPTED) == statuses.count(REJECTED) == 1 and OPEN in statuses
    assert now.log[:len(earlier.log)] == earlier.log  # the review log keeps what was decided
    decided_pixels = np.isin(earlier.region_map, [r.index for r in earlier.regions if earlier.status[r.index] != OPEN])
    np.testing.assert_array_equal(now.proposal[decided_pixels], earlier_proposal[decided_pixels])
    open_ids = [r.index for r in now.regions if now.status[r.index] == OPEN]
    assert not np.isin(now.region_map[decided_pixels | person["painted"]], open_ids).any(), \
        "a new proposal touches what the person decided"
    np.testing.assert_array_equal(proposal.data, now.proposal)
    assert not np.array_equal(proposal.data, earlier_proposal), "the fine-tuned model proposes anew"


def test_stop_while_learning_from_my_review_keeps_the_model_and_the_review_as_they_were(corrected_shown, qtbot):
    from qtpy.QtCore import Qt

    docked = corrected_shown
    train, review, cleaned, proposal = docked.train, docked.review, docked.cleaned, docked.proposal
    press(docked.viewer, qtbot, Qt.Key.Key_A)
    earlier, earlier_model, earlier_counts = review.review, train.session.model, review.counts.text()
    kept_pixels, earlier_proposal = cleaned.data.copy(), proposal.data.copy()
    train.training.epochs_choice.value = 2
    click(train, train.correcting.learn_button, qtbot)
    qtbot.waitUntil(lambda: len(train.plot.steps) >= 2, timeout=60_000)
    click(train, train.training.stop_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    qtbot.wait(200)  # steps still queued for the GUI thread arrive now, and must not overwrite the outcome

    assert re.fullmatch(r"Learning from the review was stopped after \d+/\d+ steps\. "
                        r"The model and the review are as they were\.", train.status.text()), train.status.text()
    assert train.session.model is earlier_model
    assert review.review is earlier and cleaned.metadata[REVIEW_KEY] is earlier
    assert review.counts.text() == earlier_counts and earlier.counts()[ACCEPTED] == 1
    np.testing.assert_array_equal(cleaned.data, kept_pixels)
    np.testing.assert_array_equal(proposal.data, earlier_proposal)
    assert train.correcting.learn_button.isEnabled() and train.training.start_button.isEnabled()

def _offered(choice) -> list[str]:
    """The names a selector's drop-down list offers, as the user sees them."""
    return [choice.native.itemText(row) for row in range(choice.native.count())]


def test_the_selectors_offer_only_inputs_not_the_plugins_results(corrected_shown):
    train, viewer = corrected_shown.train, corrected_shown.viewer
    made = {"brain cleaned", "brain disagreement", "brain proposal", "brain boundaries"}
    assert made <= {layer.name for layer in viewer.layers}
    empty = train.training.image_choice.null_string
    assert _offered(train.training.image_choice) == [empty, "brain"]
    # the cleaned labels are the person's corrected mask, and may be corrected again
    offered_masks = _offered(train.training.mask_choice)
    assert offered_masks[0] == empty and sorted(offered_masks[1:]) == ["brain", "brain cleaned", "brain mask"]


def test_removing_the_chosen_image_never_falls_back_to_another_layer(corrected_shown, qtbot, notifications):
    """After Correct the heatmap is an Image layer: removing the image must not put it in the image's place."""
    from qtpy.QtCore import Qt

    train, viewer = corrected_shown.train, corrected_shown.viewer
    layers_before = len(viewer.layers)
    viewer.layers.remove(corrected_shown.image)
    image_choice = train.training.image_choice
    assert image_choice.value is None and image_choice.native.currentText() == image_choice.null_string
    assert "Layer 'brain' was removed. The model is kept. Choose the image to train or correct next." \
        == train.status.text()
    for button in (train.training.start_button, train.training.fine_tune_button, train.correcting.correct_button):
        assert not button.isEnabled() and "Choose the image first" in button.toolTip()
    qtbot.mouseClick(train.correcting.correct_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(train.training.start_button, Qt.MouseButton.LeftButton)
    assert train.session.worker is None and len(viewer.layers) == layers_before - 1  # nothing ran, no layers added

    other = viewer.add_image(corrected_shown.mask.data.astype("uint8") * 80, name="another scan")
    assert train.training.image_choice.value is other  # a new image fills the empty selector
    assert train.correcting.correct_button.isEnabled() and train.training.start_button.isEnabled()
    assert not notifications.messages()


def _answer_the_dialog(qtbot, button, questions: list) -> None:
    """Once the next message box shows, note its text in ``questions`` and click its ``button``."""
    from qtpy.QtCore import Qt, QTimer
    from qtpy.QtWidgets import QApplication, QMessageBox

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QMessageBox):  # not shown yet
            QTimer.singleShot(10, answer)
            return
        questions.append(dialog.text())
        qtbot.mouseClick(dialog.button(button), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer)


def test_start_training_asks_before_it_discards_an_unsaved_model(docked_shown, qtbot, tmp_path):
    from qtpy.QtWidgets import QMessageBox

    train = docked_shown.train
    _train_a_few_steps(docked_shown, qtbot)
    click(train, train.training.stop_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
    unsaved, questions = train.session.model, []

    _answer_the_dialog(qtbot, QMessageBox.StandardButton.No, questions)
    click(train, train.training.start_button, qtbot)
    assert len(questions) == 1 and "The current model is not saved" in questions[0]
    assert train.session.worker is None and train.session.model is unsaved  # kept

    train.training.save_model(tmp_path / "kept.pt")  # saved: a new training needs no question
    click(train, train.training.start_button, qtbot)
    assert train.session.worker is not None and len(questions) == 1
    qtbot.waitUntil(lambda: len(train.plot.steps) >= 1, timeout=30_000)
    click(train, train.training.stop_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)

    _answer_the_dialog(qtbot, QMessageBox.StandardButton.Yes, questions)  # the new one is unsaved again
    click(train, train.training.start_button, qtbot)
    assert len(questions) == 2 and train.session.worker is not None
    click(train, train.training.stop_button, qtbot)
    qtbot.waitUntil(lambda: train.session.worker is None, timeout=30_000)
