"""The ``jcas`` command: simulate-noise, train, correct, evaluate and demo.

This interface is a contract that other tools call; keep it stable.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from .arguments import SEED_MAX, setting_problem
from .errors import JCASInputError, JCASWarning
from .outputs import describe_os_error, refuse_existing


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, 130 when interrupted)."""
    with _printable_names():
        parser = build_parser()
        try:
            with contextlib.redirect_stderr(sys.stderr if _speaks() else io.StringIO()):
                args = parser.parse_args(argv)
        except SystemExit as stop:  # argparse printed the help (0) or "jcas <command>: error: ..." (2)
            return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
        with _termination_as_interrupt(), _warnings_printed(args.command):
            try:
                return args.handler(args) or 0
            except JCASInputError as error:
                _complain(f"jcas {args.command}: error: {error}")
                return 2
            except OSError as error:  # an output location that failed late (full disk, removed folder)
                _complain(f"jcas {args.command}: error: {describe_os_error(error)}")
                return 2
            except KeyboardInterrupt:
                _complain(f"jcas {args.command}: interrupted; no output was written or changed")
                return 130


def _speaks() -> bool:
    """Whether this process prints problems: under ``torchrun`` every rank meets the same bad input, and rank 0
    alone speaks (``RANK`` is set before any process group exists); a lone process always does."""
    return os.environ.get("RANK", "0") == "0"


def _complain(message: str) -> None:
    """Print ``message`` to stderr when this process speaks (:func:`_speaks`)."""
    if _speaks():
        print(message, file=sys.stderr)


@contextlib.contextmanager
def _warnings_printed(command: str):
    """Print each :class:`~jcas.errors.JCASWarning` of the run as ``jcas <command>: warning: ...``."""
    with warnings.catch_warnings():
        show_others = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, JCASWarning):
                _complain(f"jcas {command}: warning: {message}")
            else:
                show_others(message, category, filename, lineno, file, line)

        warnings.simplefilter("always", JCASWarning)
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _printable_names():
    """Print file names that are not valid UTF-8 (a byte of another encoding in a name) with a backslash escape
    for each such byte, rather than failing at the first print under a strict UTF-8 terminal."""
    streams = [stream for stream in (sys.stdout, sys.stderr) if hasattr(stream, "reconfigure")]
    previous = [stream.errors for stream in streams]
    for stream in streams:
        stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in zip(streams, previous):
            stream.reconfigure(errors=errors)


