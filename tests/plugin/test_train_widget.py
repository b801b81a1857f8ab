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
    assert getattr(train.training, f"{which}_choice").value is None and not train.training.start_button.isEnabled()
    assert not notifications.messages()


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


