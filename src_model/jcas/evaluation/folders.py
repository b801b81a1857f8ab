"""Score a folder of predicted (cleaned) masks against a folder of true masks.

Files are matched by stem (``case1.png`` pairs with ``case1.nii.gz``). Optional
folders add the noisy masks (for the label-quality gain) and float heatmaps
``<stem>.tif`` (scored against the true-noise map ``noisy != truth``).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..data.io import read_array
from ..data.labels import IGNORE_VALUE
from ..data.noise import background_label
from ..data.pairs import supported_files
from ..errors import JCASInputError
from ..limits import MAX_CLASSES
from . import metrics


def _check_partners(stems: set[str], other: dict[str, Path], role: str, other_role: str) -> None:
    """Raise, listing them, when files of ``other`` and ``stems`` lack a partner in each other."""
    missing = sorted(stems - set(other))
    extra = sorted(set(other) - stems)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no {other_role} file for: {', '.join(missing)}")
        if extra:
            parts.append(f"no {role} file for {other_role} files: {', '.join(extra)}")
        raise JCASInputError("Unmatched files (" + "; ".join(parts) + "). Give every file a partner with the same stem.")


def _read_matching(path: Path, shape: tuple[int, ...], truth_path: Path) -> np.ndarray:
    """Read ``path`` and check that its shape equals the truth's."""
    data = read_array(path)
    if data.shape != shape:
        raise JCASInputError(
            f"{path} has shape {data.shape} but its truth {truth_path} has {shape}; they must match."
        )
    return data


def _clean_number(value: float) -> float | None:
    """A JSON-safe number: ``None`` for NaN."""
    return None if math.isnan(value) else float(value)


def _clean_dict(per_class: dict[int, float]) -> dict[str, float | None]:
    """Per-class scores with string keys and NaN as ``None``, for JSON."""
    return {str(label): _clean_number(score) for label, score in per_class.items()}


