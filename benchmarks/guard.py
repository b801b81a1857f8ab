"""Calibrating the do-no-harm guard (issue 10, item 4): which candidate regions are right, and which rule finds them.

For every model that ``quality.py --save-models DIR`` kept, the row's noisy masks are made again
(same noise, same seed), every slice is judged as ``jcas correct`` judges it (out of fold), and
every candidate region (no area or score floor, no guard) is written to
``DIR/regions/<row key>.csv`` (a cache, with the region maps) with what the core can see of it (area, mean
disagreement, mean probability of the proposed label, the learned-T_C posterior, the slice's and
the classes' out-of-fold agreement) and, from the clean masks, whether it is right: the proposal
matches the truth on more of its pixels than the drawn mask does.

Then every candidate rule is scored on every row (cleaned Dice, regions proposed and the share
right), its thresholds are chosen on the tuning sets only (``quality.TUNED_ON``), and the table
reports them on the rest:

    .venv/bin/python benchmarks/guard.py --models benchmarks/models --out benchmarks/results/suite
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from jcas.correction.guard import MIN_AGREEMENT
from jcas.correction.prediction import predict_slice
from jcas.correction.regions import find_regions
from jcas.data.noise import simulate_noise
from jcas.evaluation.metrics import mean_dice
from jcas.nn.checkpoint import load_checkpoint
from jcas.settings import MIN_AREA, MIN_CONFIDENCE

import quality
from provenance import git_commit, machine

HERE = Path(__file__).resolve().parent
FIELDS = ("slice", "area", "old_label", "new_label", "score", "p_new", "posterior", "slice_agreement",
          "agreement_old", "agreement_new", "judge", "truth_new", "truth_old")


def slice_agreement(drawn: np.ndarray, proposed: np.ndarray, ignore_value: int) -> float:
    """Dice of ``proposed`` against ``drawn`` ``(H, W)`` over the foreground, pooled over classes: the
    figure of the slice rule that the guard had before this calibration (rule "classes+slices").

    The foreground is every class but the one drawn most often in the slice; NaN when the
    slice has no drawn foreground.
    """
    labelled = drawn != ignore_value
    values, counts = np.unique(drawn[labelled], return_counts=True)
    if len(values) < 2:
        return float("nan")
    background = values[np.argmax(counts)]
    foreground_drawn = labelled & (drawn != background)
    foreground_proposed = labelled & (proposed != background)
    both = (foreground_drawn & foreground_proposed & (drawn == proposed)).sum()
    return float(2 * both / (foreground_drawn.sum() + foreground_proposed.sum()))


def parse_key(key: str) -> dict:
    """The row's dataset, noise kind, fraction, method and seed from its key (``quality.row_key``)."""
    dataset, noise, method, seed, *_ = key.split("__")
    kind, _, fraction = noise.rpartition("-")
    return {"dataset": dataset, "noise": kind, "fraction": float(fraction), "method": method, "seed": int(seed[1:])}


def region_features(model_path: Path) -> tuple[list[dict], np.ndarray, np.ndarray, list[np.ndarray]]:
    """Every candidate region of one saved row's model, and the data to score rules on.

    Returns
    -------
    rows : list of dict
        One per region, :data:`FIELDS`.
    noisy, clean : numpy.ndarray
        ``(N, H, W)`` drawn and true masks.
    region_maps : list of numpy.ndarray
        ``(H, W)`` int32 per slice: the index into ``rows`` + 1 of each region's pixels, else 0.
    """
    spec = parse_key(model_path.stem)
    images, clean = quality.load_set(spec["dataset"])
    noisy, _ = simulate_noise(clean, spec["noise"], spec["fraction"], seed=spec["seed"])
    model = load_checkpoint(model_path, device="cpu")
    label_map = model.label_map
    with torch.no_grad():
        transitions = np.stack([m.class_transition().float().cpu().numpy() for m in model.members])
    trust = model.pooled_trust()
    agreement = dict(zip(label_map.values, trust.class_agreement)) if trust is not None else {}
    rows, region_maps = [], []
    for z in range(len(images)):
        labels = label_map.encode(noisy[z])
        maps = predict_slice(model, images[z], labels)
        member = int(maps.judge.split()[1]) if maps.judge.startswith("fold") else None
        transition = transitions[member] if member is not None else transitions.mean(axis=0)
        posterior = quality.posterior_wrong(maps.probability, transition, np.clip(labels, 0, None))
        proposed = label_map.decode(maps.proposed, noisy.dtype)
        found_map, found = find_regions(noisy[z], proposed, maps.class_disagreement, z, len(rows) + 1)
        slice_dice = slice_agreement(noisy[z], proposed, label_map.ignore_value)
        for region in found:
            where = found_map == region.index
            new_index = label_map.values.index(region.new_label)
            truth = clean[z][where]
            rows.append({"slice": z, "area": region.area, "old_label": region.old_label,
                         "new_label": region.new_label, "score": region.score,
                         "p_new": float(maps.probability[new_index][where].mean()),
                         "posterior": float(posterior[where].mean()), "slice_agreement": slice_dice,
                         "agreement_old": float(agreement.get(region.old_label, np.nan)),
                         "agreement_new": float(agreement.get(region.new_label, np.nan)), "judge": maps.judge,
                         "truth_new": int((truth == region.new_label).sum()),
                         "truth_old": int((truth == region.old_label).sum())})
        region_maps.append(found_map)
    return rows, noisy, clean, region_maps


