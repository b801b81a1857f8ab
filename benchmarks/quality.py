"""The runner of the label-cleaning benchmark: resumable, one JSON file per finished row.

A row = (set, noise kind and fraction, method, seed, schedule multiplier), each from the registry in
``harness.py``. For each row: make the noise on the clean masks of every slice of the set (noise seed
= row seed), train on the NOISY masks of all slices, correct the same images, score against the
clean masks.

    .venv/bin/python benchmarks/quality.py --datasets mni cells --noise mixed:0.5 mixed:0.8 \
        --methods jcas ce --seeds 0 1 2 --schedule 1

Rows already in the ``--rows`` folder are skipped, so the command can be re-run after an
interruption. ``benchmarks/report.py`` turns the rows into tables and plots.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage, stats

from jcas import Trainer, correct, estimate_quality, load_model, make_config, mean_dice, save_model, select_regions
from jcas.correction.prediction import predict_slice
from jcas.nn.calibration import CALIBRATION_PIXELS, fit_temperature, sample_pixels
from jcas.evaluation.metrics import auroc, average_precision, precision_recall
from jcas.nn.crossfit import as_cross_fitted, choose_folds
from jcas.settings import MIN_AREA, MIN_AREA_FRACTION, MIN_CONFIDENCE, MIN_SCORE

from harness import (DATASETS, NOISE_KINDS as KNOWN_KINDS, RESULTS, TUNED_ON, VARIANTS, git_commit, load_set,
                     machine, make_noise, parse_noise, posterior_wrong, pseudo_source, region_is_right, row_key)

ROWS = RESULTS / "suite" / "rows"
THREADS = 2

#: Region-level selective correction, the same for every method and the core's default: keep the drawn
#: label except in regions (where the argmax differs) of at least SELECT_AREA pixels, mean
#: 1 - p(drawn) >= SELECT_SCORE and mean p(proposed) >= SELECT_CONFIDENCE.
SELECT_AREA, SELECT_SCORE, SELECT_CONFIDENCE = MIN_AREA, MIN_SCORE, MIN_CONFIDENCE
#: Further selective settings (area, score; no confidence floor), recorded for the diagnosis
#: (post-processing only, no extra cost).
SELECT_EXTRA = [(10, 0.6), (100, 0.6), (400, 0.6), (200, 0.7), (200, 0.8), (10, 0.0), (1, 0.5)]
CLEANLAB_FOLDS = 3


def build_config(method: str, seed: int, schedule: float, base_epochs: int | None, extra: dict | None = None):
    """The row's settings: the method's core method and overrides (:data:`harness.VARIANTS`), ``extra``
    overrides, the seed, and the schedule multiplier of the base epochs."""
    core, overrides = VARIANTS[method]
    overrides = dict(overrides, **(extra or {}))
    if method == "cleanlab":
        overrides["folds"] = 1  # cleanlab's own cross-fitting trains the fold models (run_cleanlab)
    total = base_epochs if base_epochs is not None else make_config(core, "standard", **overrides).total_epochs
    # the variant's share of warm-up, at any schedule (make_config keeps a configured split)
    return make_config(core, "standard", seed=seed, epochs=int(round(total * schedule)), **overrides)


def train(images, masks, config, log: dict, hook=None, context=None) -> tuple[object, float]:
    trainer = Trainer(list(images), list(masks), config)
    if hook is not None:
        hook(trainer, None, context)
    started = time.perf_counter()
    epoch_losses: dict[tuple[str, int], list[dict]] = {}
    last = None
    for event in trainer.run():
        if hook is not None:
            hook(trainer, event, context)
        epoch_losses.setdefault((event.stage, event.epoch), []).append(event.losses)
        last = event
        if event.step == event.steps_per_epoch and event.epoch % 10 == 0:
            print(f"    {event.stage} epoch {event.epoch}/{event.epochs} {event.seconds:.0f}s "
                  f"total {event.losses['total']:.3f}", flush=True)
    seconds = time.perf_counter() - started
    history = []
    for (stage, epoch), losses in epoch_losses.items():
        history.append({"stage": stage, "epoch": epoch,
                        **{k: float(np.mean([l[k] for l in losses])) for k in losses[0]}})
    log["loss_history"] = history
    log["final_losses"] = history[-1] if history else {}
    log["steps"] = trainer.total_steps
    log["steps_per_epoch"] = trainer.steps_per_epoch
    if last is not None and last.class_transition is not None:
        log["learned_T_C"] = last.class_transition.tolist()
    if last is not None and last.affinity_transition is not None:
        log["learned_T_A"] = last.affinity_transition.tolist()
    return trainer.model, seconds


def probabilities(model, image: np.ndarray) -> np.ndarray:
    """(K, H, W) class probabilities of one slice, as the core's correction computes them
    (:func:`jcas.correction.prediction.predict_slice`; a one-model ``folds=1`` run: that model's)."""
    return predict_slice(model, image, np.zeros(image.shape[:2], dtype=np.int64)).probability


def true_transition(clean: np.ndarray, noisy: np.ndarray, values) -> list[list[float]]:
    """T[i, j] = P(noisy = j | clean = i) over all pixels."""
    k = len(values)
    index = {v: i for i, v in enumerate(values)}
    c = np.vectorize(index.get)(clean) if k > 2 else clean.astype(int)
    n = np.vectorize(index.get)(noisy) if k > 2 else noisy.astype(int)
    counts = np.bincount(c.ravel() * k + n.ravel(), minlength=k * k).reshape(k, k).astype(float)
    return (counts / counts.sum(axis=1, keepdims=True).clip(min=1)).tolist()


def true_pair_transition(clean: np.ndarray, noisy: np.ndarray, offsets) -> dict:
    """2x2 P(noisy pair same/diff | clean pair diff/same) over the local pairs, and pixel vs pair noise rates."""
    counts = np.zeros((2, 2))
    for d in offsets:
        for axis in (1, 2):
            sl_a = [slice(None)] * 3
            sl_b = [slice(None)] * 3
            sl_a[axis], sl_b[axis] = slice(None, -d), slice(d, None)
            cs = (clean[tuple(sl_a)] == clean[tuple(sl_b)]).ravel().astype(int)
            ns = (noisy[tuple(sl_a)] == noisy[tuple(sl_b)]).ravel().astype(int)
            counts += np.bincount(cs * 2 + ns, minlength=4).reshape(2, 2)
    t = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    pair_noise = (counts[0, 1] + counts[1, 0]) / counts.sum()
    return {"T_A_local": t.tolist(), "pair_noise_rate_local": float(pair_noise)}


def evaluate(corrections, noisy, clean, noise_map, row: dict) -> None:
    """Dice of the noisy/cleaned/selective masks and AUROC/AP of the heatmaps."""
    cleaned = np.stack([c.corrected for c in corrections])
    class_map = np.stack([c.class_disagreement for c in corrections])
    affinity_map = np.stack([c.affinity_disagreement for c in corrections])
    row["dice_cleaned"] = mean_dice(list(cleaned), list(clean))
    row["dice_selective"] = mean_dice(list(selected(corrections, noisy)), list(clean))
    for area, score in SELECT_EXTRA:
        row[f"dice_selective_a{area}_s{score:g}"] = mean_dice(list(selected(corrections, noisy, area, score, 0.0)),
                                                               list(clean))
    heatmaps(class_map, affinity_map, noise_map, row)
    boundary_heatmaps(class_map, affinity_map, noisy, noise_map, row)
    changed = cleaned != noisy
    row["changed_fraction"] = float(changed.mean())
    row["changed_precision"], row["changed_recall"] = precision_recall(changed, noise_map)


def selected(corrections, noisy, area: int | None = SELECT_AREA, score: float = SELECT_SCORE,
             confidence: float = SELECT_CONFIDENCE) -> np.ndarray:
    """The noisy masks ``(N, H, W)`` with the regions the core selects at these floors written in (the
    core's defaults unless given; ``area`` None = relative to the objects), the guard included."""
    return np.stack([select_regions(c.maps, min_area=area, min_score=score, min_confidence=confidence).corrected
                     for c in corrections])


#: The area floors of the floor sweep, as fractions of the typical object (the core's is
#: ``jcas.settings.MIN_AREA_FRACTION``), each at the confidence floors of FLOOR_CONFIDENCES.
FLOOR_FRACTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
FLOOR_CONFIDENCES = (0.6, 0.7, 0.8)


def floor_sweep(corrections, clean) -> list[list[float]]:
    """``[[fraction, confidence, Dice, regions, right], ...]``: the default selection (score floor, the guard) at
    each relative area floor and confidence floor, from the maps of ``corrections`` alone. A fraction f is the
    core's relative floor with every typical object scaled by f / ``MIN_AREA_FRACTION`` (the same floors,
    including the lowest one)."""
    sweep = []
    for fraction in FLOOR_FRACTIONS:
        scale = fraction / MIN_AREA_FRACTION
        scaled = [replace(c.maps, object_areas={value: area * scale for value, area in c.maps.object_areas.items()})
                  for c in corrections]
        for confidence in FLOOR_CONFIDENCES:
            selected_masks, regions, right = [], 0, 0
            for z, maps in enumerate(scaled):
                chosen = select_regions(maps, min_confidence=confidence)
                selected_masks.append(chosen.corrected)
                regions += len(chosen.regions)
                right += sum(region_is_right(r, chosen.region_map, clean[z]) for r in chosen.regions)
            sweep.append([fraction, confidence, mean_dice(selected_masks, list(clean)), regions,
                          right / regions if regions else float("nan")])
    return sweep


def guard_scores(model, images, noisy, clean, corrections) -> dict:
    """What the selection and the guard make of a model's corrections ``corrections`` (one per slice, every
    candidate kept): the slices withheld, the Dice with the guard off, the default's regions and share right,
    the reliability and support bins and the floor sweep."""
    unguarded = [correct(model, images[z], noisy[z], min_area=1, min_score=0.0, min_confidence=0.0, guard=False)
                 for z in range(len(images))]
    return {"withheld_slices": sum(note.startswith("slice") for c in corrections for note in c.notes),
            "dice_cleaned_noguard": mean_dice([c.corrected for c in unguarded], list(clean)),
            "dice_selective_noguard": mean_dice(list(selected(unguarded, noisy)), list(clean)),
            "region_precision": region_precision(corrections, clean),
            "reliability": reliability(corrections, clean),
            "support_bins": support_bins(corrections, clean),
            "regions_selected": sum(len(select_regions(c.maps).regions) for c in corrections),
            "floors": floor_sweep(corrections, clean)}


def rescore(rows: Path, models: Path) -> None:
    """Score the correction of every row in ``rows`` whose model ``models`` holds (``--save-models``) again, with
    the selection, guard and mask-quality estimate of the current code: the default's and the argmax's Dice,
    :func:`guard_scores` and :func:`mask_quality` under ``row["rescored"]``, with the commit. The training and the
    heatmaps are the row's own; a row rescored at this commit already is skipped."""
    commit = git_commit()
    for model_path in sorted(models.glob("*.pt")):
        path = rows / f"{model_path.stem}.json"
        if not path.exists():
            continue
        row = json.loads(path.read_text())
        if row.get("rescored", {}).get("commit") == commit:
            continue
        images, clean = load_set(row["dataset"])
        noisy, _ = make_noise(row["dataset"], row["noise"], row["fraction"], row["seed"], images, clean)
        model = load_model(model_path)
        corrections = [correct(model, images[z], noisy[z], min_area=1, min_score=0.0, min_confidence=0.0)
                       for z in range(len(images))]
        again = {"commit": commit,
                 "dice_selective": mean_dice(list(selected(corrections, noisy)), list(clean)),
                 "dice_cleaned": mean_dice([c.corrected for c in corrections], list(clean)),
                 **guard_scores(model, images, noisy, clean, corrections)}
        mask_quality(model, images, noisy, clean, again)
        row["rescored"] = again
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(row, indent=1, default=float))
        tmp.replace(path)
        print(f"[{time.strftime('%H:%M:%S')}] {path.stem}: default {row['dice_selective']:.4f} -> "
              f"{again['dice_selective']:.4f}, argmax {row['dice_cleaned']:.4f} -> {again['dice_cleaned']:.4f}",
              flush=True)


