"""The Train dock's training panel: bad input gives a clear notification, and training stops cleanly whatever
happens; the selectors offer only inputs and never fall back to another layer; models are saved, loaded and
fine-tuned with the buttons."""
from __future__ import annotations

import re

import numpy as np
import pytest

from reach import click

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


def test_the_save_button_writes_the_model_where_the_user_says(docked_shown, model_file, qtbot, tmp_path, notifications):
    from jcas.nn.checkpoint import load_checkpoint

    train = docked_shown.train
    assert train.training.load_model(model_file)
    loaded = train.session.model
    assert train.status.text().startswith(f"Loaded {model_file.name}: jcas, labels 0, 1, 2")

    click(train, train.training.save_button, qtbot)  # no 'Save model to' yet
    assert "Choose where" in notifications.messages()[0]
    target = tmp_path / "kept" / "model.pt"
    train.training.model_path.value = str(target)
    click(train, train.training.save_button, qtbot)
    assert target.is_file() and f"Saved to {target}" in train.status.text()
    again = load_checkpoint(target)
    assert again.label_map.values == loaded.label_map.values == (0, 1, 2)
    for saved, kept in zip(again.members[0].parameters(), loaded.members[0].parameters()):
        np.testing.assert_array_equal(saved.detach().cpu().numpy(), kept.detach().cpu().numpy())


@pytest.mark.parametrize("method, has_dar", [("jcas", False), ("jcas_dar", True)])
def test_the_method_chosen_is_the_method_trained(docked, qtbot, method, has_dar):
    assert set(docked.train.training.method_choice.choices) >= {"jcas", "jcas_dar", "ce"}
    docked.train.training.method_choice.value = method
    _train_a_few_steps(docked, qtbot)
    docked.train.training.stop()
    qtbot.waitUntil(lambda: docked.train.session.worker is None, timeout=10_000)
    config = docked.train.session.model.config
    assert config.method == method and config.use_dar is has_dar and config.use_affinity


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
