"""Tables and plots from the quality rows: results/quality.csv, results/quality.md, results/*.png.

    .venv/bin/python benchmarks/report.py
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from harness import RESULTS, load_rows, mean_std as ms
#: stands in COLUMNS for the other selective settings the rows record (quality.SELECT_EXTRA), in row order
SELECTIONS = "dice_selective_a*"
COLUMNS = ["protocol", "tuned_on", "held_out_set", "folds", "dataset", "noise", "fraction", "method", "dice_noisy", "dice_cleaned", "auroc", "ap", "train_seconds",
           "device", "seed", "schedule", "epochs", "base_epochs", "dice_selective", "auroc_affinity", "ap_affinity",
           "auroc_combined", "ap_combined", "flag_precision", "flag_recall", "changed_fraction", "changed_precision",
           "changed_recall", "dice_oof_argmax", "seconds_per_epoch", "correct_seconds", "noise_rate",
           "pair_noise_rate_local", SELECTIONS, "auroc_posterior", "ap_posterior", "ap_boundary",
           "ap_boundary_affinity", "boundary_noise_share", "dice_selective_mirror", "auroc_mirror", "ap_mirror",
           "correct_seconds_mirror", "dice_selective_noguard", "dice_cleaned_noguard", "withheld_regions",
           "withheld_slices", "region_precision", "overrides", "torch_threads", "load_avg_1m",
           "commit", "machine", "key"]
MAIN_METHODS = ["clean", "jcas", "jcas_dar", "jcas_paper", "ce", "fc", "cleanlab"]
#: ablation variants that are the same configuration as a main method (rows reused)
ALIASES = {"ce": "plain", "fc": "+tc", "jcas": "+consistency", "jcas_dar": "full"}
ABLATION = ["plain", "+dar", "+tc", "+aff_global", "+aff_local", "+consistency", "full"]


def csv_columns(rows: list[dict]) -> list[str]:
    """COLUMNS with SELECTIONS replaced by every ``dice_selective_a<area>_s<score>`` key of the rows."""
    selections = list(dict.fromkeys(k for r in rows for k in r if k.startswith("dice_selective_a")))
    at = COLUMNS.index(SELECTIONS)
    return COLUMNS[:at] + selections + COLUMNS[at + 1:]


def write_csv(rows: list[dict], path: Path) -> None:
    columns = csv_columns(rows)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            out = {k: row.get(k, "") for k in columns}
            out["overrides"] = json.dumps(row.get("overrides", {}), sort_keys=True)
            for k, v in out.items():
                if isinstance(v, float):
                    out[k] = f"{v:.5g}"
            writer.writerow(out)


def setting(row) -> tuple:
    return (row["dataset"], row["noise"], row["fraction"], row["schedule"], str(row["base_epochs"]))


def setting_name(s) -> str:
    dataset, noise, fraction, schedule, base = s
    epochs = "standard preset" if base == "standard" else f"base {base} epochs"
    return f"{dataset} {noise} {fraction:g}, {schedule} ({epochs})"


def headline(rows) -> list[str]:
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["method"] in MAIN_METHODS or r["method"] not in ABLATION:
            groups[setting(r)][r["method"]].append(r)
    lines = ["## Main comparison (mean ± std over seeds)", "",
             "dice = mean foreground Dice (pooled) against the clean masks; cleaned = argmax replacement; "
             "selective = region-level (area >= 10 px, mean 1 - p(drawn) >= 0.6); AP/AUROC of the heatmaps "
             "against the true-noise map (class = 1 - p(drawn); for cleanlab: 1 - out-of-fold p(drawn)).", "",
             "| setting | method | epochs | dice noisy | dice cleaned | dice selective | AP class | AP affinity | "
             "AP combined | AUROC class | s/epoch |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = lambda m: (MAIN_METHODS.index(m) if m in MAIN_METHODS else 99, m)  # noqa: E731
    for s in sorted(groups, key=lambda s: (s[0], s[1], s[2], str(s[4]), s[3])):
        for method in sorted(groups[s], key=order):
            g = groups[s][method]
            lines.append(f"| {setting_name(s)} | {method} | {g[0]['epochs']} | {ms([r['dice_noisy'] for r in g])} | "
                         f"{ms([r['dice_cleaned'] for r in g])} | {ms([r.get('dice_selective') for r in g])} | "
                         f"{ms([r['ap'] for r in g])} | {ms([r.get('ap_affinity') for r in g])} | "
                         f"{ms([r.get('ap_combined') for r in g])} | {ms([r['auroc'] for r in g])} | "
                         f"{ms([r['seconds_per_epoch'] for r in g], 1)} |")
    return lines + [""]


def paired(rows, a="jcas", b="ce") -> list[str]:
    by = {(setting(r), r["method"], r["seed"]): r for r in rows}
    lines = [f"## Paired differences {a} - {b} (same noise, same seed)", "",
             f"| setting | n | Δ dice cleaned | Δ dice selective | Δ AP class | AP combined - AP class ({a}) | "
             f"epoch cost {a}/{b} |", "|---|---|---|---|---|---|---|"]
    for s in sorted({setting(r) for r in rows}):
        seeds = sorted({k[2] for k in by if k[0] == s and k[1] == a} & {k[2] for k in by if k[0] == s and k[1] == b})
        if not seeds:
            continue
        ra, rb = [by[(s, a, x)] for x in seeds], [by[(s, b, x)] for x in seeds]
        d = lambda key: [x.get(key, np.nan) - y.get(key, np.nan) for x, y in zip(ra, rb)]  # noqa: E731
        lines.append(f"| {setting_name(s)} | {len(seeds)} | {ms(d('dice_cleaned'))} | {ms(d('dice_selective'))} | "
                     f"{ms(d('ap'))} | {ms([x['ap_combined'] - x['ap'] for x in ra])} | "
                     f"{np.mean([x['seconds_per_epoch'] for x in ra]) / np.mean([y['seconds_per_epoch'] for y in rb]):.2f} |")
    return lines + [""]


def schedules(rows) -> list[str]:
    """Fall of the cleaned Dice from 1x to 3x, paired by seed."""
    by = {(r["dataset"], r["noise"], r["fraction"], r["method"], str(r["base_epochs"]), r["schedule"], r["seed"]): r
          for r in rows}
    lines = ["## Longer training: cleaned Dice at 3x minus at 1x (paired by seed; negative = falls)", "",
             "| setting | method | n | dice cleaned 1x | dice cleaned 3x | Δ cleaned | Δ selective |",
             "|---|---|---|---|---|---|---|"]
    found = False
    for key in sorted({k[:5] for k in by if k[5] == "3x"}):
        seeds = sorted({k[6] for k in by if k[:5] == key and k[5] == "3x"} & {k[6] for k in by if k[:5] == key and k[5] == "1x"})
        if not seeds:
            continue
        found = True
        one = [by[key + ("1x", s)] for s in seeds]
        three = [by[key + ("3x", s)] for s in seeds]
        lines.append(f"| {key[0]} {key[1]} {key[2]:g} (base {key[4]}) | {key[3]} | {len(seeds)} | "
                     f"{ms([r['dice_cleaned'] for r in one])} | {ms([r['dice_cleaned'] for r in three])} | "
                     f"{ms([t['dice_cleaned'] - o['dice_cleaned'] for o, t in zip(one, three)])} | "
                     f"{ms([t['dice_selective'] - o['dice_selective'] for o, t in zip(one, three)])} |")
    return lines + ([""] if found else ["(no 3x rows yet)", ""])


def targets(rows) -> list[str]:
    """The quality targets per setting: jcas against ce on Dice, stability at 3x, AP and epoch cost (1x = standard
    preset rows unless only --epochs rows exist)."""
    by = defaultdict(list)
    for r in rows:
        by[(r["dataset"], r["noise"], r["fraction"], str(r["base_epochs"]), r["schedule"], r["method"])].append(r)
    lines = ["## Targets (jcas vs ce, paired by seed)", "",
             "Dice of the default (selective) correction; AP of the class heatmap the annotator sees.", "",
             "| setting | n | cleaned: jcas - ce >= 0.02 | fall 1x->3x of jcas >= -0.01 (ce) | "
             "AP jcas >= 0.9 and > AP ce (1 - p(drawn)) | AP combined >= AP class (jcas) | epoch cost jcas/ce <= 1.5 |",
             "|---|---|---|---|---|---|---|"]
    yes = lambda ok: "**yes**" if ok else "no"  # noqa: E731
    speed = {}
    if (RESULTS / "speed.csv").exists():
        with open(RESULTS / "speed.csv") as handle:
            speed = {r["method"]: float(r["ratio"]) for r in csv.DictReader(handle)
                     if r["benchmark"] == "train_throughput" and r["ratio"]}
    stage2 = speed.get("jcas (corrected stage)")
    measured = (f"{yes(stage2 <= 1.5)} (speed.md: {speed.get('jcas (warm-up stage)', float('nan')):.2f} warm-up / "
                f"{stage2:.2f} corrected, interleaved)") if stage2 else "see speed.md"
    for key in sorted({k[:4] for k in by if k[4] == "1x" and k[5] == "jcas"}):
        jc, ce = {r["seed"]: r for r in by[key + ("1x", "jcas")]}, {r["seed"]: r for r in by[key + ("1x", "ce")]}
        seeds = sorted(set(jc) & set(ce))
        if not seeds:
            continue
        gain = float(np.mean([jc[s]["dice_selective"] - ce[s]["dice_selective"] for s in seeds]))
        ap_j, ap_c = float(np.mean([jc[s]["ap"] for s in seeds])), float(np.mean([ce[s]["ap"] for s in seeds]))
        comb = float(np.mean([jc[s]["ap_combined"] - jc[s]["ap"] for s in seeds]))
        cost = np.mean([jc[s]["seconds_per_epoch"] for s in seeds]) / np.mean([ce[s]["seconds_per_epoch"] for s in seeds])
        falls = []
        for m in ("jcas", "ce"):
            one = {r["seed"]: r for r in by[key + ("1x", m)]}
            three = {r["seed"]: r for r in by[key + ("3x", m)]}
            both = sorted(set(one) & set(three))
            falls.append(float(np.mean([three[s]["dice_selective"] - one[s]["dice_selective"] for s in both]))
                         if both else None)
        fall = "–" if falls[0] is None else f"{yes(falls[0] >= -0.01)} ({falls[0]:+.3f}; ce {falls[1]:+.3f})" \
            if falls[1] is not None else f"{yes(falls[0] >= -0.01)} ({falls[0]:+.3f})"
        name = f"{key[0]} {key[1]} {key[2]:g}" + ("" if key[3] == "standard" else f" (base {key[3]} epochs)")
        lines.append(f"| {name} | {len(seeds)} | {yes(gain >= 0.02)} ({gain:+.3f}) | {fall} | "
                     f"{yes(ap_j >= 0.9 and ap_j > ap_c)} ({ap_j:.3f} vs {ap_c:.3f}) | {yes(comb >= 0)} ({comb:+.3f}) | "
                     f"{measured}; rows' s/epoch ratio {cost:.2f} (load-dependent) |")
    return lines + [""]


def heatmaps(rows) -> list[str]:
    """Which heatmap finds the noisy pixels: everywhere, and in the band next to the drawn boundaries."""
    groups = defaultdict(list)
    for r in rows:
        if "ap_boundary" in r:
            groups[(setting(r), r["method"])].append(r)
    lines = ["## Heatmaps: class vs affinity, everywhere and at the drawn boundaries", "",
             "AP against the true-noise map. posterior = 1 - P(clean = drawn | drawn, x) with the learned T_C "
             "(p_y T_yy / sum_i p_i T_iy); boundary band = pixels within 2 px of a drawn boundary, where "
             "an annotator edits (share = fraction of all noisy pixels that lie in it); mirrored = class "
             "probabilities averaged over the image and its 3 mirror images (`correct(..., mirror=True)`), with "
             "the Dice of the selective correction it gives.", "",
             "| setting | method | n | AP class | AP class mirrored | AP posterior | AP affinity | boundary share | "
             "AP class (band) | AP affinity (band) | dice selective | dice selective mirrored |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (s, method), g in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1])):
        lines.append(f"| {setting_name(s)} | {method} | {len(g)} | {ms([r['ap'] for r in g])} | "
                     f"{ms([r.get('ap_mirror') for r in g])} | {ms([r.get('ap_posterior') for r in g])} | "
                     f"{ms([r['ap_affinity'] for r in g])} | {ms([r['boundary_noise_share'] for r in g], 2)} | "
                     f"{ms([r['ap_boundary'] for r in g])} | {ms([r['ap_boundary_affinity'] for r in g])} | "
                     f"{ms([r['dice_selective'] for r in g])} | {ms([r.get('dice_selective_mirror') for r in g])} |")
    return lines + ([""] if groups else ["(no rows with boundary measurements yet)", ""])


def ablation(rows) -> list[str]:
    lines = ["## Ablation", "",
             "plain = ce; +dar = ce + DAR; +tc = fc (T_C only); +aff_global = ce + global pair loss (grid 32); "
             "+aff_local = ce + local pair loss; +consistency = T_C + local affinity + T_A (+consistency term), "
             "no DAR = jcas, the default; full = jcas_dar (the same with DAR).", "",
             "| setting | variant | n | dice cleaned | dice selective | AP class | AP affinity | AP combined | s/epoch |",
             "|---|---|---|---|---|---|---|---|---|"]
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["method"] in ABLATION:
            groups[setting(r)][r["method"]].append(r)
    seeds = {s: {r["seed"] for v in groups[s].values() for r in v} for s in groups}
    for r in rows:  # the same configurations under their main names
        s = setting(r)
        alias = ALIASES.get(r["method"])
        real = groups[s].get(alias, []) if s in groups else []
        if s in groups and alias and not any(x["method"] == alias for x in real) and r["seed"] in seeds[s]:
            groups[s][alias].append(r)
    for s in sorted(groups):
        for v in ABLATION:
            g = groups[s].get(v)
            if not g:
                continue
            via = f" (= {g[0]['method']} rows)" if g[0]["method"] != v else ""
            lines.append(f"| {setting_name(s)} | {v}{via} | {len(g)} | {ms([r['dice_cleaned'] for r in g])} | "
                         f"{ms([r['dice_selective'] for r in g])} | {ms([r['ap'] for r in g])} | "
                         f"{ms([r['ap_affinity'] for r in g])} | {ms([r['ap_combined'] for r in g])} | "
                         f"{ms([r['seconds_per_epoch'] for r in g], 1)} |")
    return lines + [""]


def transitions(rows) -> list[str]:
    lines = ["## Learned vs true transition matrices (seed 0 rows with T_C)", "",
             "T[i, j] = P(noisy = j | clean = i); T_A index 0 = different, 1 = same (true T_A over the local pairs).",
             "", "| row | true T_C | learned T_C | true T_A (local pairs) | learned T_A |", "|---|---|---|---|---|"]
    fmt = lambda m: "[" + "; ".join(" ".join(f"{v:.3f}" for v in row) for row in m) + "]"  # noqa: E731
    for r in rows:
        if r.get("learned_T_C") is None or r["seed"] != 0:
            continue
        lines.append(f"| {r['key']} | {fmt(r['true_T_C'])} | {fmt(r['learned_T_C'])} | {fmt(r['T_A_local'])} | "
                     f"{fmt(r['learned_T_A']) if r.get('learned_T_A') else '–'} |")
    return lines + [""]


def plots(rows, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["method"] in MAIN_METHODS and r["schedule"] == "1x":
            groups[setting(r)][r["method"]].append(r)
    if groups:
        settings = sorted(groups)
        fig, axes = plt.subplots(2, 1, figsize=(max(10.0, 1.1 * len(settings)), 8))
        width = 0.8 / len(MAIN_METHODS)
        for i, method in enumerate(MAIN_METHODS):
            for ax, key in zip(axes, ("dice_cleaned", "ap")):
                means = [np.mean([r[key] for r in groups[s].get(method, [])]) if groups[s].get(method) else np.nan
                         for s in settings]
                stds = [np.std([r[key] for r in groups[s].get(method, [])]) if groups[s].get(method) else 0
                        for s in settings]
                ax.bar(np.arange(len(settings)) + i * width, means, width, yerr=stds, label=method)
        noisy = [np.mean([r["dice_noisy"] for g in groups[s].values() for r in g]) for s in settings]
        axes[0].scatter(np.arange(len(settings)) + 0.4 - width / 2, noisy, color="k", marker="_", s=400,
                        label="noisy masks", zorder=5)
        labels = [f"{s[0]}\n{s[1]} {s[2]:g}" + ("" if s[4] == "standard" else f"\nbase {s[4]}") for s in settings]
        for ax, title in zip(axes, ("cleaned Dice (argmax replacement)", "AP of class heatmap vs true noise")):
            ax.set_xticks(np.arange(len(settings)) + 0.4 - width / 2, labels, fontsize=7)
            ax.set_title(title)
        axes[0].set_ylim(0.5, 1.0)
        axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
        fig.tight_layout()
        fig.savefig(out / "quality_dice_ap.png", dpi=110)
        plt.close(fig)
        written.append("quality_dice_ap.png")
    # loss curves of seed-0 jcas rows
    curves = [r for r in rows if r["method"] in ("jcas", "jcas_dar") and r["seed"] == 0 and r["schedule"] == "1x"
              and r.get("loss_history")]
    if curves:
        fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.5), squeeze=False)
        for ax, r in zip(axes[0], curves):
            history = r["loss_history"]
            for term in history[-1]:
                if term in ("stage", "epoch"):
                    continue
                ax.plot([h.get(term, np.nan) for h in history], label=term)
            ax.set_title(r["key"], fontsize=6)
            ax.set_yscale("symlog", linthresh=0.01)
            ax.set_xlabel("epoch (both stages)")
        axes[0][0].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / "jcas_losses.png", dpi=100)
        plt.close(fig)
        written.append("jcas_losses.png")
    return written


#: README columns: (header, method or None for the noisy masks)
README_COLUMNS = [("noisy masks", None), ("JCAS", "jcas"), ("plain training", "ce"), ("forward correction only", "fc"),
                  ("cleanlab (plain, cross-fitted)", "cleanlab"), ("JCAS with DAR", "jcas_dar"),
                  ("trained on clean masks (upper bound)", "clean")]
READABLE = {"mni": "brain MRI", "cells": "nuclei"}


def flagged(rows) -> list[str]:
    """Error finding as a mask: precision and recall of the pixels each method marks as wrong."""
    lines = ["## Error finding as a mask: precision and recall of the marked pixels", "",
             "cleanlab: the pixels find_label_issues flags; the networks: the pixels where the argmax differs from "
             "the drawn label (the 'cleaned' correction). Against the true-noise map.", "",
             "| setting | method | n | precision | recall | marked share of pixels |", "|---|---|---|---|---|---|"]
    groups = defaultdict(list)
    for r in rows:
        if r["method"] in ("jcas", "ce", "fc", "cleanlab") and r["schedule"] == "1x" and r["base_epochs"] == "standard":
            groups[(setting(r), r["method"])].append(r)
    for (s, method), g in sorted(groups.items()):
        prefix = "flag" if method == "cleanlab" else "changed"
        lines.append(f"| {setting_name(s)} | {method} | {len(g)} | {ms([r[f'{prefix}_precision'] for r in g])} | "
                     f"{ms([r[f'{prefix}_recall'] for r in g])} | {ms([r['changed_fraction'] for r in g])} |")
    return lines + [""]


def readme_tables(rows) -> list[str]:
    """The README's headline tables: Dice of the default correction at 1x, and its change at 3x."""
    def cell(values) -> str:
        return ms(values, count="")

    def dice(r) -> float:
        """Cleanlab replaces every flagged pixel (its only correction); per-pixel (symmetric) noise
        wants every differing pixel replaced (--min-area 1 --min-score 0), structured noise the default."""
        return r["dice_cleaned"] if r["method"] == "cleanlab" or r["noise"] == "symmetric" else r["dice_selective"]

    standard = [r for r in rows if r["base_epochs"] == "standard"]
    by = defaultdict(list)
    for r in standard:
        by[(r["dataset"], r["noise"], r["fraction"], r["schedule"], r["method"])].append(r)
    settings = sorted({k[:3] for k in by if k[3] == "1x" and k[4] == "jcas"}, key=lambda k: (k[0] != "cells", k[1], k[2]))
    lines = ["| data, noise | " + " | ".join(h for h, _ in README_COLUMNS) + " |",
             "| --- |" + " --- |" * len(README_COLUMNS)]
    for key in settings:
        cells = [cell([r["dice_noisy"] for r in by[key + ("1x", "ce")] or by[key + ("1x", "jcas")]])]
        cells += [cell([dice(r) for r in by[key + ("1x", m)]]) for _, m in README_COLUMNS[1:]]
        correction = " (every pixel)" if key[1] == "symmetric" else ""
        lines.append(f"| {READABLE[key[0]]}, {key[1]} {key[2]:g}{correction} | " + " | ".join(cells) + " |")
    lines += ["", "| data, noise | method | seeds | 1x | 3x | change (paired by seed) |", "| --- | --- | --- | --- | --- | --- |"]
    for key in settings:
        for header, method in README_COLUMNS[1:]:
            one = {r["seed"]: dice(r) for r in by[key + ("1x", method)]}
            three = {r["seed"]: dice(r) for r in by[key + ("3x", method)]}
            seeds = sorted(set(one) & set(three))
            if seeds:
                lines.append(f"| {READABLE[key[0]]}, {key[1]} {key[2]:g} | {header} | {len(seeds)} | "
                             f"{cell([one[s] for s in seeds])} | {cell([three[s] for s in seeds])} | "
                             f"{cell([three[s] - one[s] for s in seeds])} |")
    return lines + [""]


