"""What a user's standard run costs: ``jcas train`` then ``jcas correct``.

    .venv/bin/python benchmarks/cost.py                  # mni_tissue, mixed noise 0.5, seed 0
    .venv/bin/python benchmarks/cost.py --threads 2 --out benchmarks/results

The set is the suite's ``mni_tissue`` (62 slices of 233 x 197, three classes: the "60 slices of
about 200 x 200" of the target). Its clean masks get the benchmark's mixed noise, both are written
to a temporary folder, and the two commands run as a user runs them, in fresh processes, with the
core's defaults (standard preset, cross-fitted). Wall-clock seconds of each command are written to
``benchmarks/results/cost.csv`` and ``cost.md``, with the commit, the machine, the torch threads and
the load average at the start (a busy machine makes the figure meaningless: run it on an idle one).
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import suite
from jcas.data.io import write_array
from jcas import simulate_noise
from harness import git_commit, machine, write_lines

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FIELDS = ["command", "dataset", "slices", "shape", "seconds", "threads", "load_avg_1m", "device", "commit", "machine"]


def write_set(folder: Path, dataset: str, noise: str, fraction: float, seed: int) -> tuple[int, str]:
    """Write a suite set's images and noisy masks under ``folder``; return the slice count and shape."""
    images, clean = suite.load(dataset)
    noisy, _ = simulate_noise(clean, noise, fraction, seed=seed)
    for index, (image, mask) in enumerate(zip(images, noisy)):
        write_array(folder / "images" / f"slice_{index:03d}.tif", image)
        write_array(folder / "masks" / f"slice_{index:03d}.tif", mask.astype(np.uint8))
    return len(images), "x".join(str(s) for s in images.shape[1:3])


def timed(command: list[str], threads: int) -> float:
    """Run one ``jcas`` command in a fresh process with ``threads`` torch threads; its wall seconds."""
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    started = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mni_tissue", choices=sorted(suite.SETS))
    parser.add_argument("--noise", default="mixed:0.5", help="kind:fraction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    kind, fraction = args.noise.split(":")
    jcas = str(Path(sys.executable).with_name("jcas"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="jcas-cost-") as scratch:
        folder = Path(scratch)
        slices, shape = write_set(folder, args.dataset, kind, float(fraction), args.seed)
        model = folder / "model.pt"
        commands = {
            "jcas train": [jcas, "train", "--images", str(folder / "images"), "--masks", str(folder / "masks"),
                           "--model", str(model), "--device", args.device, "--seed", str(args.seed)],
            "jcas correct": [jcas, "correct", "--images", str(folder / "images"), "--masks", str(folder / "masks"),
                             "--model", str(model), "--out", str(folder / "cleaned"), "--device", args.device],
        }
        for name, command in commands.items():
            load = os.getloadavg()[0]
            seconds = timed(command, args.threads)
            print(f"{name}: {seconds:.0f} s (load {load:.2f} at the start)", flush=True)
            rows.append({"command": name, "dataset": args.dataset, "slices": slices, "shape": shape,
                         "seconds": round(seconds, 1), "threads": args.threads, "load_avg_1m": round(load, 2),
                         "device": args.device, "commit": git_commit(), "machine": machine()})
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "cost.csv", "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if handle.tell() == 0:
            writer.writeheader()
        writer.writerows(rows)
    write_report(args.out, args.out)


def write_report(folder: Path, out: Path) -> Path:
    """``out/cost.md`` from every row of ``folder/cost.csv``."""
    with open(folder / "cost.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = ["# Cost of a standard run (`benchmarks/cost.py`)", "",
             "Defaults of the core (standard preset, cross-fitted), mixed noise 0.5, commands run as a user runs "
             "them. The target is a cross-fitted standard run on 60 slices of about 200 x 200 in at "
             "most 5 minutes on 2 CPU cores. 'load at start' is the 1-minute load average just before the command: "
             "above about 0.5 before `jcas train` the machine was shared and the figures are too high (before "
             "`jcas correct` it still counts the training that has just ended).", "",
             "| command | set | slices | shape | seconds | minutes | threads | load at start | device | commit | machine |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        minutes = float(row["seconds"]) / 60
        lines.append(f"| {row['command']} | {row['dataset']} | {row['slices']} | {row['shape']} | {row['seconds']} | "
                     f"{minutes:.1f} | {row['threads']} | {row['load_avg_1m']} | {row['device']} | {row['commit']} | "
                     f"{row['machine']} |")
    return write_lines(out / "cost.md", lines)


if __name__ == "__main__":
    main()
