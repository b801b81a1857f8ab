"""Speed and memory benchmark: writes benchmarks/results/speed.csv and speed.md.

    .venv/bin/python benchmarks/speed.py            # device auto (cuda when present, else cpu)
    .venv/bin/python benchmarks/speed.py --quick    # fewer steps, no 2048 x 2048 correction

Measured:
- training throughput (images/s) of jcas and jcas_dar (warm-up stage and corrected stage) and ce at
  the standard preset, interleaved in one run so that the ratio is fair on a shared machine;
- DAR: the linear global form (jcas.nn.affinity_reasoning.global_dar) vs a quadratic N x N form written here, at grids
  32, 64, 128 (forward + backward): time and peak memory;
- correction (jcas.correction.stream.correct) of 512 x 512 and 2048 x 2048 images, with and without mirroring:
  time and peak memory;
- peak memory of training (a few steps of each method).

Peak memory: on CUDA, torch.cuda.max_memory_allocated; on CPU each measurement runs in a fresh
process, and a thread samples its resident set every 2 ms: growth over the measured window, and the
process peak.
Timings on a shared CPU are noisy: compare only the ratios measured in one run.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from harness import git_commit, machine, write_lines

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
THREADS = int(os.environ.get("JCAS_BENCH_THREADS", 2))
PARTS = ("train_throughput", "dar_fwd_bwd", "correct", "train_memory")
FIELDS = ["benchmark", "method", "size", "seconds", "images_per_s", "peak_mb", "rss_mb", "ratio", "device", "threads",
          "repeats", "commit", "machine", "note"]


def _setup(device_name: str):
    import torch

    torch.set_num_threads(THREADS)
    from jcas.device import select_device

    device = select_device(device_name)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    return torch, device


def _sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class PeakRSS:
    """Peak growth of the resident set over a window, sampled every few ms by a thread (Linux /proc).

    Falls back to the growth of ru_maxrss (monotonic over the process) where /proc is missing.
    """

    def __init__(self, interval: float = 0.002):
        import threading

        self.interval, self.threading = interval, threading
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.proc = Path("/proc/self/statm").exists()

    def _rss(self) -> int:
        if self.proc:
            return int(Path("/proc/self/statm").read_text().split()[1]) * self.page
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _watch(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self._rss())
            self.stop.wait(self.interval)

    def __enter__(self):
        self.base = self.peak = self._rss()
        self.stop = self.threading.Event()
        self.thread = self.threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.peak = max(self.peak, self._rss())
        self.stop.set()
        self.thread.join()
        self.growth_mb = (self.peak - self.base) / 2**20
        self.peak_mb = self.peak / 2**20


def _peak_mb(torch, device, watch: "PeakRSS") -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return watch.growth_mb


def quadratic_dar(logits, unit):
    """The reference O(N^2) DAR: builds A = e^T e and 1 - A explicitly."""
    import torch

    logits = logits.float()
    affinity = torch.einsum("bdn,bdm->bnm", unit, unit)
    contrast = 1 - affinity
    intra = affinity / (affinity.sum(dim=-1, keepdim=True) + 1e-9)
    inter = contrast / (contrast.sum(dim=-1, keepdim=True) + 1e-9)
    aggregate = torch.einsum("bnm,bkm->bkn", intra, logits)
    eliminate = torch.einsum("bnm,bkm->bkn", inter, logits)
    return logits + 0.5 * (aggregate - eliminate)


def _dar_job(device_name, form, grid, repeats, queue):
    torch, device = _setup(device_name)
    from jcas.nn.affinity import unit_embedding
    from jcas.nn.affinity_reasoning import global_dar

    gen = torch.Generator().manual_seed(0)
    n = grid * grid
    logits = torch.randn(1, 3, n, generator=gen).to(device).requires_grad_(True)
    unit = unit_embedding(torch.randn(1, 16, n, generator=gen)).to(device).requires_grad_(True)
    fn = global_dar if form == "linear" else quadratic_dar
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    with PeakRSS() as watch:
        for _ in range(repeats + 1):
            t = time.perf_counter()
            out = fn(logits, unit)
            out.square().sum().backward()
            _sync(torch, device)
            times.append(time.perf_counter() - t)
            logits.grad = unit.grad = None
            del out
    queue.put({"seconds": float(np.median(times[1:])), "peak_mb": _peak_mb(torch, device, watch),
               "rss_mb": watch.peak_mb, "device": str(device)})


def _correct_job(device_name, method, size, mirror, queue):
    torch, device = _setup(device_name)
    from scipy import ndimage

    from jcas import correct
    from jcas.data.labels import LabelMap
    from jcas.nn.model import JCASModel
    from jcas import make_config

    rng = np.random.default_rng(0)
    image = ndimage.gaussian_filter(rng.normal(size=(size, size)), 4).astype(np.float32)
    mask = (image > 0).astype(np.uint8) + (image > 0.02).astype(np.uint8)
    config = make_config(method, "standard")
    torch.manual_seed(0)
    model = JCASModel(config, LabelMap((0, 1, 2)), 1).to(device).eval()
    small = rng.normal(size=(64, 64)).astype(np.float32)
    correct(model, small, (small > 0).astype(np.uint8))  # warm up kernels
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as watch:
        t = time.perf_counter()
        correct(model, image, mask, mirror=mirror)
        _sync(torch, device)
        seconds = time.perf_counter() - t
    queue.put({"seconds": seconds, "peak_mb": _peak_mb(torch, device, watch), "rss_mb": watch.peak_mb,
               "device": str(device)})


def _load_training_data():
    from jcas import simulate_noise
    from jcas.data.pairs import load_pairs, match_folders

    folder = Path(os.environ.get("JCAS_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "mni_tissue"
    images, masks = load_pairs(match_folders(folder / "images", folder / "masks"))
    noisy, _ = simulate_noise(np.stack(masks), "mixed", 0.5, seed=0)
    return images, list(noisy)


def _trainer(method, device_name, corrected_first=False):
    from jcas import Trainer, make_config

    images, noisy = _load_training_data()
    overrides = dict(epochs_warmup=1, epochs_correction=59) if corrected_first else {}  # corrected after 1 epoch
    return Trainer(images, noisy, make_config(method, "standard", **overrides), device=device_name)


def _train_memory_job(device_name, method, steps, queue):
    torch, device = _setup(device_name)
    trainer = _trainer(method, device_name, corrected_first=True)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    skip = trainer.steps_per_epoch if trainer.config.uses_correction else 0
    with PeakRSS() as watch:
        for i, _ in enumerate(trainer.run()):
            if i + 1 >= skip + steps:
                break
    queue.put({"peak_mb": _peak_mb(torch, device, watch), "rss_mb": watch.peak_mb, "device": str(device)})


def in_child(target, *args):
    """Run ``target(*args, queue)`` in a fresh process and return what it put on the queue."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=args + (queue,))
    process.start()
    result = queue.get()
    process.join()
    return result