@contextlib.contextmanager
def _termination_as_interrupt():
    """Treat SIGTERM (``kill``) like Ctrl+C while a command runs, so that it cleans up the same way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_interrupts():
    """Hold Ctrl+C and SIGTERM back while the block runs (a finished training being saved).

    Yields
    ------
    list of int
        The signals that came meanwhile, for the caller to act on once the block is done.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {number: signal.signal(number, lambda signum, frame: received.append(signum))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def setting_value(name: str):
    """The argument type of the training setting ``name`` (e.g. ``--folds``): a whole number that
    :func:`jcas.arguments.setting_problem` accepts, refused with its message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(setting_problem(name, text)) from None
        problem = setting_problem(name, value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def positive_int(text: str) -> int:
    """An argument type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one of at least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; give a whole number of at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from .data.noise import NOISE_KINDS
    from .device import DEVICE_CHOICES
    from .limits import MAX_FOLDS
    from .settings import (FINE_TUNE_PRESET, FOLD_LEAST_SLICES, MAX_AUTO_FOLDS, METHOD_HELP, METHODS, MIN_AREA,
                           MIN_CONFIDENCE, MIN_SCORE, NETWORKS, PRESETS, SELECTION_HELP, SLICE_CACHE_MB)

    parser = argparse.ArgumentParser(prog="jcas", description="Clean noisy segmentation labels with JCAS.")
    commands = parser.add_subparsers(dest="command", required=True)

    noise = commands.add_parser("simulate-noise", help="write noisy copies of clean masks (for benchmarks and demos)")
    noise.add_argument("--masks", required=True, type=Path, help="folder of clean masks")
    noise.add_argument("--out", required=True, type=Path, help="folder for the noisy masks (noise maps go to OUT/noise/)")
    noise.add_argument("--kind", default="mixed", choices=NOISE_KINDS)
    noise.add_argument("--fraction", type=float, default=0.5,
                       help="share of regions distorted (per-pixel flip rate for symmetric/asymmetric)")
    noise.add_argument("--seed", type=setting_value("seed"), default=0, help=f"0 to {SEED_MAX}")
    noise.add_argument("--overwrite", action="store_true", help="replace existing files in OUT")
    noise.set_defaults(handler=simulate_noise_command)

    train = commands.add_parser("train", help="train a model on images and their noisy masks")
    train.add_argument("--images", required=True, type=Path, help="folder of images")
    train.add_argument("--masks", required=True, type=Path, help="folder of masks, matched to images by file stem")
    train.add_argument("--model", required=True, type=Path, help="checkpoint file to write")
    train.add_argument("--method", default=None, choices=sorted(METHODS),
                       help="; ".join(f"{name}: {text}" for name, text in METHOD_HELP.items()))
    train.add_argument("--preset", default=None, choices=sorted(PRESETS),
                       help=f"the schedule (default standard; {FINE_TUNE_PRESET} with --init-model)")
    train.add_argument("--init-model", type=Path, default=None, metavar="FILE",
                       help="fine-tune: continue from this saved model (same classes and channels; its network "
                            "and method) on these images and masks")
    train.add_argument("--epochs", type=setting_value("epochs"), default=None,
                       help="total epochs (both stages), overriding the preset")
    train.add_argument("--network", default=None, choices=NETWORKS,
                       help="unet: small and fast (default); deeplab: a larger dilated ResNet for GPUs")
    train.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    train.add_argument("--seed", type=setting_value("seed"), default=0, help=f"0 to {SEED_MAX}")
    train.add_argument("--folds", type=setting_value("folds"), default=None,
                       help=f"cross-fitting: K fold models, each judges only the slices it did not train on "
                            f"(default: chosen from the data: 2, or up to {MAX_AUTO_FOLDS} where 2 would leave each "
                            f"fold model fewer than {FOLD_LEAST_SLICES} slices; 1 = one model judging its own "
                            f"training data; at most {MAX_FOLDS.default}, or ${MAX_FOLDS.variable})")
    train.add_argument("--trusted", default=None, metavar="DIR",
                       help="labels a person confirmed, e.g. in a review: a file per mask (any of them), named as "
                            "the mask, with the label where it is right and 255 elsewhere; they train as clean "
                            "labels (no transition matrix)")
    train.add_argument("--cache-mb", type=positive_int, default=SLICE_CACHE_MB, metavar="MB",
                       help=f"slices are read from disk when needed and the latest kept in memory up to this size "
                            f"(default {SLICE_CACHE_MB} MiB); the files are never held whole")
    train.add_argument("--overwrite", action="store_true", help="replace an existing model file")
    train.set_defaults(handler=train_command)

    fix = commands.add_parser("correct", help="propose corrected masks, heatmaps and candidate regions")
    fix.add_argument("--model", required=True, type=Path)
    fix.add_argument("--images", required=True, type=Path)
    fix.add_argument("--masks", required=True, type=Path)
    fix.add_argument("--out", required=True, type=Path)
    fix.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    fix.add_argument("--min-area", type=int, default=MIN_AREA, help=SELECTION_HELP["min_area"])
    fix.add_argument("--min-score", type=float, default=MIN_SCORE,
                     help=f"{SELECTION_HELP['min_score']} (default {MIN_SCORE})")
    fix.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                     help=f"{SELECTION_HELP['min_confidence']} (default {MIN_CONFIDENCE})")
    fix.add_argument("--mirror", action="store_true", help=SELECTION_HELP["mirror"])
    fix.add_argument("--overwrite", action="store_true", help="replace existing files in OUT")
    fix.add_argument("--resume", action="store_true",
                     help="continue a run that stopped part-way in OUT (Ctrl+C, kill, an error): the files it "
                          "finished are not corrected again, if the model, the settings and those files are unchanged")
    fix.set_defaults(handler=correct_command)

    evaluate = commands.add_parser("evaluate", help="score masks against true masks")
    evaluate.add_argument("--pred", required=True, type=Path, help="folder of masks to score (e.g. corrected)")
    evaluate.add_argument("--truth", required=True, type=Path, help="folder of true masks")
    evaluate.add_argument("--noisy", type=Path, help="folder of the noisy masks, for the label-quality gain")
    evaluate.add_argument("--heatmaps", type=Path, help="folder of <stem>.tif heatmaps, scored against noisy != truth")
    evaluate.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing JSON file")
    evaluate.set_defaults(handler=evaluate_command)

    demo = commands.add_parser("demo", help="the whole job on shipped sample data, headless")
    demo.add_argument("--sample", default="mni_tissue", choices=("mni_tissue", "cells3d_nuclei"))
    demo.add_argument("--out", type=Path, help="folder for the figure and model (default: a new temporary folder)")
    demo.add_argument("--epochs", type=setting_value("epochs"), default=None)
    demo.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    demo.add_argument("--overwrite", action="store_true", help="replace model.pt and demo.png in OUT")
    demo.set_defaults(handler=demo_command)
    return parser