SUITE_COLUMNS = [("JCAS, default", "jcas", "dice_selective"), ("JCAS, argmax", "jcas", "dice_cleaned"),
                 ("JCAS, no guard", "jcas", "dice_selective_noguard"), ("plain", "ce", "dice_selective"),
                 ("plain, argmax", "ce", "dice_cleaned"), ("trained on clean (upper bound)", "clean", "dice_selective"),
                 ("cleanlab", "cleanlab", "dice_cleaned")]


def suite_table(rows) -> list[str]:
    """The development suite: Dice per set, noise and protocol, heatmap AP, region precision, cost."""
    by = defaultdict(list)
    for r in rows:
        by[(r["dataset"], r["noise"], r["fraction"], r["folds"], r["method"])].append(r)
    settings = sorted({k[:4] for k in by}, key=lambda k: (k[0] not in by_tuned(rows), k[0], k[1], k[2], -k[3]))
    header = ["set", "tuned on it?", "noise", "folds", "noisy"] + [h for h, _, _ in SUITE_COLUMNS] + [
        "AP JCAS", "AP plain", "AP cleanlab", "regions right (JCAS)", "withheld (JCAS)", "train s (JCAS)"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for key in settings:
        any_row = next(r for m in ("jcas", "ce", "clean", "cleanlab") for r in by[key + (m,)])
        cells = [key[0], "no (held out)" if any_row.get("held_out_set") else "yes", f"{key[1]} {key[2]:g}",
                 "1 (in sample)" if key[3] == 1 else str(key[3]),
                 ms([r["dice_noisy"] for r in by[key + (any_row["method"],)]], count="")]
        cells += [ms([r.get(column) for r in by[key + (method,)]], count="") for _, method, column in SUITE_COLUMNS]
        cells += [ms([r.get("ap") for r in by[key + (m,)]], count="") for m in ("jcas", "ce", "cleanlab")]
        cells += [ms([r.get("region_precision") for r in by[key + ("jcas",)]], count=""),
                  ms([r.get("withheld_regions") for r in by[key + ("jcas",)]], digits=0, count=""),
                  ms([r.get("train_seconds") for r in by[key + ("jcas",)]], digits=0, count="")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def by_tuned(rows) -> set[str]:
    """Names of the sets the rows say the defaults were tuned on."""
    return {r["dataset"] for r in rows if not r.get("held_out_set")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=Path, default=RESULTS / "rows")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = load_rows(args.rows)
    if not rows:
        raise SystemExit(f"no rows in {args.rows}")
    rows.sort(key=lambda r: (r["dataset"], r["noise"], r["fraction"], r["schedule"], str(r["base_epochs"]),
                             r["method"], r["seed"]))
    write_csv(rows, args.out / "quality.csv")
    if all("protocol" in r for r in rows):
        write_suite_report(rows, args.out)
        return
    commits = sorted({r["commit"] for r in rows})
    machines = sorted({r["machine"] for r in rows})
    devices = sorted({r["device"] for r in rows})
    lines = ["# Label-cleaning quality", "",
             f"{len(rows)} runs; commit(s) {', '.join(commits)}; machine(s) {', '.join(machines)}; "
             f"device(s) {', '.join(devices)}; torch threads {sorted({r['torch_threads'] for r in rows})}.", "",
             "Each run trains on the noisy masks of every slice of the set and corrects the same images. "
             "Noise seed = run seed. 'standard preset' = 60 epochs (jcas/fc: 30 warm-up + 30 corrected); "
             "'base N epochs' rows use an --epochs override (1x = N epochs in all, 3x = 3N). Generated by "
             "benchmarks/report.py from benchmarks/results/rows/.", ""]
    lines += (targets(rows) + headline(rows) + paired(rows) + paired(rows, "jcas", "jcas_dar") + schedules(rows)
              + heatmaps(rows) + flagged(rows) + ablation(rows) + transitions(rows))
    (args.out / "readme_tables.md").write_text("\n".join(readme_tables(rows)))
    images = plots(rows, args.out)
    lines += ["## Plots", ""] + [f"![{name}]({name})" for name in images] + [""]
    (args.out / "quality.md").write_text("\n".join(lines))
    print(f"wrote {args.out / 'quality.csv'}, {args.out / 'quality.md'} and {', '.join(images)}")


def write_suite_report(rows, out: Path) -> None:
    """results/suite/quality.md: the suite table with its protocol and provenance."""
    lines = ["# Development suite: label-cleaning quality", "",
             f"{len(rows)} runs; commit(s) {', '.join(sorted({r['commit'] for r in rows}))}; machine(s) "
             f"{', '.join(sorted({r['machine'] for r in rows}))}; torch threads "
             f"{sorted({r['torch_threads'] for r in rows})}; protocol(s) {', '.join(sorted({r['protocol'] for r in rows}))}; "
             f"defaults tuned on {', '.join(sorted({r['tuned_on'] for r in rows}))}.", "",
             "Each run simulates noise on the clean masks, trains on the noisy masks of every slice (cross-fitted: "
             "every slice is judged by the fold model that did not train on it), corrects the same images and "
             "scores against the clean masks. Mean foreground Dice, mean ± std over seeds (count). 'default' = "
             "the selective correction (10 px, score 0.6) with the do-no-harm guard; 'argmax' = every pixel where "
             "the model disagrees, guard on; 'no guard' = the default selection without the guard. 'regions "
             "right' = share of the default's regions where the proposal matches the truth on more pixels than "
             "the drawn mask. Generated by benchmarks/report.py.", ""]
    lines += suite_table(rows)
    (out / "quality.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'quality.csv'} and {out / 'quality.md'}")


if __name__ == "__main__":
    main()
