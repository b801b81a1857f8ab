"""Correct a folder of image/mask pairs (``jcas correct``): every output appears together at the end, and a
run stopped part-way resumes without redoing the files it finished.

Per pair the outputs are the corrected mask, the class and affinity disagreement heatmaps and the
boundary view; for the whole folder ``regions.csv`` (every candidate region), ``quality.csv`` (the
estimated quality of every mask and of every slice of a stack, worst first:
:mod:`jcas.evaluation.mask_quality`) and ``report.html`` (:mod:`jcas.evaluation.report`). Slices are
read, corrected and written one at a time, so memory holds a few slices whatever the folder's size.

The outputs are staged in a hidden folder inside the output folder (:class:`jcas.outputs.OutputSet`).
When the run stops (an error, Ctrl+C, ``kill``) that folder is kept with one record per finished pair;
the same command with ``resume=True`` (``--resume``) checks that the model and the settings are the
same, skips every pair whose files are unchanged since, and goes on.
"""
from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.class_names import class_names_of
from ..data.io import StackWriter, output_suffix, write_array, write_bytes_atomic
from ..data.pairs import FilePair
from ..data.stream import SliceStore
from ..errors import JCASInputError
from ..evaluation.mask_quality import QualityTally
from ..evaluation.report import WORST_SHOWN, ReportFile, Thumbnails, make_thumbnails, render_report
from ..nn.checkpoint import check_channels
from ..nn.crossfit import CrossFittedModel
from ..nn.integrity import check_finite_output
from ..outputs import OutputSet, check_clear_of_inputs, check_writable, refuse_existing
from ..training.dataset import volumes_from_files
from .guard import untrusted_classes
from .selection import guard_notes
from .stream import stream_correct
from .regions import REGION_FIELDS, rank

#: The hidden staging folder of a ``jcas correct`` run, kept when it stops (``OUT/.jcas-correct-partial``).
RESUMABLE_NAME = "correct-partial"
#: Inside it: one record per finished pair, and the run's model and settings.
PROGRESS_FOLDER = "progress"
QUALITY_FIELDS = ("stem", "slice", "estimated_dice", "estimated_dice_after", "likely_wrong", "proposals",
                  "withheld", "changed", "judge")


@dataclass(frozen=True)
class PairOutputs:
    """Where one pair's outputs go: the corrected mask and the three maps."""

    corrected: Path
    class_disagreement: Path
    affinity_disagreement: Path
    boundaries: Path


def pair_outputs(pairs: list[FilePair], out: Path) -> dict[str, PairOutputs]:
    """The output files of each pair, by stem."""
    return {p.stem: PairOutputs(out / f"{p.stem}{output_suffix(p.mask)}", out / "disagreement" / f"{p.stem}.tif",
                                out / "affinity_disagreement" / f"{p.stem}.tif", out / "boundaries" / f"{p.stem}.tif")
            for p in pairs}


def folder_files(pairs: list[FilePair], out: Path) -> list[Path]:
    """Every file a correction of ``pairs`` into ``out`` writes."""
    per_pair = [path for outputs in pair_outputs(pairs, out).values() for path in asdict(outputs).values()]
    return per_pair + [out / "regions.csv", out / "quality.csv", out / "report.html"]


def _file_state(path: Path) -> list:
    status = path.stat()
    return [str(path.resolve()), status.st_size, status.st_mtime_ns]