def simulate_noise_command(args: argparse.Namespace) -> int:
    from .data.class_names import class_names_of
    from .data.io import file_stem, read_with_affine, write_array
    from .data.labels import check_mask
    from .data.noise import simulate_noise
    from .data.pairs import supported_files
    from .outputs import OutputSet, check_clear_of_inputs, check_writable

    masks = supported_files(args.masks, "masks")
    targets = {stem: (args.out / path.name, args.out / "noise" / f"{file_stem(path)}.tif")
               for stem, path in masks.items()}
    files = [p for pair in targets.values() for p in pair]
    check_clear_of_inputs([args.out, *files], {"the --masks folder": args.masks})
    check_writable(args.out, "--out", folder=True)
    refuse_existing(files, args.overwrite)
    names = {stem: class_names_of(path) for stem, path in masks.items()}  # the noisy copies keep them
    with OutputSet(args.out, overwrite=args.overwrite) as staged:  # all files or none
        for index, (stem, path) in enumerate(masks.items()):
            mask, affine = read_with_affine(path)
            check_mask(mask, name=f"mask {path.name}")
            # Each file its own stream, so same-sized masks do not get the same flips.
            noisy, noise_map = simulate_noise(mask, kind=args.kind, fraction=args.fraction, seed=args.seed + index)
            noisy_path, map_path = targets[stem]
            write_array(staged.path(noisy_path), noisy, affine=affine, labels=True, class_names=names[stem])
            write_array(staged.path(map_path), noise_map.astype(np.uint8))
            print(f"{file_stem(path)}: {noise_map.mean():.1%} of pixels changed")
    print(f"wrote {len(masks)} noisy masks to {args.out}")
    return 0


def train_command(args: argparse.Namespace) -> int:
    from .data.pairs import check_training_sizes, match_folders, match_trusted
    from .outputs import check_clear_of_inputs, check_writable
    from .settings import FINE_TUNE_PRESET, TrainConfig, check_fine_tune_keeps, fine_tune_config, make_config
    from .data.stream import SliceStore
    from .training import distributed
    from .training.dataset import volumes_from_files
    from .training.trainer import Trainer

    inputs = {"the --images folder": args.images, "the --masks folder": args.masks}
    if args.init_model is not None:
        inputs["the --init-model file"] = args.init_model
    if args.trusted is not None:
        inputs["the --trusted folder"] = args.trusted
    check_clear_of_inputs([args.model], inputs)
    check_writable(args.model, "--model", folder=False)  # now, not after the training
    refuse_existing([args.model], args.overwrite)
    init_model = None if args.init_model is None else load_model(args.init_model, args.device, "--init-model")
    pairs = match_folders(args.images, args.masks)
    volumes = volumes_from_files(pairs, None if args.trusted is None else match_trusted(args.trusted, pairs),
                                 SliceStore(args.cache_mb * 2**20))
    check_training_sizes(volumes)
    extra = {} if args.epochs is None else {"epochs": args.epochs}
    if args.folds is not None:
        extra["folds"] = args.folds
    if init_model is None:
        extra["network"] = args.network or TrainConfig.network
        config = make_config(args.method or TrainConfig.method, args.preset or TrainConfig.preset,
                             seed=args.seed, **extra)
    else:
        check_fine_tune_keeps(init_model.config, {"method": args.method, "network": args.network},
                              command_line=True)
        config = fine_tune_config(init_model.config, args.preset or FINE_TUNE_PRESET, seed=args.seed, **extra)
    if distributed.launched():  # torchrun: one of several processes; rank 0 alone prints and saves
        device = distributed.start(args.device)
        ranks = f", {distributed.rank_and_size()[1]} processes"
    else:
        device, ranks = args.device, ""
    main_rank = distributed.is_main()
    trainer = Trainer(config=config, volumes=volumes, init_model=init_model, device=device)
    folds = (f"{trainer.plan.folds} fold models ({trainer.plan.mode})" if trainer.plan.folds > 1
             else "one model (in sample)")
    start = "" if init_model is None else f"fine-tuning {args.init_model}: "
    if main_rank:
        print(f"{start}training {config.method} ({config.preset}) on {sum(v.slices for v in volumes)} slices, "
              f"classes {list(trainer.label_map.values)}, {folds}, device {trainer.device}{ranks}")
    interrupted = False
    try:
        run_with_progress(trainer, show=main_rank)
    except KeyboardInterrupt:
        interrupted = True
    except FloatingPointError as error:  # the loss became NaN or infinite
        raise JCASInputError(f"{error} Nothing was saved.") from error
    if not main_rank:
        if interrupted:
            return 130
        distributed.stop()
        return 0
    with deferred_interrupts() as late:  # what was trained is saved (and said so) before Ctrl+C or SIGTERM acts
        if interrupted:
            return save_interrupted(trainer, args.model, overwrite=args.overwrite)
        saved = save_model(trainer, args.model, overwrite=args.overwrite)
        print(f"saved model to {saved}")
        report_trust(trainer.model, "train")
    distributed.stop()
    if late:
        print(f"jcas train: interrupted while the finished model was being saved; it was saved to {saved} first",
              file=sys.stderr)
        return 130
    return 0