def throughput(device_name: str, rounds: int, block: int) -> list[dict]:
    """Interleave blocks of steps of ce and of the warm-up and corrected stages of jcas and jcas_dar;
    median step time of each."""
    torch, device = _setup(device_name)
    runs = {"ce": _trainer("ce", device_name).run()}
    for method in ("jcas", "jcas_dar"):
        runs[f"{method} (warm-up stage)"] = _trainer(method, device_name).run()
        corrected = runs[f"{method} (corrected stage)"] = _trainer(method, device_name, corrected_first=True).run()
        for event in corrected:  # reach the corrected stage (one warm-up epoch), untimed
            if event.stage != "warmup":
                break
    for run in runs.values():
        next(run)  # warm up
    steps = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            for _ in range(block):
                _sync(torch, device)
                t = time.perf_counter()
                event = next(run)
                _sync(torch, device)
                steps[name].append(time.perf_counter() - t)
    from jcas import make_config

    batch = make_config("ce", "standard").batch_size
    rows = []
    base = float(np.median(steps["ce"]))
    for name, times in steps.items():
        median = float(np.median(times))
        rows.append({"benchmark": "train_throughput", "method": name, "size": "crop 128, batch 8",
                     "seconds": median, "images_per_s": batch / median, "ratio": median / base,
                     "device": str(device), "repeats": len(times),
                     "note": f"median step; ratio = step time / ce step time; min-based ratio "
                             f"{min(times) / min(steps['ce']):.2f}"})
    return rows


