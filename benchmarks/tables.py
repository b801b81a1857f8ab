"""Regenerate every committed table from the rows committed beside it, or check that they match.

    .venv/bin/python benchmarks/tables.py            # write every table in place
    .venv/bin/python benchmarks/tables.py --check    # write them to a temporary folder, diff, exit 1 on a difference

Each entry of :data:`TABLES` names the files it writes (relative to ``benchmarks/``) and makes them
under a root folder from the committed rows; the check compares the markdown and CSV files
(plots are written but not compared: their bytes depend on the plotting library).
"""
from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import boundary
import cost
import folder_scale
import frame_invariance
import guard
import memory
import recipe
import region_chance
import report
import review
import speed
import step_ops
from harness import HERE, RESULTS

COMPARED = (".md", ".csv")


@dataclass(frozen=True)
class Table:
    """Files (relative to ``benchmarks/``) and the call that writes them under ``root`` from committed rows."""

    outputs: tuple[str, ...]
    make: Callable[[Path], object]


def quality(rows: str, out: str, files: tuple[str, ...]) -> Table:
    """``report.py`` over one rows folder."""
    return Table(tuple(f"{out}/{name}" for name in files),
                 lambda root: report.main(["--rows", str(HERE / rows), "--out", str(root / out)]))


def folder_report(module, folder: str, *names: str) -> Table:
    """A script's ``write_report(folder, out)`` over one results folder."""
    return Table(tuple(f"{folder}/{name}" for name in names),
                 lambda root: module.write_report(HERE / folder, root / folder))


GRID = ("quality.md", "quality.csv", "readme_tables.md", "quality_dice_ap.png", "jcas_losses.png")
TABLES = [
    quality("results/rows", "results", GRID),
    quality("results/cuda/rows", "results/cuda", GRID),
    quality("results/suite/rows", "results/suite", ("quality.md", "quality.csv")),
    Table(("results/recipe/recipe.md",),
          lambda root: recipe.main(["--folder", str(RESULTS / "recipe"), "--out", str(root / "results/recipe")])),
    folder_report(guard, "results/suite", "guard.md"),
    folder_report(guard, "results/suite/more_seeds", "guard.md"),
    folder_report(guard, "results/suite/other_noise", "guard.md"),
    Table(("results/suite/targets.md",), lambda root: guard.write_targets(RESULTS / "suite", root / "results/suite")),
    folder_report(boundary, "results", "boundary.md"),
    folder_report(region_chance, "results/region_chance", "region_chance.md"),
    *(folder_report(review, folder, "review.md", "review.png") for folder in (
        "results", "results/review_learn", "results/review_oracle", "results/suite/review_seed3",
        "results/suite/review_seed3/queue")),
    folder_report(cost, "results", "cost.md"),
    folder_report(speed, "results", "speed.md"),
    folder_report(speed, "results/cuda", "speed.md"),
    folder_report(memory, "results", "memory.md"),
    folder_report(memory, "results/memory_100", "memory.md"),
    folder_report(folder_scale, "results", "folder_scale.md"),
    folder_report(step_ops, "results", "step_ops.md"),
    folder_report(frame_invariance, "results", "frame_invariance.md"),
]


def differences(root: Path) -> list[str]:
    """Unified diffs of every compared output under ``root`` against the committed file."""
    found = []
    for table in TABLES:
        for name in table.outputs:
            if not name.endswith(COMPARED):
                continue
            made, committed = root / name, HERE / name
            if not made.is_file() or not committed.is_file():
                found.append(f"{name}: {'not made' if not made.is_file() else 'not committed'}\n")
            elif made.read_bytes() != committed.read_bytes():
                found.extend(difflib.unified_diff(committed.read_text().splitlines(True), made.read_text().splitlines(True),
                                                  f"committed/{name}", f"regenerated/{name}", n=0))
    return found


def main(argv=None) -> int:
    """Write every table in place, or with ``--check`` compare regenerated copies with the committed ones."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="regenerate into a temporary folder and diff")
    args = parser.parse_args(argv)
    if not args.check:
        for table in TABLES:
            table.make(HERE)
        return 0
    with tempfile.TemporaryDirectory(prefix="jcas-tables-") as scratch:
        for table in TABLES:
            table.make(Path(scratch))
        found = differences(Path(scratch))
    compared = sum(name.endswith(COMPARED) for table in TABLES for name in table.outputs)
    sys.stdout.writelines(found)
    print(f"{compared} tables regenerated from their rows: "
          + ("all identical to the committed files" if not found else "DIFFERENT from the committed files"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
