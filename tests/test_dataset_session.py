"""The review of a whole folder after `jcas correct`, without Qt: quality.csv's files, the session file, the next
file, the review rebuilt from the run's outputs, and the export of every cleaned mask."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dataset_run import correct_folder_run, tiny_model
from jcas.data.io import read_array
from jcas.dataset_session import (FROM_CORRECTION, FROM_DRAWN, FROM_REVIEW, REVIEWED, SESSION_NAME, SKIPPED,
                                  TO_REVIEW, DatasetSession, read_quality, run_review)
from jcas.errors import JCASInputError, JCASOutputError
from jcas.review import ACCEPTED


def with_proposals(session: DatasetSession) -> list[str]:
    """The files where the run changed the drawn mask, worst first."""
    return [f.stem for f in session.files
            if (session.load(f.stem)[0] != read_array(session.pairs[f.stem].mask)).any()]


@pytest.fixture(scope="module")
def run(tmp_path_factory, mni):
    """A `jcas correct` run on four MNI slices as PNG files, with a model trained in seconds on one."""
    root = tmp_path_factory.mktemp("dataset")
    images, masks = mni[0][2:6], mni[1][2:6]
    return correct_folder_run(root, images, masks, tiny_model(images, masks, root / "model.pt"))


def test_the_files_come_worst_first_from_the_file_rows_of_quality_csv(run):
    files = read_quality(run.out)
    assert sorted(f.stem for f in files) == [f"slice{z}" for z in range(4)]
    assert files[0].stem == "slice3", "the mask drawn worst comes first"
    assert [f.dice for f in files] == sorted(f.dice for f in files)
    session = DatasetSession(run.images, run.masks, run.out)
    before, after = session.estimate()
    assert before == pytest.approx(np.mean([f.dice for f in files]))
    assert math.isfinite(after)


def test_states_persist_in_the_session_file_and_a_new_session_resumes(run):
    session = DatasetSession(run.images, run.masks, run.out)
    try:
        assert session.next_to_review() == "slice3"
        session.set_state("slice3", REVIEWED)
        session.set_state(session.next_to_review("slice3"), SKIPPED)
        saved = json.loads((run.out / SESSION_NAME).read_text())
        assert saved["states"]["slice3"] == REVIEWED and list(saved["states"].values()).count(SKIPPED) == 1
        again = DatasetSession(run.images, run.masks, run.out)
        assert again.states == session.states
        assert again.counts() == {TO_REVIEW: 2, REVIEWED: 1, SKIPPED: 1}
        last = [f.stem for f in again.files][-1]
        assert again.next_to_review(last) not in (None, "slice3", last), "it goes round to the start"
    finally:
        (run.out / SESSION_NAME).unlink()


def test_a_damaged_session_file_is_refused_and_left_alone(run):
    (run.out / SESSION_NAME).write_text("{not json")
    try:
        with pytest.raises(JCASInputError, match="move it away"):
            DatasetSession(run.images, run.masks, run.out)
        assert (run.out / SESSION_NAME).read_text() == "{not json"
    finally:
        (run.out / SESSION_NAME).unlink()


def test_folders_that_are_not_the_runs_are_refused(run, tmp_path):
    with pytest.raises(JCASInputError, match="quality.csv"):
        DatasetSession(run.images, run.masks, tmp_path)
    other = tmp_path / "masks"
    other.mkdir()
    with pytest.raises(JCASInputError):
        DatasetSession(run.images, other, run.out)


def test_the_review_rebuilt_from_the_runs_outputs_proposes_exactly_the_runs_changes(run):
    session = DatasetSession(run.images, run.masks, run.out)
    stem = with_proposals(session)[0]
    drawn = read_array(run.masks / f"{stem}.png")
    corrected, class_disagreement, _, _ = session.load(stem)
    review = run_review(drawn, corrected, class_disagreement)
    assert len(review) > 0
    assert np.array_equal(review.region_map > 0, corrected != drawn)
    assert all(0.0 <= region.score <= 1.0 for region in review.regions)
    cleaned = drawn.copy()
    for region in review.regions:
        edit = review.accept(region.index)
        cleaned[edit.indices] = edit.values
    assert np.array_equal(cleaned, corrected)
    with pytest.raises(JCASInputError, match="do not fit"):
        run_review(drawn[:10], corrected, class_disagreement)


def test_export_writes_the_review_where_worked_the_correction_where_reviewed_else_the_drawn_mask(run, tmp_path):
    session = DatasetSession(run.images, run.masks, run.out)
    worst = with_proposals(session)[0]
    second, *rest = [f.stem for f in session.files if f.stem != worst]
    drawn = read_array(run.masks / f"{worst}.png")
    corrected, class_disagreement, _, _ = session.load(worst)
    review = run_review(drawn, corrected, class_disagreement)
    cleaned = drawn.copy()
    edit = review.accept(review.regions[0].index)
    cleaned[edit.indices] = edit.values
    cleaned[0, 0] = 2  # the person's own brush stroke
    second_drawn = read_array(run.masks / f"{second}.png")
    untouched = run_review(second_drawn, *session.load(second)[:2])
    try:
        assert session.save_review(second, untouched, second_drawn) is None, "nothing done: nothing saved"
        assert session.save_review(worst, review, cleaned) is not None
        session.set_state(second, REVIEWED)
        folder = tmp_path / "cleaned"
        sources = session.export(folder)
        assert sources == {worst: FROM_REVIEW, second: FROM_CORRECTION, **dict.fromkeys(rest, FROM_DRAWN)}
        assert np.array_equal(read_array(folder / f"{worst}.png"), cleaned)
        assert review.status[review.regions[0].index] == ACCEPTED
        assert np.array_equal(read_array(folder / f"{second}.png"), read_array(run.out / f"{second}.png"))
        for stem in rest:
            assert np.array_equal(read_array(folder / f"{stem}.png"), read_array(run.masks / f"{stem}.png"))
        before = (folder / f"{worst}.png").read_bytes()
        with pytest.raises(JCASOutputError, match="exist already"):
            session.export(folder)
        session.export(folder, overwrite=True)
        assert (folder / f"{worst}.png").read_bytes() == before
        for inside in (run.masks, run.images, run.out, run.out / "cleaned"):
            with pytest.raises(JCASOutputError, match="never go onto or into an input"):
                session.export(inside, overwrite=True)
    finally:
        session.saved_review(worst).unlink()
        (run.out / SESSION_NAME).unlink()