def region_precision(corrections, clean) -> float:
    """Share of the default-selected regions that are right (:func:`region_is_right`)."""
    right = total = 0
    for z, c in enumerate(corrections):
        chosen = select_regions(c.maps)
        right += sum(region_is_right(r, chosen.region_map, clean[z]) for r in chosen.regions)
        total += len(chosen.regions)
    return right / total if total else float("nan")


#: Confidence bins of the reliability table: regions at the default area floor, any score or confidence.
RELIABILITY_BINS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Support bins of the support table (the guard's ``MIN_SUPPORT`` is an edge): the same regions, no guard.
SUPPORT_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)


def reliability(corrections, clean) -> list[list[float]]:
    """``[[low, high, regions, right, mean confidence], ...]`` per confidence bin over the candidate regions at the
    default area floor with no score or confidence floor (the guard applied): how often a proposal of that
    confidence is right."""
    return binned_regions(corrections, clean, RELIABILITY_BINS, "confidence", guard=True)


def support_bins(corrections, clean) -> list[list[float]]:
    """``[[low, high, regions, right, mean support], ...]`` per bin of :attr:`Region.support` over the candidate
    regions at the default area floor with no score or confidence floor and no guard: how often a proposal that
    the check models make on that share of its pixels is right (the guard withholds those below its
    ``MIN_SUPPORT``)."""
    return binned_regions(corrections, clean, SUPPORT_BINS, "support", guard=False)


