"""The Train dock's run state: learning from the review goes from fine-tuning to proposing, and a run starts and
ends with its steps."""
from __future__ import annotations

from types import SimpleNamespace

from napari_jcas._run_session import FINE_TUNING, PROPOSING, LearningFromReview, RunSession


def test_learning_from_the_review_is_fine_tuning_until_a_model_learnt_then_proposing():
    session = RunSession()
    assert session.learning_stage is None
    session.learning = LearningFromReview(layers=SimpleNamespace(name="reviewed correction"))
    assert session.learning_stage == FINE_TUNING
    session.learning.learnt = SimpleNamespace(name="fine-tuned model")
    assert session.learning_stage == PROPOSING


def test_a_run_begins_with_its_steps_and_inputs_and_ends_by_closing_its_steps():
    session = RunSession(failed=RuntimeError("earlier"), removed="earlier layer")
    steps = (step for step in range(3))
    session.begin(steps, ("image", "mask"))
    assert (session.steps, session.inputs, session.failed, session.removed) == (steps, ("image", "mask"), None, None)
    next(steps)
    session.end()
    assert session.steps is None and session.inputs == () and session.worker is None
    assert next(steps, "closed") == "closed"


def test_adopting_a_model_makes_it_current_and_unsaved():
    session = RunSession()
    model = SimpleNamespace(name="trained here")
    session.adopt(model)
    assert session.model is model and session.unsaved
