"""Peak memory of ``jcas correct`` on a folder of many 2D pairs, and a run killed part-way that resumes.

    .venv/bin/python benchmarks/folder_scale.py                    # 500 pairs of 512 x 512
    .venv/bin/python benchmarks/folder_scale.py --files 12 --out DIR     # a quick check

``--files`` pairs of ``--size`` x ``--size`` (:func:`jcas.data.synthetic.split_discs`, uint8; the
pixels do not matter here, the bytes do) are written as PNG files (``images/`` and ``masks/``) to a
temporary folder, with a folder of the first :data:`SMALL_FILES` of them beside it. A model is trained
on those few slices for ``--steps`` steps of the fast preset and saved. Then ``jcas correct`` runs as a
user runs it, each time in a fresh process whose peak resident memory GNU time reports:

1. on the small folder (what the process costs without the data), twice (how much it varies);
2. on the whole folder, uninterrupted;
3. on the whole folder again, killed (SIGKILL) once ``--kill-at`` of the files are finished;
4. the same command with ``--resume``.

For the resumed run the rows record how many files it took from the stopped run, how many of the
files the killed run had finished it corrected again, how many output files it wrote and whether they
equal the uninterrupted run's byte for byte (every output but ``report.html``, which names its folder).
Results: ``folder_scale.csv`` with its provenance record (the commit, the machine, the folder's
settings, the load average at the start) and ``folder_scale.md``; :func:`write_report` makes the
table again from the two.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import load_provenance, save_provenance, train_steps, write_lines

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: The reference folder's size: what the process costs with next to no data.
SMALL_FILES = 10
#: Outputs per pair (the corrected mask, two disagreement heatmaps, the boundary view) and per folder
#: (regions.csv, quality.csv, report.html).
PER_FILE_OUTPUTS, PER_FOLDER_OUTPUTS = 4, 3
#: The line ``jcas correct`` prints for each file it corrects, and its closing line's count of files taken
#: from a stopped run.
FILE_LINE = re.compile(r"^(\S+): \d+ candidate regions")
RESUMED_LINE = re.compile(r"\((\d+) of \d+ files from the stopped run\)")
#: GNU time, which reports the peak resident memory of the command it runs (``-f %M``).
GNU_TIME = shutil.which("time")


def write_folder(folder: Path, images: np.ndarray, masks: np.ndarray) -> None:
    """``images/slice_NNNN.png`` and ``masks/slice_NNNN.png`` under ``folder``, one pair per slice of the
    ``(N, H, W)`` uint8 ``images`` and ``masks``."""
    from jcas.data.io import write_array

    for index, (image, mask) in enumerate(zip(images, masks)):
        write_array(folder / "images" / f"slice_{index:04d}.png", image)
        write_array(folder / "masks" / f"slice_{index:04d}.png", mask)


def train_model(path: Path, images: np.ndarray, masks: np.ndarray, steps: int) -> None:
    """Train the fast preset's jcas (2 fold models) for ``steps`` steps on the ``(N, H, W)`` slices and save it."""
    from jcas import Trainer, make_config

    trainer = Trainer([images], [masks], config=make_config("jcas", "fast", folds=2))
    train_steps(trainer, steps)
    trainer.save(path)


@dataclass(frozen=True)
class Run:
    """One ``jcas correct`` process.

    Attributes
    ----------
    peak_mb : float
        Its peak resident memory, in MiB.
    seconds : float
        Wall-clock seconds from its start to its end (or to the kill).
    corrected : list of str
        The stems of the files it corrected, in order.
    from_stopped_run : int
        The files it took from a stopped run (``--resume``).
    """

    peak_mb: float
    seconds: float
    corrected: list[str]
    from_stopped_run: int


