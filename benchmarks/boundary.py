"""The boundary view against the class heatmap's edges: which locates the true boundary where it differs
from the drawn one?

For every model that ``quality.py --save-models DIR`` kept, the row's noisy masks are made again
(same noise, same seed) and every slice is judged as ``jcas correct`` judges it (out of fold,
:func:`jcas.correction.prediction.predict_slice`). The target is every pixel of the TRUE mask's boundary
(:func:`jcas.correction.boundary.label_edges`) more than ``--tolerance`` px from any drawn
boundary; each view's candidates are its "boundary the mask lacks" pixels (its boundary more
than ``--tolerance`` px from any drawn boundary); the score is the boundary precision, recall
and F1 with a ``--tolerance`` px match (:func:`jcas.evaluation.metrics.boundary_f1`). The views:

- ``affinity``: the boundary view, the model's largest ``1 - A_ij`` over the 4 nearest neighbours
  at least a threshold (:func:`jcas.correction.boundary.boundary_view`, label 1);
- ``class_edges``: the edges of the class prediction (argmax), no threshold;
- ``class_heatmap``: the edges of the class heatmap ``1 - p(drawn)`` thresholded;
- ``class_pairs``: the class head's own pair probability ``1 - p_i . p_j`` thresholded.

The second half of the view (label 2, a drawn boundary the model does not see) is scored the same
way against the drawn boundary more than ``--tolerance`` px from the true one (``spurious_*``).
Thresholds are chosen on the tuning sets (``harness.TUNED_ON``) by mean F1 and reported on the others:

    .venv/bin/python benchmarks/boundary.py --models benchmarks/models_boundary --out benchmarks/results

Writes ``boundary.csv`` (every view and threshold of every row) with its provenance record, and
``boundary.md``; :func:`write_report` makes the table again from the two.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from jcas.correction.boundary import UNSEEN, MISSING, boundary_view, class_boundary, label_edges, missing_edges
from jcas.correction.prediction import predict_slice
from jcas import load_model, simulate_noise
from jcas.evaluation.metrics import boundary_f1
from jcas.settings import BOUNDARY_TOLERANCE

from harness import HERE, TUNED_ON, load_provenance, load_set, parse_key, save_provenance, saved_runs

#: Finer at the low end: a JCAS model's nearest-neighbour affinities rarely fall below 0.7 even across a
#: boundary, so the boundary probability 1 - A lives mostly under 0.3.
THRESHOLDS = (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: The class heatmap's edges, the baselines (``class_pairs`` is shown for context).
BASELINES = ("class_edges", "class_heatmap")
#: The decision rule, fixed before the held-out rows were seen: the boundary view is shown by default when
#: its F1 beats both baselines on the mean over the held-out sets and on at least this share of them.
WIN_SHARE = 0.75
#: view -> whether it has a threshold; "class_edges" has none (the argmax's own edges).
VIEWS = {"affinity": True, "class_edges": False, "class_heatmap": True, "class_pairs": True}
FIELDS = ("key", "dataset", "tuned_on", "noise", "fraction", "seed", "view", "threshold", "precision", "recall", "f1",
          "candidates", "targets", "spurious_precision", "spurious_recall", "spurious_f1", "spurious_candidates",
          "spurious_targets")


def slice_maps(model_path: Path, cache: Path) -> dict[str, np.ndarray]:
    """The maps of one saved row's model over its set, judged out of fold; kept as ``cache/<key>.npz``.

    Returns
    -------
    dict
        ``noisy``, ``clean``, ``proposed`` (label values) and ``affinity`` (the boundary probability),
        ``class_heatmap`` (``1 - p(drawn)``), ``class_pairs`` (``1 - p_i . p_j``), all ``(N, H, W)``.
    """
    stored = cache / f"{model_path.stem}.npz"
    if stored.exists() and stored.stat().st_mtime > model_path.stat().st_mtime:
        with np.load(stored) as data:
            return dict(data)
    spec = parse_key(model_path.stem)
    images, clean = load_set(spec["dataset"])
    noisy, _ = simulate_noise(clean, spec["noise"], spec["fraction"], seed=spec["seed"])
    model = load_model(model_path, device="cpu")
    label_map = model.label_map
    maps = {name: np.zeros(noisy.shape, dtype=np.float32) for name in ("affinity", "class_heatmap", "class_pairs")}
    proposed = np.zeros_like(noisy)
    for z in range(len(images)):
        judged = predict_slice(model, images[z], label_map.encode(noisy[z]))
        maps["affinity"][z] = judged.boundary
        maps["class_heatmap"][z] = judged.class_disagreement
        maps["class_pairs"][z] = class_boundary(judged.probability)
        proposed[z] = label_map.decode(judged.proposed, noisy.dtype)
    result = {"noisy": noisy, "clean": clean, "proposed": proposed, **maps}
    np.savez_compressed(stored, **result)
    return result


def view_edges(view: str, threshold: float | None, maps: dict, drawn_edges: np.ndarray, tolerance: float):
    """``(missing, unseen)``: a view's boundary the drawn mask lacks, and the drawn boundary it does not see
    (bool ``(N, H, W)``)."""
    if view == "affinity":
        shown = boundary_view(maps["affinity"], maps["noisy"], threshold=threshold, tolerance=tolerance)
        return shown == MISSING, shown == UNSEEN
    if view == "class_edges":
        edges = label_edges(maps["proposed"])
    elif view == "class_heatmap":
        edges = label_edges(maps["class_heatmap"] >= threshold)
    else:
        edges = maps["class_pairs"] >= threshold
    return missing_edges(edges, drawn_edges, tolerance), missing_edges(drawn_edges, edges, tolerance)


def score_row(key: str, maps: dict, tolerance: float) -> list[dict]:
    """One line per view and threshold for one row."""
    spec = parse_key(key)
    drawn_edges, true_edges = label_edges(maps["noisy"]), label_edges(maps["clean"])
    target = missing_edges(true_edges, drawn_edges, tolerance)  # the true boundary the drawn mask lacks
    spurious = missing_edges(drawn_edges, true_edges, tolerance)  # a drawn boundary the truth lacks
    lines = []
    for view, thresholded in VIEWS.items():
        for threshold in (THRESHOLDS if thresholded else (None,)):
            missing, unseen = view_edges(view, threshold, maps, drawn_edges, tolerance)
            found, wrong = boundary_f1(missing, target, tolerance), boundary_f1(unseen, spurious, tolerance)
            lines.append({"key": key, "dataset": spec["dataset"],
                          "tuned_on": spec["dataset"] in TUNED_ON, "noise": spec["noise"],
                          "fraction": spec["fraction"], "seed": spec["seed"], "view": view,
                          "threshold": "" if threshold is None else threshold, "precision": found.precision,
                          "recall": found.recall, "f1": found.f1, "candidates": found.candidates,
                          "targets": found.targets, "spurious_precision": wrong.precision,
                          "spurious_recall": wrong.recall, "spurious_f1": wrong.f1,
                          "spurious_candidates": wrong.candidates, "spurious_targets": wrong.targets})
    return lines


def choose(lines: list[dict], metric: str = "f1") -> dict[str, object]:
    """Per view, the threshold with the best mean ``metric`` over the tuning rows (None: no tuning row yet)."""
    chosen = {}
    for view, thresholded in VIEWS.items():
        if not thresholded:
            chosen[view] = ""
            continue
        tuned = [l for l in lines if l["view"] == view and l["tuned_on"]]
        if {l["dataset"] for l in tuned} != set(TUNED_ON):
            chosen[view] = None
            continue
        means = {t: np.nanmean([l[metric] for l in tuned if l["threshold"] == t]) for t in THRESHOLDS}
        chosen[view] = max(THRESHOLDS, key=lambda t: (means[t], -abs(t - 0.5)))
    return chosen


def at(lines: list[dict], key: str, view: str, threshold) -> dict | None:
    return next((l for l in lines if l["key"] == key and l["view"] == view and l["threshold"] == threshold), None)


def scores_at_chosen(lines: list[dict], key: str, views, chosen: dict, half: str = "") -> tuple[list[str], dict, object]:
    """One row's table cells, each view's F1 (precision / recall) at its chosen threshold ("pending" before one
    is chosen), the F1s by view and the row's target pixels; ``half`` "" scores the boundary the mask lacks,
    "spurious_" the drawn boundary the model does not see."""
    cells, f1, target_px = [], {}, ""
    for view in views:
        line = None if chosen[view] is None else at(lines, key, view, chosen[view])
        if line is None:
            cells.append("pending")
            continue
        target_px = line[f"{half}targets"]
        f1[view] = line[f"{half}f1"]
        cells.append(f"{line[f'{half}f1']:.3f} ({line[f'{half}precision']:.2f} / {line[f'{half}recall']:.2f})")
    return cells, f1, target_px


def trained_at(models: Path) -> str:
    """The commits the models were trained at, from the rows ``quality.py --rows DIR/rows`` wrote beside them."""
    commits = set()
    for row in (models / "rows").glob("*.json"):
        commits.add(json.loads(row.read_text()).get("commit", "unknown"))
    return ", ".join(sorted(commits)) or "unknown"


def report(lines: list[dict], provenance: dict) -> str:
    """The markdown table: per row, each view at the threshold chosen on the tuning sets; ``provenance`` is the
    record :func:`harness.save_provenance` kept beside ``boundary.csv`` (the command, the models' preset and
    commits, the tolerance)."""
    tolerance = provenance["tolerance"]
    local = f" with local changes ({provenance['local_changes']})" if provenance.get("local_changes") else ""
    chosen, chosen_spurious = choose(lines), choose(lines, "spurious_f1")
    keys = sorted({l["key"] for l in lines}, key=lambda k: (parse_key(k)["dataset"] not in TUNED_ON, k))
    views = list(VIEWS)
    text = ["# The boundary view: does it locate the true boundary better than the class heatmap's edges?", "",
            f"Scored at commit {provenance['commit']}{local}, {provenance['machine']}, torch threads 1; the rows "
            f"beside the models record commit {provenance['trained']} (the HEAD when each row finished). Models: "
            f"{provenance['preset']}. Command: `{provenance['command']}`.", "",
            f"Every slice is judged out of fold, as `jcas correct` judges it. Target: the true mask's boundary "
            f"pixels more than {tolerance:g} px from any drawn (noisy) boundary. Candidates: each view's "
            f"\"boundary the mask lacks\" pixels. Boundary precision / recall / F1 with a {tolerance:g} px "
            "match. Thresholds chosen on the tuning sets (mni_tissue, cells3d_nuclei) by mean F1, reported "
            "on the others. Views: `affinity` = the boundary view (largest 1 - A_ij over the 4 nearest "
            "neighbours >= t), `class_edges` = edges of the class prediction (argmax), `class_heatmap` = "
            "edges of {1 - p(drawn) >= t}, `class_pairs` = largest 1 - p_i.p_j over the 4 nearest neighbours >= t.", "",
            "Thresholds chosen: " + ", ".join(f"{v} {'(none)' if chosen[v] == '' else ('pending' if chosen[v] is None else chosen[v])}"
                                              for v in views) + ".", "",
            "| set | tuned on | seed | target px | " + " | ".join(f"{v} F1 (P / R)" for v in views)
            + " | affinity - best of class_edges, class_heatmap |",
            "|---|---|---|---|" + "---|" * len(views) + "---|"]
    held_wins, held_total, differences, held_f1 = 0, 0, [], {view: [] for view in views}
    for key in keys:
        spec = parse_key(key)
        cells, f1, target_px = scores_at_chosen(lines, key, views, chosen)
        compared = {"affinity", *BASELINES} <= set(f1)
        difference = f1["affinity"] - max(f1[b] for b in BASELINES) if compared else None
        tuned = spec["dataset"] in TUNED_ON
        if compared and not tuned:
            held_total += 1
            held_wins += difference > 0
            differences.append(difference)
            for view in f1:
                held_f1[view].append(f1[view])
        text.append(f"| {spec['dataset']} | {'yes' if tuned else 'no'} | {spec['seed']} | {target_px} | "
                    + " | ".join(cells) + f" | {'' if difference is None else f'{difference:+.3f}'} |")
    means = {view: float(np.mean(values)) for view, values in held_f1.items() if values}
    wins = bool(held_total) and held_wins >= WIN_SHARE * held_total and all(
        means["affinity"] > means[b] for b in BASELINES)
    text += ["", f"Held-out sets where the boundary view's F1 beats both class-edge baselines: {held_wins} of "
             f"{held_total}" + (f" (mean difference to the better of the two {np.mean(differences):+.3f}); "
                                "mean held-out F1: " + ", ".join(f"{v} {m:.3f}" for v, m in means.items())
                                if differences else "") + ".",
             "",
             f"Decision rule (fixed before the held-out rows were seen): the boundary view is shown by default if "
             f"its F1 beats both `class_edges` and `class_heatmap` on the mean over the held-out sets and on at "
             f"least {WIN_SHARE:.0%} of them. " + ("Pending: no held-out row yet." if not held_total else
                                                  f"Verdict on {held_total} held-out sets: "
                                                  + ("it wins: shown by default." if wins else
                                                     "it does not win: it stays opt-in."))]
    text += ["", "At each row's own best threshold (an oracle, for diagnosis only: how much is the threshold's "
             "transfer from the tuning sets):", "",
             "| set | tuned on | " + " | ".join(f"{v} best F1 (threshold)" for v in views) + " |",
             "|---|---|" + "---|" * len(views)]
    for key in keys:
        spec = parse_key(key)
        cells = []
        for view in views:
            best = max((l for l in lines if l["key"] == key and l["view"] == view),
                       key=lambda l: -1 if np.isnan(l["f1"]) else l["f1"])
            cells.append(f"{best['f1']:.3f} ({best['threshold'] if best['threshold'] != '' else '-'})")
        text.append(f"| {spec['dataset']} | {'yes' if spec['dataset'] in TUNED_ON else 'no'} | "
                    + " | ".join(cells) + " |")
    text += ["", "## The other half: a drawn boundary the model does not see (label 2)", "",
             f"Target: drawn boundary pixels more than {tolerance:g} px from the true boundary. Candidates: "
             "the drawn boundary more than that from the view's boundary. Thresholds chosen on the tuning sets "
             "by mean F1 of this half: " + ", ".join(
                 f"{v} {'(none)' if chosen_spurious[v] == '' else ('pending' if chosen_spurious[v] is None else chosen_spurious[v])}"
                 for v in views) + ".", "",
             "| set | tuned on | seed | target px | " + " | ".join(f"{v} F1 (P / R)" for v in views) + " |",
             "|---|---|---|---|" + "---|" * len(views)]
    for key in keys:
        spec = parse_key(key)
        cells, _, target_px = scores_at_chosen(lines, key, views, chosen_spurious, half="spurious_")
        text.append(f"| {spec['dataset']} | {'yes' if spec['dataset'] in TUNED_ON else 'no'} | "
                    f"{spec['seed']} | {target_px} | " + " | ".join(cells) + " |")
    text += ["", f"Every view and threshold of every row: `boundary.csv`. Written {provenance['written']}."]
    return "\n".join(text) + "\n"


def read_lines(path: Path) -> list[dict]:
    """The lines of a ``boundary.csv``, with their numbers and flags as such."""
    counts = {"seed", "candidates", "targets", "spurious_candidates", "spurious_targets"}
    def value(name: str, text: str):
        if name in ("key", "dataset", "noise", "view") or (name == "threshold" and text == ""):
            return text
        if name == "tuned_on":
            return text == "True"
        return int(text) if name in counts else float(text)

    with open(path, newline="") as handle:
        return [{k: value(k, v) for k, v in line.items()} for line in csv.DictReader(handle)]


def write_report(folder: Path, out: Path) -> Path:
    """``out/boundary.md`` from ``folder/boundary.csv`` and its provenance record."""
    table = folder / "boundary.csv"
    out.mkdir(parents=True, exist_ok=True)
    (out / "boundary.md").write_text(report(read_lines(table), load_provenance(table)))
    return out / "boundary.md"


def main(argv=None) -> None:
    """Score every view of every saved model, writing ``boundary.csv`` and ``boundary.md`` after each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=HERE / "models_boundary")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--methods", nargs="+", default=["jcas"])
    parser.add_argument("--tolerance", type=float, default=BOUNDARY_TOLERANCE)
    parser.add_argument("--preset", default="`quality.py --datasets <set> --noise mixed:0.5 --methods jcas --seeds 0 "
                                            "--epochs 20 --no-mirror --threads 1 --save-models DIR` (a short preset: "
                                            "10 warm-up + 10 corrected epochs, at least 200 steps per fold model, "
                                            "about 0.6x the standard preset's steps; 2-fold cross-fitted), mixed noise 0.5",
                        help="how the models were trained, for the report")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cache = args.models / "boundary"  # a cache beside the models, not a result
    cache.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    command = ".venv/bin/python benchmarks/boundary.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = []
    for model_path in sorted(saved_runs(args.models, args.methods),
                             key=lambda p: (parse_key(p.stem)["dataset"] not in TUNED_ON, p.stem)):
        lines.extend(score_row(model_path.stem, slice_maps(model_path, cache), args.tolerance))
        with open(args.out / "boundary.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(lines)
        save_provenance(args.out / "boundary.csv", command=command.strip(), preset=args.preset,
                        tolerance=args.tolerance, trained=trained_at(args.models),
                        written=time.strftime("%Y-%m-%d %H:%M"))
        write_report(args.out, args.out)
        print(f"{model_path.stem}: scored", flush=True)
    if lines:
        print((args.out / "boundary.md").read_text())


if __name__ == "__main__":
    main()