def report_trust(model, command: str) -> None:
    """Print the held-out agreement per class, and a warning for each class the guard will not redraw."""
    from .correction.guard import untrusted_classes

    trust = model.pooled_trust()
    if trust is None:
        return
    where = "held-out" if trust.held_out else "in-sample"
    figures = ", ".join(f"{value}: {agreement:.2f}" for value, agreement in zip(model.label_map.values,
                                                                               trust.class_agreement))
    print(f"{where} agreement with the noisy masks (Dice per class): {figures}")
    for reason in untrusted_classes(model).values():
        print(f"jcas {command}: warning: {reason}; correct will keep the drawn labels there.", file=sys.stderr)


def save_model(trainer, path: Path, *, overwrite: bool) -> Path:
    """Save ``trainer.model`` to ``path``, or, when that fails, beside it or in a temporary folder.

    Parameters
    ----------
    trainer : jcas.training.trainer.Trainer
    path : pathlib.Path
    overwrite : bool
        Replace an existing file at ``path``.

    Raises
    ------
    JCASOutputError
        When ``path`` could not be written, saying where the model was saved instead.
    """
    from .outputs import OutputSet, save_with_recovery

    def save(target: Path) -> None:
        with OutputSet(target.parent, overwrite=overwrite) as staged:
            trainer.save(staged.path(target), overwrite=True)

    return save_with_recovery(save, Path(path), "trained model")


def save_interrupted(trainer, path: Path, *, overwrite: bool) -> int:
    """After Ctrl+C: save the model trained so far, marked ``"interrupted": True`` in the checkpoint; return 130."""
    done, total = trainer.completed_steps, trainer.total_steps
    if not done:
        print("jcas train: interrupted before the first training step; nothing was saved", file=sys.stderr)
        return 130
    trainer.model.interrupted = True  # saved in the checkpoint's metadata
    saved = save_model(trainer, path, overwrite=overwrite)
    print(f"jcas train: interrupted after {done} of {total} steps; saved the model trained so far to {saved} "
          "(marked as interrupted in its metadata)", file=sys.stderr)
    return 130


def run_with_progress(trainer, show: bool = True) -> None:
    """Run a trainer to the end behind a tqdm progress bar (hidden unless ``show``).

    Ctrl+C stops it within one step: the ``KeyboardInterrupt`` propagates once the run is
    closed, with ``trainer.model`` as it was after the last completed step, so the caller
    can keep it (``jcas train`` saves it, marked as interrupted).
    """
    from tqdm import tqdm

    with tqdm(total=trainer.total_steps, unit="step", file=sys.stderr, dynamic_ncols=True, disable=not show) as bar:
        run = trainer.run()
        try:
            for event in run:
                fold = f"fold {event.fold + 1}/{event.folds} " if event.folds > 1 else ""
                bar.set_description(f"{fold}{event.stage} {event.epoch}/{event.epochs}")
                bar.set_postfix(loss=f"{event.losses['total']:.3f}")
                bar.update(1)
        finally:
            run.close()


def correct_command(args: argparse.Namespace) -> int:
    from .arguments import check_thresholds
    from .correction.folder import correct_folder
    from .data.pairs import match_folders

    check_thresholds(args.min_area, args.min_score, args.min_confidence)
    model = load_model(args.model, device=args.device)
    pairs = match_folders(args.images, args.masks)
    result = correct_folder(model, pairs, args.out, model_file=args.model,
                            inputs={"the --images folder": args.images, "the --masks folder": args.masks,
                                    "the --model file": args.model},
                            min_area=args.min_area, min_score=args.min_score, min_confidence=args.min_confidence,
                            mirror=args.mirror, overwrite=args.overwrite, resume=args.resume,
                            progress=sys.stderr.isatty())
    for stem, notes in result.notes.items():
        for note in notes:
            print(f"jcas correct: warning: {stem}: {note}", file=sys.stderr)
    resumed = f" ({result.resumed} of {len(pairs)} files from the stopped run)" if result.resumed else ""
    print(f"wrote corrected masks, heatmaps, regions.csv, quality.csv and report.html to {args.out}{resumed}")
    return 0