def binned_regions(corrections, clean, edges, field: str, guard: bool) -> list[list[float]]:
    """``[[low, high, regions, right, mean of field], ...]``: the candidate regions at the default area floor (no
    score or confidence floor; the guard on or off) binned by a :class:`Region` field between ``edges``, the last
    bin closed; regions whose field is None (no check model) are left out."""
    bins = [[low, high, 0, 0, 0.0] for low, high in zip(edges[:-1], edges[1:])]
    for z, c in enumerate(corrections):
        chosen = select_regions(replace(c.maps, guard=guard), min_score=0.0, min_confidence=0.0)
        for region in chosen.regions:
            value = getattr(region, field)
            if value is None:
                continue
            for row in bins:
                if row[0] <= value < row[1] or (row[1] == edges[-1] and value == edges[-1]):
                    row[2] += 1
                    row[3] += int(region_is_right(region, chosen.region_map, clean[z]))
                    row[4] += value
    return [[low, high, n, right, total / n if n else float("nan")] for low, high, n, right, total in bins]


def mask_quality(model, images, noisy, clean, row: dict) -> None:
    """Per slice, the estimated Dice of the drawn mask (:func:`jcas.evaluation.mask_quality.estimate_quality`, from
    the model that judges the slice) beside its true Dice; their Spearman correlation, and the share of the truly
    worst 10 % of slices among the estimated worst 10 %."""
    label_map = as_cross_fitted(model).label_map
    pairs = []
    for z in range(len(images)):
        labels = label_map.encode(noisy[z])
        estimate = estimate_quality(predict_slice(model, images[z], labels).probability, labels, label_map.values)
        pairs.append([estimate.dice, mean_dice(noisy[z], clean[z])])
    row["slice_quality"] = pairs
    row["quality_spearman"], row["quality_worst10_found"] = ranking_agreement(pairs)


