"""The current recipe on the suite: its rows as one table, the reliability of its proposals, and the heatmaps.

The rows are written by ``quality.py --rows benchmarks/results/recipe/rows`` (one JSON file each,
committed); this script only reads them, so the report regenerates byte for byte:

    .venv/bin/python benchmarks/recipe.py            # writes benchmarks/results/recipe/recipe.md
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from harness import DATASETS, RESULTS, SEEN_WHILE_CHOOSING, default_folds, is_product, load_rows
from jcas.settings import MIN_AREA_FRACTION, MIN_CONFIDENCE

FOLDER = RESULTS / "recipe"
#: The methods' names in the tables.
NAMES = {"cleanlab": "cleanlab (plain, 3 folds)", "jcas_noaug": "JCAS, no mirrors or augmentation",
         "plain_unet": "plain U-Net recipe", "jcas_mirrors": "JCAS on the plain recipe",
         "ce_noaug": "plain, no mirrors or augmentation", "clean": "trained on the true masks (the bound)",
         "jcas_short_warmup": "JCAS on the plain recipe, warm-up 1/4 of the epochs",
         "fc": "forward correction (T_C only)",
         "jcas_noisy_select": "JCAS on the plain recipe, corrected stage judged through T_C",
         "jcas_averaged": "JCAS on the plain recipe, weights averaged over 2 epochs",
         "jcas_fixedT": "JCAS, T_C and T_A kept at the warm-up confusion"}


#: The product at the core's defaults, and JCAS with the weight average (the default for a while; see ``label``).
DEFAULT, AVERAGED = "JCAS (the default)", "JCAS, weights averaged over 2 epochs"


def label(row: dict) -> str:
    """The row's method for people; rows of "jcas" and "ce" by whether their crops were augmented (the default of
    their commit), and of "jcas" by whether its weights were averaged, so that they group with the variants that
    set the same; rows with other than the default folds say how many."""
    augmented = row.get("config", {}).get("augment", False)
    folds = ("" if row.get("folds") == default_folds(row["dataset"]) or row["method"] == "cleanlab"  # its own folds
             else f", {row['folds']} folds")
    if row["method"] in ("jcas", "jcas_aug", "jcas_unaveraged"):
        if augmented:
            return "JCAS with augmentation" + folds
        if row.get("config", {}).get("average_epochs", 0):  # rows of the commits whose default averaged
            return AVERAGED + folds
        return "JCAS" + folds if folds else DEFAULT
    if row["method"] == "ce":
        return ("plain cross-entropy with augmentation" if augmented else "plain cross-entropy") + folds
    return NAMES.get(row["method"], row["method"]) + folds


def scored_now(row: dict) -> dict:
    """The row with the fields ``quality.py --rescore`` scored again from its saved model (``row["rescored"]``, at
    the commit it names as ``scored_at``) in place of those of its own commit."""
    again = dict(row.get("rescored", {}))
    scored_at = again.pop("commit", None)
    return {**row, **again, "scored_at": scored_at} if scored_at else row


def held_out(dataset: str, held_out_set: bool) -> str:
    """The held-out column: yes, no, or "seen" for a held-out set looked at while a default was chosen."""
    if dataset in SEEN_WHILE_CHOOSING:
        return "seen"
    return "yes" if held_out_set else "no"


def _f(value, digits: int = 3) -> str:
    """A number for a table; '–' for a missing or NaN one."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _signed(value: float) -> str:
    """A difference with its sign; '–' for NaN."""
    return "–" if not np.isfinite(value) else f"{value:+.3f}"


