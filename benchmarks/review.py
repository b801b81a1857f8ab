"""What a person gains per region reviewed: a simulated annotator goes through the queue.

For every JCAS model that ``quality.py --save-models DIR`` kept (and the plain-training model of
the same row, when kept), the row's noisy masks are made again and the whole set is corrected as
``jcas correct`` does it, with the core's defaults (out of fold, the guard, the selection floors).
A simulated annotator who knows the true masks then reviews the candidate regions in one order,
accepting a region when the proposal is right on more of its pixels than the drawn mask, else
rejecting it (so the mask keeps the drawn labels there). Orders:

- ``ours``: the review table's rank order, expected pixels fixed (area x score), largest first;
- ``score``: mean disagreement alone;
- ``random``: seeded shuffles of the same regions (the mean of 5);
- ``plain``: the candidate regions of the plain-training (ce) model of the row, in its rank order;
- ``oracle``: the same regions in the order of the pixels they truly fix (0 for a wrong one), which
  only an annotator who knew the true masks could follow: the ceiling of any ranking, and so of the
  top-10 % target.

Reported per row and order: Dice of the reviewed masks after 10, 25, 50, 100 reviews and after all
of them, the share of the Dice gain of reviewing all that the top 10 % of the queue gives, and the
queue's precision (the first 20 and all). With ``--learn``, one round of "learn from my review"
follows the first 25 decisions of ``ours``: the model is fine-tuned on them as trusted labels
(``Trainer(init_model=..., trusted=...)``, the fine-tune preset), the set is corrected again, and
the precision of the queue that remains (regions that do not touch a decided one) is compared
with that of the same queue before learning, and with a control: the same fine-tune without the
decisions (no trusted labels), which tells what the decisions add to the extra training.

    .venv/bin/python benchmarks/review.py --models benchmarks/models --out benchmarks/results
    .venv/bin/python benchmarks/review.py --models benchmarks/models --out benchmarks/results --learn --seeds 1

Writes ``review.csv`` (one line per row, order and review count), ``review.md`` and ``review.png``;
:func:`write_report` makes the last two again from the first.
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from jcas import Trainer, correct, load_model, mean_dice, simulate_noise
from jcas.review import Review, trusted_labels

from harness import (DATASETS, HERE, TUNED_ON, git_commit, load_set, machine, parse_key, region_is_right as is_right,
                     write_lines)

COUNTS = (10, 25, 50, 100)
RANDOM_ORDERS = 5
LEARN_AFTER = 25
FIELDS = ("key", "dataset", "held_out_set", "seed", "order", "reviews", "regions", "dice", "dice_noisy",
          "dice_all", "precision", "commit", "machine")


def pixels_fixed(region, region_map: np.ndarray, clean: np.ndarray) -> int:
    """How many wrong drawn pixels accepting the region fixes, net of the right ones it breaks; 0 for a
    region the annotator rejects."""
    truth = clean[region_map == region.index]
    return max(0, int((truth == region.new_label).sum()) - int((truth == region.old_label).sum()))


def reviewed(review: Review, rows: list[int], clean: np.ndarray) -> tuple[np.ndarray, list[bool]]:
    """The masks after the simulated annotator decided the regions in ``rows`` (in that order), and the verdicts."""
    cleaned = review.drawn.copy()
    verdicts = []
    for row in rows:
        region = review.regions[row]
        right = is_right(region, review.region_map, clean)
        verdicts.append(right)
        if right:
            where = review.pixels(region.index)
            cleaned[where] = review.proposal[where]
    return cleaned, verdicts


def queue_lines(name: str, review: Review, order: list[int], clean: np.ndarray, base: dict) -> list[dict]:
    """One line per review count (:data:`COUNTS`, and all) of one order."""
    noisy_dice = mean_dice(list(review.drawn), list(clean))
    cleaned_all, verdicts = reviewed(review, order, clean)
    dice_all = mean_dice(list(cleaned_all), list(clean))
    lines = []
    for count in (*[c for c in COUNTS if c < len(order)], len(order)):
        cleaned, _ = reviewed(review, order[:count], clean)
        lines.append({**base, "order": name, "reviews": count, "regions": len(order),
                      "dice": mean_dice(list(cleaned), list(clean)), "dice_noisy": noisy_dice, "dice_all": dice_all,
                      "precision": float(np.mean(verdicts[:count])) if count else float("nan")})
    top = max(1, round(0.1 * len(order)))
    cleaned, _ = reviewed(review, order[:top], clean)
    gain = dice_all - noisy_dice
    lines.append({**base, "order": name, "reviews": f"top 10% ({top})", "regions": len(order),
                  "dice": mean_dice(list(cleaned), list(clean)), "dice_noisy": noisy_dice, "dice_all": dice_all,
                  "precision": float(np.mean(verdicts[:top])) if order else float("nan"),
                  "gain_share": (mean_dice(list(cleaned), list(clean)) - noisy_dice) / gain if gain > 0 else float("nan")})
    lines.append({**base, "order": name, "reviews": "first 20", "regions": len(order),
                  "precision": float(np.mean(verdicts[:20])) if order else float("nan")})
    return lines


def review_of(model, images: np.ndarray, noisy: np.ndarray) -> Review:
    """The review of the whole set, as the Train dock's Correct makes it: the core's default selection."""
    correction = correct(model, images, noisy)
    review = Review(correction.regions, correction.region_map, correction.corrected, noisy)
    review.sort("expected_pixels_fixed", descending=True)
    return review


def learning_round(model, images, noisy, clean, review: Review, base: dict) -> list[dict]:
    """Decide the first :data:`LEARN_AFTER` regions, fine-tune on them, correct again; compare the queue left."""
    decided = review.order[:LEARN_AFTER]
    cleaned = noisy.copy()
    for row in decided:
        region = review.regions[row]
        decision = review.accept if is_right(region, review.region_map, clean) else review.reject
        change = decision(region.index)
        cleaned[change.indices] = change.values
    trusted = trusted_labels(review, cleaned)
    decided_pixels = trusted != 255
    started = time.perf_counter()
    after = review_of(fine_tuned(model, images, noisy, trusted), images, noisy)
    seconds = time.perf_counter() - started
    control = review_of(fine_tuned(model, images, noisy, None), images, noisy)
    lines = []
    for name, queue in (("before learning", review), ("after learning", after),
                        ("after control learning", control)):  # the control: the fine-tune without the decisions
        remaining = [row for row in queue.order
                     if not decided_pixels[queue.pixels(queue.regions[row].index)].any()]
        _, verdicts = reviewed(queue, remaining, clean)
        for label, part in (("first 20", verdicts[:20]), ("all", verdicts)):
            lines.append({**base, "order": f"ours, {name}", "reviews": f"remaining queue, {label}",
                          "regions": len(remaining), "precision": float(np.mean(part)) if part else float("nan"),
                          "learn_seconds": round(seconds, 1)})
    return lines


def fine_tuned(model, images: np.ndarray, noisy: np.ndarray, trusted: np.ndarray | None):
    """``model`` after the fine-tune of "learn from my review", on ``trusted`` labels ``(N, H, W)`` (255 =
    untrusted) or, for the control, on the drawn masks alone."""
    trainer = Trainer([images], [noisy], init_model=model, trusted=None if trusted is None else [trusted])
    for _ in trainer.run():
        pass
    return trainer.model


def run(models: Path, learn: bool, seeds: list[int] | None = None) -> list[dict]:
    """The lines of every saved JCAS model in ``models`` (of ``seeds``, default all): the queue orders, or
    with ``learn`` the learning round."""
    lines = []
    for path in sorted(models.glob("*__jcas__*.pt")):
        if seeds is not None and parse_key(path.stem)["seed"] not in seeds:
            continue
        spec = parse_key(path.stem)
        images, clean = load_set(spec["dataset"])
        noisy, _ = simulate_noise(clean, spec["noise"], spec["fraction"], seed=spec["seed"])
        base = {"key": path.stem, "dataset": spec["dataset"], "seed": spec["seed"],
                "held_out_set": DATASETS[spec["dataset"]] not in TUNED_ON,
                "commit": git_commit(), "machine": machine()}
        print(f"[{time.strftime('%H:%M:%S')}] {path.stem}", flush=True)
        model = load_model(path, device="cpu")
        review = review_of(model, images, noisy)
        if learn:
            lines += learning_round(model, images, noisy, clean, review, base)
            continue
        lines += queue_lines("ours", review, list(review.order), clean, base)
        by_score = sorted(range(len(review)), key=lambda row: -review.regions[row].score)
        lines += queue_lines("score", review, by_score, clean, base)
        shuffles = [queue_lines("random", review, list(np.random.default_rng(s).permutation(len(review))), clean, base)
                    for s in range(RANDOM_ORDERS)]
        lines += [mean_line(group) for group in zip(*shuffles)]
        by_truth = sorted(range(len(review)), key=lambda row: -pixels_fixed(review.regions[row], review.region_map, clean))
        lines += queue_lines("oracle", review, by_truth, clean, base)
        plain = path.with_name(path.name.replace("__jcas__", "__ce__"))
        if plain.is_file():
            plain_review = review_of(load_model(plain, device="cpu"), images, noisy)
            lines += queue_lines("plain", plain_review, list(plain_review.order), clean, base)
    return lines


def mean_line(group: tuple[dict, ...]) -> dict:
    """The mean of the numbers of equal lines of several random orders."""
    line = dict(group[0])
    for key in ("dice", "precision", "gain_share"):
        if key in line:
            line[key] = float(np.nanmean([g[key] for g in group]))
    return line


def write(lines: list[dict], out: Path, learn: bool) -> None:
    """``review.csv`` (appending the learning lines to an earlier file's others), ``review.md`` and ``review.png``."""
    fields = list(FIELDS) + ["gain_share", "learn_seconds"]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "review.csv"
    if learn and path.is_file():
        with open(path, newline="") as handle:
            kept = [row for row in csv.DictReader(handle) if "learning" not in row["order"]]
        lines = kept + [line for line in lines if "learning" in line["order"]]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(lines)
    write_report(out, out)


def write_report(folder: Path, out: Path, plotted: bool = True) -> Path:
    """``out/review.md`` (and ``review.png`` when ``plotted``) from ``folder/review.csv``."""
    with open(folder / "review.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out.mkdir(parents=True, exist_ok=True)
    if plotted:
        plot(rows, out / "review.png")
    return table(rows, out / "review.md")


def number(value: str, digits: int = 3) -> str:
    """A table cell: the value rounded, empty when there is none."""
    return "" if value in ("", "nan", None) else f"{float(value):.{digits}f}"


def table(rows: list[dict], path: Path) -> Path:
    """``review.md``: per row and order, Dice after k reviews, the top 10 % gain share and the precision."""
    keys = sorted({r["key"] for r in rows})
    text = ["# Review cost (`benchmarks/review.py`)", "",
            "A simulated annotator who knows the true masks reviews the candidate regions that `jcas correct` "
            "proposes with its defaults (mixed noise 0.5, 2-fold cross-fitted models of `quality.py --save-models`; "
            f"their schedule: {', '.join(sorted({r['key'].rsplit('__', 1)[-1] for r in rows}))}, where std is the "
            "standard preset and eN a run of N epochs), accepting a region when the proposal is right on more of its pixels "
            "than the drawn mask. Dice of the masks after k reviews; 'gain share': the share of the Dice gain of "
            "reviewing every region that the top 10 % of the queue gives (target >= 0.6); 'first 20': the share of "
            "the first 20 regions that are right (target >= 0.8); 'oracle': the regions in the order of the pixels they "
            "truly fix, the ceiling of any ranking. Tuning sets: "
            f"{', '.join(TUNED_ON)} (where the selection defaults were chosen); the others are held out.",
            "", f"Commit {rows[0]['commit']}, {rows[0]['machine']}.", "",
            "| set | held out | seed | order | regions | noisy | after 10 | after 25 | after 50 | after 100 | after all "
            "| top 10 % gain share | first 20 right | all right |", "|" + "---|" * 14]
    for key in keys:
        mine = [r for r in rows if r["key"] == key]
        for order in ("ours", "score", "random", "plain", "oracle"):
            of = [r for r in mine if r["order"] == order]
            if not of:
                continue
            by = {r["reviews"]: r for r in of}
            counted = [r for r in of if r["reviews"].isdigit()]
            last = max(counted, key=lambda r: int(r["reviews"]))
            cells = [number(by[str(c)]["dice"]) if str(c) in by else "" for c in COUNTS]
            top = next(r for r in of if r["reviews"].startswith("top"))
            first = next(r for r in of if r["reviews"] == "first 20")
            text.append(f"| {of[0]['dataset']} | {'yes' if of[0]['held_out_set'] == 'True' else 'no'} | {of[0]['seed']} "
                        f"| {order} | {last['regions']} | {number(last['dice_noisy'])} | {' | '.join(cells)} "
                        f"| {number(last['dice'])} | {number(top.get('gain_share'), 2)} | {number(first['precision'], 2)} "
                        f"| {number(last['precision'], 2)} |")
    learning = [r for r in rows if "learning" in r["order"]]
    if learning:
        text += ["", f"## One round of learning from the first {LEARN_AFTER} decisions", "",
                 "Precision of the queue that remains (regions touching no decided pixel), before and after the "
                 "fine-tune on the decisions as trusted labels (target: +0.1), and after the control: the same "
                 "fine-tune on the drawn masks alone, without the decisions.", "",
                 "| set | seed | queue | before: regions | before: right | after: regions | after: right | "
                 "control: regions | control: right | fine-tune s |", "|---|---|---|---|---|---|---|---|---|---|"]
        for key in keys:
            for part in ("first 20", "all"):
                pair = {r["order"]: r for r in learning if r["key"] == key and r["reviews"].endswith(part)}
                if len(pair) >= 2:
                    b, a = pair["ours, before learning"], pair["ours, after learning"]
                    c = pair.get("ours, after control learning", {})  # rows written before the control have none
                    text.append(f"| {b['dataset']} | {b['seed']} | {part} | {b['regions']} | {number(b['precision'], 2)} "
                                f"| {a['regions']} | {number(a['precision'], 2)} | {c.get('regions', '')} "
                                f"| {number(c.get('precision', ''), 2)} | {a['learn_seconds']} |")
    return write_lines(path, text)


def plot(rows: list[dict], path: Path) -> None:
    """``review.png``: Dice of the reviewed masks against regions reviewed, one panel per row, one line per order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({r["key"] for r in rows if r["order"] == "ours"})
    if not keys:  # only learning rounds so far: no queue to plot
        return
    figure, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for axis, key in zip(axes[0], keys):
        for order, style in (("ours", "-"), ("score", "--"), ("random", ":"), ("plain", "-."), ("oracle", (0, (1, 3)))):
            of = sorted((r for r in rows if r["key"] == key and r["order"] == order and r["reviews"].isdigit()),
                        key=lambda r: int(r["reviews"]))
            if of:
                axis.plot([0] + [int(r["reviews"]) for r in of], [float(of[0]["dice_noisy"])] +
                          [float(r["dice"]) for r in of], linestyle=style, marker=".", label=order)
        axis.set_title(key.split("__")[0], fontsize=9)
        axis.set_xscale("symlog", linthresh=10)
        axis.set_xlabel("regions reviewed")
    axes[0][0].set_ylabel("Dice of the reviewed masks")
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=HERE / "models")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--learn", action="store_true", help="also one round of learning from the first 25 decisions")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="only the models of these seeds")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    write(run(args.models, args.learn, args.seeds), args.out, args.learn)


if __name__ == "__main__":
    main()
