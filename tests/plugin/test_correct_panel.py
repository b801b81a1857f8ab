"""The Train dock's correct panel: Correct needs a model, the mirror and the region floors reach the correction, and
the floors select the regions again live, keeping every decision."""
from __future__ import annotations

import numpy as np
import pytest

from jcas.review import ACCEPTED, region_key
from napari_jcas._settings import REVIEW_KEY

pytestmark = pytest.mark.gui


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


def test_correct_with_no_model(docked, notifications):
    assert docked.train.correcting.correct() is None
    assert "no model" in notifications.messages()[0]
    assert [layer.name for layer in docked.viewer.layers] == ["brain", "brain mask"]


def test_mirror_choice_reaches_the_correction(docked, model_file, qtbot):
    from jcas import correct

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
