"""Can what the core knows of a proposal say how often such a proposal is right? A region calibration fitted on
the tuning sets, reported on every set.

A candidate region's mean confidence is a pixel probability; how often such a proposal is right is another
matter (recipe.md, "Reliability of the proposals' confidence"). This benchmark gathers every candidate region of
the product's saved models (``quality.py --save-models``) with what the core knows of it (confidence, the check
models' support, size against the objects it touches) and whether it is right, fits a logistic model of the three
(:func:`fit`) on the tuning sets' regions, and bins the regions of every set by the fitted chance:

    .venv/bin/python benchmarks/region_chance.py collect --models /tmp/models   # one CSV of regions per model
    .venv/bin/python benchmarks/region_chance.py                                # fit, write the tables

The regions are those the product shows or withholds for its support: candidates at the default area floor, no
score or confidence floor, of slices the guard's class and slice rules leave alone. ``collect`` skips models
whose CSV exists. The fitted coefficients go to ``region_chance.json``. The core does not use them: the share right
differs from run to run (0.26 to 0.89) in ways none of the three explains, so no fitted chance held within 0.1 on
every set (``region_chance.md``).
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import math
from dataclasses import replace

import numpy as np
from scipy import optimize

from jcas import correct, load_model, select_regions
from jcas.correction.guard import unsupported
from jcas.correction.regions import object_sizes
from jcas.evaluation.metrics import auroc

from harness import (DATASETS, RESULTS, SEEN_WHILE_CHOOSING, TUNED_ON, is_product, load_set, make_noise,
                     region_is_right, save_provenance)

FOLDER = RESULTS / "region_chance"
ROWS = RESULTS / "recipe" / "rows_current"
FIELDS = ("slice", "area", "object", "old_label", "new_label", "score", "confidence", "support", "withheld", "right")
#: Bins of the reliability tables: of the raw confidence and of the fitted chance.
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: The L2 penalty on the coefficients (not on the intercept) of the fit: a light hand, so that the few features
#: keep their sign on another set.
PENALTY = 1.0


# ---------------------------------------------------------------------------------------------- collecting


def collect(models: Path, rows: Path, folder: Path) -> None:
    """One CSV of candidate regions per product model in ``models`` whose row ``rows`` holds (skipped when written)."""
    (folder / "regions").mkdir(parents=True, exist_ok=True)
    for model_path in sorted(models.glob("*.pt")):
        row_path = rows / f"{model_path.stem}.json"
        out = folder / "regions" / f"{model_path.stem}.csv"
        if not row_path.exists() or out.exists():
            continue
        row = json.loads(row_path.read_text())
        if not is_product(row):
            continue
        images, clean = load_set(row["dataset"])
        noisy, _ = make_noise(row["dataset"], row["noise"], row["fraction"], row["seed"], images, clean)
        model = load_model(model_path)
        records = []
        for z in range(len(images)):
            maps = correct(model, images[z], noisy[z], min_area=1, min_score=0.0, min_confidence=0.0).maps
            records.extend(slice_regions(maps, clean[z], z))
        tmp = out.with_suffix(".tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(records)
        tmp.replace(out)
        print(f"{model_path.stem}: {len(records)} regions", flush=True)


def slice_regions(maps, clean: np.ndarray, z: int) -> list[dict]:
    """The candidate regions of one slice's maps at the default area floor (no score or confidence floor), each with
    what the core knows of it and whether it is right against ``clean`` ``(H, W)``; regions the guard withholds for
    a reason other than their support are left out."""
    chosen = select_regions(maps, min_score=0.0, min_confidence=0.0)
    sizes = object_sizes(maps.drawn, maps.object_areas)
    held = [w.region for w in chosen.withheld if w.reason == unsupported(w.region)]
    # withheld regions are not in the region map; without the guard every candidate is, under the same id
    region_map = select_regions(replace(maps, guard=False), min_score=0.0, min_confidence=0.0).region_map
    records = []
    for region, withheld in [(r, 0) for r in chosen.regions] + [(r, 1) for r in held]:
        records.append({"slice": z, "area": region.area, "object": round(smaller_object(region, sizes), 1),
                        "old_label": region.old_label, "new_label": region.new_label,
                        "score": round(region.score, 4), "confidence": round(region.confidence, 4),
                        "support": "" if region.support is None else round(region.support, 4),
                        "withheld": withheld, "right": int(region_is_right(region, region_map, clean))})
    return records


# ---------------------------------------------------------------------------------------------- fitting


def load_regions(folder: Path, rows: Path) -> list[dict]:
    """Every collected region, each with its row's set, noise, seed and role (tuning, held out, seen)."""
    regions = []
    for path in sorted((folder / "regions").glob("*.csv")):
        row = json.loads((rows / f"{path.stem}.json").read_text())
        role = ("tuning" if DATASETS[row["dataset"]] in TUNED_ON else
                "seen" if DATASETS[row["dataset"]] in SEEN_WHILE_CHOOSING else "held out")
        with path.open() as handle:
            for record in csv.DictReader(handle):
                regions.append({"set": row["dataset"], "noise": f"{row['noise']}:{row['fraction']:g}",
                                "seed": row["seed"], "role": role, "area": int(record["area"]),
                                "object": float(record["object"]), "confidence": float(record["confidence"]),
                                "support": float(record["support"]) if record["support"] else None,
                                "withheld": int(record["withheld"]), "right": int(record["right"])})
    return regions