#: name -> (feature, thresholds): a region is proposed when its feature >= the threshold, it has at
#: least ``min_area`` pixels (one of AREAS), and it passes the guard's agreement rules (one of GUARDS:
#: none, the class rule, or the class and the slice rule jcas.correction.guard had). TODAY is the rule before this.
RULES = {
    "score": ("score", (0.5, 0.6, 0.7, 0.8, 0.9)),
    "p_new": ("p_new", (0.5, 0.6, 0.7, 0.8, 0.9)),
    "posterior": ("posterior", (0.3, 0.4, 0.5, 0.6)),
}
AREAS = (10, 25, 50, 100, 200, 400)
GUARDS = ("none", "classes", "classes+slices")
TODAY = ("score", 0.6, 10, "classes+slices")
#: The core's default now (jcas.correction.selection, jcas.correction.guard): its score floor adds nothing to
#: the confidence floor (p(proposed) >= 0.6 means 1 - p(drawn) >= 0.6), so it is the "p_new" rule.
CORE = ("p_new", MIN_CONFIDENCE, MIN_AREA, "classes")
#: What a chosen rule must reach on every tuning row (issue 10's targets): no harm, and this share right.
MAX_HARM = 0.005
MIN_RIGHT = 0.7


def kept(rows: list[dict], feature: str, threshold: float, min_area: int, guard: str) -> np.ndarray:
    """``(regions,)`` bool: proposed under the rule (agreement floors at jcas.correction.guard.MIN_AGREEMENT)."""
    def below(name):
        return np.array([r[name] < MIN_AGREEMENT for r in rows], dtype=bool)  # NaN (not measured) passes

    value = np.array([r[feature] for r in rows])
    area = np.array([r["area"] for r in rows])
    trusted = np.ones(len(rows), dtype=bool)
    if guard != "none":
        trusted &= ~below("agreement_old") & ~below("agreement_new")
    if guard == "classes+slices":
        trusted &= ~below("slice_agreement")
    return (value >= threshold) & (area >= min_area) & trusted


def apply(noisy: np.ndarray, region_maps: list[np.ndarray], rows: list[dict], keep: np.ndarray) -> np.ndarray:
    """``(N, H, W)``: the drawn masks with the kept regions relabelled."""
    cleaned = noisy.copy()
    new_labels = np.array([0] + [r["new_label"] for r in rows])
    kept_ids = np.concatenate([[False], keep])
    for z, found_map in enumerate(region_maps):
        where = kept_ids[found_map]
        cleaned[z][where] = new_labels[found_map[where]]
    return cleaned


def score_rules(key: str, rows, noisy, clean, region_maps) -> list[dict]:
    """One line per setting ``(rule, threshold, min_area, guard)`` for one row."""
    dice_noisy = mean_dice(list(noisy), list(clean))
    right = np.array([r["truth_new"] > r["truth_old"] for r in rows], dtype=bool)
    lines = []
    for rule, (feature, thresholds) in RULES.items():
        for threshold in thresholds:
            for min_area in AREAS:
                for guard in GUARDS:
                    keep = kept(rows, feature, threshold, min_area, guard)
                    cleaned = apply(noisy, region_maps, rows, keep)
                    lines.append({"key": key, **parse_key(key), "rule": rule, "threshold": threshold,
                                  "min_area": min_area, "guard": guard, "dice_noisy": dice_noisy,
                                  "dice": mean_dice(list(cleaned), list(clean)), "proposed": int(keep.sum()),
                                  "right": float(right[keep].mean()) if keep.any() else float("nan")})
    return lines


def setting_of(line: dict) -> tuple:
    return line["rule"], line["threshold"], line["min_area"], line["guard"]


