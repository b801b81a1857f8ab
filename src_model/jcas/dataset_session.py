"""Reviewing a whole folder after ``jcas correct``: the files ranked by estimated quality, the person's progress
through them (to review, reviewed, skipped), and the export of every cleaned mask. No Qt and no napari: the
plugin's Dataset dock is a view on :class:`DatasetSession`.

A session joins three folders: the images, the drawn masks, and the output folder of a ``jcas correct`` run on
them (``OUT``, :mod:`jcas.correction.folder`). The files are listed in the order of ``OUT/quality.csv`` (its file
rows, worst first). The states are kept in ``OUT/review_session.json``, written atomically on every change, so
that the same folders opened again resume where the person stopped. The review of a file (its decisions and its
cleaned labels, :func:`jcas.review.save_autosave`) is saved in ``OUT/review/``, beside where the Review dock
exports it (:meth:`DatasetSession.review_target`).

What :meth:`DatasetSession.export` writes for a file (:meth:`DatasetSession.export_source`):

- the person's review (its cleaned labels: accepted proposals and their own edits) where they worked on the file
  (a saved review), whatever its state;
- else the run's corrected mask for a file marked reviewed: the person looked at the proposals and let them stand;
- else the drawn mask: nothing the person has not seen is changed.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .correction.folder import PairOutputs, pair_outputs
from .correction.regions import find_regions, rank
from .data.class_names import class_names_of
from .data.io import output_suffix, read_array, read_with_affine, write_array, write_bytes_atomic
from .data.pairs import FilePair, match_folders
from .errors import JCASInputError
from .outputs import OutputSet, check_clear_of_inputs, refuse_existing
from .review import Review, autosave_path, load_autosave, save_autosave

TO_REVIEW, REVIEWED, SKIPPED = "to review", "reviewed", "skipped"
STATES = (TO_REVIEW, REVIEWED, SKIPPED)
#: The session file, in the run's output folder.
SESSION_NAME = "review_session.json"
#: The folder, in the run's output folder, of the reviews of single files (and of their exports from the Review dock).
REVIEW_FOLDER = "review"
SESSION_VERSION = 1
#: What :meth:`DatasetSession.export` writes for a file: the person's review, the run's correction, the drawn mask.
FROM_REVIEW, FROM_CORRECTION, FROM_DRAWN = "review", "correction", "drawn"


@dataclass(frozen=True)
class FileEstimate:
    """One file's row of ``quality.csv``: its estimated Dice before and after the run's proposals (NaN: none)."""

    stem: str
    dice: float
    dice_after: float


def _number(text: str) -> float:
    return float(text) if text else math.nan


def read_quality(out: str | os.PathLike) -> list[FileEstimate]:
    """The file rows of ``OUT/quality.csv`` (slice "" for a 2D file, "all" for a stack), in its order: worst first.

    Raises
    ------
    JCASInputError
        No ``quality.csv`` in ``out`` (not the output folder of a ``jcas correct`` run on a folder), or one
        without the columns it needs.
    """
    path = Path(out) / "quality.csv"
    if not path.is_file():
        raise JCASInputError(f"{out} holds no quality.csv: choose the output folder of a `jcas correct` run on a "
                             "folder (--images, --masks, --out).")
    with open(path, newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    try:
        return [FileEstimate(row["stem"], _number(row["estimated_dice"]), _number(row["estimated_dice_after"]))
                for row in rows if row["slice"] in ("", "all")]
    except (KeyError, ValueError) as error:
        raise JCASInputError(f"{path} is not a quality table of `jcas correct` ({error}).") from error


def run_review(drawn: np.ndarray, corrected: np.ndarray, class_disagreement: np.ndarray) -> Review:
    """The review of a file from the run's outputs, without the model: its candidate regions are the connected
    regions where the run's corrected mask differs from the drawn one, scored by the class disagreement.

    These are the regions the run kept (it changed the drawn mask in those only, :func:`jcas.correction.regions.
    find_regions` on each slice), in rank order, with the score the run gave them (their confidence is not known).

    Parameters
    ----------
    drawn, corrected : numpy.ndarray
        ``(H, W)`` or ``(Z, H, W)``: the drawn mask and the run's corrected mask.
    class_disagreement : numpy.ndarray
        The run's class disagreement heatmap, the same shape.

    Returns
    -------
    Review
    """
    if not (drawn.shape == corrected.shape == class_disagreement.shape):
        raise JCASInputError(f"the run's outputs do not fit the drawn mask: mask {drawn.shape}, corrected mask "
                             f"{corrected.shape}, disagreement {class_disagreement.shape}; was the mask redrawn "
                             "since the run? Run `jcas correct` again.")
    stack = drawn.ndim == 3
    region_map = np.zeros(drawn.shape, dtype=np.int32)
    regions = []
    for z in range(drawn.shape[0] if stack else 1):
        at = z if stack else slice(None)
        region_map[at], found = find_regions(drawn[at], corrected[at], class_disagreement[at], z, len(regions) + 1)
        regions += found
    return Review(rank(regions), region_map, corrected, drawn)


def worked_on(review: Review, cleaned: np.ndarray) -> bool:
    """Whether the person decided on a region of ``review`` or edited its cleaned labels."""
    return bool(review.log) or not np.array_equal(np.asarray(cleaned), review.drawn)


class DatasetSession:
    """The files of a ``jcas correct`` run on a folder, and the person's progress through them.

    Parameters
    ----------
    images, masks : path-like
        The folders the run corrected (``--images``, ``--masks``).
    out : path-like
        The run's output folder (``--out``), holding ``quality.csv``.

    Attributes
    ----------
    files : list of FileEstimate
        The files of ``quality.csv``, worst first.
    states : dict of str to str
        Each file's state, one of :data:`STATES`.

    Raises
    ------
    JCASInputError
        Folders that do not pair up, no ``quality.csv``, a file of the run missing from the folders, or a session
        file that cannot be read.
    """

    def __init__(self, images: str | os.PathLike, masks: str | os.PathLike, out: str | os.PathLike):
        self.images, self.masks, self.out = Path(images), Path(masks), Path(out)
        self.files = read_quality(self.out)
        pairs = {pair.stem: pair for pair in match_folders(self.images, self.masks)}
        missing = [estimate.stem for estimate in self.files if estimate.stem not in pairs]
        if missing:
            raise JCASInputError(f"{len(missing)} file(s) of the run in {self.out} are not in {self.masks}, e.g. "
                                 f"{missing[0]}: choose the images and masks folders the run corrected.")
        self.pairs: dict[str, FilePair] = {estimate.stem: pairs[estimate.stem] for estimate in self.files}
        self.outputs: dict[str, PairOutputs] = pair_outputs(list(self.pairs.values()), self.out)
        self.states = dict.fromkeys(self.pairs, TO_REVIEW)
        saved = read_session(self.out)
        if saved is not None:
            self.states.update({stem: state for stem, state in saved.get("states", {}).items()
                                if stem in self.states and state in STATES})

    @property
    def path(self) -> Path:
        """The session file."""
        return self.out / SESSION_NAME

    # ------------------------------------------------------------------ progress
    def set_state(self, stem: str, state: str) -> Path:
        """Set a file's state and write the session file atomically; returns its path."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        self.states[stem] = state
        return self.save()

    def save(self) -> Path:
        """Write the session file atomically: the folders and every file's state."""
        session = {"version": SESSION_VERSION, "images": str(self.images.resolve()),
                   "masks": str(self.masks.resolve()), "states": self.states}
        return write_bytes_atomic(self.path, json.dumps(session, indent=1).encode("utf-8"), overwrite=True)

    def counts(self) -> dict[str, int]:
        """How many files are in each state."""
        counts = dict.fromkeys(STATES, 0)
        for state in self.states.values():
            counts[state] += 1
        return counts

    def estimate(self) -> tuple[float, float]:
        """The dataset's estimated Dice before and after the run's proposals: the mean over the files of their
        estimates (files with none left out; NaN when no file has one)."""
        def mean(values):
            finite = [value for value in values if math.isfinite(value)]
            return sum(finite) / len(finite) if finite else math.nan

        return mean(f.dice for f in self.files), mean(f.dice_after for f in self.files)

    def next_to_review(self, after: str | None = None) -> str | None:
        """The first file still to review after ``after`` in the ranked order, going round to the start; the
        first one of all without ``after``; ``None`` when every file is reviewed or skipped."""
        stems = [estimate.stem for estimate in self.files]
        start = stems.index(after) + 1 if after in stems else 0
        for stem in stems[start:] + stems[:start]:
            if self.states[stem] == TO_REVIEW and stem != after:
                return stem
        return None

    # ------------------------------------------------------------------- reviews
    def review_target(self, stem: str) -> Path:
        """Where the Review dock exports the review of a file (``OUT/review/<stem><suffix>``); its autosave, the
        saved review, goes beside it (:func:`jcas.review.autosave_path`)."""
        return self.out / REVIEW_FOLDER / f"{stem}{output_suffix(self.pairs[stem].mask)}"

    def saved_review(self, stem: str) -> Path | None:
        """The saved review of a file, ``None`` when the person has not worked on it."""
        path = autosave_path(self.review_target(stem))
        return path if path.is_file() else None

    def save_review(self, stem: str, review: Review, cleaned: np.ndarray) -> Path | None:
        """Save the review of a file and its cleaned labels (atomically) when the person worked on it
        (:func:`worked_on`); returns where, ``None`` when there was nothing to save."""
        if not worked_on(review, cleaned):
            return None
        path = autosave_path(self.review_target(stem))
        path.parent.mkdir(parents=True, exist_ok=True)
        return save_autosave(path, review, cleaned)

    def load(self, stem: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The run's outputs of a file as arrays: corrected mask, class and affinity disagreement, boundary view."""
        outputs = self.outputs[stem]
        missing = [path for path in (outputs.corrected, outputs.class_disagreement, outputs.affinity_disagreement,
                                     outputs.boundaries) if not path.is_file()]
        if missing:
            raise JCASInputError(f"the run's output {missing[0]} is missing; run `jcas correct` again.")
        return (read_array(outputs.corrected), read_array(outputs.class_disagreement),
                read_array(outputs.affinity_disagreement), read_array(outputs.boundaries))

    # -------------------------------------------------------------------- export
    def export_source(self, stem: str) -> str:
        """What :meth:`export` writes for a file: :data:`FROM_REVIEW`, :data:`FROM_CORRECTION` or :data:`FROM_DRAWN`
        (see the module docstring)."""
        if self.saved_review(stem) is not None:
            return FROM_REVIEW
        return FROM_CORRECTION if self.states[stem] == REVIEWED else FROM_DRAWN

    def export_targets(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Where :meth:`export` writes each file's cleaned mask: ``<folder>/<stem><suffix>``, the mask's format.

        Raises
        ------
        jcas.errors.JCASOutputError
            The folder is, or lies in, the images, the masks or the run's output folder.
        """
        targets = {stem: Path(folder) / f"{stem}{output_suffix(pair.mask)}" for stem, pair in self.pairs.items()}
        check_clear_of_inputs([folder, *targets.values()],
                              {"the images folder": self.images, "the masks folder": self.masks,
                               "the output folder of the run": self.out})
        return targets

    def export(self, folder: str | os.PathLike, *, overwrite: bool = False) -> dict[str, str]:
        """Write every file's cleaned mask into ``folder``, all of them or none (:class:`jcas.outputs.OutputSet`).

        Each in the drawn mask's format, geometry and class names, named as the mask. Never into the images, the
        masks or the run's output folder.

        Parameters
        ----------
        folder : path-like
        overwrite : bool
            Replace existing files; without it an existing file stops the export before anything is written.

        Returns
        -------
        dict of str to str
            Each file's :meth:`export_source`.

        Raises
        ------
        jcas.errors.JCASOutputError
            The folder is, or lies in, an input or the run's output folder, or files exist and ``overwrite`` is off.
        """
        targets = self.export_targets(folder)
        refuse_existing(targets.values(), overwrite)
        sources = {}
        with OutputSet(folder, overwrite=overwrite) as staging:
            for stem, target in targets.items():
                mask = self.pairs[stem].mask
                drawn, affine = read_with_affine(mask)
                sources[stem] = self.export_source(stem)
                if sources[stem] == FROM_REVIEW:
                    labels = load_autosave(self.saved_review(stem))[1]
                elif sources[stem] == FROM_CORRECTION:
                    labels = read_array(self.outputs[stem].corrected)
                else:
                    labels = drawn
                write_array(staging.path(target), labels.astype(drawn.dtype, copy=False), affine=affine, labels=True,
                            class_names=class_names_of(mask))
        return sources


def read_session(out: str | os.PathLike) -> dict | None:
    """The session file of a run's output folder (:data:`SESSION_NAME`), ``None`` when there is none.

    Raises
    ------
    JCASInputError
        A session file that cannot be read; it is left alone.
    """
    path = Path(out) / SESSION_NAME
    if not path.is_file():
        return None
    try:
        session = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise JCASInputError(f"the review session {path} cannot be read ({error}); move it away to start "
                             "the review of this folder over.") from error
    if not isinstance(session, dict) or not isinstance(session.get("states", {}), dict):
        raise JCASInputError(f"{path} is not a review session; move it away to start the review of this folder over.")
    return session