def quality_table(rows: list[dict]) -> list[str]:
    """One line per row: Dice of the drawn masks, of the default correction and of the argmax, the proposals."""
    lines = ["| set | held out | noise | method | noisy | default | argmax | gain | 10 px | 100 px | 400 px | regions | "
             "right | AP class | AP affinity | AP combined | train s | temperatures | commit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["held_out_set"], r["dataset"], r["noise"], r["method"])):
        gain = row["dice_selective"] - row["dice_noisy"]  # NaN for cleanlab: it has no default selection
        temperatures = ", ".join(f"{t:.2f}" for t in row.get("temperatures", []))
        lines.append(
            f"| {row['dataset']} | {held_out(row['dataset'], row['held_out_set'])} | "
            f"{row['noise']}:{row['fraction']:g} | "
            f"{label(row)} ({row['schedule']}) | {_f(row['dice_noisy'])} | "
            f"{_f(row['dice_selective'])} | {_f(row['dice_cleaned'])} | {_signed(gain)} | "
            + " | ".join(_f(row.get(f"dice_selective_a{area}_s0.6")) for area in (10, 100, 400))
            + f" | {row.get('regions_selected', '–')} | "
            f"{_f(row.get('region_precision'), 2)} | {_f(row['ap'], 2)} | {_f(row['ap_affinity'], 2)} | "
            f"{_f(row['ap_combined'], 2)} | {row['train_seconds']:.0f} | {temperatures} | {row.get('commit', '?')} |")
    return lines


def earlier_recipe(rows: list[dict]) -> list[str]:
    """The same sets, noise and seeds under the earlier recipe (no augmentation, folds in blocks, no calibration;
    ``results/suite/rows``), where a row of it exists: its argmax Dice and heatmap AP beside this recipe's."""
    lines = ["| set | noise | method | earlier argmax | current argmax | earlier AP | current AP | earlier commit |",
             "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["dataset"], r["method"])):
        key = row["key"].replace(f"{row['dataset']}__", f"{DATASETS[row['dataset']]}__", 1)
        earlier = RESULTS / "suite" / "rows" / f"{key}.json"
        if earlier.exists():
            old = json.loads(earlier.read_text())
            lines.append(f"| {row['dataset']} | {row['noise']}:{row['fraction']:g} | {row['method']} | "
                         f"{_f(old['dice_cleaned'])} | {_f(row['dice_cleaned'])} | {_f(old['ap'], 2)} | "
                         f"{_f(row['ap'], 2)} | {old.get('commit', '?')} |")
    return lines


def _mean_sd(values: list[float], digits: int = 3) -> str:
    """``mean ± sd`` of the seeds' values (the mean alone for one seed)."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return _f(values[0], digits)
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def rescored_commits(rows: list[dict]) -> list[str]:
    """One line: how many rows were scored again, at which commits."""
    commits = sorted({row["scored_at"] for row in rows if row.get("scored_at")})
    count = sum(bool(row.get("scored_at")) for row in rows)
    return [f"Rows scored again: {count} of {len(rows)}, at {', '.join(commits) or '–'}."]


def at_schedule(method: str, schedule: str) -> str:
    """A method as people read it (:func:`label`) with its schedule, e.g. ``"plain U-Net recipe (1.2x)"``."""
    return f"{method} ({schedule})"


def by_setting(rows: list[dict]) -> dict[tuple, list[dict]]:
    """The rows grouped by set, noise, and method as people read it with its schedule (:func:`at_schedule`):
    ``{(held out, set, noise, fraction, "method (schedule)"): [rows of its seeds, by seed]}``."""
    groups: dict[tuple, list[dict]] = {}
    for row in sorted(rows, key=lambda row: row["seed"]):
        key = (row["held_out_set"], row["dataset"], row["noise"], row["fraction"],
               at_schedule(label(row), row["schedule"]))
        groups.setdefault(key, []).append(row)
    return groups


def seeds_table(rows: list[dict]) -> list[str]:
    """Per set, noise and method with its schedule: the mean and standard deviation over the seeds of the drawn
    masks' Dice, the default's, its gain over the drawn masks (the seeds' noise differs), the argmax's, the
    heatmap's AP, the default's regions and their share right."""
    groups = by_setting(rows)
    lines = ["| set | held out | noise | method | seeds | noisy | default | gain | argmax | AP class | regions | "
             "right | train s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (held_out_set, dataset, noise, fraction, method), group in sorted(groups.items()):
        pick = lambda name: [r.get(name) for r in group]  # noqa: E731
        lines.append(f"| {dataset} | {held_out(dataset, held_out_set)} | {noise}:{fraction:g} | "
                     f"{method} | {', '.join(str(r['seed']) for r in group)} | "
                     f"{_mean_sd(pick('dice_noisy'))} | {_mean_sd(pick('dice_selective'))} | "
                     f"{_mean_sd([r['dice_selective'] - r['dice_noisy'] for r in group])} | "
                     f"{_mean_sd(pick('dice_cleaned'))} | {_mean_sd(pick('ap'), 2)} | "
                     f"{_mean_sd(pick('regions_selected'), 0)} | {_mean_sd(pick('region_precision'), 2)} | "
                     f"{_mean_sd(pick('train_seconds'), 0)} |")
    return lines


#: The pairs the paired table compares, seed by seed: (the product or a variant of it, what it is held against), each
#: a method at a schedule (:func:`at_schedule`). Against the plain recipe at equal time or more (1.2x its epochs), at
#: equal time by the CPU step times of ``step_ops.md`` (1.1x: a JCAS step costs 1.04-1.13 plain ones), and at the
#: same epochs (1x: what JCAS's terms add to the same training).
EQUAL_TIME, STEP_TIME, SAME_EPOCHS = "1.2x", "1.1x", "1x"
PLAIN_AT_EQUAL_TIME = at_schedule(NAMES["plain_unet"], EQUAL_TIME)
MIRRORS, PRODUCT = at_schedule(NAMES["jcas_mirrors"], SAME_EPOCHS), at_schedule(DEFAULT, SAME_EPOCHS)
PAIRS = (*((product, at_schedule(NAMES["plain_unet"], schedule)) for schedule in (EQUAL_TIME, STEP_TIME, SAME_EPOCHS)
           for product in (MIRRORS, PRODUCT)),
         *((at_schedule(NAMES[variant], SAME_EPOCHS), against)
           for variant in ("jcas_short_warmup", "jcas_noisy_select", "jcas_averaged")
           for against in (PLAIN_AT_EQUAL_TIME, MIRRORS)),
         (at_schedule(NAMES["jcas_fixedT"], SAME_EPOCHS), PRODUCT),
         (at_schedule(AVERAGED, SAME_EPOCHS), PRODUCT))


def paired_table(rows: list[dict]) -> list[str]:
    """For each pair of :data:`PAIRS`, set and noise: the differences between the two methods on the same seed (the
    same noisy masks), mean ± sd over the seeds both ran: the default's Dice, the argmax's and the heatmap's AP."""
    by_key = {(row["dataset"], row["noise"], row["fraction"], at_schedule(label(row), row["schedule"]), row["seed"]):
              row for row in rows}
    lines = ["| set | noise | method | against | seeds | default, difference | argmax, difference | "
             "AP, difference |", "|---|---|---|---|---|---|---|---|"]
    for product, baseline in PAIRS:
        sets = sorted({key[:3] for key in by_key if key[3] == product})
        for dataset, noise, fraction in sets:
            seeds = sorted(key[4] for key in by_key if key[:4] == (dataset, noise, fraction, product)
                           and (dataset, noise, fraction, baseline, key[4]) in by_key)
            if not seeds:
                continue
            pairs = [(by_key[(dataset, noise, fraction, product, seed)], by_key[(dataset, noise, fraction, baseline,
                                                                                  seed)]) for seed in seeds]
            differences = {name: [a[name] - b[name] for a, b in pairs]
                           for name in ("dice_selective", "dice_cleaned", "ap")}
            lines.append(f"| {dataset} | {noise}:{fraction:g} | {product} | {baseline} | "
                         f"{', '.join(map(str, seeds))} | {_mean_sd(differences['dice_selective'])} | "
                         f"{_mean_sd(differences['dice_cleaned'])} | {_mean_sd(differences['ap'], 2)} |")
    return lines


def bound_table(rows: list[dict]) -> list[str]:
    """Per set and noise where a row trained on the true masks exists (method ``clean``, its argmax's Dice: the
    bound): how much of the gap between the drawn masks and that bound the product's and the plain recipe's default
    close, ``(default - noisy) / (bound - noisy)``, mean ± sd over their seeds (those whose drawn masks are at least
    ``NO_HARM`` below the bound; a dash where none is). The bound does not depend on the noise, so one bound row of
    a set serves every noise kind of it."""
    bounds: dict[str, list[float]] = {}
    for row in rows:
        if row["method"] == "clean":
            bounds.setdefault(row["dataset"], []).append(row["dice_cleaned"])
    lines = ["| set | held out | noise | method | seeds | noisy | default | bound | gap closed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (held_out_set, dataset, noise, fraction, method), group in sorted(by_setting(rows).items()):
        if dataset not in bounds or not (is_product(group[0]) or group[0]["method"] == "plain_unet"):
            continue
        bound = float(np.mean(bounds[dataset]))
        # a seed whose drawn masks are within NO_HARM of the bound leaves no gap to measure a share of
        closed = [(r["dice_selective"] - r["dice_noisy"]) / (bound - r["dice_noisy"]) for r in group
                  if bound - r["dice_noisy"] >= NO_HARM]
        lines.append(f"| {dataset} | {held_out(dataset, held_out_set)} | {noise}:{fraction:g} | {method} | "
                     f"{', '.join(str(r['seed']) for r in group)} | {_mean_sd([r['dice_noisy'] for r in group])} | "
                     f"{_mean_sd([r['dice_selective'] for r in group])} | {_f(bound)} | {_mean_sd(closed, 2)} |")
    return lines


def floors_table(rows: list[dict]) -> list[str]:
    """The floor sweep of the rows that have one (``quality.floor_sweep``): per set, noise, method and confidence
    floor, the default selection's Dice, regions and share right at each relative area floor, averaged over the
    seeds."""
    groups = by_setting([row for row in rows if "floors" in row])
    if not groups:
        return []
    cells_of: dict[tuple, dict[tuple[float, float], list]] = {}  # setting -> (area, confidence) -> seeds' cells
    for key, group in groups.items():
        for row in group:
            for area, confidence, dice, regions, right in row["floors"]:
                cells_of.setdefault(key, {}).setdefault((area, confidence), []).append((dice, regions, right))
    areas = sorted({area for cells in cells_of.values() for area, _ in cells})
    lines = ["| set | noise | method | seeds | confidence floor | "
             + " | ".join(f"area floor {a:g}" for a in areas) + " |", "|---|---|---|---|---|" + "---|" * len(areas)]
    for key, cells in sorted(cells_of.items()):
        _, dataset, noise, fraction, method = key
        for confidence in sorted({c for _, c in cells}):
            shown = []
            for area in areas:
                seeds = np.array(cells.get((area, confidence), []), dtype=np.float64).reshape(-1, 3)
                if not len(seeds):
                    shown.append("–")
                    continue
                share = float(np.nanmean(seeds[:, 2])) if np.isfinite(seeds[:, 2]).any() else float("nan")
                shown.append(f"{_f(float(seeds[:, 0].mean()))}, {seeds[:, 1].mean():.0f}, {_f(share, 2)}")
            lines.append(f"| {dataset} | {noise}:{fraction:g} | {method} | {len(groups[key])} | {confidence:g} | "
                         + " | ".join(shown) + " |")
    return lines


#: The rule that picks the default floors on the tuning rows: no setting may lose more than NO_HARM Dice
#: against its drawn masks, and each must keep at least MIN_RIGHT of its regions right (means over its seeds).
NO_HARM, MIN_RIGHT = 0.005, 0.70
#: Floors whose mean gain is within TIED of the best count as tied; of those, the rule keeps the one nearest the
#: core's defaults (the same confidence floor first, then the nearest area floor): no change without a gain.
TIED = 0.002


def floor_choice(rows: list[dict]) -> list[str]:
    """The floors the selection rule picks from the floor sweeps of the product's tuning rows (the default
    folds): per relative area floor (a fraction above 0) and confidence floor, the mean and the smallest gain over the settings (set and noise,
    means over the seeds) and the smallest share right (a setting's regions pooled over its seeds); among the
    floors with no setting below ``-NO_HARM`` and every share right at least ``MIN_RIGHT`` (a setting that
    proposes nothing passes; one where no floor gains more than ``NO_HARM`` only has to come to no harm), the
    one with the best mean gain is marked, or of those within ``TIED`` of it the one nearest the core's defaults."""
    tuning = [row for row in rows if not row["held_out_set"] and is_product(row) and "floors" in row]
    settings = by_setting(tuning)
    # a fraction of 0 leaves the lowest floor alone, a pixel count that suits one image size: not a candidate
    floors = sorted({(area, confidence) for row in tuning for area, confidence, *_ in row["floors"] if area > 0})
    scores = {}  # (setting, floor) -> (mean gain, share right pooled over the seeds)
    for key, group in settings.items():
        for floor in floors:
            cells = [(dice - row["dice_noisy"], regions, right) for row in group
                     for *at, dice, regions, right in row["floors"] if tuple(at) == floor]
            if len(cells) == len(group):
                proposed = sum(regions for _, regions, _ in cells)
                right = sum(regions * share for _, regions, share in cells if regions)
                scores[key, floor] = (float(np.mean([gain for gain, _, _ in cells])),
                                      right / proposed if proposed else float("nan"))
    # a setting where no floor gains more than NO_HARM says nothing about the trade of gain against precision
    informative = [key for key in settings if max(scores[k][0] for k in scores if k[0] == key) > NO_HARM]
    table = []
    for floor in floors:
        if all((key, floor) in scores for key in settings):
            gains = [scores[key, floor][0] for key in settings]
            shares = [scores[key, floor][1] for key in informative if np.isfinite(scores[key, floor][1])]
            table.append((*floor, float(np.mean(gains)), min(gains), min(shares, default=float("nan"))))
    passing = [entry for entry in table if entry[3] >= -NO_HARM and not entry[4] < MIN_RIGHT]
    best = max((entry[2] for entry in passing), default=None)
    tied = [entry for entry in passing if entry[2] >= best - TIED] if passing else []
    chosen = min(tied, key=lambda e: (e[1] != MIN_CONFIDENCE, abs(e[0] - MIN_AREA_FRACTION)))[:2] if tied else None
    named = ", ".join(f"{key[1]} {key[2]}:{key[3]:g} ({len(group)} seeds)" for key, group in sorted(settings.items()))
    lines = [f"Settings: {named}.", "",
             "| area floor | confidence floor | mean gain | smallest gain | smallest share right | chosen |",
             "|---|---|---|---|---|---|"]
    for area, confidence, mean_gain, least_gain, least_share in table:
        lines.append(f"| {area:g} | {confidence:g} | {_signed(mean_gain)} | {_signed(least_gain)} | "
                     f"{_f(least_share, 2)} | {'yes' if (area, confidence) == chosen else ''} |")
    return lines


def reliability_table(rows: list[dict]) -> list[str]:
    """Candidate regions of the JCAS rows binned by confidence (mean probability of the proposed label): how many,
    how many right, and the gap between the share right and the mean confidence."""
    lines = ["| set | noise | confidence | regions | right | share right | mean confidence | gap |",
             "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["held_out_set"], r["dataset"], r["noise"])):
        if row["method"] not in ("jcas", "jcas_mirrors") or "reliability" not in row:
            continue
        for low, high, count, right, confidence in row["reliability"]:
            if not count:
                continue
            share = right / count
            lines.append(f"| {row['dataset']} | {row['noise']}:{row['fraction']:g} | {low:.1f}-{high:.1f} | {count} | "
                         f"{right} | {share:.2f} | {confidence:.2f} | {share - confidence:+.2f} |")
    return lines


def support_table(rows: list[dict]) -> list[str]:
    """Candidate regions (no guard) binned by their support, the share of their pixels where the fold models that
    trained on the slice propose the same label (``quality.support_bins``), summed over the seeds of each set,
    noise and method: how many, and the share right."""
    lines = ["| set | held out | noise | method | seeds | support | regions | share right |",
             "|---|---|---|---|---|---|---|---|"]
    for (held_out_set, dataset, noise, fraction, method), group in sorted(
            by_setting([row for row in rows if "support_bins" in row]).items()):
        counts = np.array([[(count, right) for _, _, count, right, _ in row["support_bins"]]
                           for row in group]).sum(axis=0)
        seeds = ", ".join(str(row["seed"]) for row in group)
        last = len(counts) - 1
        for index, ((low, high, *_), (count, right)) in enumerate(zip(group[0]["support_bins"], counts)):
            if count:
                lines.append(f"| {dataset} | {held_out(dataset, held_out_set)} | {noise}:{fraction:g} | {method} | "
                             f"{seeds} | [{low:.2f}, {high:.2f}{']' if index == last else ')'} | {count:.0f} | "
                             f"{right / count:.2f} |")
    return lines


def review_gain_share(pairs: list[list[float]], share: float = 0.2) -> tuple[float, float]:
    """The review cost at data-set scale: a reviewer who makes each slice right goes through ``share`` of the
    slices in the order of the score (worst first); the part of the whole gain (the sum of ``1 - true Dice``
    over all slices) this yields, in the score's order and in the true order (the best any order can do).
    A random order yields ``share`` on average."""
    scores, true = np.array(pairs, dtype=np.float64).T
    keep = np.isfinite(scores) & np.isfinite(true)
    scores, loss = scores[keep], 1 - true[keep]
    count = max(1, int(round(share * len(loss))))
    total = loss.sum()
    if total <= 0:
        return float("nan"), float("nan")
    return float(loss[np.argsort(scores)[:count]].sum() / total), float(np.sort(loss)[::-1][:count].sum() / total)


def mask_quality_table(rows: list[dict]) -> list[str]:
    """Per row: how well a per-slice quality score ranks the slices by their true Dice (the estimated Dice of
    ``quality.csv`` for the JCAS and plain rows, cleanlab's image label-quality score for the cleanlab rows):
    Spearman correlation, the share of the truly worst 10 % among the 10 % scored worst, and the part of the
    whole gain a reviewer gets from the worst 20 % in that order (beside the true order's)."""
    lines = ["| set | noise | method | seed | slices | Spearman | worst 10 % found | gain from the worst 20 % | "
             "the same, true order |", "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["held_out_set"], r["dataset"], r["noise"], label(r), r["seed"])):
        if "quality_spearman" in row:
            ordered, best = review_gain_share(row["slice_quality"])
            lines.append(f"| {row['dataset']} | {row['noise']}:{row['fraction']:g} | "
                         f"{label(row)} | {row['seed']} | {len(row['slice_quality'])} | "
                         f"{_f(row['quality_spearman'], 2)} | {_f(row['quality_worst10_found'], 2)} | "
                         f"{_f(ordered, 2)} | {_f(best, 2)} |")
    return lines


#: The shares of the slices a simulated reviewer goes through in the review-cost table.
REVIEWED = (0.1, 0.2, 0.5)


def reviewed_dice(pairs: list[list[float]], share: float) -> float:
    """The mean Dice of a set's slices after a reviewer made the ``share`` of them that a score ranks worst
    right (Dice 1), from ``[score, true Dice]`` pairs."""
    scores, true = np.array(pairs, dtype=np.float64).T
    count = int(round(share * len(true)))
    after = true.copy()
    after[np.argsort(scores, kind="stable")[:count]] = 1.0
    return float(after.mean())


def review_cost_table(rows: list[dict]) -> list[str]:
    """Per set, noise and seed: the mean Dice of the slices after a simulated reviewer has gone through the worst
    10, 20 and 50 % in the order of the dock (the estimated Dice of ``quality.csv``, from the JCAS row), of
    cleanlab's image score (where a cleanlab row of the same noisy masks exists), in a random order (the
    expectation) and in the true order (the best any order can do)."""
    product = {(r["dataset"], r["noise"], r["fraction"], r["seed"]): r for r in rows
               if label(r) in (NAMES["jcas_mirrors"], DEFAULT) and "slice_quality" in r}
    peers = {(r["dataset"], r["noise"], r["fraction"], r["seed"]): r for r in rows
             if r["method"] == "cleanlab" and "slice_quality" in r}
    header = " | ".join(f"{share:.0%}: {order}" for share in REVIEWED
                        for order in ("dock", "cleanlab", "random", "true"))
    lines = [f"| set | noise | seed | slices | drawn | {header} |",
             "|---|---|---|---|---|" + "---|" * 4 * len(REVIEWED)]
    for key in sorted(product):
        dataset, noise, fraction, seed = key
        pairs = product[key]["slice_quality"]
        drawn = float(np.mean([true for _, true in pairs]))
        cells = []
        for share in REVIEWED:
            peer = reviewed_dice(peers[key]["slice_quality"], share) if key in peers else None
            cells += [_f(reviewed_dice(pairs, share)), _f(peer), _f(drawn + share * (1 - drawn)),
                      _f(reviewed_dice([[true, true] for _, true in pairs], share))]
        lines.append(f"| {dataset} | {noise}:{fraction:g} | {seed} | {len(pairs)} | {_f(drawn)} | "
                     + " | ".join(cells) + " |")
    return lines


def provenance(rows: list[dict]) -> list[str]:
    """The commits and machines the rows came from."""
    commits = sorted({row.get("commit", "?") for row in rows})
    machines = sorted({row.get("machine", "?") for row in rows})
    threads = sorted({row.get("torch_threads", "?") for row in rows})
    return [f"Rows: {len(rows)}; commits {', '.join(commits)}; machine {'; '.join(machines)}; "
            f"torch threads {', '.join(map(str, threads))}. Train seconds were measured while other work ran on "
            "the same two cores: compare them only as rough ratios within a set."]


def report(rows: list[dict], slice_floor_rows: list[dict], current_rows: list[dict]) -> str:
    """The whole markdown report: the rows of the current code, then those whose default used per-slice floors."""
    parts = ["# The current recipe on the development suite", "",
             "Generated by `benchmarks/recipe.py` from the rows in `benchmarks/results/recipe/` (defaults of",
             "`jcas train` and `jcas correct` unless the method says otherwise). *default*: the correction the",
             "core makes (relative area floor, score and confidence floors, the guard); *argmax*: every pixel",
             "where the model disagrees. *right*: share of the default's regions where the proposal matches the",
             "truth on more pixels than the drawn mask. Each method names its schedule: plain rows ran 1.2x the",
             "epochs of JCAS rows (equal time or more: a plain step costs less) unless it says 1.1x or 1x.",
             "*JCAS on the plain recipe* is JCAS with every mirror and no other",
             "augmentation: the default since augmentation was turned off, where the masks allow every mirror",
             "(they do on both tuning sets). Rows *with augmentation* ran the default of their commit before that;",
             "*weights averaged over 2 epochs*: the default of the commits that averaged them (measured, then",
             "turned off again).",
             "*held out* *seen*: a set outside the tuning sets whose results were looked at while a default was",
             "chosen (" + "; ".join(f"{name}: {what}" for name, what in SEEN_WHILE_CHOOSING.items()) + "): no longer",
             "held out.",
             "",
             "## Recipes over seeds, at the current code", "",
             "Rows of `rows_current/` (the code of their `commit`): mean ± standard deviation over the seeds. Where a",
             "row's model was saved, its default, argmax, regions, share right, floors and reliability bins were",
             "scored again from it with the selection and guard of a later commit (`quality.py --rescore`; the",
             "row's `rescored` field names the commit): the training and the heatmaps are the row's own.", "",
             *rescored_commits(current_rows), "",
             *seeds_table(current_rows), "",
             "The product, and a variant of it, against the plain baseline (at equal time or more) on the same",
             "seeds (the same noisy masks); a positive difference is the first method ahead.", "",
             *paired_table(current_rows), "",
             "How much of the way from the drawn masks to a model trained on the true masks (the same recipe, the",
             "plain schedule, its argmax: the bound) the default goes, where a set has such a row (target: 50 % on",
             "average over the held-out sets under simulated noise, 25 % under the realistic kinds); a seed whose",
             f"drawn masks are within {NO_HARM} of the bound has no gap to close and is left out of the mean.", "",
             *bound_table(current_rows), "",
             "## Area and confidence floors", "",
             "The default selection (score floor 0.6, the guard) at relative area floors from 0 to 0.3 of the",
             "typical object (at least 16 px: 0 is that floor alone) and confidence floors from 0.6 (the default) to",
             "0.8, from the",
             "maps of the rows of `rows_current/` that have the sweep (`quality.floor_sweep`), mean over the seeds.",
             "Each cell: Dice, regions, share right.",
             "", *floors_table(current_rows), "",
             "The rule that picks the default floors from these sweeps (relative floors only: a fraction of 0 is",
             "the lowest floor of 16 px alone), on the product's rows of the tuning sets",
             f"only: no setting may lose more than {NO_HARM} Dice (mean over its seeds), each must keep at least",
             f"{MIN_RIGHT:.0%} of its regions right (pooled over its seeds), where some floor gains more than",
             f"{NO_HARM} (one where none does, a kind of error the model cannot see, only has to come to no harm);",
             "of the floors that pass,",
             f"the best mean gain, or of those within {TIED} of it the one nearest the core's defaults (the same",
             "confidence floor first, then the nearest area floor; now "
             f"{MIN_AREA_FRACTION:g} and {MIN_CONFIDENCE:g}).", "",
             *floor_choice(current_rows), "",
             "## The check models' support", "",
             "Candidate regions at the default area floor, with no score or confidence floor and no guard, binned by",
             "their support: the share of their pixels where the fold models that trained on the slice propose the",
             "region's label themselves. The guard withholds a region below 0.5 (`jcas.correction.guard.MIN_SUPPORT`).",
             "", *support_table(current_rows), "",
             "## Earlier rows, seed 0", "",
             "Rows of `rows/`. *default* and the reliability bins are those of the code each row ran",
             "(its `commit`, taken when the row started): rows of 1527099 and 584215a ran with an area floor of 0.2",
             "of the typical object and with temperatures below 1 allowed (the default of 0.05 and temperatures of at",
             "least 1 were chosen from them); rows from 8757261 on ran with 0.05 and temperatures of at least 1.",
             "The guard's class floor was an agreement of 0.5 until cb97f1d and 0.4 from it. *10 px*, *100 px*,",
             "*400 px*: fixed area floors with the score floor (0.6), no confidence floor, the guard. cleanlab",
"rows have no selection of their own: *argmax* is their flagged pixels replaced.", "", *provenance(rows), "",
             *quality_table(rows), "",
             "## Against the earlier recipe, same noise and seed", "", *earlier_recipe(rows), "",
             "## Ranking the masks by their estimated quality", "",
             "The estimate `jcas correct` writes to `quality.csv` (`jcas.evaluation.mask_quality`), per slice,",
             "against the slice's true Dice (targets: Spearman >= 0.8, >= 60 % of the worst found, >= 60 % of the",
             "gain from the worst 20 %; a random order gives 20 %). The review is simulated: a reviewed slice",
             "becomes right, and the gain is the sum of 1 - Dice over the slices.", "",
             *mask_quality_table(rows + slice_floor_rows + current_rows), "",
             "The review cost at data-set scale, from the rows of `rows_current/`: the mean Dice of the slices after",
             "a simulated reviewer has made the worst 10, 20 and 50 % of them right, in the dock's order (the",
             "estimated Dice), in cleanlab's (its image label-quality score on the plain recipe's out-of-fold",
             "probabilities, where a row of it exists), in a random order (its expectation) and in the true order.",
             "", *review_cost_table(current_rows), "",
             "## Reliability of the proposals' confidence", "",
             "Candidate regions at the default area floor with no score or confidence floor, binned by their",
             "confidence; a calibrated confidence has a gap near 0.", "", *reliability_table(rows), "",
             "## Rows whose default measured the floor on each slice", "",
             "These rows (`rows_slice_floor/`) ran the same training and heatmaps, but their *default* and",
             "*right* columns and their reliability bins used an area floor measured on each slice alone, the",
             "code before the floor moved to the training masks; their *argmax* and AP columns are those of",
             "the current code. Their `commit` field is the commit at the row's end, not the code it ran.", "",
             *quality_table(slice_floor_rows), "", *reliability_table(slice_floor_rows), "",
             "## Rows run again at a later commit", "",
             "Rows of `rows_current/`: a setting of `rows/` run again with the code of its `commit`, for the",
             "defaults that changed since (the area floor, the temperatures, the guard's class floor).", "",
             *quality_table(current_rows), "", *reliability_table(current_rows), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=FOLDER, help="holds rows/, rows_slice_floor/ and rows_current/")
    parser.add_argument("--out", type=Path, default=None, help="folder that receives recipe.md (default: --folder)")
    args = parser.parse_args(argv)
    out = args.out or args.folder
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.md").write_text(report(load_rows(args.folder / "rows"),
                                          load_rows(args.folder / "rows_slice_floor"),
                                          [scored_now(row) for row in load_rows(args.folder / "rows_current")]))


if __name__ == "__main__":
    main()
