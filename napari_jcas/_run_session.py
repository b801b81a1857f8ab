"""The Train dock's run state: the current model, the worker that runs, and where learning from the review is.

"Learn from my review" is two runs in a row: a fine-tune on the person's decisions, then a correction with the
fine-tuned model, shown in the layers of the correction reviewed. :class:`LearningFromReview` says which of the two
runs and holds what the next needs; the fine-tuned model becomes the current one only once its proposals are shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcas.nn.crossfit import CrossFittedModel
    from jcas.training.trainer import Trainer

    from ._layers import CorrectionLayers

#: The stages of learning from the review, in order.
FINE_TUNING, PROPOSING = "fine-tuning", "proposing"


@dataclass
class LearningFromReview:
    """Learning from the review of one correction.

    Attributes
    ----------
    layers : CorrectionLayers
        The correction reviewed: its pair is fine-tuned on, and its layers show the new proposals.
    learnt : CrossFittedModel or None
        The fine-tuned model, once the fine-tune has finished: its proposals are being computed.
    """

    layers: CorrectionLayers
    learnt: CrossFittedModel | None = None

    @property
    def stage(self) -> str:
        """:data:`FINE_TUNING` until the fine-tune has finished, then :data:`PROPOSING`."""
        return FINE_TUNING if self.learnt is None else PROPOSING


@dataclass
class RunSession:
    """What the Train dock holds between runs and during one.

    Attributes
    ----------
    model : CrossFittedModel or None
        The current model: trained, fine-tuned or loaded.
    unsaved : bool
        Whether the current model was trained here and is in no file.
    worker : napari.qt.threading.GeneratorWorker or None
        The running training or correction.
    trainer : Trainer or None
        The running training's trainer.
    steps : generator or None
        The running worker's steps (training events, or slices corrected).
    inputs : tuple of napari layers
        The image and mask layers the running worker reads (empty when none runs).
    failed : Exception or None
        Why the latest run failed.
    removed : str or None
        The name of an input layer removed while the latest run ran.
    learning : LearningFromReview or None
        Learning from the review under way.
    """

    model: CrossFittedModel | None = None
    unsaved: bool = False
    worker: Any = None
    trainer: Trainer | None = None
    steps: Any = None
    inputs: tuple = ()
    failed: Exception | None = None
    removed: str | None = None
    learning: LearningFromReview | None = None

    def begin(self, steps, inputs: tuple, trainer: Trainer | None = None) -> None:
        """A run starts: its worker will run ``steps`` on the layers ``inputs``."""
        self.steps, self.inputs, self.trainer = steps, inputs, trainer
        self.failed = self.removed = None

    def end(self) -> None:
        """The run has finished: its steps are closed (keeping the last completed one) and let go."""
        self.steps.close()
        self.worker, self.steps, self.inputs, self.trainer = None, None, (), None

    def adopt(self, model: CrossFittedModel) -> None:
        """Make ``model``, trained here and in no file yet, the current one."""
        self.model, self.unsaved = model, True

    @property
    def learning_stage(self) -> str | None:
        """Where learning from the review is (:attr:`LearningFromReview.stage`), ``None`` when it is not under way."""
        return None if self.learning is None else self.learning.stage