def run_correct(command: list[str], threads: int, kill_after: int | None = None) -> Run:
    """Run ``command`` (a ``jcas correct``) in a fresh process with ``threads`` torch threads; with ``kill_after``,
    SIGKILL it once it has finished that many files. Raises when it fails on its own.

    The peak is the one GNU time reports for the command: on Linux a process started straight from this one
    would report this process's own peak (the folder in memory, the training) where its own was lower.
    """
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                       PYTHONUNBUFFERED="1")  # each file's line as it finishes, not when a pipe buffer fills
    lines = []
    with tempfile.TemporaryDirectory(prefix="jcas-run-") as scratch:
        peak, errors = Path(scratch) / "peak", Path(scratch) / "errors"
        started = time.perf_counter()
        with open(errors, "w") as error_stream:
            process = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", str(peak), *command], stdout=subprocess.PIPE,
                                       stderr=error_stream, text=True, env=environment)
            while line := process.stdout.readline():
                lines.append(line)
                if kill_after is not None and len(corrected_stems(lines)) >= kill_after:
                    os.kill(child_of(process.pid), signal.SIGKILL)
                    break
            lines += process.stdout.readlines()
            process.wait()
        seconds = time.perf_counter() - started
        if process.returncode != (128 + signal.SIGKILL if kill_after is not None else 0):
            raise RuntimeError(f"{' '.join(command)} ended with {process.returncode}:\n{errors.read_text()[-4000:]}")
        peak_mb = int(peak.read_text().split()[-1]) / 1024  # kilobytes; after "Command terminated by signal 9"
    resumed = [int(found.group(1)) for line in lines if (found := RESUMED_LINE.search(line))]
    return Run(round(peak_mb, 1), round(seconds, 1), corrected_stems(lines), sum(resumed))


def child_of(pid: int) -> int:
    """The process that process ``pid`` started (GNU time's command)."""
    return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])


def corrected_stems(lines: list[str]) -> list[str]:
    """The stems of the files whose line ``jcas correct`` printed among ``lines``."""
    return [found.group(1) for line in lines if (found := FILE_LINE.match(line))]


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by its relative path, ``report.html`` (which names the folder) aside."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != "report.html"}


def count_outputs(folder: Path) -> int:
    """The files in place under ``folder``, the hidden staging folder of a stopped run aside."""
    return sum(1 for path in folder.rglob("*")
               if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=500, help="pairs in the folder")
    parser.add_argument("--size", type=int, default=512, help="side of each slice in pixels")
    parser.add_argument("--steps", type=int, default=20, help="training steps of the model that corrects")
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the files finished when the run is killed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, here and in every jcas process")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for folder_scale.csv and folder_scale.md")
    args = parser.parse_args(argv)
    if args.files <= SMALL_FILES:
        parser.error(f"--files must exceed the small folder's {SMALL_FILES}")
    if GNU_TIME is None:
        parser.error("GNU time is needed to measure each command's peak (apt install time)")
    import torch

    from jcas.data.synthetic import split_discs

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    kill_after = max(1, round(args.files * args.kill_at))
    jcas = str(Path(sys.executable).with_name("jcas"))
    images, masks = split_discs(args.files, args.size, seed=0)
    with tempfile.TemporaryDirectory(prefix="jcas-folder-") as temporary:
        root = Path(temporary)
        write_folder(root / "whole", images, masks)
        write_folder(root / "small", images[:SMALL_FILES], masks[:SMALL_FILES])
        train_model(root / "model.pt", images[:SMALL_FILES], masks[:SMALL_FILES], args.steps)

        def correct(folder: str, out: str, *extra: str, kill: int | None = None) -> Run:
            command = [jcas, "correct", "--model", str(root / "model.pt"), "--images", str(root / folder / "images"),
                       "--masks", str(root / folder / "masks"), "--out", str(root / out), *extra]
            return run_correct(command, args.threads, kill)

        small = correct("small", "small_out")
        rows = [row("small folder", SMALL_FILES, small, small, count_outputs(root / "small_out"))]
        print(rows[-1], flush=True)
        again = correct("small", "small_out", "--overwrite")  # how much the same process varies
        rows.append(row("small folder, again", SMALL_FILES, again, small, count_outputs(root / "small_out")))
        print(rows[-1], flush=True)
        whole = correct("whole", "whole_out")
        rows.append(row("whole folder", args.files, whole, small, count_outputs(root / "whole_out")))
        print(rows[-1], flush=True)
        killed = correct("whole", "stopped_out", kill=kill_after)
        rows.append(row("killed part-way (SIGKILL)", args.files, killed, small, count_outputs(root / "stopped_out")))
        print(rows[-1], flush=True)
        resumed = correct("whole", "stopped_out", "--resume")
        rows.append({**row("same command with --resume", args.files, resumed, small,
                           count_outputs(root / "stopped_out")),
                     "from_stopped_run": resumed.from_stopped_run,
                     "corrected_again": len(set(killed.corrected) & set(resumed.corrected)),
                     "same_as_whole": "yes" if digest(root / "stopped_out") == digest(root / "whole_out") else "no"})
        print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "folder_scale.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[-1]))
        writer.writeheader()
        writer.writerows(rows)
    save_provenance(args.out / "folder_scale.csv", files=args.files, small_files=SMALL_FILES, size=args.size,
                    format="png", steps=args.steps, kill_after=kill_after, threads=args.threads,
                    load_avg_1m=round(load, 2))
    print(write_report(args.out, args.out).read_text())
    return 0


