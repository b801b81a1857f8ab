"""Train dock: bad input gives a clear notification, and training stops cleanly whatever happens."""
from __future__ import annotations

import re

import numpy as np
import pytest

from reach import press

pytestmark = pytest.mark.gui


def test_start_with_no_layers(make_napari_viewer, notifications):
    viewer = make_napari_viewer()
    _, train = viewer.window.add_plugin_dock_widget("napari-jcas", "Train")
    assert train.start() is None
    assert "choose an image layer and a mask layer" in notifications.messages()[0]
    assert train.start_button.isEnabled() and train.worker is None


def test_image_and_mask_of_different_shapes(docked, notifications):
    docked.train.mask_choice.value = docked.viewer.add_labels(docked.mask.data[:, :100], name="cropped")
    assert docked.train.start() is None
    [message] = notifications.messages()
    assert "(2, 233, 197)" in message and "(2, 100, 197)" in message and "differ" in message


def test_mask_with_a_single_class(docked, notifications):
    docked.train.mask_choice.value = docked.viewer.add_labels(np.ones_like(docked.mask.data), name="one class")
    assert docked.train.start() is None
    assert "single class" in notifications.messages()[0]


def test_non_integer_mask(docked, notifications):
    probabilities = docked.mask.data.astype(np.float32) / 2.5
    docked.train.mask_choice.value = docked.viewer.add_image(probabilities, name="probabilities")
    assert docked.train.start() is None
    assert "non-integer" in notifications.messages()[0]


def test_correct_with_no_model(docked, notifications):
    assert docked.train.correct() is None
    assert "no model" in notifications.messages()[0]
    assert [layer.name for layer in docked.viewer.layers] == ["brain", "brain mask"]


def test_loading_a_file_that_is_not_a_model(docked, tmp_path, notifications):
    bogus = tmp_path / "not_a_model.pt"
    bogus.write_bytes(b"\x00garbage")
    assert not docked.train.load_model(bogus)
    assert "not a readable napari-jcas model" in notifications.messages()[0]
    assert docked.train.model is None


def _train_a_few_steps(docked, qtbot):
    docked.train.epochs_choice.value = 2
    worker = docked.train.start()
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
        train.epochs_choice.value = 2
        assert train.start() is not None
        qtbot.waitUntil(lambda: bool(train.plot.steps), timeout=30_000)
        trainer = train.trainer
    else:
        assert train.load_model(model_file)
    if when == "after training":
        train.stop()
        qtbot.waitUntil(lambda: train.worker is None, timeout=10_000)
    if "correction" in when:
        assert train.correct() is not None
    if when == "after correction":
        qtbot.waitUntil(lambda: train.worker is None, timeout=30_000)
    layer = getattr(docked_shown, which)
    viewer.layers.remove(layer)
    _redraw(viewer)
    qtbot.waitUntil(lambda: train.worker is None, timeout=30_000)
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
    assert train.model is not None and train.start_button.isEnabled()
    assert layer not in viewer.layers and len(viewer.layers) == (5 if when == "after correction" else 1)
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
        for parameter in docked.train.trainer.model.parameters():
            parameter.fill_(float("nan"))
    qtbot.waitUntil(lambda: docked.train.worker is None, timeout=10_000)
    [message] = notifications.messages()
    assert "diverged" in message or "RuntimeError" in message
    assert docked.train.start_button.isEnabled() and "failed" in docked.train.status.text()
    assert not worker.is_running


def test_model_is_saved_where_the_user_says_and_loaded_back(corrected, tmp_path, notifications):
    train = corrected.train
    assert train.save_model() is None and "Choose where" in notifications.messages()[0]
    saved = train.save_model(tmp_path / "kept" / "model.pt")
    assert saved.is_file() and train.load_model(saved)
    assert train.model.label_map.values == (0, 1, 2)


@pytest.mark.parametrize("method, has_dar", [("jcas", False), ("jcas_dar", True)])
def test_the_method_chosen_is_the_method_trained(docked, qtbot, method, has_dar):
    assert set(docked.train.method_choice.choices) >= {"jcas", "jcas_dar", "ce"}
    docked.train.method_choice.value = method
    _train_a_few_steps(docked, qtbot)
    docked.train.stop()
    qtbot.waitUntil(lambda: docked.train.worker is None, timeout=10_000)
    config = docked.train.model.config
    assert config.method == method and config.use_dar is has_dar and config.use_affinity


