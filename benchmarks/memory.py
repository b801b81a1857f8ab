"""Peak memory of training from files on a volume ten times larger than the slice cache, and of correcting it.

    .venv/bin/python benchmarks/memory.py                 # 400 slices of 512 x 512, a 16 MiB cache
    .venv/bin/python benchmarks/memory.py --slices 100 --cache-mb 5 --out benchmarks/results/memory_100

A volume of ``--slices`` slices (:func:`jcas.data.synthetic.split_discs`: two classes told apart
by position, uint8; the pixels do not matter here, the bytes do) and its mask are written as
NIfTI (``.nii`` and ``.nii.gz``), a TIFF stack and an OME-Zarr image. For each format a fresh
process does what ``jcas train`` does (match the folders, check every slice, scan the labels,
fingerprint the slices, build the fold models) with a slice cache of ``--cache-mb`` and trains
``--steps`` steps; its peak resident memory is recorded. Two references run the same way: the
same steps on a volume of 16 slices (what the process costs without the data) and the large
volume read whole into memory and passed as arrays (the Python API's way). Then the model of the
``.nii`` line corrects the volume twice: ``jcas correct`` (slice by slice, the heatmaps written page
by page) and :func:`jcas.correction.stream.correct` on the arrays in memory (what the plugin does).
Results: ``memory.csv`` with its provenance record (the commit, the machine, the volume's settings)
and ``memory.md``; :func:`write_report` makes the table again from the two.
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness import load_provenance, save_provenance, train_steps, write_lines

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FORMATS = (".nii", ".nii.gz", ".tif", ".ome.zarr")
SMALL_SLICES = 16


def write_volume(folder: Path, suffix: str, images: np.ndarray, masks: np.ndarray) -> None:
    """``images/volume{suffix}`` and ``masks/volume{suffix}`` under ``folder``."""
    import zarr

    from jcas.data.io import write_array

    for kind, data in (("images", images), ("masks", masks)):
        path = folder / kind / f"volume{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".ome.zarr":
            group = zarr.open_group(str(path), mode="w")
            group.create_array("0", data=data, chunks=(1,) + data.shape[1:])
            group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": axis} for axis in "zyx"],
                                           "datasets": [{"path": "0"}]}]
        else:
            write_array(path, data)


def peak_mb() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux's ``VmHWM`` (the high-water mark of this process's own memory). ``ru_maxrss`` is the fallback
    only where /proc is missing: it survives ``exec``, so a child started by a large parent reports at
    least the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        [line] = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
        return round(int(line.split()[1]) / 1024, 1)  # kilobytes
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, kilobytes elsewhere
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20, 1)


def child(folder: Path, cache_mb: int, steps: int, whole: bool) -> dict:
    """Train ``steps`` steps on the pair in ``folder`` (streamed, or ``whole`` in memory) and save the model
    as ``folder/model.pt``; the peak memory."""
    import torch

    from jcas.data.pairs import load_pairs, match_folders
    from jcas.data.stream import SliceStore
    from jcas import make_config
    from jcas.training.dataset import volumes_from_files
    from jcas import Trainer

    torch.set_num_threads(1)
    started = time.perf_counter()
    pairs = match_folders(folder / "images", folder / "masks")
    config = make_config("jcas", "fast", folds=2)
    if whole:
        images, masks = load_pairs(pairs)
        trainer = Trainer(images, masks, config=config)
    else:
        trainer = Trainer(volumes=volumes_from_files(pairs, store=SliceStore(cache_mb * 2**20)), config=config)
    ready = time.perf_counter() - started
    train_steps(trainer, steps)
    figures = {"peak_mb": peak_mb(), "setup_s": round(ready, 2), "train_s": round(time.perf_counter() - started - ready, 2)}
    trainer.save(folder / "model.pt")
    return figures


def correct_child(folder: Path, whole: bool) -> dict:
    """Correct the pair in ``folder`` with ``folder/model.pt``: ``jcas correct``, or (``whole``) ``correct()``
    on the arrays in memory; the peak memory."""
    import torch

    from jcas.cli import main
    from jcas import correct, load_model
    from jcas.data.pairs import load_pairs, match_folders

    torch.set_num_threads(1)
    started = time.perf_counter()
    if whole:
        [image], [mask] = load_pairs(match_folders(folder / "images", folder / "masks"))
        correct(load_model(folder / "model.pt"), image, mask)
    else:
        main(["correct", "--model", str(folder / "model.pt"), "--images", str(folder / "images"), "--masks",
              str(folder / "masks"), "--out", str(folder / "corrected"), "--overwrite"])
    return {"peak_mb": peak_mb(), "setup_s": "", "train_s": "", "correct_s": round(time.perf_counter() - started, 2)}


def run_child(*arguments: str) -> dict:
    """This script's ``--child`` or ``--correct-child`` in a fresh process, so that each peak is its own."""
    result = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cache-mb", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for memory.csv and memory.md")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--correct-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.cache_mb, args.steps, args.whole)))
        return 0
    if args.correct_child is not None:
        print(json.dumps(correct_child(args.correct_child, args.whole)))
        return 0

    from jcas.data.synthetic import split_discs

    images, masks = split_discs(args.slices, args.size, seed=0)
    volume_mb = (images.nbytes + masks.nbytes) / 2**20
    rows = []
    with tempfile.TemporaryDirectory(prefix="jcas-memory-") as temporary:
        root = Path(temporary)
        write_volume(root / "small", ".nii", images[:SMALL_SLICES], masks[:SMALL_SLICES])
        cases = [("small volume, streamed", root / "small", SMALL_SLICES, False)]
        for suffix in FORMATS:
            write_volume(root / suffix.strip("."), suffix, images, masks)
            cases.append((f"{suffix}, streamed", root / suffix.strip("."), args.slices, False))
        cases.append(("in memory (arrays)", root / "nii", args.slices, True))
        for name, folder, slices, whole in cases:
            figures = run_child("--child", str(folder), "--cache-mb", str(args.cache_mb), "--steps", str(args.steps),
                                *(["--whole"] if whole else []))
            rows.append({"case": name, "slices": slices, "volume_mb": round(volume_mb * slices / args.slices, 1),
                         "cache_mb": "" if whole else args.cache_mb, **figures, "correct_s": ""})
            print(rows[-1], flush=True)
        for name, whole in (("jcas correct (slice by slice)", False), ("correct() on arrays in memory", True)):
            figures = run_child("--correct-child", str(root / "nii"), *(["--whole"] if whole else []))
            rows.append({"case": name, "slices": args.slices, "volume_mb": round(volume_mb, 1), "cache_mb": "",
                         **figures})
            print(rows[-1], flush=True)
    base = rows[0]["peak_mb"]
    for row in rows:  # training lines only: correcting builds no training set
        row["above_small_mb"] = round(row["peak_mb"] - base, 1) if row["correct_s"] == "" else ""
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "memory.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    save_provenance(args.out / "memory.csv", slices=args.slices, size=args.size, cache_mb=args.cache_mb,
                    steps=args.steps, volume_mb=volume_mb)
    print(write_report(args.out, args.out).read_text())
    return 0