#: What each coefficient after the intercept multiplies (:func:`features`).
FEATURE_NAMES = ("logit of the confidence", "support", "log of the size against the smaller object")
EPSILON = 1e-3


def smaller_object(region, sizes: dict[int, float]) -> float:
    """The typical object of the smaller of the two label values a region touches (of its drawn value alone where
    the slice holds none of the proposed one), as the area floor measures it."""
    return min(sizes[value] for value in (region.old_label, region.new_label) if value in sizes)


def features(regions: list[dict], support_unknown: float) -> np.ndarray:
    """``(N, 3)`` the features of :data:`FEATURE_NAMES` of ``regions``; a region without support (a single model)
    counts as ``support_unknown``."""
    rows = []
    for r in regions:
        p = min(max(r["confidence"], EPSILON), 1.0 - EPSILON)
        rows.append((math.log(p / (1.0 - p)), support_unknown if r["support"] is None else r["support"],
                     math.log(max(r["area"] / r["object"], EPSILON))))
    return np.array(rows)


def mean_support(regions: list[dict]) -> float:
    """The mean support of the regions that have one: what a region without counts as."""
    return float(np.mean([r["support"] for r in regions if r["support"] is not None]))


def fit(regions: list[dict]) -> list[float]:
    """``[intercept, coefficient per feature]`` of a logistic regression of ``right`` on :func:`features`, with the
    light L2 penalty :data:`PENALTY` on the coefficients."""
    x = np.hstack([np.ones((len(regions), 1)), features(regions, mean_support(regions))])
    y = np.array([r["right"] for r in regions], dtype=float)
    penalty = np.full(x.shape[1], PENALTY)
    penalty[0] = 0.0

    def loss(w):
        z = x @ w
        value = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(penalty * w * w)
        gradient = x.T @ (1.0 / (1.0 + np.exp(-z)) - y) + penalty * w
        return value, gradient

    return [float(v) for v in optimize.minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x]


def chances(regions: list[dict], coefficients, support_unknown: float) -> np.ndarray:
    """``(N,)`` the fitted chance of each region, in (0, 1)."""
    z = coefficients[0] + features(regions, support_unknown) @ np.asarray(coefficients[1:])
    return 1.0 / (1.0 + np.exp(-z))


def binned(values: np.ndarray, right: np.ndarray) -> list[tuple[float, float, int, float, float]]:
    """``[(low, high, regions, share right, mean value), ...]`` per bin of :data:`BINS`, the last bin closed."""
    out = []
    for low, high in zip(BINS[:-1], BINS[1:]):
        inside = (values >= low) & ((values < high) | ((high == BINS[-1]) & (values == high)))
        if inside.any():
            out.append((low, high, int(inside.sum()), float(right[inside].mean()), float(values[inside].mean())))
    return out


def largest_gap(values: np.ndarray, right: np.ndarray, least: int) -> float:
    """The largest ``|share right - mean value|`` over the bins with at least ``least`` regions (NaN: none)."""
    gaps = [abs(share - mean) for _, _, n, share, mean in binned(values, right) if n >= least]
    return max(gaps) if gaps else float("nan")


#: Bins with fewer regions than this are left out of a table's largest gap (their share right is noise).
LEAST = 20


