"""Speed of finding the candidate regions of a slice, at this commit against the region finding of another.

    .venv/bin/python benchmarks/regions_speed.py --against 930ffe4

Region finding runs on the CPU after the network, for every slice (``jcas.correction.regions.find_regions``);
on a GPU it was most of the time of correcting a 2048 x 2048 slice. Each case is a slice of
smooth classes with patches of changed labels (a proposal that moves labels across class
borders, so that label pairs touch), the default area, score and confidence floors. Both versions
run in this process, alternately, ``--repeats`` times each; the table gives the best time of
each and their ratio (the machine is shared: compare the ratio, not the seconds), and whether
both found the same region map and regions. The table is printed: a comparison of two commits, not
a committed table.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from jcas.correction.regions import find_regions
from jcas.settings import MIN_AREA, MIN_CONFIDENCE, MIN_SCORE
from harness import git_commit, machine

HERE = Path(__file__).resolve().parent
CASES = ((512, 3), (2048, 4), (4096, 4))


def earlier_find_regions(commit: str):
    """``find_regions`` as ``src_model/jcas/correction/regions.py`` had it at ``commit``."""
    source = subprocess.run(["git", "show", f"{commit}:src_model/jcas/correction/regions.py"], cwd=HERE,
                            capture_output=True, text=True, check=True).stdout
    namespace: dict = {}
    exec(compile(source.replace("from ..settings import", "from jcas.settings import"), f"regions@{commit}", "exec"),
         namespace)
    return namespace["find_regions"]


def case(size: int, classes: int, seed: int = 0):
    """A drawn slice, a proposal and the two maps, ``(size, size)`` each."""
    rng = np.random.default_rng(seed)
    drawn = (ndimage.gaussian_filter(rng.random((size, size)), 8) * 4 * classes).astype(np.uint8) % classes
    proposed = drawn.copy()
    moved = ndimage.gaussian_filter(rng.random((size, size)), 4) > 0.52
    proposed[moved] = (proposed[moved] + 1) % classes
    return drawn, proposed, rng.random((size, size)).astype(np.float32), rng.random((size, size)).astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="the commit whose region finding to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    earlier = earlier_find_regions(args.against)
    lines = ["# Region finding, one slice (`benchmarks/regions_speed.py`)", "",
             f"This commit ({git_commit()}) against {args.against}, {machine()}; default floors ({MIN_AREA} px, "
             f"score {MIN_SCORE}, confidence {MIN_CONFIDENCE}); best of {args.repeats}, alternating. 'same': the "
             "same region map, and the same regions (scores within float rounding) with every floor at its minimum.",
             "", f"| slice | classes | changed | {args.against} s | {git_commit()} s | speed-up | same |", "|---|---|---|---|---|---|---|"]
    for size, classes in CASES:
        drawn, proposed, score, confidence = case(size, classes)
        floors = (MIN_AREA, MIN_SCORE, confidence, MIN_CONFIDENCE)
        best = {"earlier": np.inf, "now": np.inf}
        for _ in range(args.repeats):
            for name, find in (("earlier", earlier), ("now", find_regions)):
                started = time.perf_counter()
                find(drawn, proposed, score, 0, 1, *floors)
                best[name] = min(best[name], time.perf_counter() - started)
        (map_then, then), (map_now, now) = (find(drawn, proposed, score, 0, 1, 1, 0.0, confidence, 0.0)
                                            for find in (earlier, find_regions))
        same = np.array_equal(map_then, map_now) and len(then) == len(now) and all(
            (a.index, a.bbox, a.area, a.old_label, a.new_label) == (b.index, b.bbox, b.area, b.old_label, b.new_label)
            and np.isclose(a.score, b.score) and np.isclose(a.confidence, b.confidence) for a, b in zip(then, now))
        lines.append(f"| {size} x {size} | {classes} | {np.mean(drawn != proposed):.0%} | {best['earlier']:.3f} | "
                     f"{best['now']:.3f} | {best['earlier'] / best['now']:.1f}x | {'yes' if same else 'no'} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
