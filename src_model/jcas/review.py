"""Review of candidate corrections: decisions, navigation, pixel edits, log, autosave and export names.

The last stage of a correction, with no Qt and no napari. A :class:`Review` announces every
change through psygnal signals (:attr:`Review.decided`, :attr:`Review.moved`,
:attr:`Review.reordered`), so that a view (the plugin's Review dock) only listens. The view
applies the :class:`Edit` objects returned here to the "cleaned" labels through their undo
history, and calls :meth:`Review.sync` after any change to those labels (brush, eraser, undo,
redo) so that the decisions always describe the pixels.

A region is *accepted* when all its pixels in the cleaned labels carry the proposal,
*open* or *rejected* otherwise. Accepting writes the proposal into the region;
rejecting an accepted region writes the drawn labels back; undoing an accept returns
the region to *open*.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
from psygnal import Signal

from jcas.correction.regions import Region
from jcas.data.io import file_stem, file_suffix, write_bytes_atomic
from jcas.data.labels import IGNORE_VALUE

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"
STATUSES = (OPEN, ACCEPTED, REJECTED)
#: What :meth:`Review.sort` orders by: attributes of a Region, its "change" (old, new label), its status.
SORT_KEYS = ("index", "slice", "change", "area", "score", "expected_pixels_fixed", "status")
#: Columns of the review log.
LOG_FIELDS = ("region", "slice", "old_class", "new_class", "area", "score", "decision", "time")
AUTOSAVE_VERSION = 1


@dataclass(frozen=True)
class Edit:
    """Pixels to write into the cleaned labels: ``cleaned[indices] = values``.

    Attributes
    ----------
    indices : tuple of numpy.ndarray
        One integer array per axis of the labels (numpy fancy indexing).
    values : numpy.ndarray
        The new label values, one per pixel.
    """

    indices: tuple[np.ndarray, ...]
    values: np.ndarray

    @property
    def size(self) -> int:
        """Number of pixels."""
        return int(self.values.size)


def region_key(region: Region) -> str:
    """A name for a region that survives re-running the correction (slice, box, change, area)."""
    y0, x0, y1, x1 = (int(v) for v in region.bbox)
    return f"{int(region.slice)}:{y0},{x0},{y1},{x1}:{int(region.old_label)}>{int(region.new_label)}:{int(region.area)}"


def array_digest(array: np.ndarray) -> str:
    """SHA-1 of an array's shape, dtype and values."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha1(f"{array.shape}{array.dtype.str}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