def row(name: str, files: int, run: Run, small: Run, outputs: int) -> dict:
    """A table row of one run; the resumed run's columns are left empty."""
    return {"run": name, "files": files, "peak_mb": run.peak_mb, "above_small_mb": round(run.peak_mb - small.peak_mb, 1),
            "seconds": run.seconds, "corrected": len(run.corrected), "from_stopped_run": "", "corrected_again": "",
            "outputs": outputs, "same_as_whole": ""}


def write_report(folder: Path, out: Path) -> Path:
    """``out/folder_scale.md`` from ``folder/folder_scale.csv`` and its provenance record."""
    with open(folder / "folder_scale.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    run = load_provenance(folder / "folder_scale.csv")
    size, files = run["size"], run["files"]
    slice_mb = size * size / 2**20
    lines = ["# `jcas correct` on a folder of many files (`benchmarks/folder_scale.py`)", "",
             f"A folder of {files} pairs of {size} x {size} ({run['format'].upper()}, uint8 image and mask, "
             f"{2 * files * slice_mb:.0f} MiB together once read), corrected by a model of the fast preset's jcas "
             f"(2 fold models) trained {run['steps']} steps, with the default selection; one fresh `jcas correct` "
             f"process per line, its peak resident memory as GNU time reports it. 'above small': peak minus the "
             f"peak on a folder of the first {run['small_files']} pairs (its second run shows how much the same "
             f"process varies); one {size} x {size} slice is {slice_mb:.2f} MiB as uint8 and {4 * slice_mb:.0f} "
             f"MiB per class as float32. The killed run is "
             f"stopped with SIGKILL once {run['kill_after']} files are finished; 'corrected' counts the files each "
             f"run corrected itself, 'from stopped run' those the resumed run took as they were, 'corrected again' "
             f"the files the killed run had finished that the resumed run corrected anew, 'outputs' the files in "
             f"place when the run ended ({PER_FILE_OUTPUTS} per pair and {PER_FOLDER_OUTPUTS} for the folder), "
             f"'same as whole' whether they equal the uninterrupted run's byte for byte (report.html, which names "
             f"its folder, aside). Commit {run['commit']}, {run['machine']}, {run['threads']} torch thread(s), "
             f"1-minute load average {run['load_avg_1m']} at the start: the seconds were measured on a shared "
             f"machine; compare them with each other, not with other tables.", "",
             "| run | files | peak MiB | above small MiB | seconds | corrected | from stopped run | corrected again "
             "| outputs | same as whole |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['files']} | {r['peak_mb']} | {r['above_small_mb']} | {r['seconds']} | "
              f"{r['corrected']} | {r['from_stopped_run'] or '–'} | {r['corrected_again'] or '–'} | "
              f"{r['outputs']} | {r['same_as_whole'] or '–'} |" for r in rows]
    return write_lines(out / "folder_scale.md", lines)


if __name__ == "__main__":
    sys.exit(main())