def write_report(folder: Path, out: Path) -> Path:
    """``out/memory.md`` from ``folder/memory.csv`` and its provenance record."""
    with open(folder / "memory.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    run = load_provenance(folder / "memory.csv")
    volume_mb = run["volume_mb"]
    conditions = f", {run['conditions']}" if run.get("conditions") else ""
    lines = ["# Peak memory of training from files (`benchmarks/memory.py`)", "",
             f"A volume of {run['slices']} slices of {run['size']} x {run['size']} (uint8 image and mask, "
             f"{volume_mb:.0f} MiB together), a slice cache of {run['cache_mb']} MiB "
             f"({volume_mb / run['cache_mb']:.0f}x smaller), the fast preset's jcas (2 fold models, crops of 128, "
             f"batches of 8), {run['steps']} steps, then the .nii line's model correcting the volume with the "
             f"default selection; one fresh process per line. 'above small': peak minus the peak of the same "
             f"training steps on {SMALL_SLICES} slices. Commit {run['commit']}, {run['machine']}, one torch "
             f"thread{conditions}.", "",
             "| case | slices | volume MiB | cache MiB | peak MiB | above small MiB | setup s | train s | correct s |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['slices']} | {r['volume_mb']} | {r['cache_mb'] or '–'} | {r['peak_mb']} | "
              f"{'–' if r['above_small_mb'] == '' else r['above_small_mb']} | {r['setup_s'] or '–'} | {r['train_s'] or '–'} | {r['correct_s'] or '–'} |"
              for r in rows]
    return write_lines(out / "memory.md", lines)


if __name__ == "__main__":
    sys.exit(main())