def main(argv=None) -> None:
    global THREADS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS,
                        help="run only these benchmarks (the other rows of speed.csv are kept)")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help="torch threads per process (default 2; 1 avoids thread contention on a shared 2-core CPU)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    THREADS = args.threads
    os.environ["JCAS_BENCH_THREADS"] = str(THREADS)  # for the spawned children
    sys.path.insert(0, str(HERE))
    args.out.mkdir(parents=True, exist_ok=True)
    rounds, block = (3, 4) if args.quick else (6, 6)
    parts = set(args.parts)
    rows: list[dict] = []
    if parts != set(PARTS) and (args.out / "speed.csv").exists():  # keep the other parts' rows of an earlier run
        rows = [r for r in read_rows(args.out / "speed.csv") if r["benchmark"] not in parts]

    def emit(new):
        for row in new:
            row.setdefault("threads", THREADS)
            row.update(commit=git_commit(), machine=machine())
            if row["benchmark"] == "train_throughput":
                from jcas import make_config

                row["note"] += f"; jcas offsets {make_config('jcas', 'standard').offsets}"
            rows.append(row)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
        write(rows, args.out)

    if "train_throughput" in parts:
        emit(throughput(args.device, rounds, block))
    for grid in ((32, 64, 128) if "dar_fwd_bwd" in parts else ()):
        results = {}
        for form in ("linear", "quadratic"):
            repeats = 3 if grid < 128 else 2
            r = in_child(_dar_job, args.device, form, grid, repeats)
            results[form] = r
            emit([{"benchmark": "dar_fwd_bwd", "method": form, "size": f"grid {grid} (N={grid * grid})",
                   "seconds": r["seconds"], "peak_mb": r["peak_mb"], "rss_mb": r["rss_mb"], "device": r["device"], "repeats": repeats,
                   "ratio": r["seconds"] / results["linear"]["seconds"],
                   "note": "K=3, D=16, batch 1; ratio = time / linear time"}])
    sizes = (512,) if args.quick else (512, 2048)
    for size in (sizes if "correct" in parts else ()):
        for method, mirror in (("ce", False), ("jcas", False), ("jcas", True)):
            r = in_child(_correct_job, args.device, method, size, mirror)
            name = f"{method} (mirrored)" if mirror else method
            emit([{"benchmark": "correct", "method": name, "size": f"{size}x{size}", "seconds": r["seconds"],
                   "peak_mb": r["peak_mb"], "rss_mb": r["rss_mb"], "device": r["device"], "repeats": 1,
                   "note": "untrained standard-preset model, 3 classes, tiles 512 + margin 64"}])
    for method in (("ce", "jcas") if "train_memory" in parts else ()):
        r = in_child(_train_memory_job, args.device, method, 4)
        emit([{"benchmark": "train_memory", "method": method, "size": "crop 128, batch 8", "peak_mb": r["peak_mb"],
               "rss_mb": r["rss_mb"],
               "device": r["device"], "repeats": 4,
               "note": "growth of peak memory over 4 steps (jcas: corrected stage)"}])


def read_rows(path: Path) -> list[dict]:
    """The rows of a ``speed.csv``, with the measured figures as numbers ('' where none)."""
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    for r in rows:
        for k in ("seconds", "images_per_s", "peak_mb", "rss_mb", "ratio"):
            r[k] = float(r[k]) if r.get(k) not in ("", None) else ""
    return rows


def write(rows: list[dict], out: Path) -> None:
    """``speed.csv`` and ``speed.md`` from the rows."""
    with open(out / "speed.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in FIELDS})
    write_report(out, out)


def write_report(folder: Path, out: Path) -> Path:
    """``out/speed.md`` from ``folder/speed.csv``."""
    rows = read_rows(folder / "speed.csv")
    fmt = lambda v, d=3: "" if v in ("", None) else (f"{v:.{d}f}" if isinstance(v, float) else str(v))  # noqa: E731
    commits = ", ".join(sorted({str(r["commit"]) for r in rows}))
    threads = ", ".join(sorted({str(r["threads"]) for r in rows}))
    lines = [f"# Speed and memory (commit {commits}, {rows[0]['machine']}, torch threads {threads})", "",
             "Shared machine: timings are noisy; compare ratios measured in this run only. "
             "Peak MB (growth) on CPU: the largest resident set during the measured window minus the resident "
             "set at its start, sampled every 2 ms (operations shorter than that may read 0); on CUDA, "
             "torch.cuda.max_memory_allocated.", "",
             "| benchmark | method | size | seconds | images/s | peak MB (growth) | process peak RSS MB | ratio | device | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['method']} | {r['size']} | {fmt(r.get('seconds'), 4)} | "
                     f"{fmt(r.get('images_per_s'), 1)} | {fmt(r.get('peak_mb'), 1)} | {fmt(r.get('rss_mb'), 0)} | "
                     f"{fmt(r.get('ratio'), 2)} | "
                     f"{r['device']} | {r.get('note', '')} |")
    return write_lines(out / "speed.md", lines)


if __name__ == "__main__":
    main()