def evaluate_folders(
    pred_dir: str | os.PathLike,
    truth_dir: str | os.PathLike,
    noisy_dir: str | os.PathLike | None = None,
    heatmaps_dir: str | os.PathLike | None = None,
    ignore_value: int | None = IGNORE_VALUE,
) -> dict:
    """Score predicted masks against true masks, matched by file stem.

    Parameters
    ----------
    pred_dir, truth_dir : path-like
        Folders of label maps (PNG, TIFF or NIfTI); each ``(H, W)`` or ``(Z, H, W)``
        pair must have the same shape.
    noisy_dir : path-like, optional
        Folder of the noisy masks the predictions were cleaned from.
    heatmaps_dir : path-like, optional
        Folder of float heatmaps ``<stem>.tif``, same shapes; scored only with ``noisy_dir``.
    ignore_value : int or None
        Truth value of pixels to leave out.

    Returns
    -------
    dict
        JSON-serialisable (NaN written as ``None``; class labels as string keys):
        ``n_images``, ``labels``, ``background``, ``dice`` and ``iou`` (per class,
        pooled over all images), ``mean_dice`` (foreground classes, pooled, see
        :func:`jcas.evaluation.metrics.mean_dice`), ``mean_dice_present`` (JCAS-paper variant,
        background included), ``per_image`` (list of ``{"stem", "mean_dice"}``, plus
        ``"mean_dice_noisy"`` with noisy masks); with ``noisy_dir`` also ``dice_noisy``
        (per class), ``mean_dice_noisy`` and ``label_quality_gain``; with both optional
        folders also ``heatmap_auroc`` and ``heatmap_ap`` over all valid pixels.

    Raises
    ------
    JCASInputError
        For a missing or empty folder, files without a partner, or mismatched shapes.
    """
    truth_files = supported_files(truth_dir, "truth")
    pred_files = supported_files(pred_dir, "prediction")
    _check_partners(set(truth_files), pred_files, "truth", "prediction")
    noisy_files = None
    if noisy_dir is not None:
        noisy_files = supported_files(noisy_dir, "noisy")
        _check_partners(set(truth_files), noisy_files, "truth", "noisy")
    heatmap_files = None
    if heatmaps_dir is not None:
        heatmap_files = {stem: Path(heatmaps_dir) / f"{stem}.tif" for stem in truth_files}
        absent = sorted(stem for stem, path in heatmap_files.items() if not path.is_file())
        if absent:
            raise JCASInputError(f"No heatmap <stem>.tif in {heatmaps_dir} for: {', '.join(absent)}.")

    stems = sorted(truth_files)
    truths = [read_array(truth_files[stem]) for stem in stems]
    preds = [_read_matching(pred_files[stem], t.shape, truth_files[stem]) for stem, t in zip(stems, truths)]
    labels = metrics.truth_labels(truths, ignore_value)
    MAX_CLASSES.check(len(labels), "the true masks", verb="hold",
                      why=" Each different label value is scored as a class: are they instance masks, one value per "
                          "object?")

    result: dict = {
        "n_images": len(stems),
        "labels": labels,
        "background": background_label(np.array(labels)) if labels else None,
        "dice": _clean_dict(metrics.dice_per_class(preds, truths, labels, ignore_value)),
        "iou": _clean_dict(metrics.iou_per_class(preds, truths, labels, ignore_value)),
        "mean_dice": _clean_number(metrics.mean_dice(preds, truths, labels, ignore_value)),
        "mean_dice_present": _clean_number(metrics.mean_dice_present(preds, truths, labels, ignore_value)),
        "per_image": [
            {"stem": stem, "mean_dice": _clean_number(metrics.mean_over_classes(per_class))}
            for stem, per_class in zip(stems, metrics.dice_per_image(preds, truths, labels, ignore_value))
        ],
    }
    if noisy_files is None:
        return result

    noisy = [_read_matching(noisy_files[stem], t.shape, truth_files[stem]) for stem, t in zip(stems, truths)]
    noisy_dice = metrics.dice_per_class(noisy, truths, labels, ignore_value)
    result["dice_noisy"] = _clean_dict(noisy_dice)
    result["mean_dice_noisy"] = _clean_number(metrics.mean_over_classes(noisy_dice))
    result["label_quality_gain"] = _clean_number(metrics.label_quality_gain(preds, noisy, truths, labels, ignore_value))
    for entry, per_class in zip(result["per_image"], metrics.dice_per_image(noisy, truths, labels, ignore_value)):
        entry["mean_dice_noisy"] = _clean_number(metrics.mean_over_classes(per_class))
    if heatmap_files is None:
        return result

    heatmaps = [_read_matching(heatmap_files[stem], t.shape, truth_files[stem]) for stem, t in zip(stems, truths)]
    scores = np.concatenate([h.ravel() for h in heatmaps])
    noise = np.concatenate([(n != t).ravel() for n, t in zip(noisy, truths)])
    valid = None if ignore_value is None else np.concatenate([(t != ignore_value).ravel() for t in truths])
    result["heatmap_auroc"] = _clean_number(metrics.auroc(scores, noise, valid))
    result["heatmap_ap"] = _clean_number(metrics.average_precision(scores, noise, valid))
    return result


def _format_score(value: float | None) -> str:
    """A score six characters wide, ``n/a`` for ``None``."""
    return "   n/a" if value is None else f"{value:6.3f}"


def format_report(result: dict) -> str:
    """A short human-readable table of an :func:`evaluate_folders` result.

    Parameters
    ----------
    result : dict
        As returned by :func:`evaluate_folders` (or read back from its JSON).

    Returns
    -------
    str
        Several lines, no trailing newline.
    """
    has_noisy = "dice_noisy" in result
    header = "class     Dice    IoU" + ("  noisy Dice" if has_noisy else "")
    lines = [f"{result['n_images']} images, background label {result['background']}", header]
    for label in result["dice"]:
        row = f"{label:<7} {_format_score(result['dice'][label])} {_format_score(result['iou'][label])}"
        if has_noisy:
            row += f"      {_format_score(result['dice_noisy'][label])}"
        lines.append(row)
    lines.append(f"mean Dice, foreground classes (pooled): {_format_score(result['mean_dice'])}")
    lines.append(f"mean Dice, classes present per image:   {_format_score(result['mean_dice_present'])}")
    if has_noisy:
        lines.append(f"mean Dice of the noisy masks:           {_format_score(result['mean_dice_noisy'])}")
        gain = result["label_quality_gain"]
        lines.append(f"label-quality gain:                     {'   n/a' if gain is None else f'{gain:+6.3f}'}")
    if "heatmap_auroc" in result:
        lines.append(
            f"heatmap vs true noise: AUROC {_format_score(result['heatmap_auroc']).strip()}, "
            f"AP {_format_score(result['heatmap_ap']).strip()}"
        )
    return "\n".join(lines)