def test_mirror_choice_reaches_the_correction(docked, model_file, qtbot):
    from jcas.correction.maps import correct

    train = docked.train
    assert train.load_model(model_file)
    train.mirror_choice.value = True
    train.correct()
    qtbot.waitUntil(lambda: train.worker is None, timeout=60_000)
    expected = correct(train.model, docked.image.data, docked.mask.data, mirror=True).class_disagreement
    assert np.allclose(docked.viewer.layers["brain disagreement"].data, expected, atol=1e-6)


def test_region_thresholds_reach_the_correction(corrected, qtbot):
    """Min. region 1, min. score 0 and min. confidence 0 propose every pixel the model disagrees with (speckle)."""
    train = corrected.train
    default = len(corrected.review.review)
    train.min_area_choice.value, train.min_score_choice.value, train.min_confidence_choice.value = 1, 0.0, 0.0
    train.correct()
    qtbot.waitUntil(lambda: train.worker is None, timeout=60_000)
    proposal = corrected.viewer.layers["brain proposal [1]"].data  # a second Correct adds new layers
    everything = len(corrected.review.review)
    assert everything > default
    assert np.array_equal(proposal != corrected.mask.data, corrected.review.review.region_map > 0)


def test_fine_tune_without_a_model_says_so(docked, qtbot, notifications):
    from qtpy.QtCore import Qt

    qtbot.mouseClick(docked.train.fine_tune_button, Qt.MouseButton.LeftButton)
    assert "No model to fine-tune" in notifications.messages()[0] and docked.train.worker is None


def test_the_fine_tune_button_continues_from_the_loaded_model(docked, model_file, qtbot):
    import torch
    from qtpy.QtCore import Qt

    train = docked.train
    assert train.load_model(model_file)
    loaded = train.model
    qtbot.mouseClick(train.fine_tune_button, Qt.MouseButton.LeftButton)
    assert train.worker is not None and not train.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(train.plot.steps) >= 3, timeout=60_000)
    running = train.status.text()
    assert re.search(r"Training on cpu: fold 1 of 2, warmup epoch 1/\d+, step \d+/\d+, about \d+ (s|min) left",
                     running), running
    qtbot.mouseClick(train.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: train.worker is None, timeout=30_000)
    qtbot.wait(200)  # steps still queued for the GUI thread arrive now, and must not overwrite the outcome
    assert train.model is not loaded and "stopped early" in train.status.text()
    before, after = loaded.members[0], train.model.members[0]  # stopped in fold 0
    with torch.no_grad():
        change = max(float((a - b).norm() / b.norm()) for a, b in zip(after.parameters(), before.parameters())
                     if b.norm() > 0)
    assert 0 < change < 1, "it moved from the loaded weights, not from scratch"


@pytest.mark.slow
def test_learn_from_my_review_fine_tunes_on_the_decisions_and_proposes_again(corrected_shown, qtbot, notifications):
    """Accept a region with its key, press "Learn from my review": the model is fine-tuned on it, the
    proposals come again in the same layers, and the decided pixels stay."""
    from qtpy.QtCore import Qt

    from jcas.settings import REVIEW_KEY

    docked = corrected_shown
    train, review, cleaned = docked.train, docked.review, docked.cleaned
    qtbot.mouseClick(train.learn_button, Qt.MouseButton.LeftButton)  # nothing decided yet
    assert "Nothing to learn from yet" in notifications.messages()[-1] and train.worker is None

    first = review.review.current
    press(docked.viewer, qtbot, Qt.Key.Key_A)
    assert review.review.status[first.index] == "accepted"
    qtbot.waitUntil(lambda: review.review.current is not first, timeout=2_000)  # the result shown, then the next
    decided = cleaned.data.copy()
    earlier_review, earlier_model, earlier_proposal = review.review, train.model, docked.proposal.data.copy()
    layers_before = len(docked.viewer.layers)
    train.epochs_choice.value = 1
    qtbot.mouseClick(train.learn_button, Qt.MouseButton.LeftButton)
    assert train.worker is not None and "Learning from" in train.status.text()
    qtbot.waitUntil(lambda: "Learnt from the review" in train.status.text(), timeout=600_000)
    qtbot.waitUntil(lambda: train.worker is None, timeout=30_000)

    assert train.model is not earlier_model and len(docked.viewer.layers) == layers_before  # the same layers
    np.testing.assert_array_equal(cleaned.data, decided)  # every decision and edit kept
    assert cleaned.metadata[REVIEW_KEY] is not earlier_review and review.review is cleaned.metadata[REVIEW_KEY]
    assert not np.array_equal(docked.proposal.data, earlier_proposal), "the fine-tuned model proposes anew"
    np.testing.assert_array_equal(review.review.proposal, docked.proposal.data)