def ranking_agreement(pairs: list[list[float]]) -> tuple[float, float]:
    """How well a per-slice quality score ranks slices by their true Dice: the Spearman correlation of
    ``[score, true Dice]`` pairs, and the share of the truly worst 10 % among the 10 % scored worst."""
    estimated, true = np.array(pairs).T
    finite = np.isfinite(estimated) & np.isfinite(true)
    worst = max(1, int(round(0.1 * finite.sum())))
    found = len(set(np.argsort(estimated[finite])[:worst]) & set(np.argsort(true[finite])[:worst])) / worst
    return float(stats.spearmanr(estimated[finite], true[finite]).statistic), found


def plain_calibration(model, images, noisy, clean, row: dict) -> None:
    """The comparison for the calibration: each fold model's temperature fitted against the drawn labels alone
    (plain temperature scaling, no transition matrix) on the slices it judges, then the default correction's
    Dice, its share of right regions and the reliability bins at those temperatures. The model is left as it was."""
    cross_fitted = as_cross_fitted(model)
    label_map, members = cross_fitted.label_map, cross_fitted.members
    kept = [float(member.temperature) for member in members]
    samples: dict[int, tuple[list, list]] = {k: ([], []) for k in range(len(members))}
    rng = np.random.default_rng(0)
    for member in members:
        member.temperature.fill_(1.0)
    for z in range(len(images)):
        kind, fold = cross_fitted.judges(images[z])
        if kind != "fold":
            continue
        labels = label_map.encode(noisy[z])
        probability = predict_slice(model, images[z], labels).probability
        pixels = sample_pixels(labels, CALIBRATION_PIXELS // len(images), rng)
        samples[fold][0].append(probability.reshape(len(probability), -1)[:, pixels])
        samples[fold][1].append(labels.ravel()[pixels])
    plain = [fit_temperature(np.concatenate(p, axis=1), np.concatenate(d)) if p else 1.0 for p, d in samples.values()]
    for member, temperature in zip(members, plain):
        member.temperature.fill_(temperature)
    corrections = [correct(model, images[z], noisy[z], min_area=1, min_score=0.0, min_confidence=0.0)
                   for z in range(len(images))]
    row["plain_temperatures"] = plain
    row["dice_selective_plain_calibration"] = mean_dice(list(selected(corrections, noisy)), list(clean))
    row["region_precision_plain_calibration"] = region_precision(corrections, clean)
    row["regions_selected_plain_calibration"] = sum(len(select_regions(c.maps).regions) for c in corrections)
    row["reliability_plain_calibration"] = reliability(corrections, clean)
    for member, temperature in zip(members, kept):
        member.temperature.fill_(temperature)


def heatmaps(class_map, affinity_map, noise_map, row: dict) -> None:
    combined = 0.5 * (class_map + affinity_map)
    for name, scores in (("", class_map), ("_affinity", affinity_map), ("_combined", combined)):
        row[f"auroc{name}"] = auroc(scores, noise_map)
        row[f"ap{name}"] = average_precision(scores, noise_map)


def run_row(dataset, noise, fraction, method, seed, schedule, base_epochs, data, extra=None,
            model_path: Path | None = None, mirror: bool = True, hook=None) -> dict:
    """One row.

    ``model_path``, when given, receives the trained model (for benchmarks/guard.py); ``mirror`` adds
    the correction with test-time mirroring (4 forward passes); ``hook(trainer, event or None, context)``
    is called before training (event None) and after every step (:data:`HOOKS`: the diagnosis variants
    fix or initialise the transition matrices with it).
    """
    commit = git_commit()  # the code the row runs: later commits during the row do not change it
    images, clean = data
    noisy, noise_map = make_noise(dataset, noise, fraction, seed, images, clean)
    config = build_config(method, seed, schedule, base_epochs, extra)
    if config.folds is None:  # as the Trainer would choose them, so that the row records the number
        config = replace(config, folds=choose_folds([image.shape for image in images]))
    name = DATASETS[dataset]
    row = {
        "protocol": f"self-correction, {config.folds}-fold cross-fitted" if config.folds > 1 else "self-correction, in sample",
        "tuned_on": "+".join(TUNED_ON), "held_out_set": name not in TUNED_ON, "folds": config.folds,
        "dataset": dataset, "noise": noise, "fraction": fraction, "method": method, "seed": seed,
        "schedule": f"{schedule:g}x", "epochs": config.total_epochs,
        "base_epochs": "standard" if base_epochs is None else base_epochs,
        "epochs_warmup": config.epochs_warmup if config.uses_correction else 0,
        "epochs_correction": config.epochs_correction if config.uses_correction else 0,
        "overrides": dict(VARIANTS[method][1], **(extra or {})),
        "core_method": config.method,
        "noise_rate": float(noise_map.mean()),
        "dice_noisy": mean_dice(list(noisy), list(clean)),
        "select_area": SELECT_AREA, "select_score": SELECT_SCORE, "select_confidence": SELECT_CONFIDENCE,
    }
    values = sorted(np.unique(clean).tolist())
    row["true_T_C"] = true_transition(clean, noisy, values)
    row.update(true_pair_transition(clean, noisy, config.offsets))
    log: dict = {}
    started = time.perf_counter()
    if method == "cleanlab":
        run_cleanlab(images, noisy, clean, noise_map, config, row, log)
    else:
        targets = clean if method == "clean" else noisy
        context = {"images": images, "noisy": noisy, "clean": clean, "row": row, "log": log}
        model, train_seconds = train(images, targets, config, log, hook, context)
        row["train_seconds"] = train_seconds
        if model_path is not None:
            save_model(model, model_path)
        t0 = time.perf_counter()
        corrections = [correct(model, images[z], noisy[z], min_area=1, min_score=0.0, min_confidence=0.0)
                       for z in range(len(images))]
        row["correct_seconds"] = time.perf_counter() - t0
        evaluate(corrections, noisy, clean, noise_map, row)
        trust = as_cross_fitted(model).pooled_trust()
        row["class_agreement"] = [] if trust is None else [float(v) for v in trust.class_agreement]
        row["withheld_regions"] = sum(len(c.withheld) for c in corrections)
        row["guard_notes"] = sorted({note for c in corrections for note in c.notes if not note.startswith("slice")})
        row.update(guard_scores(model, images, noisy, clean, corrections))
        row["temperatures"] = [float(member.temperature) for member in as_cross_fitted(model).members]
        # the epoch whose weights each fold model kept (the best agreement with its held-out masks; -1: none)
        row["selected_epochs"] = [-1 if epoch is None else epoch for epoch in as_cross_fitted(model).selected_epochs]
        mask_quality(model, images, noisy, clean, row)
        plain_calibration(model, images, noisy, clean, row)
        if mirror:
            t0 = time.perf_counter()
            mirrored = [correct(model, images[z], noisy[z], mirror=True) for z in range(len(images))]
            row["correct_seconds_mirror"] = time.perf_counter() - t0
            evaluate_mirrored(mirrored, clean, noise_map, row)
        if config.use_class_transition and config.folds == 1:
            posterior_heatmap(model, images, noisy, noise_map, row)
        row["device"] = str(model.device)
    row["seconds_per_epoch"] = row["train_seconds"] / max(1, config.total_epochs)
    row["wall_seconds"] = time.perf_counter() - started
    row.update(log)
    row.update({"torch_threads": torch.get_num_threads(), "torch": torch.__version__, "commit": commit,
                "machine": machine(), "load_avg_1m": os.getloadavg()[0], "config": config.to_dict()})
    return row


def evaluate_mirrored(corrections, clean, noise_map, row: dict) -> None:
    """Dice of the default selective correction and AP/AUROC of the class heatmap with test-time mirroring."""
    row["dice_selective_mirror"] = mean_dice([c.corrected for c in corrections], list(clean))
    class_map = np.stack([c.class_disagreement for c in corrections])
    row["auroc_mirror"], row["ap_mirror"] = auroc(class_map, noise_map), average_precision(class_map, noise_map)


def boundary_heatmaps(class_map, affinity_map, noisy, noise_map, row: dict, width: int = 2) -> None:
    """AP of both heatmaps on the pixels within ``width`` px of a drawn boundary (where an annotator edits)."""
    edges = np.zeros(noisy.shape, dtype=bool)
    edges[:, 1:] |= noisy[:, 1:] != noisy[:, :-1]
    edges[:, :, 1:] |= noisy[:, :, 1:] != noisy[:, :, :-1]
    band = ndimage.binary_dilation(edges, structure=ndimage.generate_binary_structure(3, 1)[None, 1],
                                   iterations=width)
    row["boundary_noise_share"] = float(noise_map[band].sum() / max(1, noise_map.sum()))
    for name, scores in (("", class_map), ("_affinity", affinity_map)):
        row[f"ap_boundary{name}"] = average_precision(scores[band], noise_map[band])


def posterior_heatmap(model, images, noisy, noise_map, row: dict) -> None:
    """AP/AUROC of 1 - P(clean = drawn | drawn, x) = 1 - p_y T_yy / sum_i p_i T_iy, with the learned T_C."""
    with torch.no_grad():
        transition = as_cross_fitted(model).members[0].class_transition().float().cpu().numpy()
    labels = np.clip(model.label_map.encode(noisy), 0, None)  # ignore pixels (none in the suite) as class 0
    scores = np.empty(noisy.shape, dtype=np.float32)
    for z, image in enumerate(images):
        p = probabilities(model, image)
        scores[z] = posterior_wrong(p, transition, labels[z])
    row["auroc_posterior"], row["ap_posterior"] = auroc(scores, noise_map), average_precision(scores, noise_map)


def run_cleanlab(images, noisy, clean, noise_map, config, row, log) -> None:
    """Out-of-fold ce probabilities (3-fold over slices) + cleanlab.segmentation.filter.find_label_issues."""
    from cleanlab.segmentation.filter import find_label_issues
    from cleanlab.segmentation.rank import get_label_quality_scores

    count = len(images)
    folds = np.arange(count) % CLEANLAB_FOLDS
    probs = None
    train_seconds = 0.0
    for fold in range(CLEANLAB_FOLDS):
        train_idx, test_idx = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model, seconds = train(images[train_idx], noisy[train_idx], config, {})
        train_seconds += seconds
        for z in test_idx:
            p = probabilities(model, images[z])
            if probs is None:
                probs = np.zeros((count,) + p.shape, dtype=np.float32)
            probs[z] = p
    row["train_seconds"] = train_seconds
    row["device"] = str(model.device)
    values = np.array(model.label_map.values)
    labels = model.label_map.encode(noisy)
    t0 = time.perf_counter()
    flagged = find_label_issues(labels, probs, verbose=False, n_jobs=1)
    row["correct_seconds"] = time.perf_counter() - t0
    image_scores, _ = get_label_quality_scores(labels, probs, verbose=False, n_jobs=1)  # the peer of quality.csv's ranking
    row["slice_quality"] = [[float(score), mean_dice(noisy[z], clean[z])] for z, score in enumerate(image_scores)]
    row["quality_spearman"], row["quality_worst10_found"] = ranking_agreement(row["slice_quality"])
    argmax = values[probs.argmax(axis=1)].astype(noisy.dtype)
    cleaned = np.where(flagged, argmax, noisy)
    row["dice_cleaned"] = mean_dice(list(cleaned), list(clean))
    row["dice_oof_argmax"] = mean_dice(list(argmax), list(clean))
    row["dice_selective"] = float("nan")
    p_drawn = np.take_along_axis(probs, labels[:, None], axis=1)[:, 0]
    class_map = 1 - p_drawn
    row["auroc"], row["ap"] = auroc(class_map, noise_map), average_precision(class_map, noise_map)
    for name in ("auroc_affinity", "ap_affinity", "auroc_combined", "ap_combined"):
        row[name] = float("nan")
    row["flag_precision"], row["flag_recall"] = precision_recall(flagged, noise_map)
    changed = cleaned != noisy
    row["changed_fraction"] = float(changed.mean())
    row["changed_precision"], row["changed_recall"] = precision_recall(changed, noise_map)


def weights_for(transition: np.ndarray) -> torch.Tensor:
    """W with rownorm(I + sigmoid(W) (1 - I)) == transition (transition diagonally dominant)."""
    t = np.asarray(transition, dtype=np.float64)
    ratio = np.clip(t / np.diag(t)[:, None], 1e-4, 1 - 1e-4)
    w = np.log(ratio / (1 - ratio))
    np.fill_diagonal(w, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def set_transitions(trainer, class_t, affinity_t, freeze: bool) -> None:
    """Set the model's T_C and T_A to these matrices, and keep them there when ``freeze``."""
    model = trainer.model
    with torch.no_grad():
        model.class_transition.weight.copy_(weights_for(class_t))
        model.affinity_transition.weight.copy_(weights_for(affinity_t))
    if freeze:
        model.class_transition.weight.requires_grad_(False)
        model.affinity_transition.weight.requires_grad_(False)


def oracle_hook(trainer, event, ctx) -> None:
    """``jcas_oracleT``: T_C and T_A fixed to the true noise matrices of the run (T_C over all pixels, T_A over
    the local pairs at the training offsets): what perfect transition estimates would buy."""
    if event is None:
        row = ctx["row"]
        set_transitions(trainer, row["true_T_C"], row["T_A_local"], freeze=True)


def warm_hook(trainer, event, ctx) -> None:
    """``jcas_warmT``: T_C and T_A set, at the end of the warm-up, from the warm-up model's confusion with the
    noisy labels (T_C[i, j] = P(noisy = j | predicted = i), T_A likewise over the local pairs), then learned."""
    if event is None or event.stage != "warmup" or event.epoch != event.epochs or event.step != event.steps_per_epoch:
        return
    model = trainer.model
    values = np.array(model.label_map.values)
    predicted = np.stack([values[probabilities(model, image).argmax(axis=0)] for image in ctx["images"]])
    model.train()
    noisy = ctx["noisy"]
    class_t = np.asarray(true_transition(predicted.astype(noisy.dtype), noisy, values.tolist()))
    affinity_t = np.asarray(true_pair_transition(predicted, noisy, trainer.config.offsets)["T_A_local"])
    ctx["log"]["warm_T_C"], ctx["log"]["warm_T_A"] = class_t.tolist(), affinity_t.tolist()
    set_transitions(trainer, class_t, affinity_t, freeze=False)


#: method -> training hook (:func:`run_row`); the other methods have none.
HOOKS = {"jcas_oracleT": oracle_hook, "jcas_warmT": warm_hook}


def main(argv=None) -> None:
    """Run the rows of the command line that are not in the ``--rows`` folder yet."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mni", "cells"], choices=list(DATASETS))
    parser.add_argument("--noise", nargs="+", default=["mixed:0.5", "mixed:0.8"],
                        help="kind:fraction ..., simulated or realistic kinds; a realistic kind's number is its "
                             "strength (make_noise), e.g. sparse:5 threshold:1 misregistered:2; pseudo:0 labels "
                             "each image with a model trained on another set (harness.PSEUDO_SOURCES)")
    parser.add_argument("--methods", nargs="+", default=["jcas", "ce"], choices=list(VARIANTS), metavar="METHOD",
                        help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--schedule", nargs="+", type=float, default=[1.0], help="multipliers of the total epochs")
    parser.add_argument("--epochs", type=int, default=None,
                        help="base total epochs (1x) instead of the standard preset's; recorded in every row")
    parser.add_argument("--limit", type=int, default=None, help="run at most this many new rows")
    parser.add_argument("--order", choices=["seed", "grid"], default="seed",
                        help="seed: all settings of seed 0 first, then seed 1, ...")
    parser.add_argument("--rows", type=Path, default=ROWS)
    parser.add_argument("--folds", type=int, default=None,
                        help="cross-fitting folds (default: the core's); recorded in the row key and every row")
    parser.add_argument("--no-mirror", action="store_true", help="skip the mirrored correction of every row")
    parser.add_argument("--save-models", type=Path, default=None, metavar="DIR",
                        help="also save each row's trained model as DIR/<row key>.pt (for benchmarks/guard.py)")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help="torch threads (recorded in every row); 1 is much faster on a shared 2-core machine")
    parser.add_argument("--rescore", type=Path, default=None, metavar="DIR",
                        help="only score the rows in --rows whose models DIR holds (--save-models) again with the "
                             "current selection and guard (rescore)")
    args = parser.parse_args(argv)
    if args.rescore is not None:
        torch.set_num_threads(args.threads)
        rescore(args.rows, args.rescore)
        return
    unknown = sorted({parse_noise(spec)[0] for spec in args.noise} - set(KNOWN_KINDS))
    if unknown:
        parser.error(f"unknown noise kinds {', '.join(unknown)}; known: {', '.join(KNOWN_KINDS)}")
    if any(parse_noise(spec)[0] == "pseudo" for spec in args.noise):
        for name in args.datasets:
            try:
                pseudo_source(name)
            except ValueError as error:
                parser.error(str(error))
    torch.set_num_threads(args.threads)
    extra = None if args.folds is None else {"folds": args.folds}
    args.rows.mkdir(parents=True, exist_ok=True)
    if args.save_models is not None:
        args.save_models.mkdir(parents=True, exist_ok=True)
    jobs = []
    for seed in args.seeds:
        for schedule in args.schedule:
            for dataset in args.datasets:
                for spec in args.noise:
                    for method in args.methods:
                        kind, fraction = parse_noise(spec)
                        jobs.append((dataset, kind, fraction, method, seed, schedule))
    if args.order == "grid":
        jobs.sort(key=lambda j: (j[5], j[0], j[1], j[2], j[3], j[4]))
    cache: dict[str, tuple] = {}
    done = 0
    for dataset, kind, fraction, method, seed, schedule in jobs:
        key = row_key(dataset, kind, fraction, method, seed, schedule, args.epochs, args.folds)
        path = args.rows / f"{key}.json"
        if path.exists():
            continue
        if args.limit is not None and done >= args.limit:
            break
        if dataset not in cache:
            cache[dataset] = load_set(dataset)
        print(f"[{time.strftime('%H:%M:%S')}] {key} ...", flush=True)
        try:
            model_path = None if args.save_models is None else args.save_models / f"{key}.pt"
            row = run_row(dataset, kind, fraction, method, seed, schedule, args.epochs, cache[dataset], extra,
                          model_path, mirror=not args.no_mirror, hook=HOOKS.get(method))
        except Exception:  # noqa: BLE001  keep going with the next row
            traceback.print_exc()
            continue
        row["key"] = key
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(row, indent=1, default=float))
        tmp.replace(path)
        done += 1
        print(f"[{time.strftime('%H:%M:%S')}] {key}: noisy {row['dice_noisy']:.4f} cleaned {row['dice_cleaned']:.4f} "
              f"selective {row['dice_selective']:.4f} ap {row['ap']:.3f} ap_aff {row['ap_affinity']:.3f} "
              f"train {row['train_seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
