"""Operations a training step dispatches, by phase, at this commit and at others named (the GPU path's cost).

    .venv/bin/python benchmarks/step_ops.py --against 5b20493

At the standard preset's sizes (crop 128, batch 8) a GPU step is bound by launching kernels, not
by computing them: on the H200 (``benchmarks/results/cuda/speed.md``) each operation the JCAS loss
added cost about as much as any other. So the count of operations that launch a kernel (views
and other metadata operations excluded) is a device-independent measure of what a step costs
there, and the ratio of JCAS's count to plain training's is what the 1.3x target bounds.
Counted with a ``TorchDispatchMode`` (every operation after autograd, forward and backward) over
one step of each method, on the CPU; each commit runs in its own process, its library taken
from ``git archive``. The CPU step times beside the counts are medians of a few steps, noisy on a
shared machine (compare the ratios within a commit's row). Results: ``step_ops.json`` with its
provenance record, and ``step_ops.md``; :func:`write_report` makes the table again from the two.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PHASES = ("forward", "loss", "backward", "optimizer", "other")
#: (row name, method, start in the corrected stage)
RUNS = (("ce", "ce", False), ("jcas (warm-up stage)", "jcas", False), ("jcas (corrected stage)", "jcas", True),
        ("jcas_dar (corrected stage)", "jcas_dar", True))
#: Operations that dispatch but launch no kernel on a GPU, beyond the views.
NO_KERNEL = {"lift_fresh", "_local_scalar_dense", "_record_function_enter_new", "_record_function_exit"}


def count_steps(timed_steps: int) -> dict:
    """In this process (whichever ``jcas`` and ``speed`` it imports): per run, the kernel-launching
    operations of one step by phase, and the median CPU time of ``timed_steps`` steps.

    The phases follow the step's order, whatever the commit calls its loss: the model's
    ``predict``, then the loss (until ``backward``), the backward pass, the optimizer
    (``GradScaler.step``), and the rest (moving the batch, reading the losses back, the event).
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from speed import _trainer

    torch.set_num_threads(int(os.environ.get("JCAS_BENCH_THREADS", 2)))
    phase = ["other"]

    class Counter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.counts = collections.Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not func.is_view and func.overloadpacket.__name__ not in NO_KERNEL:
                self.counts[phase[0]] += 1
            return func(*args, **(kwargs or {}))

    def in_phase(owner, name, label, after):
        original = getattr(owner, name)

        def wrapped(*args, **kwargs):
            phase[0] = label
            try:
                return original(*args, **kwargs)
            finally:
                phase[0] = after

        setattr(owner, name, wrapped)

    results = {}
    for name, method, corrected in RUNS:
        trainer = _trainer(method, "cpu", corrected_first=corrected)
        if not results:  # the model class of this commit, once
            model = getattr(trainer.model, "members", [trainer.model])[0]
            in_phase(type(model), "predict", "forward", after="loss")
            in_phase(torch.Tensor, "backward", "backward", after="other")
            in_phase(torch.amp.GradScaler, "step", "optimizer", after="other")
        run = trainer.run()
        for event in run:  # the first step (of the corrected stage where asked) is a warm-up
            if not corrected or event.stage != "warmup":
                break
        with Counter() as counter:
            next(run)
        times = []
        for _ in range(timed_steps):
            started = time.perf_counter()
            next(run)
            times.append(time.perf_counter() - started)
        results[name] = {"ops": {p: counter.counts[p] for p in PHASES}, "seconds": sorted(times)[len(times) // 2]}
    return results


def in_commit(commit: str, timed_steps: int) -> dict:
    """:func:`count_steps` in a child process that imports ``jcas`` and this folder's ``speed`` as they
    were at ``commit`` (``HEAD``: the working tree)."""
    if commit == "HEAD":
        return _child(HERE.parent, timed_steps)
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "source.tar"
        subprocess.run(["git", "archive", "-o", str(archive), commit, "src_model", "benchmarks"], cwd=HERE.parent,
                       check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        return _child(Path(folder), timed_steps)


def _child(tree: Path, timed_steps: int) -> dict:
    """Run :func:`count_steps` with ``tree``'s ``src_model`` and ``benchmarks`` ahead of everything else."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(path) for path in (tree / "src_model", tree / "benchmarks",
                                                                               HERE)))
    env.setdefault("JCAS_BENCH_DATA", str(HERE.parents[1] / "shared" / "data"))
    code = f"import json, step_ops; print(json.dumps(step_ops.count_steps({timed_steps})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tree / "benchmarks", env=env, capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"counting at {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: dict[str, dict]) -> list[str]:
    """Markdown rows: one per commit and run, the counts by phase and their ratios to ce's."""
    lines = ["| commit | run | forward | loss | backward | optimizer | other | on the GPU path (all but the optimizer) "
             "| ratio to ce | CPU step s | CPU ratio to ce |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for commit, runs in rows.items():
        base = runs["ce"]
        base_path = sum(base["ops"][p] for p in PHASES if p != "optimizer")
        for name, result in runs.items():
            path = sum(result["ops"][p] for p in PHASES if p != "optimizer")
            lines.append(f"| {commit} | {name} | " + " | ".join(str(result["ops"][p]) for p in PHASES)
                         + f" | {path} | {path / base_path:.2f} | {result['seconds']:.3f} | "
                           f"{result['seconds'] / base['seconds']:.2f} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", nargs="+", default=[], help="earlier commits to count the same steps at")
    parser.add_argument("--steps", type=int, default=5, help="CPU steps timed per run (their median is reported)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from harness import git_commit, save_provenance  # not at the top: a child imports this module with an older jcas

    rows = {commit: in_commit(commit, args.steps) for commit in args.against}
    rows[f"{git_commit()} (working tree)"] = in_commit("HEAD", args.steps)  # its own row, whatever --against names
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "step_ops.json").write_text(json.dumps(rows, indent=1) + "\n")
    save_provenance(args.out / "step_ops.json", threads=int(os.environ.get("JCAS_BENCH_THREADS", 2)))
    print(write_report(args.out, args.out).read_text())
    return 0


def write_report(folder: Path, out: Path) -> Path:
    """``out/step_ops.md`` from ``folder/step_ops.json`` and its provenance record."""
    from harness import load_run, write_lines

    rows, run = load_run(folder / "step_ops.json")
    lines = ["# Operations per training step (`benchmarks/step_ops.py`)", "",
             f"{run['machine']}, torch threads {run['threads']}; standard preset, crop 128, "
             "batch 8, mni_tissue with mixed noise 0.5. Operations that launch a kernel (views excluded), counted "
             "over one step on the CPU. The optimizer column is the CPU's AdamW, a for-loop over the parameters "
             "or one fused kernel depending on the commit (on CUDA the multi-tensor form or the fused kernel), so "
             "it is left out of the GPU-path total.", ""] + table(rows)
    return write_lines(out / "step_ops.md", lines)


if __name__ == "__main__":
    sys.exit(main())
