"""The review state machine alone: decisions, undo sync, navigation, log and autosave."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from jcas.correction.regions import find_regions, rank
from jcas.review import (ACCEPTED, OPEN, REJECTED, Review, autosave_conflict, autosave_path, default_export_path,
                         load_autosave, log_path, save_autosave, session_autosave_path, trusted_labels)


@pytest.fixture
def stack():
    """A 2-slice mask with three disagreeing regions and the proposal that fixes them."""
    drawn = np.zeros((2, 20, 20), dtype=np.uint8)
    drawn[:, 5:15, 5:15] = 1
    proposal = drawn.copy()
    proposal[0, 5:8, 5:15] = 0      # region A: 1 -> 0, 30 px
    proposal[0, 16:18, 2:4] = 2     # region B: 0 -> 2, 4 px
    proposal[1, 10:15, 10:15] = 2   # region C: 1 -> 2, 25 px
    score = np.zeros(drawn.shape, dtype=np.float32)
    score[0, 5:8] = 0.9
    score[0, 16:18] = 0.3
    score[1, 10:15] = 0.6
    region_map = np.zeros(drawn.shape, dtype=np.int32)
    regions = []
    for z in range(2):
        found_map, found = find_regions(drawn[z], proposal[z], score[z], z, len(regions) + 1)
        region_map[z] = found_map
        regions += found
    return rank(regions), region_map, proposal, drawn


def apply(cleaned, edit):
    cleaned[edit.indices] = edit.values


def test_accept_writes_the_proposal_in_that_region_only(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    first = review.current
    assert first.score == pytest.approx(0.9) and first.area == 30
    apply(cleaned, review.accept(first.index))
    inside = region_map == first.index
    np.testing.assert_array_equal(cleaned[inside], proposal[inside])
    np.testing.assert_array_equal(cleaned[~inside], drawn[~inside])
    assert review.counts() == {OPEN: 2, ACCEPTED: 1, REJECTED: 0}


def test_reject_restores_an_accepted_region_and_leaves_open_ones_alone(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    a, b = regions[0].index, regions[1].index
    apply(cleaned, review.accept(a))
    apply(cleaned, review.reject(a))
    np.testing.assert_array_equal(cleaned, drawn)
    assert review.reject(b).size == 0
    assert review.status[a] == REJECTED and review.status[b] == REJECTED


def test_accept_above_threshold_is_one_edit(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    edit = review.accept_above(0.5)
    assert edit.size == 30 + 25
    apply(cleaned, edit)
    assert [review.status[r.index] for r in regions] == [ACCEPTED, ACCEPTED, OPEN]
    np.testing.assert_array_equal(cleaned, review.expected_labels())
    assert review.accept_above(0.5).size == 0


def test_sync_reopens_an_undone_accept_and_accepts_a_redo(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    a = regions[0].index
    apply(cleaned, review.accept(a))
    undone = drawn.copy()
    assert review.sync(undone) == [a] and review.status[a] == OPEN
    assert review.sync(cleaned) == [a] and review.status[a] == ACCEPTED
    partly = cleaned.copy()
    partly[region_map == a] = drawn[region_map == a]
    partly[0, 5, 5] = proposal[0, 5, 5]  # a brush stroke kept one pixel: still the user's accepted edit
    assert review.sync(partly) == [] and review.status[a] == ACCEPTED
    assert review.sync(drawn) == [a] and review.status[a] == OPEN
    assert [row["decision"] for row in review.log] == ["accepted", "reopened", "accepted", "reopened"]


def test_navigation_by_rank_slice_and_open_status(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    assert [r.slice for r in regions] == [0, 1, 0]
    assert review.step(+1).slice == 1 and review.position == 1
    assert review.step(+1).slice == 0 and review.position == 2
    assert review.step(+1).index == regions[2].index  # stays at the end
    assert review.step(-1, slice_index=0).index == regions[0].index
    review.accept(regions[1].index)
    assert review.step(+1, open_only=True).index == regions[2].index
    assert review.rows(1) == [1]
    assert review.select(99).index == regions[2].index


def test_sorting_sets_the_order_that_next_and_previous_follow(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    assert [r.area for r in regions] == [30, 25, 4]  # ranked: 27, 15 and 1.2 pixels expected to be fixed
    review.sort("area")
    assert [regions[row].area for row in review.rows()] == [4, 25, 30]
    assert review.current is regions[0]  # the current region stays, now last
    assert review.step(+1) is regions[0]
    assert review.step(-1) is regions[1]
    review.sort("slice", descending=True)
    assert [regions[row].slice for row in review.rows()] == [1, 0, 0]
    assert review.rows(0) == [0, 2]  # ties keep the rank order
    review.accept(regions[2].index)
    review.sort("status")
    assert review.rows()[-1] == 2
    review.sort("expected_pixels_fixed", descending=True)
    assert review.rows() == [0, 1, 2]
    with pytest.raises(ValueError, match="cannot sort by"):
        review.sort("colour")


def test_carry_over_keeps_the_decisions_on_the_regions_that_remain(stack):
    regions, region_map, proposal, drawn = stack
    a, c, b = regions  # ranked: 27, 15 and 1.2 pixels expected to be fixed
    review = Review(regions, region_map, proposal, drawn)
    review.accept(a.index)
    review.reject(c.index)
    review.select(1)
    fewer = Review([a, c], np.where(region_map == b.index, 0, region_map), proposal, drawn)  # a higher min. score
    assert fewer.carry_over(review) == 2
    assert fewer.status == {a.index: ACCEPTED, c.index: REJECTED} and fewer.current is c
    assert fewer.log == review.log
    again = Review(regions, region_map, proposal, drawn)  # and back
    again.carry_over(fewer)
    assert again.status == {a.index: ACCEPTED, c.index: REJECTED, b.index: OPEN} and again.current is c


def test_log_and_autosave_round_trip(stack, tmp_path):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    apply(cleaned, review.accept(regions[0].index))
    review.reject(regions[1].index)
    cleaned[1, 0, 0] = 2  # a free brush edit
    rows = list(csv.DictReader(io.StringIO(review.log_csv())))
    assert [(r["region"], r["decision"]) for r in rows] == [(str(regions[0].index), "accepted"),
                                                           (str(regions[1].index), "rejected")]
    assert set(rows[0]) == {"region", "slice", "old_class", "new_class", "area", "score", "decision", "time"}
    assert rows[0]["old_class"] == "1" and rows[0]["new_class"] == "0" and rows[0]["area"] == "30"

    export = tmp_path / "brain_cleaned.nii.gz"
    assert log_path(export) == tmp_path / "brain_cleaned_review.csv"
    saved = save_autosave(autosave_path(export), review, cleaned)
    state, restored_cleaned = load_autosave(saved)
    np.testing.assert_array_equal(restored_cleaned, cleaned)

    # a restart: the correction is run again, regions come back with other ids
    renumbered = [type(r)(r.index + 10, r.slice, r.bbox, r.area, r.old_label, r.new_label, r.score) for r in regions]
    again = Review(renumbered, np.where(region_map > 0, region_map + 10, 0), proposal, drawn)
    assert again.restore(state) == 3
    assert [again.status[r.index] for r in renumbered] == [ACCEPTED, REJECTED, OPEN]
    assert len(again.log) == 2


def test_an_export_is_recorded_and_later_decisions_are_unexported(stack, tmp_path):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    exported = []
    review.exported.connect(exported.append)
    review.accept(regions[0].index)
    review.reject(regions[1].index)
    assert review.unexported == 2
    review.mark_exported(tmp_path / "brain_cleaned_review.csv")
    assert review.unexported == 0 and exported == [str(tmp_path / "brain_cleaned_review.csv")]
    review.reject(regions[0].index)
    assert review.unexported == 1
    fewer = Review(regions[:2], np.where(region_map == regions[2].index, 0, region_map), proposal, drawn)
    fewer.carry_over(review)  # other thresholds: the exported part of the log stays exported
    assert fewer.unexported == 1


def test_a_session_autosave_is_named_by_the_drawn_mask(stack, tmp_path):
    drawn = stack[3]
    path = session_autosave_path(tmp_path, drawn)
    assert path.parent == tmp_path and path.name.endswith(".review.npz")
    assert session_autosave_path(tmp_path, drawn.copy()) == path
    other = drawn.copy()
    other[0, 0, 0] = 2
    assert session_autosave_path(tmp_path, other) != path


def test_mismatched_arrays_are_refused(stack):
    regions, region_map, proposal, drawn = stack
    with pytest.raises(ValueError, match="shapes differ"):
        Review(regions, region_map[:1], proposal, drawn)


def test_every_change_is_announced_once(stack):
    """A view only listens: each decision, sync, move and reorder emits its signal once, and
    nothing is emitted when nothing changed."""
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    heard = []
    review.decided.connect(lambda ids: heard.append(("decided", sorted(ids))))
    review.moved.connect(lambda: heard.append(("moved", review.position)))
    review.reordered.connect(lambda: heard.append(("reordered", list(review.order))))
    cleaned = drawn.copy()
    first, second, third = (r.index for r in regions)

    apply(cleaned, review.accept(first))
    assert heard == [("decided", [first])]
    heard.clear()
    review.sync(cleaned)  # the pixels already say so: no change
    review.select(0)      # already there
    review.sort("expected_pixels_fixed", descending=True)  # already in rank order
    assert heard == []

    review.step(+1)
    review.sort("area")
    assert heard == [("moved", 1), ("reordered", [2, 1, 0])]
    heard.clear()
    apply(cleaned, review.accept_above(0.0))  # the two open ones, in one announcement
    assert heard == [("decided", sorted([second, third]))]
    heard.clear()
    cleaned[:] = drawn  # undo everything
    review.sync(cleaned)
    assert heard == [("decided", sorted([first, second, third]))]


def test_an_autosave_is_taken_up_only_by_an_unstarted_review_of_the_same_mask(stack, tmp_path):
    regions, region_map, proposal, drawn = stack
    earlier = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    apply(cleaned, earlier.accept(regions[0].index))
    state, saved = load_autosave(save_autosave(tmp_path / "a.review.npz", earlier, cleaned))

    fresh = Review(regions, region_map, proposal, drawn)
    assert autosave_conflict(state, saved, fresh, drawn.copy()) is None
    other_mask = drawn.copy()
    other_mask[0, 0, 0] = 2
    assert autosave_conflict(state, saved, Review(regions, region_map, proposal, other_mask),
                             other_mask) == "is the review of another mask"
    assert "another mask" in autosave_conflict(state, saved[:1], fresh, drawn.copy())
    started = Review(regions, region_map, proposal, drawn)
    started.reject(regions[1].index)
    assert "this review has started" in autosave_conflict(state, saved, started, drawn.copy())
    edited = drawn.copy()
    edited[1, 0, 0] = 2  # a brush stroke, no decision
    assert "this review has started" in autosave_conflict(state, saved, fresh, edited)


def test_export_names_sit_beside_the_mask_and_keep_its_format(tmp_path):
    assert default_export_path(tmp_path / "masks" / "brain.nii.gz") == tmp_path / "masks" / "brain_cleaned.nii.gz"
    assert default_export_path(tmp_path / "labels.tif") == tmp_path / "labels_cleaned.tif"
    assert default_export_path(tmp_path / "masks", from_folder=True) == tmp_path / "masks_cleaned"
    export = default_export_path(tmp_path / "brain.nii.gz")
    assert log_path(export) == tmp_path / "brain_cleaned_review.csv"
    assert autosave_path(export) == tmp_path / "brain_cleaned.nii.gz.review.npz"


def test_trusted_labels_hold_what_the_person_confirmed_and_nothing_else(stack):
    regions, region_map, proposal, drawn = stack
    review = Review(regions, region_map, proposal, drawn)
    cleaned = drawn.copy()
    accepted, rejected, untouched = (r.index for r in regions)
    apply(cleaned, review.accept(accepted))
    review.reject(rejected)
    cleaned[1, 0:2, 0:3] = 2  # a brush stroke outside every region
    trusted = trusted_labels(review, cleaned)
    assert trusted.shape == drawn.shape and trusted.dtype == drawn.dtype
    np.testing.assert_array_equal(trusted[region_map == accepted], proposal[region_map == accepted])
    np.testing.assert_array_equal(trusted[region_map == rejected], drawn[region_map == rejected])
    assert (trusted[region_map == untouched] == 255).all()  # open: nothing confirmed
    assert (trusted[1, 0:2, 0:3] == 2).all()
    confirmed = (region_map == accepted) | (region_map == rejected)
    confirmed[1, 0:2, 0:3] = True
    assert (trusted[~confirmed] == 255).all()