def _table(rows: list[dict], fields: tuple[str, ...] | list[str]) -> bytes:
    """A UTF-8 CSV of ``rows``; a stem that is not valid UTF-8 (a file name with a byte of another encoding)
    keeps a backslash escape for that byte, as it is printed."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", "backslashreplace")


def regions_table(rows: list[dict]) -> bytes:
    """``regions.csv``: one row per candidate region (``stem``, the region's fields, ``withheld``), UTF-8."""
    return _table(rows, ("stem",) + REGION_FIELDS + ("withheld",))


@contextlib.contextmanager
def heatmap_writers(paths: dict[Path, type], shape: tuple[int, ...]):
    """One writer per map file of a pair (path: its dtype), each taking the next slice ``(H, W)``: slice by
    slice into a TIFF stack (:class:`jcas.data.io.StackWriter`) for a stack, the one slice of a 2D mask at the end."""
    if len(shape) == 3:
        with contextlib.ExitStack() as writers:
            yield [writers.enter_context(StackWriter(path, shape, dtype)).write for path, dtype in paths.items()]
        return
    pages: dict[Path, np.ndarray] = {}
    yield [lambda page, path=path: pages.__setitem__(path, page) for path in paths]
    for path in paths:
        write_array(path, pages[path])


def _score(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.4f}"


def quality_row(stem: str, slice_name: str, drawn: QualityTally, corrected: QualityTally, values: list[int],
                counts: dict) -> dict:
    """One row of ``quality.csv``: the estimates of a file (``slice`` "" for 2D, "all" for a stack) or a slice."""
    before, after = drawn.quality(values), corrected.quality(values)
    row = {"stem": stem, "slice": slice_name, "estimated_dice": _score(before.dice),
           "estimated_dice_after": _score(after.dice), "likely_wrong": f"{before.likely_wrong:.4f}", **counts}
    row.update({f"dice_{value}": _score(before.class_dice.get(value, float("nan"))) for value in values})
    return row


def _tally_record(tally: QualityTally) -> dict:
    return {"overlap": tally.overlap.tolist(), "expected": tally.expected.tolist(), "drawn": tally.drawn.tolist(),
            "wrong": tally.wrong, "labelled": tally.labelled}


def _tally_from(record: dict) -> QualityTally:
    return QualityTally(np.array(record["overlap"]), np.array(record["expected"]), np.array(record["drawn"]),
                        float(record["wrong"]), int(record["labelled"]))


class Progress:
    """The records of the finished pairs in a kept staging folder (one JSON file each, written atomically)."""

    def __init__(self, staging: Path):
        self.folder = staging / PROGRESS_FOLDER
        self.folder.mkdir(exist_ok=True)

    def _path(self, stem: str, kind: str) -> Path:
        return self.folder / f"{hashlib.sha256(stem.encode('utf-8', 'surrogateescape')).hexdigest()[:24]}.{kind}.json"

    def check_run(self, settings: dict, resume: bool) -> None:
        """Record the run's model and settings; on resuming, refuse a run made with others."""
        path = self.folder / "run.json"
        if resume and path.exists():
            earlier = json.loads(path.read_text())
            differ = sorted(key for key in set(earlier) | set(settings) if earlier.get(key) != settings.get(key))
            if differ:
                raise JCASInputError(f"the run stopped part-way in {self.folder.parent} used another "
                                     f"{', '.join(differ)}; run the same command as then with --resume, or "
                                     f"without --resume to start over.")
        write_bytes_atomic(path, json.dumps(settings).encode())

    def finished(self, stem: str, inputs: list) -> dict | None:
        """The record of ``stem`` when it finished from these very input files, else None."""
        path = self._path(stem, "record")
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        return {**record, "resumed": True} if record["inputs"] == inputs else None

    def save(self, stem: str, record: dict, thumbnails: Thumbnails) -> None:
        pictures = {key: base64.b64encode(png).decode("ascii") for key, png in asdict(thumbnails).items()}
        write_bytes_atomic(self._path(stem, "pictures"), json.dumps(pictures).encode())
        write_bytes_atomic(self._path(stem, "record"), json.dumps(record).encode())  # last: the pair is done

    def thumbnails(self, stem: str) -> Thumbnails | None:
        path = self._path(stem, "pictures")
        if not path.exists():
            return None
        return Thumbnails(**{key: base64.b64decode(text) for key, text in json.loads(path.read_text()).items()})


@dataclass
class _WorstSlice:
    """A pair's worst slice so far, with what its pictures need beside the image and the drawn mask (read
    again once, at the end)."""

    z: int
    dice: float
    corrected: np.ndarray
    heatmap: np.ndarray


def correct_folder(model: CrossFittedModel, pairs: list[FilePair], out: Path, *, model_file: Path,
                   inputs: dict[str, Path],
                   min_area: int | None, min_score: float, min_confidence: float, mirror: bool, overwrite: bool,
                   resume: bool, progress: bool = True, say: Callable[[str], None] | None = None) -> FolderResult:
    """Correct every pair into ``out``; see the module docstring.

    Parameters
    ----------
    model : CrossFittedModel
    pairs : list of FilePair
    out : pathlib.Path
        The output folder.
    model_file : pathlib.Path
        The file ``model`` was loaded from (a resumed run must use the same, unchanged).
    inputs : dict of str to pathlib.Path
        The folders and files the run reads, by what a person calls them ("the --masks folder"), which no
        output may land on.
    min_area, min_score, min_confidence, mirror
        As for :func:`jcas.correction.stream.stream_correct`.
    overwrite : bool
        Replace existing outputs.
    resume : bool
        Continue a run stopped part-way in ``out`` (its kept staging folder) instead of starting over.
    progress : bool
        Show a progress bar with the time left on standard error.
    say : callable, optional
        Takes each line for the person (one per pair); default: printed above the progress bar.

    Returns
    -------
    FolderResult
    """
    from tqdm import tqdm

    say = say or tqdm.write
    files = folder_files(pairs, out)
    check_clear_of_inputs([out, *files], inputs)
    check_writable(out, "--out", folder=True)
    refuse_existing(files, overwrite)
    outputs = pair_outputs(pairs, out)
    store = SliceStore(0)  # each slice is read once: nothing to keep
    volumes = {pair.stem: volumes_from_files([pair], store=store)[0] for pair in pairs}  # headers checked up front
    for pair in pairs:
        model.label_map.check_dtype(store.file(pair.mask).dtype, name=f"mask {pair.mask.name}")
        check_channels(model, volumes[pair.stem].channels)
    values = [int(v) for v in model.label_map.values]
    run_notes = guard_notes(untrusted_classes(model), model.label_map.num_classes)
    settings = {"model": _file_state(model_file), "min_area": min_area, "min_score": min_score,
                "min_confidence": min_confidence, "mirror": mirror}
    staging = OutputSet(out, overwrite=overwrite, resumable=RESUMABLE_NAME)
    if not resume and staging.kept_staging.is_dir():
        say(f"starting over: the run stopped part-way in {out} is discarded (--resume continues it instead)")
        shutil.rmtree(staging.kept_staging)
    records: list[dict] = []
    try:
        with staging:
            record_of = Progress(staging.staging)
            record_of.check_run(settings, resume)
            with _bar(sum(volume.slices for volume in volumes.values()), progress) as bar:
                for pair in pairs:
                    staged = {name: staging.path(path) for name, path in asdict(outputs[pair.stem]).items()}
                    state = [_file_state(pair.image), _file_state(pair.mask)]
                    record = record_of.finished(pair.stem, state) if resume else None
                    if record is None:
                        record, thumbnails = _correct_pair(model, volumes[pair.stem], pair, staged, store, values,
                                                           run_notes, (min_area, min_score, min_confidence), mirror,
                                                           bar)
                        record["inputs"] = state
                        record_of.save(pair.stem, record, thumbnails)
                        records.append(record)
                        say(record["line"])
                    else:
                        bar.update(volumes[pair.stem].slices)
                        records.append(record)
            _write_tables(staging, out, records, values, record_of, run_notes)
    except BaseException:
        if records:
            say(f"{len(records)} of {len(pairs)} files were finished; they are kept in {staging.kept_staging}, "
                "and the same command with --resume goes on from there")
        elif not staging.resumed:
            staging.discard_kept()  # nothing to resume: leave no trace (an earlier stopped run stays)
        raise
    resumed = sum(1 for record in records if record.get("resumed"))
    return FolderResult(files, {record["stem"]: record["notes"] for record in records}, resumed)


@dataclass(frozen=True)
class FolderResult:
    """What :func:`correct_folder` did.

    Attributes
    ----------
    files : list of pathlib.Path
        The files written.
    notes : dict of str to list of str
        Per stem, what the guard withheld and why.
    resumed : int
        Pairs taken from the stopped run rather than corrected again.
    """

    files: list[Path]
    notes: dict[str, list[str]]
    resumed: int


@contextlib.contextmanager
def _bar(total: int, show: bool):
    from tqdm import tqdm

    bar = tqdm(total=total, unit="slice", disable=not show, file=sys.stderr, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def _correct_pair(model, volume, pair: FilePair, staged: dict[str, Path], store: SliceStore, values: list[int],
                  run_notes: list[str], floors: tuple, mirror: bool, bar) -> tuple[dict, Thumbnails]:
    """Correct one pair into its staged files; returns its record and its worst slice's pictures."""
    mask_file = store.file(pair.mask)
    corrected = np.empty(mask_file.shape, dtype=mask_file.dtype)  # the mask's size; no float map is whole
    stack = corrected.ndim == 3
    regions, withheld, notes, changed, quality_rows = [], [], list(run_notes), 0, []
    drawn_total = corrected_total = QualityTally.empty(len(values))
    worst: _WorstSlice | None = None
    started = time.perf_counter()
    min_area, min_score, min_confidence = floors
    with heatmap_writers({staged["class_disagreement"]: np.float32, staged["affinity_disagreement"]: np.float32,
                          staged["boundaries"]: np.uint8}, mask_file.shape) as (
            write_class, write_affinity, write_boundaries):
        for part in stream_correct(model, volume.image, volume.mask, volume.slices, name=volume.name,
                                   min_area=min_area, min_score=min_score, min_confidence=min_confidence,
                                   mirror=mirror):
            check_finite_output(part.class_disagreement, f"the class disagreement of {pair.stem}")
            check_finite_output(part.affinity_disagreement, f"the affinity disagreement of {pair.stem}")
            write_class(part.class_disagreement)
            write_affinity(part.affinity_disagreement)
            write_boundaries(part.boundaries)
            (corrected[part.z] if stack else corrected)[...] = part.selection.corrected
            slice_changed = int(np.count_nonzero(part.selection.region_map))  # a kept region's pixels change
            changed += slice_changed
            regions += part.selection.regions
            withheld += part.selection.withheld
            notes += part.selection.notes
            drawn_total += part.drawn_quality
            corrected_total += part.corrected_quality
            if stack:
                quality_rows.append(quality_row(pair.stem, str(part.z + 1), part.drawn_quality,
                                                part.corrected_quality, values,
                                                _counts(part.selection, slice_changed, part.judge)))
            dice = part.drawn_quality.quality(values).dice
            if worst is None or (math.isfinite(dice) and dice < worst.dice):
                worst = _WorstSlice(part.z, dice, part.selection.corrected, part.class_disagreement)
            bar.set_description(pair.stem[:24], refresh=False)
            bar.update(1)
    write_array(staged["corrected"], corrected, affine=mask_file.affine, labels=True,
                class_names=class_names_of(pair.mask))
    counts = {"proposals": len(regions), "withheld": len(withheld), "changed": f"{changed / corrected.size:.4f}",
              "judge": ""}
    quality_rows.insert(0, quality_row(pair.stem, "all" if stack else "", drawn_total, corrected_total, values,
                                       counts))
    region_rows = [{"stem": pair.stem, **region.to_row(), "withheld": ""} for region in rank(regions)]
    region_rows += [{"stem": pair.stem, **held.region.to_row(), "withheld": held.reason} for held in withheld]
    line = (f"{pair.stem}: {len(regions)} candidate regions, {len(withheld)} withheld, "
            f"{changed / corrected.size:.1%} of pixels changed ({time.perf_counter() - started:.1f} s)")
    record = {"stem": pair.stem, "line": line, "regions": region_rows, "quality": quality_rows,
              "drawn": _tally_record(drawn_total), "corrected": _tally_record(corrected_total),
              "worst_slice": str(worst.z + 1) if stack else "", "notes": notes, "slices": volume.slices}
    encode = model.label_map.encode
    return record, make_thumbnails(volume.image(worst.z), encode(volume.mask(worst.z)), encode(worst.corrected),
                                   worst.heatmap)


def _counts(selection, changed: int, judge: str) -> dict:
    return {"proposals": len(selection.regions), "withheld": len(selection.withheld),
            "changed": f"{changed / selection.corrected.size:.4f}", "judge": judge}


def _worst_first(row: dict) -> tuple:
    text = row["estimated_dice"]
    return (0, float(text)) if text else (1, 0.0)


def _write_tables(staging: OutputSet, out: Path, records: list[dict], values: list[int], progress: Progress,
                  run_notes: list[str]) -> None:
    """``regions.csv``, ``quality.csv`` and ``report.html`` from every pair's record."""
    write_bytes_atomic(staging.path(out / "regions.csv"), regions_table([row for r in records for row in r["regions"]]))
    quality_fields = list(QUALITY_FIELDS) + [f"dice_{value}" for value in values]
    rows = sorted((row for r in records for row in r["quality"]), key=_worst_first)
    write_bytes_atomic(staging.path(out / "quality.csv"), _table(rows, quality_fields))
    drawn = [(r, _tally_from(r["drawn"]), _tally_from(r["corrected"])) for r in records]
    estimates = [(r, d.quality(values).dice, c.quality(values).dice) for r, d, c in drawn]
    shown = {r["stem"] for r, before, _ in sorted(estimates, key=lambda e: e[1] if math.isfinite(e[1]) else math.inf)
             [:WORST_SHOWN]}
    files = [ReportFile(r["stem"], before, after, progress.thumbnails(r["stem"]) if r["stem"] in shown else None,
                        r["worst_slice"]) for r, before, after in estimates]
    total_drawn = sum((d for _, d, _ in drawn), QualityTally.empty(len(values)))
    total_corrected = sum((c for _, _, c in drawn), QualityTally.empty(len(values)))
    totals = {"before": total_drawn.quality(values).dice, "after": total_corrected.quality(values).dice,
              "files": len(records), "slices": sum(r["slices"] for r in records),
              "proposals": sum(len([row for row in r["regions"] if not row["withheld"]]) for r in records),
              "withheld": sum(len([row for row in r["regions"] if row["withheld"]]) for r in records)}
    notes = run_notes + [f"{r['stem']}: {note}" for r in records for note in r["notes"] if note not in run_notes]
    page = render_report(str(os.path.abspath(out)), files, rows, quality_fields, totals, notes)
    write_bytes_atomic(staging.path(out / "report.html"), page.encode("utf-8", "backslashreplace"))