def choose(lines: list[dict], tuned_on: tuple[str, ...]) -> tuple | None:
    """The setting with the best mean Dice gain over the JCAS tuning rows among those that, on every such
    row, harm by at most :data:`MAX_HARM` and propose regions of which at least :data:`MIN_RIGHT` are right."""
    best, best_gain = None, -np.inf
    for setting in sorted({setting_of(l) for l in lines}):
        tuned = [l for l in lines if setting_of(l) == setting and l["dataset"] in tuned_on and l["method"] == "jcas"]
        if not tuned:
            continue
        gains = [l["dice"] - l["dice_noisy"] for l in tuned]
        admissible = min(gains) >= -MAX_HARM and all(l["right"] >= MIN_RIGHT for l in tuned)
        if admissible and np.mean(gains) > best_gain:
            best, best_gain = setting, float(np.mean(gains))
    return best


def describe(setting: tuple) -> str:
    rule, threshold, min_area, guard = setting
    return f"{rule} >= {threshold:g}, area >= {min_area}, guard rules: {guard}"


def report(lines: list[dict], chosen: tuple | None, tuned_on: tuple[str, ...]) -> str:
    """The markdown table: every row under today's rule and under the chosen one."""
    sets = sorted({l["dataset"] for l in lines}, key=lambda d: (d not in tuned_on, d))
    shown = ([(TODAY, "the rule before")] + ([(chosen, "chosen on the tuning sets")] if chosen else [])
             + [(CORE, "the core's default")])
    kinds = ", ".join(sorted({f"{line['noise']} noise {float(line['fraction']):g}" for line in lines}))
    text = [f"# The guard's region rule: chosen on {' + '.join(tuned_on)}, reported on the other sets", "",
            f"Commit {git_commit()}, {machine()}; `benchmarks/guard.py` over the models that "
            f"`quality.py --save-models` kept ({kinds}; "
            "standard preset, 2-fold cross-fitted). "
            f"The rule chosen has the best mean Dice gain on the tuning rows among those that harm no tuning "
            f"row by more than {MAX_HARM} and whose proposed regions are at least {MIN_RIGHT:.0%} right "
            "(the proposal matches the truth on more of the region's pixels than the drawn mask) on each.",
            "" if chosen else "No setting met both on every tuning row.", "",
            "| set | tuned on | noise | method | seed | noisy | " + " | ".join(f"{describe(s)} ({why}): Dice / regions / right"
                                                                  for s, why in shown) + " |",
            "|---|---|---|---|---|---|" + "---|" * len(shown)]
    for dataset in sets:
        for key, noise, method, seed in sorted({(l["key"], l["noise"], l["method"], l["seed"]) for l in lines
                                                if l["dataset"] == dataset}):
            row_lines = {setting_of(l): l for l in lines if l["key"] == key}
            cells = [f"{row_lines[s]['dice']:.3f} / {row_lines[s]['proposed']} / {row_lines[s]['right']:.2f}"
                     for s, _ in shown]
            noisy = next(iter(row_lines.values()))["dice_noisy"]
            text.append(f"| {dataset} | {'yes' if dataset in tuned_on else 'no'} | {noise} | {method} | {seed} | "
                        f"{noisy:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(text) + "\n"


def cached_features(model_path: Path, regions_dir: Path):
    """:func:`region_features`, kept as ``regions_dir/<key>.csv`` and ``.npz`` (the region maps) and read
    back when they are newer than the model."""
    table, maps = regions_dir / f"{model_path.stem}.csv", regions_dir / f"{model_path.stem}.npz"
    if maps.exists() and table.exists() and maps.stat().st_mtime > model_path.stat().st_mtime:
        with open(table, newline="") as handle:
            rows = [{k: (v if k == "judge" else float(v)) for k, v in row.items()} for row in csv.DictReader(handle)]
        stored = np.load(maps)
        return rows, stored["noisy"], stored["clean"], list(stored["region_maps"])
    rows, noisy, clean, region_maps = region_features(model_path)
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    np.savez_compressed(maps, noisy=noisy, clean=clean, region_maps=np.stack(region_maps))
    return rows, noisy, clean, region_maps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=HERE / "models")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "suite")
    parser.add_argument("--methods", nargs="+", default=["jcas"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    regions_dir = args.models / "regions"  # a cache beside the models, not a result
    regions_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for model_path in sorted(args.models.glob("*.pt")):
        if parse_key(model_path.stem)["method"] not in args.methods:
            continue
        rows, noisy, clean, region_maps = cached_features(model_path, regions_dir)
        lines.extend(score_rules(model_path.stem, rows, noisy, clean, region_maps))
        print(f"{model_path.stem}: {len(rows)} regions", flush=True)
    with open(args.out / "guard_rules.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    chosen = choose(lines, quality.TUNED_ON)
    text = report(lines, chosen, quality.TUNED_ON)
    (args.out / "guard.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