def load_model(path: Path, device: str = "auto", option: str = "--model"):
    """Load a model file (:func:`jcas.nn.checkpoint.load_checkpoint`, with every check); each message starts
    with ``option``, the argument that named the file (``--model``, ``--init-model``)."""
    from .nn.checkpoint import load_checkpoint

    try:
        return load_checkpoint(path, device=device)
    except JCASInputError as error:
        raise type(error)(f"{option}: {error}") from error


def evaluate_command(args: argparse.Namespace) -> int:
    from .data.io import write_bytes_atomic
    from .evaluation.folders import evaluate_folders, format_report
    from .outputs import check_clear_of_inputs, check_writable

    if args.heatmaps is not None and args.noisy is None:
        raise JCASInputError("--heatmaps needs --noisy: heatmaps are scored against the pixels where the noisy masks "
                             "differ from the true ones. Add --noisy NOISY_FOLDER, or leave out --heatmaps.")
    if args.json is not None:
        check_clear_of_inputs([args.json], {"the --pred folder": args.pred, "the --truth folder": args.truth,
                                            "the --noisy folder": args.noisy, "the --heatmaps folder": args.heatmaps})
        check_writable(args.json, "--json", folder=False)
        refuse_existing([args.json], args.overwrite)
    result = evaluate_folders(args.pred, args.truth, noisy_dir=args.noisy, heatmaps_dir=args.heatmaps)
    print(format_report(result))
    if args.json is not None:
        write_bytes_atomic(args.json, json.dumps(result, indent=2).encode(), overwrite=args.overwrite)
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from .correction.stream import correct
    from .data.samples import SAMPLE_DIR, load_noisy_sample
    from .evaluation import metrics
    from .evaluation.figure import save_summary_figure
    from .outputs import OutputSet, check_clear_of_inputs, check_writable
    from .settings import QUICK_PRESET, make_config
    from .training.trainer import Trainer

    out = args.out or Path(tempfile.mkdtemp(prefix="jcas-demo-"))
    model_path, figure_path = out / "model.pt", out / "demo.png"
    check_clear_of_inputs([out, model_path, figure_path], {"the package's sample data": SAMPLE_DIR})
    check_writable(out, "--out", folder=True)
    refuse_existing([model_path, figure_path], args.overwrite)
    with OutputSet(out, overwrite=args.overwrite) as staged:  # both files or none
        images, noisy, clean = load_noisy_sample(args.sample, kind="mixed", fraction=0.5, seed=0)
        print(f"sample {args.sample}: {images.shape[0]} slices of {images.shape[1]} x {images.shape[2]}, "
              f"mixed structured noise on half of the regions ({np.mean(noisy != clean):.1%} of pixels wrong)")
        extra = {} if args.epochs is None else {"epochs": args.epochs}
        trainer = Trainer([images], [noisy], make_config("jcas", QUICK_PRESET, **extra), device=args.device)
        started = time.perf_counter()
        run_with_progress(trainer)
        seconds = time.perf_counter() - started
        trainer.save(staged.path(model_path))
        result = correct(trainer.model, images, noisy)
        dice_noisy = metrics.mean_dice(noisy, clean)
        dice_cleaned = metrics.mean_dice(result.corrected, clean)
        middle = images.shape[0] // 2
        save_summary_figure(staged.path(figure_path), images[middle], noisy[middle], result.corrected[middle],
                            result.class_disagreement[middle], truth=clean[middle],
                            title=f"Dice vs truth: noisy {dice_noisy:.3f}, corrected {dice_cleaned:.3f}")
    withheld = f" ({len(result.withheld)} withheld by the guard)" if result.withheld else ""
    print(f"trained in {seconds:.0f} s on {trainer.device}; {len(result.regions)} candidate regions{withheld}")
    for note in result.notes:
        print(f"  withheld: {note}")
    print(f"Dice against the true masks: noisy {dice_noisy:.4f} -> corrected {dice_cleaned:.4f} "
          f"({dice_cleaned - dice_noisy:+.4f})")
    print(f"figure: {figure_path}\nmodel: {model_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