class Review:
    """Decisions on the ranked candidate corrections of one mask.

    Parameters
    ----------
    regions : sequence of Region
        Candidates in rank order (:func:`jcas.correction.regions.rank`), as
        ``jcas.correction.results.Correction.regions``.
    region_map : numpy.ndarray
        Integer array of the mask's shape; ``k`` marks the pixels of region index ``k``.
    proposal : numpy.ndarray
        The model's corrected mask, in the user's label values.
    drawn : numpy.ndarray
        The mask as drawn (never modified).

    Attributes
    ----------
    position : int
        The current region: its row in :attr:`regions` (rank order).
    order : list of int
        The rows of :attr:`regions` in the order the review goes through them (:meth:`sort`);
        rank order at first.

    Signals
    -------
    decided(list of int)
        The ids of the regions whose status changed (a decision, a sync, a restore).
    moved()
        :attr:`position` changed.
    reordered()
        :attr:`order` changed.
    exported(str)
        The review log was written beside an export, to the path given (:meth:`mark_exported`).
    """

    decided = Signal(list)
    moved = Signal()
    reordered = Signal()
    exported = Signal(str)

    def __init__(self, regions: Sequence[Region], region_map: np.ndarray, proposal: np.ndarray,
                 drawn: np.ndarray):
        if not (region_map.shape == proposal.shape == drawn.shape):
            raise ValueError(f"shapes differ: regions {region_map.shape}, proposal {proposal.shape}, "
                             f"drawn {drawn.shape}")
        self.regions = list(regions)
        self.region_map = np.ascontiguousarray(region_map)
        self.proposal = np.ascontiguousarray(proposal)
        self.drawn = np.ascontiguousarray(drawn)
        self.status = {region.index: OPEN for region in self.regions}
        self.log: list[dict] = []
        self.exported_decisions = 0  # how many entries of the log the latest export wrote
        self.position = 0
        self.order = list(range(len(self.regions)))
        self._rows = {region.index: row for row, region in enumerate(self.regions)}
        self._candidates = np.flatnonzero(self.region_map)
        self._owners = self.region_map.ravel()[self._candidates].astype(np.int64)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.regions)

    def region(self, index: int) -> Region:
        """The region with id ``index``."""
        return self.regions[self._rows[index]]

    @property
    def current(self) -> Region | None:
        """The region at :attr:`position`, ``None`` when there are no candidates."""
        return self.regions[self.position] if self.regions else None

    def counts(self) -> dict[str, int]:
        """Number of regions per status."""
        counts = dict.fromkeys(STATUSES, 0)
        for status in self.status.values():
            counts[status] += 1
        return counts

    @property
    def unexported(self) -> int:
        """How many decisions (entries of the log) were made since the latest export (:meth:`mark_exported`)."""
        return len(self.log) - self.exported_decisions

    def rows(self, slice_index: int | None = None) -> list[int]:
        """Rows of :attr:`regions` in review :attr:`order`, all of them or those of one slice."""
        return [row for row in self.order if slice_index is None or self.regions[row].slice == slice_index]

    def pixels(self, index: int) -> tuple[np.ndarray, ...]:
        """Indices of the pixels of region ``index`` in the full labels array."""
        region = self.region(index)
        y0, x0, y1, x1 = (int(v) for v in region.bbox)
        if self.region_map.ndim == 2:
            ys, xs = np.nonzero(self.region_map[y0:y1, x0:x1] == index)
            return ys + y0, xs + x0
        ys, xs = np.nonzero(self.region_map[region.slice, y0:y1, x0:x1] == index)
        return np.full_like(ys, region.slice), ys + y0, xs + x0

    # --------------------------------------------------------------- navigation
    def select(self, row: int) -> Region | None:
        """Move to table row ``row`` (clamped)."""
        if self.regions:
            self._move_to(int(np.clip(row, 0, len(self.regions) - 1)))
        return self.current

    def step(self, delta: int, *, slice_index: int | None = None, open_only: bool = False) -> Region | None:
        """Move to the next (``delta`` +1) or previous (-1) region in review :attr:`order`, optionally within
        one slice or among open regions.

        Stays put when there is no such region.
        """
        places = {row: place for place, row in enumerate(self.order)}
        here = places.get(self.position, 0)
        ahead = [places[row] for row in self.rows(slice_index)
                 if (places[row] - here) * delta > 0
                 and (not open_only or self.status[self.regions[row].index] == OPEN)]
        if ahead:
            self._move_to(self.order[min(ahead, key=lambda place: abs(place - here))])
        return self.current

    def _move_to(self, row: int) -> None:
        if row != self.position:
            self.position = row
            self.moved.emit()

    def sort(self, by: str, descending: bool = False) -> None:
        """Set the review :attr:`order`: by one of :data:`SORT_KEYS`, ties in rank order.

        :meth:`rows` and :meth:`step` follow it; :attr:`position` stays on its region.
        ``sort("expected_pixels_fixed", descending=True)`` is the rank order again.
        """
        if by not in SORT_KEYS:
            raise ValueError(f"cannot sort by {by!r}; choose one of {SORT_KEYS}")
        keys = {"change": lambda region: (region.old_label, region.new_label),
                "status": lambda region: STATUSES.index(self.status[region.index])}
        key = keys.get(by, lambda region: getattr(region, by))
        order = sorted(range(len(self.regions)), key=lambda row: key(self.regions[row]), reverse=descending)
        if order != self.order:
            self.order = order
            self.reordered.emit()

    # ---------------------------------------------------------------- decisions
    def accept(self, index: int) -> Edit:
        """Accept region ``index``: returns the edit that writes the proposal into it."""
        indices = self.pixels(index)
        self._decide(index, ACCEPTED)
        self.decided.emit([index])
        return Edit(indices, self.proposal[indices])

    def reject(self, index: int) -> Edit:
        """Reject region ``index``: returns the edit that restores the drawn labels if it was accepted."""
        indices = self.pixels(index) if self.status[index] == ACCEPTED else self._no_pixels()
        self._decide(index, REJECTED)
        self.decided.emit([index])
        return Edit(indices, self.drawn[indices])

    def accept_above(self, threshold: float) -> Edit:
        """Accept every open region scoring at least ``threshold``, as one edit (one undo step)."""
        chosen = [r.index for r in self.regions if self.status[r.index] == OPEN and r.score >= threshold]
        if not chosen:
            empty = self._no_pixels()
            return Edit(empty, self.proposal[empty])
        pixels = [self.pixels(index) for index in chosen]
        for index in chosen:
            self._decide(index, ACCEPTED)
        self.decided.emit(chosen)
        indices = tuple(np.concatenate(axis) for axis in zip(*pixels))
        return Edit(indices, self.proposal[indices])

    def sync(self, cleaned: np.ndarray) -> list[int]:
        """Bring the decisions in line with the cleaned labels after an edit, undo or redo.

        A region whose pixels all carry the proposal becomes accepted; an accepted region
        whose pixels all carry the drawn labels again becomes open.

        Returns
        -------
        list of int
            The regions whose status changed.
        """
        values = np.asarray(cleaned).ravel()[self._candidates]
        size = int(self._owners.max()) + 1 if self._owners.size else 1
        total = np.bincount(self._owners, minlength=size)
        at_proposal = np.bincount(self._owners, weights=values == self.proposal.ravel()[self._candidates],
                                  minlength=size) == total
        at_drawn = np.bincount(self._owners, weights=values == self.drawn.ravel()[self._candidates],
                               minlength=size) == total
        changed = []
        for region in self.regions:
            status = self.status[region.index]
            if status != ACCEPTED and at_proposal[region.index]:
                self._decide(region.index, ACCEPTED)
            elif status == ACCEPTED and at_drawn[region.index]:
                self._decide(region.index, OPEN, decision="reopened")
            else:
                continue
            changed.append(region.index)
        if changed:
            self.decided.emit(changed)
        return changed

    def _decide(self, index: int, status: str, decision: str | None = None) -> None:
        self.status[index] = status
        region = self.region(index)
        self.log.append({
            "region": int(region.index),
            "slice": int(region.slice),
            "old_class": int(region.old_label),
            "new_class": int(region.new_label),
            "area": int(region.area),
            "score": round(float(region.score), 6),
            "decision": decision or status,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })

    def _no_pixels(self) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros(0, dtype=np.intp) for _ in range(self.region_map.ndim))

    def expected_labels(self) -> np.ndarray:
        """The drawn labels with the proposal in every accepted region (what the review decided)."""
        result = self.drawn.copy()
        for index, status in self.status.items():
            if status == ACCEPTED:
                indices = self.pixels(index)
                result[indices] = self.proposal[indices]
        return result

    # -------------------------------------------------------------- persistence
    def mark_exported(self, path: str | os.PathLike) -> None:
        """Record that the log as it is now was written to ``path``: :attr:`unexported` is 0 again."""
        self.exported_decisions = len(self.log)
        self.exported.emit(str(path))

    def log_csv(self) -> str:
        """The review log as CSV text: one row per decision, in order."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.log)
        return buffer.getvalue()

    def state(self) -> dict:
        """Decisions, log and position as JSON-ready data (regions named by :func:`region_key`)."""
        return {
            "version": AUTOSAVE_VERSION,
            "drawn": array_digest(self.drawn),
            "decisions": {region_key(r): self.status[r.index] for r in self.regions},
            "log": self.log,
            "position": self.position,
        }

    def restore(self, state: dict) -> int:
        """Take decisions, log and position from :meth:`state` output; returns the regions matched.

        Decisions are matched to regions by :func:`region_key`, so a correction that is re-run
        after a restart finds its decisions again. Pixels are not touched.
        """
        keys = {region_key(region): region.index for region in self.regions}
        changed = []
        for key, status in state.get("decisions", {}).items():
            if key in keys and status in STATUSES:
                changed.append(keys[key])
                self.status[keys[key]] = status
        self.log = list(state.get("log", [])) + self.log
        if changed:
            self.decided.emit(changed)
        self.select(int(state.get("position", 0)))
        return len(changed)

    def carry_over(self, earlier: Review) -> int:
        """Take the decisions, log and current region of ``earlier``, a review of the same mask whose
        regions were selected with other thresholds; returns the regions matched (:meth:`restore`).

        The current region stays current if it is still a candidate, else the first one is.
        """
        matched = self.restore(earlier.state())
        self.exported_decisions = earlier.exported_decisions  # the earlier log comes first in this one
        rows = {region_key(region): row for row, region in enumerate(self.regions)}
        self.select(rows.get(region_key(earlier.current), 0) if earlier.current is not None else 0)
        return matched


def trusted_labels(review: Review, cleaned: np.ndarray, ignore_value: int = IGNORE_VALUE) -> np.ndarray:
    """The labels a review confirmed, to train on as clean labels (``jcas train --trusted``,
    ``Trainer(trusted=...)``).

    Parameters
    ----------
    review : Review
    cleaned : numpy.ndarray
        The cleaned labels, the mask's shape: the decisions and the person's own edits.
    ignore_value : int
        Written where nothing was confirmed.

    Returns
    -------
    numpy.ndarray
        The mask's shape and dtype: the proposal in accepted regions, the drawn labels in rejected
        ones, the cleaned labels wherever the person painted (where they differ from what the
        decisions alone give), ``ignore_value`` elsewhere.
    """
    cleaned = np.asarray(cleaned)
    trusted = np.full(review.drawn.shape, ignore_value, dtype=review.drawn.dtype)
    decided_labels = review.expected_labels()  # the proposal in accepted regions, the drawn labels elsewhere
    decided = np.isin(review.region_map, [index for index, status in review.status.items() if status != OPEN])
    trusted[decided] = decided_labels[decided]
    painted = cleaned != decided_labels
    trusted[painted] = cleaned[painted]
    return trusted


def autosave_conflict(state: dict, saved: np.ndarray, review: Review, labels: np.ndarray) -> str | None:
    """Why an autosave cannot be taken up into ``review``, or ``None`` when it can.

    Parameters
    ----------
    state, saved : dict, numpy.ndarray
        What :func:`load_autosave` read: the review state and the cleaned labels it saved.
    review : Review
        The review that would take it up.
    labels : numpy.ndarray
        The cleaned labels of ``review`` now, the mask's shape.

    Returns
    -------
    str or None
        A reason that completes "The autosave ...", e.g. "is the review of another mask". An
        autosave is taken up only by a review of the same drawn mask that has not started.
    """
    if state.get("drawn") != array_digest(review.drawn) or saved.shape != labels.shape:
        return "is the review of another mask"
    if review.log or not np.array_equal(labels, review.drawn):
        return "holds an earlier review of this mask, and this review has started"
    return None


def default_export_path(mask_path: str | os.PathLike, from_folder: bool = False) -> Path:
    """Where the cleaned labels of a mask are exported unless the user says otherwise.

    ``<mask>_cleaned<suffix>`` beside a mask file (``masks/a.nii.gz`` -> ``masks/a_cleaned.nii.gz``),
    ``<folder>_cleaned`` beside a folder of masks (``from_folder``).
    """
    path = Path(mask_path)
    if from_folder:
        return path.with_name(f"{path.name}_cleaned")
    return path.with_name(f"{file_stem(path)}_cleaned{file_suffix(path)}")


def log_path(export_path: str | os.PathLike) -> Path:
    """Where the review log goes: ``<name>_review.csv`` beside the export."""
    export_path = Path(export_path)
    return export_path.with_name(f"{file_stem(export_path)}_review.csv")


def autosave_path(export_path: str | os.PathLike) -> Path:
    """Where the review autosaves: ``<export name>.review.npz`` beside the export."""
    export_path = Path(export_path)
    return export_path.with_name(f"{export_path.name}.review.npz")


def session_autosave_path(folder: str | os.PathLike, drawn: np.ndarray) -> Path:
    """Where the review of a mask with no export path autosaves: ``<folder>/<digest>.review.npz``,
    named by the drawn mask's values (:func:`array_digest`), so that the same mask finds it again."""
    return Path(folder) / f"{array_digest(drawn)[:16]}.review.npz"


def save_autosave(path: str | os.PathLike, review: Review, cleaned: np.ndarray) -> Path:
    """Write the review state and the cleaned labels to ``path`` atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, state=np.array(json.dumps(review.state())), cleaned=np.asarray(cleaned))
    return write_bytes_atomic(path, buffer.getvalue(), overwrite=True)


def load_autosave(path: str | os.PathLike) -> tuple[dict, np.ndarray]:
    """Read what :func:`save_autosave` wrote: the state and the cleaned labels."""
    with np.load(path, allow_pickle=False) as saved:
        return json.loads(str(saved["state"])), saved["cleaned"]
