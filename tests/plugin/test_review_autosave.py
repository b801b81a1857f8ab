"""The Review dock's autosave: from the first decision, beside the export path or in a session file, restored after
a rerun, never replacing another mask's or an earlier review's."""
from __future__ import annotations

import pytest
from napari.utils.notifications import NotificationSeverity

from jcas.review import autosave_path, log_path, session_autosave_path
from reach import click

pytestmark = pytest.mark.gui


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
