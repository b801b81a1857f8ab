"""The ``jcas`` command: simulate-noise, train, correct, evaluate and demo.

This interface is a contract that other tools call; keep it stable.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import JCASInputError


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except JCASInputError as error:
        print(f"jcas {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jcas {args.command}: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from .config import METHODS, PRESETS
    from .correct import MIN_AREA, MIN_SCORE
    from .device import DEVICE_CHOICES
    from .networks import NETWORKS
    from .noise import NOISE_KINDS

    parser = argparse.ArgumentParser(prog="jcas", description="Clean noisy segmentation labels with JCAS.")
    commands = parser.add_subparsers(dest="command", required=True)

    noise = commands.add_parser("simulate-noise", help="write noisy copies of clean masks (for benchmarks and demos)")
    noise.add_argument("--masks", required=True, type=Path, help="folder of clean masks")
    noise.add_argument("--out", required=True, type=Path, help="folder for the noisy masks (noise maps go to OUT/noise/)")
    noise.add_argument("--kind", default="mixed", choices=NOISE_KINDS)
    noise.add_argument("--fraction", type=float, default=0.5,
                       help="share of regions distorted (per-pixel flip rate for symmetric/asymmetric)")
    noise.add_argument("--seed", type=int, default=0)
    noise.add_argument("--overwrite", action="store_true", help="replace existing files in OUT")
    noise.set_defaults(handler=simulate_noise_command)

    train = commands.add_parser("train", help="train a model on images and their noisy masks")
    train.add_argument("--images", required=True, type=Path, help="folder of images")
    train.add_argument("--masks", required=True, type=Path, help="folder of masks, matched to images by file stem")
    train.add_argument("--model", required=True, type=Path, help="checkpoint file to write")
    train.add_argument("--method", default="jcas", choices=sorted(METHODS),
                       help="jcas (default); jcas_dar: with DAR rectification; ce: plain cross-entropy; "
                            "fc: forward correction only")
    train.add_argument("--preset", default="standard", choices=sorted(PRESETS))
    train.add_argument("--epochs", type=int, default=None, help="total epochs (both stages), overriding the preset")
    train.add_argument("--network", default="unet", choices=NETWORKS,
                       help="unet: small and fast (default); deeplab: a larger dilated ResNet for GPUs")
    train.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--overwrite", action="store_true", help="replace an existing model file")
    train.set_defaults(handler=train_command)

    fix = commands.add_parser("correct", help="propose corrected masks, heatmaps and candidate regions")
    fix.add_argument("--model", required=True, type=Path)
    fix.add_argument("--images", required=True, type=Path)
    fix.add_argument("--masks", required=True, type=Path)
    fix.add_argument("--out", required=True, type=Path)
    fix.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    fix.add_argument("--min-area", type=int, default=MIN_AREA,
                     help=f"smaller candidate regions keep the drawn label (default {MIN_AREA} pixels; 1 keeps none)")
    fix.add_argument("--min-score", type=float, default=MIN_SCORE,
                     help=f"candidate regions with a lower mean disagreement keep the drawn label (default {MIN_SCORE})")
    fix.add_argument("--mirror", action="store_true",
                     help="average the model over each image and its mirror images: about 2.5x slower, slightly better")
    fix.add_argument("--overwrite", action="store_true", help="replace existing files in OUT")
    fix.set_defaults(handler=correct_command)

    evaluate = commands.add_parser("evaluate", help="score masks against true masks")
    evaluate.add_argument("--pred", required=True, type=Path, help="folder of masks to score (e.g. corrected)")
    evaluate.add_argument("--truth", required=True, type=Path, help="folder of true masks")
    evaluate.add_argument("--noisy", type=Path, help="folder of the noisy masks, for the label-quality gain")
    evaluate.add_argument("--heatmaps", type=Path, help="folder of <stem>.tif heatmaps, scored against noisy != truth")
    evaluate.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    evaluate.set_defaults(handler=evaluate_command)

    demo = commands.add_parser("demo", help="the whole job on shipped sample data, headless")
    demo.add_argument("--sample", default="mni_tissue", choices=("mni_tissue", "cells3d_nuclei"))
    demo.add_argument("--out", type=Path, help="folder for the figure and model (default: a new temporary folder)")
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    demo.set_defaults(handler=demo_command)
    return parser


def refuse_existing(paths: list[Path], overwrite: bool) -> None:
    """Raise before writing anything when any of ``paths`` exists and ``overwrite`` is off."""
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        shown = "\n".join(f"  {p}" for p in existing[:10]) + ("\n  ..." if len(existing) > 10 else "")
        raise JCASInputError(f"{len(existing)} output file(s) exist already:\n{shown}\n"
                             "Choose another output or pass --overwrite.")


def simulate_noise_command(args: argparse.Namespace) -> int:
    from .data import supported_files
    from .io import file_stem, read_with_affine, write_array
    from .noise import simulate_noise

    masks = supported_files(args.masks, "masks")
    targets = {stem: (args.out / path.name, args.out / "noise" / f"{stem}.tif") for stem, path in masks.items()}
    refuse_existing([p for pair in targets.values() for p in pair], args.overwrite)
    for index, (stem, path) in enumerate(masks.items()):
        mask, affine = read_with_affine(path)
        # Each file its own stream, so same-sized masks do not get the same flips.
        noisy, noise_map = simulate_noise(mask, kind=args.kind, fraction=args.fraction, seed=args.seed + index)
        noisy_path, map_path = targets[stem]
        write_array(noisy_path, noisy, affine=affine, overwrite=args.overwrite)
        write_array(map_path, noise_map.astype(np.uint8), overwrite=args.overwrite)
        print(f"{file_stem(path)}: {noise_map.mean():.1%} of pixels changed")
    print(f"wrote {len(masks)} noisy masks to {args.out}")
    return 0


def train_command(args: argparse.Namespace) -> int:
    from .data import match_folders
    from .dataset import volumes_from_files
    from .train import Trainer, make_config

    refuse_existing([args.model], args.overwrite)
    volumes = volumes_from_files(match_folders(args.images, args.masks))
    extra = {} if args.epochs is None else {"epochs": args.epochs}
    config = make_config(args.method, args.preset, device=args.device, seed=args.seed, network=args.network, **extra)
    trainer = Trainer(config=config, volumes=volumes)
    print(f"training {config.method} ({config.preset}) on {sum(v.slices for v in volumes)} slices, "
          f"classes {list(trainer.label_map.values)}, device {trainer.device}")
    run_with_progress(trainer)
    trainer.save(args.model, overwrite=args.overwrite)
    print(f"saved model to {args.model}")
    return 0


def run_with_progress(trainer) -> None:
    """Run a trainer to the end behind a tqdm progress bar (Ctrl+C stops and keeps the model)."""
    from tqdm import tqdm

    with tqdm(total=trainer.total_steps, unit="step", file=sys.stderr, dynamic_ncols=True) as bar:
        run = trainer.run()
        try:
            for event in run:
                bar.set_description(f"{event.stage} {event.epoch}/{event.epochs}")
                bar.set_postfix(loss=f"{event.losses['total']:.3f}")
                bar.update(1)
        finally:
            run.close()


def correct_command(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint
    from .correct import correct
    from .data import match_folders
    from .io import file_suffix, read_with_affine, write_array, write_bytes_atomic
    from .regions import REGION_FIELDS

    model = load_checkpoint(args.model, device=args.device)
    pairs = match_folders(args.images, args.masks)
    outputs = {p.stem: (args.out / f"{p.stem}{file_suffix(p.mask)}", args.out / "disagreement" / f"{p.stem}.tif",
                        args.out / "affinity_disagreement" / f"{p.stem}.tif") for p in pairs}
    regions_csv = args.out / "regions.csv"
    refuse_existing([p for paths in outputs.values() for p in paths] + [regions_csv], args.overwrite)
    rows = []
    for pair in pairs:
        image, _ = read_with_affine(pair.image)
        mask, affine = read_with_affine(pair.mask)
        started = time.perf_counter()
        result = correct(model, image, mask, min_area=args.min_area, min_score=args.min_score, mirror=args.mirror)
        corrected_path, class_path, affinity_path = outputs[pair.stem]
        write_array(corrected_path, result.corrected, affine=affine, overwrite=args.overwrite)
        write_array(class_path, result.class_disagreement, overwrite=args.overwrite)
        write_array(affinity_path, result.affinity_disagreement, overwrite=args.overwrite)
        rows += [{"stem": pair.stem, **region.to_row()} for region in result.regions]
        changed = float(np.mean(result.corrected != mask))
        print(f"{pair.stem}: {len(result.regions)} candidate regions, {changed:.1%} of pixels changed "
              f"({time.perf_counter() - started:.1f} s)")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=("stem",) + REGION_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(regions_csv, buffer.getvalue().encode(), overwrite=args.overwrite)
    print(f"wrote corrected masks, heatmaps and {regions_csv} to {args.out}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_folders, format_report
    from .io import write_bytes_atomic

    result = evaluate_folders(args.pred, args.truth, noisy_dir=args.noisy, heatmaps_dir=args.heatmaps)
    print(format_report(result))
    if args.json:
        write_bytes_atomic(args.json, json.dumps(result, indent=2).encode())
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from . import metrics
    from .correct import correct
    from .figure import save_summary_figure
    from .sample_data import load_noisy_sample
    from .train import Trainer, make_config

    out = args.out or Path(tempfile.mkdtemp(prefix="jcas-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    images, noisy, clean = load_noisy_sample(args.sample, kind="mixed", fraction=0.5, seed=0)
    print(f"sample {args.sample}: {images.shape[0]} slices of {images.shape[1]} x {images.shape[2]}, "
          f"mixed structured noise on half of the regions ({np.mean(noisy != clean):.1%} of pixels wrong)")
    extra = {} if args.epochs is None else {"epochs": args.epochs}
    trainer = Trainer([images], [noisy], make_config("jcas", "fast", device=args.device, **extra))
    started = time.perf_counter()
    run_with_progress(trainer)
    seconds = time.perf_counter() - started
    trainer.save(out / "model.pt")
    result = correct(trainer.model, images, noisy)
    dice_noisy = metrics.mean_dice(noisy, clean)
    dice_cleaned = metrics.mean_dice(result.corrected, clean)
    middle = images.shape[0] // 2
    figure = save_summary_figure(out / "demo.png", images[middle], noisy[middle], result.corrected[middle],
                                 result.class_disagreement[middle], truth=clean[middle],
                                 title=f"Dice vs truth: noisy {dice_noisy:.3f}, corrected {dice_cleaned:.3f}")
    print(f"trained in {seconds:.0f} s on {trainer.device}; {len(result.regions)} candidate regions")
    print(f"Dice against the true masks: noisy {dice_noisy:.4f} -> corrected {dice_cleaned:.4f} "
          f"({dice_cleaned - dice_noisy:+.4f})")
    print(f"figure: {figure}\nmodel: {out / 'model.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