def write_report(folder: Path, out: Path, rows: Path = ROWS) -> None:
    """Fit on the tuning sets' regions of ``folder`` and write ``region_chance.json`` and ``region_chance.md`` to
    ``out``."""
    regions = load_regions(folder, rows)
    tuning = [r for r in regions if r["role"] == "tuning"]
    coefficients = fit(tuning)
    groups = sorted({(r["role"] != "tuning", r["set"], r["noise"]) for r in regions})
    lines = ["# The chance that a proposal is right", "",
             "Generated by `benchmarks/region_chance.py` from the regions in `regions/` (one file per saved model of the",
             "product, `recipe/rows_current/`): candidate regions at the default area floor, no score or confidence",
             "floor. *chance*: a logistic model of the region's confidence, support and size against the smaller",
             f"object it touches, fitted on the tuning sets' {len(tuning)} regions (seeds pooled, those the guard",
             "withholds for their support included); *confidence*: the region's mean probability of its proposed label.",
             "The figures below are over the regions the guard lets through (those a person sees): a calibrated",
             "figure has each bin's share right near its mean (the *gap*, largest over the bins of at least",
             f"{LEAST} regions), and AUROC says how well it puts the right ones before the wrong ones (0.5: not at",
             "all). *left out*: the chance fitted on the other tuning set alone.", "",
             f"Coefficients (intercept, {', '.join(FEATURE_NAMES)}): "
             + ", ".join(f"{c:+.3f}" for c in coefficients), "",
             "| set | role | noise | regions | right | gap, confidence | gap, chance | gap, left out | "
             "AUROC, confidence | AUROC, chance |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    detail = ["", "Per bin:", "", "| set | noise | figure | bin | regions | share right | mean | gap |",
              "|---|---|---|---|---|---|---|---|"]
    support_unknown = mean_support(tuning)
    left_out_fits = {}  # per tuning set: the fit on the other tuning sets, and their mean support
    for dataset in {r["set"] for r in tuning}:
        others = [r for r in tuning if r["set"] != dataset]
        if others:
            left_out_fits[dataset] = fit(others), mean_support(others)
    for _, dataset, noise in groups:
        group = [r for r in regions if r["set"] == dataset and r["noise"] == noise and not r["withheld"]]
        right = np.array([r["right"] for r in group], dtype=float)
        raw = np.array([r["confidence"] for r in group])
        fitted = chances(group, coefficients, support_unknown)
        role = group[0]["role"]
        left_out = chances(group, *left_out_fits[dataset]) if role == "tuning" and dataset in left_out_fits else None
        lines.append(f"| {dataset} | {role} | {noise} | {len(group)} | {right.mean():.2f} | "
                     f"{_f(largest_gap(raw, right, LEAST))} | {_f(largest_gap(fitted, right, LEAST))} | "
                     f"{'–' if left_out is None else _f(largest_gap(left_out, right, LEAST))} | "
                     f"{_f(auroc(raw, right > 0))} | {_f(auroc(fitted, right > 0))} |")
        for name, values in (("confidence", raw), ("chance", fitted)):
            for low, high, n, share, mean in binned(values, right):
                detail.append(f"| {dataset} | {noise} | {name} | {low:.1f}-{high:.1f} | {n} | {share:.2f} | "
                              f"{mean:.2f} | {share - mean:+.2f} |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "region_chance.md").write_text("\n".join(lines + runs(regions) + detail) + "\n")
    (out / "region_chance.json").write_text(json.dumps(
        {"features": list(FEATURE_NAMES), "coefficients": [round(c, 4) for c in coefficients],
         "support_unknown": round(support_unknown, 3), "penalty": PENALTY, "tuning_regions": len(tuning)},
        indent=1) + "\n")


def runs(regions: list[dict]) -> list[str]:
    """The per-run table: how many candidates the support rule withheld, and how many of the rest were right."""
    lines = ["", "Per run: the share of the candidates the guard withholds for their support, and the share right of",
             "those it lets through. The share right is a property of the run more than of any region.", "",
             "| set | noise | seed | candidates | withheld for support | shown | share right |",
             "|---|---|---|---|---|---|---|"]
    for dataset, noise, seed in sorted({(r["set"], r["noise"], r["seed"]) for r in regions}):
        run = [r for r in regions if (r["set"], r["noise"], r["seed"]) == (dataset, noise, seed)]
        shown = [r["right"] for r in run if not r["withheld"]]
        lines.append(f"| {dataset} | {noise} | {seed} | {len(run)} | {1 - len(shown) / len(run):.2f} | {len(shown)} | "
                     f"{_f(float(np.mean(shown)) if shown else float('nan'))} |")
    return lines


def _f(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.2f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", nargs="?", choices=("collect", "tables"), default="tables")
    parser.add_argument("--models", type=Path, help="the models of quality.py --save-models (collect)")
    parser.add_argument("--rows", type=Path, default=ROWS)
    parser.add_argument("--folder", type=Path, default=FOLDER)
    args = parser.parse_args(argv)
    if args.step == "collect":
        if args.models is None:
            parser.error("collect needs --models DIR")
        collect(args.models, args.rows, args.folder)
        save_provenance(args.folder / "regions", models=args.models.name)
    else:
        write_report(args.folder, args.folder, args.rows)


if __name__ == "__main__":
    main()
